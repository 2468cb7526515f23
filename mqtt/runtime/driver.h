// One connection on the reactor thread: owns the transport stream and the
// session, moves requests from the lanes into the session, bytes between the
// session and the socket, and events into the event queue; runs connect,
// reconnect with backoff, and the ends of the loop. Reactor thread only.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mqtt/runtime/backoff.h"
#include "mqtt/runtime/broker_list.h"
#include "mqtt/runtime/conn_core.h"
#include "mqtt/runtime/incoming_pool.h"
#include "mqtt/runtime/rate_limiter.h"
#include "mqtt/runtime/store_worker.h"
#include "mqtt/session/session.h"
#include "transport/stream.h"
#include "transport/tls/tls.h"

namespace mqtt::runtime {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

// Bytes held by the read buffers of every connection in this process (a
// diagnostic for tools and tests: tools/many_conns, tests/integration).
size_t read_buffer_bytes_total();

class Driver final : public session::SessionObserver {
 public:
  // `tls`: the context built from options.tls (null without TLS).
  Driver(std::shared_ptr<ConnCore> core, const MqttOptions& options, int epoll_fd,
         std::shared_ptr<transport::tls::Context> tls = nullptr);
  ~Driver() override;

  // One round of work. Never throws (internal failures end the connection).
  void poll(TimePoint now);
  // epoll readiness for this driver's descriptor.
  void on_ready(uint32_t epoll_events);

  // Earliest time poll() must run again without outside events.
  TimePoint deadline() const { return deadline_; }
  // More work can be done right away (do not sleep).
  bool busy() const { return busy_; }
  // Something a user thread changed that poll() would act on (the re-check
  // of the sleep/wake handshake, after Waker::set_sleeping(true)).
  bool has_external_work() const;
  // The driver can be dropped: ended and its final event delivered (or
  // nobody is left to read it).
  bool finished() const;
  // The reactor is going away: end with Shutdown now.
  void force_shutdown(TimePoint now);
  // Session store: seeds the session with the state loaded for this client
  // id, before the driver is handed to the reactor (Client::create's
  // thread). Empty string, or why it cannot be restored.
  std::string restore(const StoredSession& stored);

  // The reactor's bookkeeping for this driver (reactor thread only; see
  // reactor.cc): where it is in the driver list and in the timer heap, and
  // whether it is already listed to be polled.
  struct Sched {
    size_t index = SIZE_MAX;     // in the reactor's driver list
    size_t heap_pos = SIZE_MAX;  // in the timer heap; SIZE_MAX: not in it
    TimePoint key = TimePoint::max();  // its time in the heap
    bool queued = false;         // listed to be polled in the next round
  };
  Sched sched;

  // For MQTT 5 server redirection (a CONNACK or DISCONNECT with "Use another
  // server" / "Server moved" and a Server Reference; parsing the reference
  // into a BrokerAddress is the caller's): the next attempt goes to `b`,
  // which then stays first in the broker list until update_options() changes
  // the list. Call it while handling the end of the connection, before the
  // next attempt starts. See BrokerRotation::insert_front().
  void insert_broker_front(BrokerAddress b) { brokers_.insert_front(std::move(b)); }
  void follow_redirect(ConnectionError& e);

  // SessionObserver
  void on_incoming(std::span<const uint8_t> raw, const codec::Packet& packet) override;
  void on_outgoing(const Outgoing& out) override;
  void on_session_reset(const session::ResetInfo& info) override;
  void on_request_failed(const session::FailedRequest& failed) override;
  void on_token_failed(RequestError why, std::string_view message) override;
  void on_store(const session::StoreEvent& e) override;

 private:
  enum class Phase : uint8_t {
    Start,       // nothing yet: connect on the next poll
    Connecting,  // transport connect (DNS, TCP) in progress
    Handshake,   // CONNECT written, waiting for CONNACK
    Connected,
    ErrorWait,   // a non-terminal error was reported: wait until it is taken
    Backoff,     // waiting before the next attempt
    Ended,
  };

  void step(TimePoint now);
  std::unique_ptr<transport::Stream> open_stream();
  void start_attempt(TimePoint now);
  void mark_connected();
  void advance_connect(TimePoint now);
  void io(TimePoint now);
  bool read_input(TimePoint now);
  bool feed_input(TimePoint now);
  bool flush_output();
  // Takes at most `limit` control requests (fewer if the session is full).
  void pull_control(TimePoint now, size_t limit);
  void pull_publishes(TimePoint now);
  // The graceful close after DISCONNECT: true while it goes on.
  bool linger(TimePoint now);
  void linger_read();
  void update_pause(TimePoint now);
  void check_ends(TimePoint now);
  void connection_failed(ConnectionError e, TimePoint now);
  void end(ConnectionError e);
  // disconnect()'s deadline passed: fail what is left, write DISCONNECT if
  // the socket takes it, end with Disconnected.
  void disconnect_expired(TimePoint now);
  // Takes every request still in the lanes (and the held publish) and fails
  // it: token, or RequestFailed event.
  void fail_queued(RequestError why, const std::string& message);
  void fail_request(session::Request& r, RequestError why, const std::string& message);
  void report_failure(RequestFailed&& f);
  bool reconnect_allowed() const;
  std::string endpoint() const;  // for messages: host:port or unix:path
  TimePoint disconnect_deadline() const;
  bool output_paused() const;
  void close_stream();
  void sync_registration();
  void emit(Event&& e);
  void flush_overflow();
  void publish_snapshot();
  // --- diagnostics (mqtt/diagnostics.h; driver_diag.cc) ---
  // One branch when no sink is set: callers test logs() before building
  // the message.
  bool logs(LogLevel l) const { return static_cast<int>(l) <= log_max_; }
  void log(LogLevel l, std::string_view component, std::string message);
  // Counts (and logs) a ConnectionError the loop is about to report.
  void note_error(const ConnectionError& e);
  // Counts a request failed locally; logged coalesced per reason at the
  // end of the poll (flush_drop_log).
  void note_failure(RequestError why, uint64_t n, std::string_view message);
  void flush_drop_log();
  void set_paused(bool p, TimePoint now);
  void compute_deadline(TimePoint now);
  void apply_new_options();
  session::SessionConfig session_config() const;
  bool can_pull_publishes() const;
  bool can_pull_control() const;
  bool input_paused() const;
  size_t output_size() const;
  // Session store: hands the records of this poll to the store thread.
  void push_store_records();
  // Session store: what the store thread finished since the last call
  // releases held PUBRELs/PUBRECs and reports untracked publishes
  // (RequestStored, or RequestFailed with StoreFailed). `report`: false
  // once the loop has ended (nothing may follow the final event).
  void store_sync(bool report);

  std::shared_ptr<ConnCore> core_;
  MqttOptions opts_;
  int epfd_;
  std::unique_ptr<session::Session> session_;
  ProtocolVersion session_version_;
  std::unique_ptr<transport::Stream> stream_;
  std::shared_ptr<transport::tls::Context> tls_;
  int registered_fd_ = -1;
  bool readable_ = false;
  bool writable_ = false;

  Phase phase_ = Phase::Start;
  bool ever_connected_ = false;
  bool disconnecting_ = false;   // the Disconnect request went to the session
  // After the DISCONNECT has gone: reading (and discarding) until the broker
  // closes, at most until linger_until_ (see Driver::linger()).
  bool lingering_ = false;
  bool linger_done_ = false;
  TimePoint linger_until_ = TimePoint::max();
  bool clients_gone_seen_ = false;
  bool clean_disconnect_ = false;  // DISCONNECT written after a full drain
  bool paused_ = false;          // input paused (event queue full)
  TimePoint attempt_deadline_ = TimePoint::max();
  TimePoint backoff_until_ = TimePoint::max();
  TimePoint connected_since_{};
  TimePoint rate_wait_until_ = TimePoint::max();
  int64_t seen_disconnect_deadline_ = INT64_MAX;
  uint64_t errors_emitted_ = 0;  // non-terminal errors emitted (see ConnCore::errors_polled)

  BackoffPolicy backoff_;
  RateLimiter rate_;
  // Which broker each attempt goes to. During an attempt and its connection,
  // opts_.host/port/unix_path hold that broker (start_attempt copies it in).
  BrokerRotation brokers_;
  bool attempted_ = false;  // start_attempt() ran at least once

  // Read buffer: none until the first read of a connection, then small
  // (kReadBufferMin); doubles while reads fill it (up to kReadBufferMax), or
  // grows to hold one big packet; gives memory back once the connection has
  // been quiet for a review period (see review_read_buffer()), and all of it
  // when the connection closes. No allocation per message in steady state.
  struct ReadBuffer {
    std::unique_ptr<uint8_t[]> bytes;
    size_t cap = 0;  // bytes allocated
    ReadBuffer() = default;
    ReadBuffer(const ReadBuffer&) = delete;
    ReadBuffer& operator=(const ReadBuffer&) = delete;
    ~ReadBuffer();  // takes its bytes off read_buffer_bytes_total()
  };
  ReadBuffer rbuf_;
  size_t rpos_ = 0;  // first unconsumed byte
  size_t rlen_ = 0;  // end of received bytes
  size_t rpeak_ = 0;                           // most bytes held at once since the last review
  bool rfilled_ = false;                       // the last read filled all the room there was
  TimePoint rreview_at_ = TimePoint::max();    // next review (while above kReadBufferMin)
  void resize_read_buffer(size_t cap);         // keeps the unconsumed bytes (cap >= them)
  void review_read_buffer(TimePoint now);

  std::optional<LaneItem> pending_;  // a publish taken but not sendable yet
  // Incoming packets are built into pooled nodes (events carry a handle).
  IncomingPool* incoming_pool_ = IncomingPool::create();
  std::deque<Event> overflow_;       // events that did not fit the queue
  // RequestFailed events that did not fit, coalesced per reason (bounded
  // memory whatever the number of failures). Delivered before overflow_.
  // One slot per RequestError value (StoreFailed is the last).
  std::array<std::optional<RequestFailed>,
             static_cast<size_t>(RequestError::StoreFailed) + 1> failures_;
  size_t failures_pending_ = 0;
  std::optional<session::Request> disconnect_marker_;  // taken from the lane, not yet submitted

  // --- session store (null store_: off) ---
  std::unique_ptr<StoreWorker> store_;
  std::vector<StoreWorker::Item> store_batch_;  // records of this poll
  // Record numbers: the session's k-th record is store_base_ + k (a new
  // Session after update_options() starts again at 1).
  uint64_t store_base_ = 0;
  uint64_t store_seen_ = 0;  // StoreWorker::done_seq() last handled
  struct UntrackedStored {
    uint64_t seq;
    QoS qos;
    uint16_t packet_id;
    std::string topic;
  };
  std::deque<UntrackedStored> store_untracked_;  // awaiting their record

  // --- diagnostics ---
  int log_max_ = -1;  // highest LogLevel recorded; -1: no sink, nothing
  TimePoint paused_since_{};     // while paused_
  uint64_t paused_total_ns_ = 0;  // finished pauses
  std::array<uint64_t, Counters::kRequestErrors> drops_{};  // not yet logged
  std::array<std::string, Counters::kRequestErrors> drop_msg_{};  // first of them
  bool drops_pending_ = false;

  TimePoint deadline_ = TimePoint::max();
  bool busy_ = false;
  TimePoint now_{};  // time of the current poll()
};

}  // namespace mqtt::runtime
