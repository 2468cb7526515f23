// State shared between the Client copies, the Connection and the reactor's
// driver of one connection: the two request lanes, the event queue, the
// flags the lifecycle needs and the atomics the snapshot reads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "mqtt/client.h"
#include "mqtt/event.h"
#include "mqtt/options.h"
#include "mqtt/runtime/diag.h"
#include "mqtt/runtime/event_queue.h"
#include "mqtt/runtime/lane.h"
#include "mqtt/runtime/waker.h"
#include "mqtt/session/request.h"
#include "transport/tls/tls.h"

namespace mqtt::runtime {

// What travels in a lane: the encoded request plus what the reactor needs to
// know about it.
struct LaneItem {
  session::Request req;
  ProtocolVersion version = ProtocolVersion::V311;  // the request was encoded for it
};

inline bool abandon_item(LaneItem& item) {
  if (item.req.completion) {
    item.req.completion->complete(
        Completion{RequestError::ConnectionClosed, {}, "the connection has ended"});
    return true;
  }
  return false;
}

// The options an update_options() call left for the next reconnect: on the
// heap, made by the first update (an idle connection does not carry a
// ~1.4 KB MqttOptions it never uses). Reads like std::optional<MqttOptions>.
class PendingOptions {
 public:
  PendingOptions& operator=(const MqttOptions& o) {
    if (p_) {
      *p_ = o;
    } else {
      p_ = std::make_unique<MqttOptions>(o);
    }
    return *this;
  }
  explicit operator bool() const { return p_ != nullptr; }
  const MqttOptions& operator*() const { return *p_; }
  const MqttOptions* operator->() const { return p_.get(); }

 private:
  std::unique_ptr<MqttOptions> p_;
};

struct ConnCore {
  // Throws std::bad_alloc when the event ring cannot be had. Opens no
  // descriptor (the event queue's eventfd is created by its first fd()).
  ConnCore(const MqttOptions& o, size_t cap, std::shared_ptr<Waker> w)
      : capacity(cap == 0 ? 1 : cap),
        waker(w),
        publishes(capacity, w, [this](LaneItem& i) { count_abandoned(i); }),
        control(capacity, w, [this](LaneItem& i) { count_abandoned(i); }),
        events(capacity, w),
        consumer_wait(o.consumer_wait),
        spin_for(o.spin_for),
        version(o.protocol),
        session_expiry_s(o.session_expiry_interval_s.value_or(0)),
        auth_method(o.authentication_method),
        log(o.log_buffer) {}

  const size_t capacity;
  std::shared_ptr<Waker> waker;
  Lane<LaneItem> publishes;  // publishes and disconnect (ordered after them)
  Lane<LaneItem> control;    // subscribe, unsubscribe, ack
  EventQueue<Event> events;
  const WaitStrategy consumer_wait;
  const std::chrono::microseconds spin_for;

  // Protocol version new requests are encoded for (update_options may change it).
  std::atomic<ProtocolVersion> version;
  // The CONNECT's Session Expiry Interval (0 when absent) of the options last
  // given (create or update_options): disconnect() refuses a non-zero one on
  // its DISCONNECT when this is 0 (spec 3.14.2.2.2).
  std::atomic<uint32_t> session_expiry_s;
  // The Authentication Method of the options last given, which Client::auth()
  // puts on its AUTH (the session checks it against the connection's).
  std::mutex auth_mu;
  std::optional<std::string> auth_method;  // guarded by auth_mu

  // --- lifecycle flags (set by user threads, read by the reactor) ---
  std::atomic<bool> clients_gone{false};   // the last Client copy is gone
  std::atomic<bool> shutdown{false};       // the Connection is gone
  std::atomic<bool> loop_ended{false};     // the final event was produced
  // Earliest disconnect() deadline (steady clock ns): the loop ends by then
  // in every state. INT64_MAX: none.
  std::atomic<int64_t> disconnect_deadline_ns{INT64_MAX};
  // The first disconnect() queued its marker in the publish lane; later
  // calls only bring the deadline forward.
  std::atomic<bool> disconnect_queued{false};
  // Completed when the loop ends: ok after a drained graceful disconnect,
  // ConnectionClosed otherwise (disconnect_tracked's token).
  std::shared_ptr<mqtt::detail::CompletionState> end_completion =
      std::make_shared<mqtt::detail::CompletionState>();
  // Connection::set_reconnect().
  std::atomic<bool> reconnect_enabled{true};

  // --- options for the next reconnect ---
  std::mutex options_mu;
  PendingOptions new_options;  // guarded by options_mu
  // The TLS context built from new_options (on the caller's thread, so a
  // bad certificate fails the update_options() call). Guarded by options_mu.
  std::shared_ptr<transport::tls::Context> new_tls;
  std::atomic<bool> options_changed{false};

  // --- consumer side ---
  std::atomic<bool> consumer_ended{false};  // the final event was returned
  std::atomic<bool> in_next{false};         // a next*() call is running (misuse guard)
  // Reconnect gate: counts the next*() calls that followed the take of a
  // non-terminal error. The reactor's next attempt waits until it covers
  // every such error it produced: the loop advances only while polled.
  std::atomic<uint64_t> errors_polled{0};
  bool gate_pending = false;  // consumer only (serialised by in_next)
  // Untracked requests abandoned by a lane's close() (a race with the end
  // of the loop); reported in one RequestFailed event.
  std::atomic<uint64_t> abandoned_untracked{0};

  // --- snapshot, published by the reactor ---
  std::atomic<Snapshot::State> state{Snapshot::State::Connecting};
  std::atomic<uint32_t> inflight{0};
  std::atomic<uint32_t> window{0};
  std::atomic<int64_t> last_ping_rtt_ns{-1};
  std::atomic<uint64_t> reconnects{0};
  std::atomic<uint64_t> attempts{0};
  std::atomic<uint64_t> excess_qos2{0};
  std::atomic<bool> reading_paused{false};
  std::atomic<size_t> unwritten{0};

  // --- counters and log (mqtt/diagnostics.h) ---
  // The sink itself lives with the Connection (ClientShared), so that it is
  // never copied to, run on or destroyed on the reactor thread.
  CounterCells cells;
  LogBuffer log;
  std::vector<LogRecord> log_taken;  // consumer only (serialised by in_next)

  void count_abandoned(LaneItem& item) {
    if (!abandon_item(item) && item.req.kind != session::Request::Kind::Disconnect) {
      abandoned_untracked.fetch_add(1, std::memory_order_seq_cst);
    }
  }

  void request_shutdown() {
    shutdown.store(true, std::memory_order_seq_cst);
    waker->signal();
  }
  void clients_released() {
    clients_gone.store(true, std::memory_order_seq_cst);
    waker->signal();
  }
};

}  // namespace mqtt::runtime
