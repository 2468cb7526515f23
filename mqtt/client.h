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
// time: a second thread calling next()/try_next()/next_for() while another
// is inside one of them aborts the process with a message naming the misuse
// (in release builds too). No user code ever runs on the reactor thread.
//
// Ordering: requests from one thread keep their order within a lane (publishes
// in one lane; subscribe, unsubscribe and ack in the other). A subscribe may
// overtake a publish queued before it; wait on the publish's token if that
// order matters. disconnect() is ordered after the publishes and the acks,
// subscribes and unsubscribes the same thread queued before it.
//
// Errors: a call that cannot queue its request returns a ClientError at once
// (nothing was queued). A request that was queued and fails later reports
// through its Token when it has one, else as a RequestFailed event on the
// Connection: no accepted request disappears without a word. The end of every
// connection, and of the loop, is a ConnectionError event.
//
// Durations: every duration the API takes saturates: max() means "no limit",
// a negative one counts as zero, none overflows.
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
#include "mqtt/diagnostics.h"
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
  // The kind of failure.
  enum class Code : uint8_t {
    QueueFull,       // try_ forms only: the request queue is full
    Closed,          // the connection has ended for good; nothing more is sent
    InvalidRequest,  // the packet is invalid (codec_error says why), e.g. a
                     // wildcard in a topic name, QoS 0 ack, too many bytes
  };
  Code code = Code::Closed;         // the kind of failure
  codec::CodecError codec_error{};  // InvalidRequest: what is invalid
  std::string message;              // human-readable detail
};

// The code's name, e.g. "QueueFull". Pure: any thread, never blocks.
std::string_view to_string(ClientError::Code c);

// Why Client::try_create() could not build a connection. Nothing was started.
struct CreateError {
  // The kind of failure.
  enum class Code : uint8_t {
    InvalidOptions,   // an option is out of range (message says which)
    InvalidCapacity,  // capacity is 0 or above Client::kMaxCapacity
    Resources,        // a descriptor or memory could not be had (sys_errno)
    StoreFailed,      // MqttOptions::session_store: loading the stored
                      // session failed (I/O error, damaged file, unknown
                      // format version, ids above max_inflight); message
                      // says which, sys_errno for I/O
  };
  Code code = Code::InvalidOptions;  // the kind of failure
  int sys_errno = 0;                 // Resources, StoreFailed (I/O): the errno
  std::string message;               // human-readable detail
};

// The code's name, e.g. "InvalidOptions". Pure: any thread, never blocks.
std::string_view to_string(CreateError::Code c);

// Checks options for create()/update_options(): keep_alive 0..65535 s,
// non-negative timeouts and backoff, jitter 0..1, multiplier >= 1,
// max_incoming_packet_size >= 2, each `brokers` entry (a host and a port, or
// a unix_path of at most 107 bytes, not with proxy or websocket),
// connection_attempt_delay >= 0. The message of the first problem, or empty.
// Pure: any thread, never blocks.
std::string validate(const MqttOptions& options);

// Per-request MQTT 5 properties (ignored fields for 3.1.1 must stay empty:
// setting any is an InvalidRequest there). Views: copied during the call.
// topic_alias on a publish means "this topic is alias N": the library sends
// the topic with N until the broker knows the mapping on this connection,
// then N alone; with an empty topic, the topic last given with N is used.
// 0 is an InvalidRequest; N above the broker's Topic Alias Maximum fails
// later with RequestError::TopicAliasInvalid (docs/session.md, "Topic
// aliases"; MqttOptions::auto_topic_aliases does it for every topic).
using Properties = codec::Properties;

// One filter of a subscribe_many() request, with its subscription options.
// The view is copied during the call.
struct SubscribeFilter {
  std::string_view filter;    // the topic filter
  QoS qos = QoS::AtMostOnce;  // the maximum QoS asked for
  bool no_local = false;             // MQTT 5
  bool retain_as_published = false;  // MQTT 5
  RetainHandling retain_handling = RetainHandling::SendAtSubscribe;  // MQTT 5
};

// A point-in-time view for diagnostics and graceful shutdown.
struct Snapshot {
  // Where the connection's loop is.
  enum class State : uint8_t { Connecting, Connected, Reconnecting, Disconnecting, Ended };
  State state = State::Connecting;  // where the loop is
  size_t queued_publishes = 0;     // in the publish lane, not yet taken by the reactor
  size_t queued_control = 0;       // in the control lane
  size_t queued_events = 0;        // waiting for Connection::next()
  uint32_t inflight_publishes = 0; // sent QoS 1/2 awaiting completion
  uint32_t inflight_window = 0;    // max_inflight, or the broker's lower Receive Maximum
  std::optional<std::chrono::nanoseconds> last_ping_rtt;  // of the last PINGREQ answered
  uint64_t reconnects = 0;         // successful connections after the first
  uint64_t connection_attempts = 0;  // attempts started, the first included
  uint64_t excess_incoming_qos2 = 0;  // broker ignored our Receive Maximum (tolerated)
  bool reading_paused = false;     // the consumer is behind: socket reads stopped
  // Bytes encoded but not yet written to the socket. Above 512 KiB the
  // reactor stops reading too (a peer that does not read is pushed back on
  // through TCP) and takes no new publishes.
  size_t unwritten_bytes = 0;
};

// The state's name, e.g. "Connected". Pure: any thread, never blocks.
std::string_view to_string(Snapshot::State s);

class Connection;

// An I/O thread that can host many connections. Client::create() makes one
// per connection unless given a shared one. Destroying the last reference
// stops the thread after its connections end.
class Reactor {
 public:
  // The reactor thread's settings (as MqttOptions' reactor_* fields).
  struct Options {
    std::string thread_name = "mqtt-reactor";  // at most 15 characters shown
    int cpu = -1;  // pin to this CPU; -1 = no pinning
    WaitStrategy wait = WaitStrategy::Block;  // how the thread waits when idle
    std::chrono::microseconds spin_for{50};   // for SpinThenBlock
  };
  // Starts the thread. Throws std::system_error when the epoll or eventfd
  // descriptor (or the thread) cannot be had, e.g. out of file descriptors
  // (std::bad_alloc when out of memory). Any thread.
  static std::shared_ptr<Reactor> create(Options options);
  // As create(), with the failure as a value (Code::Resources).
  static Result<std::shared_ptr<Reactor>, CreateError> try_create(Options options);
  ~Reactor();

 private:
  friend class Client;
  explicit Reactor(std::unique_ptr<detail::ReactorImpl> impl);
  std::unique_ptr<detail::ReactorImpl> impl_;
};

// The request side of a connection: cheap to copy (copies share the
// connection), callable from any thread (threads, ordering and errors: see
// client.h). The loop ends with RequestsDone once every copy is gone.
class Client {
 public:
  // Largest `capacity`: each lane and the event queue hold at most this
  // many entries (the event ring reserves capacity * sizeof(Event) bytes,
  // 176 on x86-64; incoming packets live in a pool beside it).
  static constexpr size_t kMaxCapacity = 65536;

  // Starts connecting at once on the reactor thread. `capacity` bounds each
  // request lane and the event queue (1..kMaxCapacity). Never blocks on the
  // network. Throws std::invalid_argument for invalid options or capacity
  // (see validate()), std::system_error when descriptors or memory run
  // out, std::runtime_error when the session store cannot be loaded
  // (CreateError::StoreFailed); nothing is left running then. With
  // options.session_store (and clean_session = false) it reads the stored
  // session from disk on the calling thread. try_create() reports the same as a
  // value. `reactor`: host the connection on this shared Reactor instead of
  // a thread of its own. Any thread.
  // @{
  static std::pair<Client, Connection> create(const MqttOptions& options, size_t capacity);
  static std::pair<Client, Connection> create(const MqttOptions& options, size_t capacity,
                                              std::shared_ptr<Reactor> reactor);
  static Result<std::pair<Client, Connection>, CreateError> try_create(
      const MqttOptions& options, size_t capacity, std::shared_ptr<Reactor> reactor = nullptr);
  // @}

  // Copies share the connection; a moved-from Client returns Closed.
  // @{
  Client(const Client&) = default;
  Client(Client&&) noexcept = default;
  Client& operator=(const Client&) = default;
  Client& operator=(Client&&) noexcept = default;
  // @}
  ~Client();

  // Every call below may be made from any thread. Errors, common to all:
  //   Closed          the loop has ended (or this Client was moved from);
  //                   nothing was queued.
  //   InvalidRequest  the request is invalid (codec_error and message say
  //                   why): bad topic or filter, bad UTF-8, properties on
  //                   3.1.1, too large, packet id 0 to ack...
  //   QueueFull       try_ forms only: the lane is full; nothing was queued,
  //                   the caller's data is untouched, retry later.
  // Blocking forms wait (without limit) while their lane is full: the reactor
  // frees a slot as it takes requests, also while disconnected; they return
  // Closed if the loop ends meanwhile.

  // --- publish ---
  // Blocks while the publish lane is full. A queued publish that fails later
  // (broker limit, session reset, connection lost before a QoS 0 was
  // written, disconnect drain expired, end of the loop) is reported as a
  // RequestFailed event. With MqttOptions::session_store, a QoS 1/2
  // publish is also reported once stored (RequestStored event), or not
  // stored (RequestFailed with StoreFailed; docs/session-store.md). MQTT 5
  // properties are checked as a client sends
  // them (InvalidRequest): no Subscription Identifier (PropertyNotAllowed,
  // [MQTT-3.3.4-6]); Payload Format Indicator 1 needs a well-formed UTF-8
  // payload (PayloadFormatInvalid, spec 3.3.2.3.2).
  // @{
  Result<void, ClientError> publish(std::string_view topic, QoS qos, bool retain,
                                    std::span<const uint8_t> payload,
                                    const Properties& properties = codec::kNoProperties);
  Result<void, ClientError> publish(std::string_view topic, QoS qos, bool retain,
                                    std::string_view payload, const Properties& properties = codec::kNoProperties);
  // @}
  // Never blocks: QueueFull when the lane is full.
  Result<void, ClientError> try_publish(std::string_view topic, QoS qos, bool retain,
                                        std::string_view payload,
                                        const Properties& properties = codec::kNoProperties);
  // As publish(), returning a token that completes with the acknowledgement
  // (or fails with the RequestError; no RequestFailed event then).
  Result<Token, ClientError> publish_tracked(std::string_view topic, QoS qos, bool retain,
                                             std::string_view payload,
                                             const Properties& properties = codec::kNoProperties);
  // As publish_tracked(), but never blocks: QueueFull when the lane is full.
  Result<Token, ClientError> try_publish_tracked(std::string_view topic, QoS qos, bool retain,
                                                 std::string_view payload,
                                                 const Properties& properties = codec::kNoProperties);

  // --- subscribe / unsubscribe ---
  // Blocking forms wait while the control lane is full; try_ forms never
  // block. Tokens complete with one reason code per filter (SUBACK /
  // UNSUBACK). 1..65535 filters per request (InvalidRequest otherwise).
  // @{
  Result<Token, ClientError> subscribe(std::string_view filter, QoS qos,
                                       const Properties& properties = codec::kNoProperties);
  Result<Token, ClientError> subscribe_many(std::span<const SubscribeFilter> filters,
                                            const Properties& properties = codec::kNoProperties);
  Result<Token, ClientError> try_subscribe(std::string_view filter, QoS qos,
                                           const Properties& properties = codec::kNoProperties);
  Result<Token, ClientError> try_subscribe_many(std::span<const SubscribeFilter> filters,
                                                const Properties& properties = codec::kNoProperties);
  Result<Token, ClientError> unsubscribe(std::string_view filter,
                                         const Properties& properties = codec::kNoProperties);
  Result<Token, ClientError> unsubscribe_many(std::span<const std::string_view> filters,
                                              const Properties& properties = codec::kNoProperties);
  Result<Token, ClientError> try_unsubscribe(std::string_view filter,
                                             const Properties& properties = codec::kNoProperties);
  Result<Token, ClientError> try_unsubscribe_many(std::span<const std::string_view> filters,
                                                  const Properties& properties = codec::kNoProperties);
  // @}

  // --- manual acks (options.manual_acks) ---
  // Acknowledges an incoming QoS 1/2 PUBLISH (PUBACK / PUBREC). QoS 0: no-op.
  // InvalidRequest for packet id 0 (not a received QoS 1/2 PUBLISH). An ack
  // dropped later (connection lost first, session reset) is reported as a
  // RequestFailed event; the broker then redelivers the message.
  Result<void, ClientError> ack(const codec::Publish& publish);
  // As ack(), but never blocks: QueueFull when the control lane is full.
  Result<void, ClientError> try_ack(const codec::Publish& publish);

  // --- enhanced authentication (MQTT 5; docs/session.md) ---
  // Sends an AUTH packet: `code` is ContinueAuthentication (0x18), to answer
  // the broker's AUTH 0x18 (an Incoming(Auth) event, which may come before
  // the CONNACK), or ReAuthenticate (0x19), to start a re-authentication
  // once connected. The options' authentication_method is added as the
  // Authentication Method [MQTT-4.12.0-5, MQTT-4.12.1-1]; `data` becomes the
  // Authentication Data (none when empty); `properties` may add a Reason
  // String and User Properties.
  // Any thread; never blocks (it uses the control lane without waiting:
  // QueueFull when that is full). Meant to be called from the thread that
  // reads events, right after the AUTH event it answers.
  // Errors at the call: InvalidRequest on an MQTT 3.1.1 connection, without
  // an authentication_method in the options (the last given), or with
  // another reason code (InvalidReasonCode); QueueFull; Closed.
  // Later, as a RequestFailed event (kind Auth): ProtocolError when the
  // AUTH does not fit the exchange (0x18 with no broker AUTH awaiting an
  // answer, 0x19 before CONNACK or during a re-authentication, a method
  // changed by update_options since the CONNECT); ConnectionClosed when
  // the connection is gone (the next one authenticates from its CONNECT).
  // The broker's verdict comes as events: CONNACK (or a refusing CONNACK,
  // ConnectionRefused) for the first authentication; AUTH Success (0x00),
  // or a DISCONNECT (DisconnectedByBroker), for a re-authentication.
  Result<void, ClientError> auth(ReasonCode code, std::span<const uint8_t> data = {},
                                 const Properties& properties = codec::kNoProperties);

  // --- disconnect ---
  // Queues a graceful disconnect and returns at once (never waits for lane
  // room: a disconnect needs no slot; never QueueFull). The publishes and
  // acks this thread queued before it are sent and in-flight QoS 1/2
  // awaited, then DISCONNECT is sent and the loop ends with a Disconnected
  // event once the broker has closed the connection (read until then, at
  // most 1 s: closing on unread bytes would reset it, and the broker could
  // lose the DISCONNECT and publish the Will).
  // `drain_timeout` counts from this call and bounds the whole of it, in
  // every state (window full, socket not drained, not connected): when it
  // passes, whatever is still queued or in flight fails (ConnectionClosed,
  // by token or RequestFailed event), DISCONNECT is written if the socket
  // takes it, and Disconnected follows (within about 200 ms of the deadline
  // if the consumer is reading). Only the first disconnect() takes a place
  // in the lane (so publishes another thread queued behind it fail as
  // "disconnecting"); a later one can only bring the deadline forward.
  // `packet` (MQTT 5) takes what a client may send, else InvalidRequest:
  // reason codes "sent by Client" in spec table 3-10 (InvalidReasonCode), no
  // Server Reference (PropertyNotAllowed), and a non-zero Session Expiry
  // Interval only if the options' session_expiry_interval_s is non-zero
  // (SessionExpiryWasZero, spec 3.14.2.2.2; checked against the options
  // last given, so right after update_options() against the new ones).
  Result<void, ClientError> disconnect(std::chrono::milliseconds drain_timeout =
                                           std::chrono::seconds(5),
                                       codec::Disconnect packet = {});
  // The same as disconnect() (which never blocks either); for symmetry.
  Result<void, ClientError> try_disconnect(std::chrono::milliseconds drain_timeout =
                                               std::chrono::seconds(5),
                                           codec::Disconnect packet = {});
  // As disconnect(), with a token that completes when the loop has ended:
  // ok once DISCONNECT was written after a complete drain; fails with
  // ConnectionClosed when the loop ended otherwise (drain timeout expired,
  // connection lost, never connected). Lets a program learn that the
  // disconnect finished without reading events.
  Result<Token, ClientError> disconnect_tracked(
      std::chrono::milliseconds drain_timeout = std::chrono::seconds(5),
      codec::Disconnect packet = {});

  // Options for the next reconnect attempt (credentials, will, keep alive,
  // backoff...). host/port/protocol changes apply too. Thread-safe, never
  // blocks. InvalidRequest when validate() rejects them (nothing changes).
  // Changing the protocol or max_inflight needs a new session: in-flight
  // and queued-in-session requests fail with SessionReset and a
  // SessionReset event (cause OptionsChanged) is emitted.
  Result<void, ClientError> update_options(const MqttOptions& options);

  // Never blocks.
  Snapshot snapshot() const;
  // Monotonic totals (mqtt/diagnostics.h). Any thread; never blocks.
  Counters counters() const;

 private:
  friend class Connection;
  explicit Client(std::shared_ptr<detail::ClientShared> shared);
  // Shared by all copies of this Client; when the last one goes, the loop
  // sends what was queued and ends with RequestsDone.
  std::shared_ptr<detail::ClientShared> shared_;
  std::shared_ptr<void> handle_;
};

// The event side of a connection: next() and friends return what happened
// (incoming packets, connection errors, failed requests...). One consumer
// thread at a time (see client.h); not copyable.
class Connection {
 public:
  // Moves the connection; assigning over a Connection first stops the one it
  // held (no DISCONNECT).
  // @{
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  // @}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  // Stops the connection promptly (no DISCONNECT) and, if it owns its reactor,
  // joins the reactor thread.
  ~Connection();

  // The loop advances only while it is polled, as in rumqttc: after a
  // non-terminal connection error has been returned, the next attempt (its
  // backoff included) waits for the next call to next(), try_next() or
  // next_for(). A consumer that stops calling them stops the reconnecting;
  // set_reconnect(false) stops it while still reading events.
  //
  // Blocks until the next event. After the loop's final error (Disconnected,
  // RequestsDone, Shutdown, a terminal refusal) has been returned, returns
  // std::nullopt at once.
  std::optional<Event> next();
  // Never blocks: std::nullopt when no event is waiting (see ended()).
  std::optional<Event> try_next();
  // Blocks at most `timeout` (max() = like next()).
  std::optional<Event> next_for(std::chrono::nanoseconds timeout);
  // True once the final event has been returned: no more events will come.
  bool ended() const;

  // false: after a connection is lost, do not connect again until
  // set_reconnect(true) (the error is still reported; queued requests wait;
  // disconnect() and the other ends still work). Any thread; never blocks.
  void set_reconnect(bool enabled);

  // Readable (level-triggered) while events are waiting, for a user's own
  // epoll/poll loop. Owned by the Connection: do not close it. Created by the
  // first call (a connection whose consumer never asks uses no descriptor
  // for it), then the same descriptor every time. -1 when it cannot be
  // created (out of descriptors; a later call tries again) or on a
  // moved-from Connection.
  int event_fd() const;

  // As Client::snapshot(): never blocks, any thread.
  Snapshot snapshot() const;
  // Monotonic totals (mqtt/diagnostics.h). Any thread; never blocks.
  Counters counters() const;
  // Hands the log records waiting so far to MqttOptions::log_sink (next(),
  // try_next() and next_for() do it too, after taking their event). For a
  // consumer that waits elsewhere (event_fd()). The consumer thread only,
  // like next(). Without a sink: does nothing.
  void drain_log();

  // Range-for support: iterates until the loop ends.
  class Iterator {
   public:
    using value_type = Event;                // what it yields
    using difference_type = std::ptrdiff_t;  // for std::input_iterator
    // The end iterator.
    Iterator() = default;
    // Blocks for the first event, as next() does.
    explicit Iterator(Connection* c) : c_(c) { ++*this; }
    // The current event.
    // @{
    Event& operator*() { return *current_; }
    Event* operator->() { return &*current_; }
    // @}
    // Blocks for the next event, as next() does; after the last one the
    // iterator equals end().
    Iterator& operator++() {
      current_ = c_->next();
      if (!current_) c_ = nullptr;
      return *this;
    }
    // Same connection, or both at the end.
    bool operator==(const Iterator& o) const { return c_ == o.c_; }

   private:
    Connection* c_ = nullptr;
    std::optional<Event> current_;
  };
  // begin() blocks for the first event (as next()); the consumer thread only.
  // @{
  Iterator begin() { return Iterator(this); }
  Iterator end() { return Iterator(); }
  // @}

 private:
  friend class Client;
  explicit Connection(std::shared_ptr<detail::ClientShared> shared);
  std::shared_ptr<detail::ClientShared> shared_;
};

}  // namespace mqtt
