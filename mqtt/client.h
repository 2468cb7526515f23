// The public API: Client (requests, any thread), Connection (events, one
// consumer thread) and Reactor (the library-owned I/O thread).
//
//   mqtt::MqttOptions options("rumqtt-sync", "localhost", 1883);
//   options.set_keep_alive(std::chrono::seconds(5));
//   auto [client, connection] = mqtt::Client::create(options, 10);
//   client.subscribe("hello/rumqtt", mqtt::QoS::AtMostOnce);
//   for (auto& event : connection) std::cout << event << '\n';
//
// Threads: every Client member may be called from any thread at the same time
// (copies share one request queue). A Connection is used by one thread at a
// time. No user code ever runs on the reactor thread.
//
// Ordering: requests from one thread keep their order within a lane (publishes
// in one lane; subscribe, unsubscribe, ack and disconnect in the other). A
// subscribe may overtake a publish queued before it; wait on the publish's
// token if that order matters. disconnect() is ordered after the publishes the
// same thread queued before it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mqtt/codec/packets.h"
#include "mqtt/connection_error.h"
#include "mqtt/event.h"
#include "mqtt/options.h"
#include "mqtt/result.h"
#include "mqtt/token.h"

namespace mqtt {

namespace detail {
struct ClientShared;
struct ReactorImpl;
}  // namespace detail

// Why a Client call did not queue its request.
struct ClientError {
  enum class Code : uint8_t {
    QueueFull,       // try_ forms only: the request queue is full
    Closed,          // the connection has ended for good; nothing more is sent
    InvalidRequest,  // the packet is invalid (codec_error says why), e.g. a
                     // wildcard in a topic name, QoS 0 ack, too many bytes
  };
  Code code = Code::Closed;
  codec::CodecError codec_error{};
  std::string message;
};

std::string_view to_string(ClientError::Code c);

// Per-request MQTT 5 properties (ignored fields for 3.1.1 must stay empty:
// setting any is an InvalidRequest there). Views: copied during the call.
using Properties = codec::Properties;

struct SubscribeFilter {
  std::string_view filter;
  QoS qos = QoS::AtMostOnce;
  bool no_local = false;             // MQTT 5
  bool retain_as_published = false;  // MQTT 5
  RetainHandling retain_handling = RetainHandling::SendAtSubscribe;  // MQTT 5
};

// A point-in-time view for diagnostics and graceful shutdown.
struct Snapshot {
  enum class State : uint8_t { Connecting, Connected, Reconnecting, Disconnecting, Ended };
  State state = State::Connecting;
  size_t queued_publishes = 0;     // in the publish lane, not yet taken by the reactor
  size_t queued_control = 0;       // in the control lane
  size_t queued_events = 0;        // waiting for Connection::next()
  uint32_t inflight_publishes = 0; // sent QoS 1/2 awaiting completion
  uint32_t inflight_window = 0;
  std::optional<std::chrono::nanoseconds> last_ping_rtt;
  uint64_t reconnects = 0;         // successful connections after the first
  uint64_t connection_attempts = 0;
  uint64_t excess_incoming_qos2 = 0;  // broker ignored our Receive Maximum (tolerated)
  bool reading_paused = false;     // the consumer is behind: socket reads stopped
};

std::string_view to_string(Snapshot::State s);

class Connection;

// An I/O thread that can host many connections. Client::create() makes one
// per connection unless given a shared one. Destroying the last reference
// stops the thread after its connections end.
class Reactor {
 public:
  struct Options {
    std::string thread_name = "mqtt-reactor";
    int cpu = -1;  // pin to this CPU; -1 = no pinning
    WaitStrategy wait = WaitStrategy::Block;
    std::chrono::microseconds spin_for{50};
  };
  static std::shared_ptr<Reactor> create(Options options);
  ~Reactor();

 private:
  friend class Client;
  explicit Reactor(std::unique_ptr<detail::ReactorImpl> impl);
  std::unique_ptr<detail::ReactorImpl> impl_;
};

class Client {
 public:
  // Starts connecting at once on the reactor thread. `capacity` bounds each
  // request lane and the event queue (at least 1).
  static std::pair<Client, Connection> create(const MqttOptions& options, size_t capacity);
  static std::pair<Client, Connection> create(const MqttOptions& options, size_t capacity,
                                              std::shared_ptr<Reactor> reactor);

  Client(const Client&) = default;
  Client(Client&&) noexcept = default;
  Client& operator=(const Client&) = default;
  Client& operator=(Client&&) noexcept = default;
  ~Client();

  // --- publish ---
  // Blocks while the publish lane is full. Errors: Closed, InvalidRequest.
  Result<void, ClientError> publish(std::string_view topic, QoS qos, bool retain,
                                    std::span<const uint8_t> payload,
                                    const Properties& properties = {});
  Result<void, ClientError> publish(std::string_view topic, QoS qos, bool retain,
                                    std::string_view payload, const Properties& properties = {});
  // Never blocks: QueueFull when the lane is full. The caller's data is left
  // untouched (it was only viewed), so the request can simply be retried.
  Result<void, ClientError> try_publish(std::string_view topic, QoS qos, bool retain,
                                        std::string_view payload,
                                        const Properties& properties = {});
  // As publish(), returning a token that completes with the acknowledgement.
  Result<Token, ClientError> publish_tracked(std::string_view topic, QoS qos, bool retain,
                                             std::string_view payload,
                                             const Properties& properties = {});
  Result<Token, ClientError> try_publish_tracked(std::string_view topic, QoS qos, bool retain,
                                                 std::string_view payload,
                                                 const Properties& properties = {});

  // --- subscribe / unsubscribe ---
  // Blocking forms wait while the control lane is full. Tokens complete with
  // one reason code per filter (SUBACK / UNSUBACK).
  Result<Token, ClientError> subscribe(std::string_view filter, QoS qos,
                                       const Properties& properties = {});
  Result<Token, ClientError> subscribe_many(std::span<const SubscribeFilter> filters,
                                            const Properties& properties = {});
  Result<Token, ClientError> try_subscribe(std::string_view filter, QoS qos,
                                           const Properties& properties = {});
  Result<Token, ClientError> unsubscribe(std::string_view filter,
                                         const Properties& properties = {});
  Result<Token, ClientError> try_unsubscribe(std::string_view filter,
                                             const Properties& properties = {});

  // --- manual acks (options.manual_acks) ---
  // Acknowledges an incoming QoS 1/2 PUBLISH (PUBACK / PUBREC). QoS 0: no-op.
  Result<void, ClientError> ack(const codec::Publish& publish);
  Result<void, ClientError> try_ack(const codec::Publish& publish);

  // --- disconnect ---
  // Queues a graceful disconnect: publishes this thread queued before it are
  // sent, in-flight QoS 1/2 are awaited for at most `drain_timeout`, then
  // DISCONNECT is sent and the connection ends (next() yields a Disconnected
  // error, then std::nullopt). Returns once queued; wait on the Connection.
  Result<void, ClientError> disconnect(std::chrono::milliseconds drain_timeout =
                                           std::chrono::seconds(5),
                                       codec::Disconnect packet = {});
  Result<void, ClientError> try_disconnect(std::chrono::milliseconds drain_timeout =
                                               std::chrono::seconds(5),
                                           codec::Disconnect packet = {});

  // Options for the next reconnect attempt (credentials, will, keep alive,
  // backoff...). host/port/protocol changes apply too. Thread-safe.
  void update_options(const MqttOptions& options);

  Snapshot snapshot() const;

 private:
  friend class Connection;
  explicit Client(std::shared_ptr<detail::ClientShared> shared);
  // Shared by all copies of this Client; when the last one goes, the loop
  // sends what was queued and ends with RequestsDone.
  std::shared_ptr<detail::ClientShared> shared_;
  std::shared_ptr<void> handle_;
};

class Connection {
 public:
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  // Stops the connection promptly (no DISCONNECT) and, if it owns its reactor,
  // joins the reactor thread.
  ~Connection();

  // Blocks until the next event. After the loop's final error (Disconnected,
  // RequestsDone, a terminal refusal) has been returned, returns std::nullopt.
  // Calling next() after a non-terminal error lets the loop reconnect: a
  // consumer that stops calling it stops the reconnecting.
  std::optional<Event> next();
  // Never blocks: std::nullopt when no event is waiting (see ended()).
  std::optional<Event> try_next();
  // Blocks at most `timeout`.
  std::optional<Event> next_for(std::chrono::nanoseconds timeout);
  // True once the final event has been returned: no more events will come.
  bool ended() const;

  // Readable (level-triggered) while events are waiting, for a user's own
  // epoll/poll loop. Owned by the Connection: do not close it.
  int event_fd() const;

  Snapshot snapshot() const;

  // Range-for support: iterates until the loop ends.
  class Iterator {
   public:
    using value_type = Event;
    using difference_type = std::ptrdiff_t;
    Iterator() = default;
    explicit Iterator(Connection* c) : c_(c) { ++*this; }
    Event& operator*() { return *current_; }
    Event* operator->() { return &*current_; }
    Iterator& operator++() {
      current_ = c_->next();
      if (!current_) c_ = nullptr;
      return *this;
    }
    bool operator==(const Iterator& o) const { return c_ == o.c_; }

   private:
    Connection* c_ = nullptr;
    std::optional<Event> current_;
  };
  Iterator begin() { return Iterator(this); }
  Iterator end() { return Iterator(); }

 private:
  friend class Client;
  explicit Connection(std::shared_ptr<detail::ClientShared> shared);
  std::shared_ptr<detail::ClientShared> shared_;
};

}  // namespace mqtt
