// The public API: Client, Connection, Reactor.
#include "mqtt/client.h"

#include <arpa/inet.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>

#include "mqtt/runtime/conn_core.h"
#include "mqtt/runtime/driver.h"
#include "mqtt/runtime/reactor.h"
#include "mqtt/session/request.h"
#include "transport/unix/unix.h"

namespace mqtt {

namespace detail {

// Client copies share one (client_side = true): when the last goes, the loop
// ends with RequestsDone. The Connection has its own, which also keeps the
// reactor alive (and joins it when it owns the last reference).
struct ClientShared {
  std::shared_ptr<runtime::ConnCore> core;
  std::shared_ptr<Reactor> reactor;
  bool client_side = false;
  // The Connection's only (MqttOptions::log_sink): run and destroyed on
  // user threads.
  LogSink log_sink;
  ~ClientShared() {
    if (client_side && core) core->clients_released();
  }
};

}  // namespace detail

using runtime::LaneItem;
using runtime::PushResult;

std::string_view to_string(ClientError::Code c) {
  switch (c) {
    case ClientError::Code::QueueFull: return "QueueFull";
    case ClientError::Code::Closed: return "Closed";
    case ClientError::Code::InvalidRequest: return "InvalidRequest";
  }
  return "Unknown";
}

std::string_view to_string(Snapshot::State s) {
  switch (s) {
    case Snapshot::State::Connecting: return "Connecting";
    case Snapshot::State::Connected: return "Connected";
    case Snapshot::State::Reconnecting: return "Reconnecting";
    case Snapshot::State::Disconnecting: return "Disconnecting";
    case Snapshot::State::Ended: return "Ended";
  }
  return "Unknown";
}

namespace {

ClientError closed_error() {
  return ClientError{ClientError::Code::Closed, {}, "the connection has ended"};
}
ClientError full_error() {
  return ClientError{ClientError::Code::QueueFull, {}, "the request queue is full"};
}
ClientError invalid_error(codec::CodecError e, std::string_view what) {
  return ClientError{ClientError::Code::InvalidRequest, e,
                     "invalid " + std::string(what) + ": " + std::string(codec::to_string(e))};
}

enum class Mode : uint8_t { Blocking, Try };

Result<void, ClientError> push(runtime::Lane<LaneItem>& lane, LaneItem& item, Mode mode) {
  const PushResult r = mode == Mode::Blocking ? lane.push(item) : lane.try_push(item);
  switch (r) {
    case PushResult::Ok: return {};
    case PushResult::Full: return unexpected(full_error());
    case PushResult::Closed: break;
  }
  return unexpected(closed_error());
}

// Queues `item` (its request built on this thread); returns its token (empty
// when not tracked).
Result<Token, ClientError> queue(detail::ClientShared* shared, bool control, LaneItem& item,
                                 bool tracked, Mode mode) {
  Token token;
  if (tracked) {
    item.req.completion = std::make_shared<detail::CompletionState>();
    token = Token(item.req.completion);
  }
  auto& core = *shared->core;
  auto r = push(control ? core.control : core.publishes, item, mode);
  if (!r.ok()) return unexpected(r.error());
  return token;
}

Result<Token, ClientError> submit(detail::ClientShared* shared, bool control,
                                  Result<session::Request, codec::CodecError> built,
                                  ProtocolVersion v, std::string_view what, bool tracked,
                                  Mode mode) {
  if (!built.ok()) return unexpected(invalid_error(built.error(), what));
  LaneItem item;
  item.req = std::move(built.value());
  item.version = v;
  return queue(shared, control, item, tracked, mode);
}

Result<Token, ClientError> do_publish(detail::ClientShared* shared, std::string_view topic,
                                      QoS qos, bool retain, std::span<const uint8_t> payload,
                                      const Properties& properties, bool tracked, Mode mode) {
  if (!shared || shared->core->publishes.closed()) return unexpected(closed_error());
  const ProtocolVersion v = shared->core->version.load(std::memory_order_relaxed);
  // Encoded straight into the item that is queued; the caller's topic,
  // payload and properties are only viewed.
  LaneItem item;
  item.version = v;
  const codec::PublishRef p(topic, qos, retain, payload, properties);
  if (auto built = session::make_publish_request(p, v, item.req); !built) {
    return unexpected(invalid_error(built.error(), "publish"));
  }
  return queue(shared, false, item, tracked, mode);
}

Result<void, ClientError> drop_token(Result<Token, ClientError> r) {
  if (!r.ok()) return unexpected(r.error());
  return {};
}

Result<Token, ClientError> do_subscribe(detail::ClientShared* shared,
                                        std::span<const SubscribeFilter> filters,
                                        const Properties& properties, Mode mode) {
  if (!shared || shared->core->control.closed()) return unexpected(closed_error());
  const ProtocolVersion v = shared->core->version.load(std::memory_order_relaxed);
  codec::Subscribe s;
  s.subscriptions.reserve(filters.size());
  for (const auto& f : filters) {
    s.subscriptions.push_back(
        codec::Subscription{f.filter, f.qos, f.no_local, f.retain_as_published, f.retain_handling});
  }
  s.properties = properties;
  return submit(shared, true, session::make_subscribe_request(s, v), v, "subscribe", true, mode);
}

Result<Token, ClientError> do_unsubscribe(detail::ClientShared* shared,
                                          std::span<const std::string_view> filters,
                                          const Properties& properties, Mode mode) {
  if (!shared || shared->core->control.closed()) return unexpected(closed_error());
  const ProtocolVersion v = shared->core->version.load(std::memory_order_relaxed);
  codec::Unsubscribe u;
  u.filters.assign(filters.begin(), filters.end());
  u.properties = properties;
  return submit(shared, true, session::make_unsubscribe_request(u, v), v, "unsubscribe", true,
                mode);
}

Result<void, ClientError> do_ack(detail::ClientShared* shared, const codec::Publish& p, Mode mode) {
  if (!shared || shared->core->control.closed()) return unexpected(closed_error());
  if (p.qos == QoS::AtMostOnce) return {};
  if (p.packet_id == 0) {
    return unexpected(invalid_error(codec::CodecError::ZeroPacketIdentifier, "ack"));
  }
  LaneItem item;
  item.req = session::make_ack_request(p.packet_id, p.qos);
  item.version = shared->core->version.load(std::memory_order_relaxed);
  return push(shared->core->control, item, mode);
}

// Never waits for lane room: the first call queues a marker in the publish
// lane without a slot (after this thread's publishes); every call brings
// the deadline forward. The reactor ends the loop by that deadline.
Result<void, ClientError> do_disconnect(detail::ClientShared* shared,
                                        std::chrono::milliseconds drain_timeout,
                                        const codec::Disconnect& packet) {
  if (!shared || shared->core->publishes.closed()) return unexpected(closed_error());
  auto& core = *shared->core;
  const ProtocolVersion v = core.version.load(std::memory_order_relaxed);
  auto built = session::make_disconnect_request(
      packet, v, core.session_expiry_s.load(std::memory_order_relaxed));
  if (!built.ok()) return unexpected(invalid_error(built.error(), "disconnect"));
  const auto deadline =
      mqtt::detail::saturating_add(std::chrono::steady_clock::now(), drain_timeout);
  const int64_t dl = deadline == std::chrono::steady_clock::time_point::max()
                         ? INT64_MAX - 1  // "no limit", but distinct from "none"
                         : std::chrono::duration_cast<std::chrono::nanoseconds>(
                               deadline.time_since_epoch())
                               .count();
  if (!core.disconnect_queued.exchange(true, std::memory_order_seq_cst)) {
    LaneItem item;
    item.req = std::move(built.value());
    item.version = v;
    const PushResult r = core.publishes.push_extra(item);
    if (r == PushResult::Closed) return unexpected(closed_error());
    if (r != PushResult::Ok) {
      core.disconnect_queued.store(false, std::memory_order_seq_cst);
      return unexpected(full_error());
    }
  }
  int64_t cur = core.disconnect_deadline_ns.load(std::memory_order_seq_cst);
  while (dl < cur &&
         !core.disconnect_deadline_ns.compare_exchange_weak(cur, dl, std::memory_order_seq_cst)) {
  }
  core.waker->wake();
  return {};
}

Snapshot make_snapshot(const runtime::ConnCore& core) {
  Snapshot s;
  s.state = core.state.load(std::memory_order_relaxed);
  s.queued_publishes = core.publishes.size();
  s.queued_control = core.control.size();
  s.queued_events = core.events.size();
  s.inflight_publishes = core.inflight.load(std::memory_order_relaxed);
  s.inflight_window = core.window.load(std::memory_order_relaxed);
  const int64_t rtt = core.last_ping_rtt_ns.load(std::memory_order_relaxed);
  if (rtt >= 0) s.last_ping_rtt = std::chrono::nanoseconds(rtt);
  s.reconnects = core.reconnects.load(std::memory_order_relaxed);
  s.connection_attempts = core.attempts.load(std::memory_order_relaxed);
  s.excess_incoming_qos2 = core.excess_qos2.load(std::memory_order_relaxed);
  s.reading_paused = core.reading_paused.load(std::memory_order_relaxed);
  s.unwritten_bytes = core.unwritten.load(std::memory_order_relaxed);
  return s;
}

template <size_t N>
void load_all(const std::array<std::atomic<uint64_t>, N>& from, std::array<uint64_t, N>& to) {
  for (size_t i = 0; i < N; ++i) to[i] = from[i].load(std::memory_order_relaxed);
}

Counters make_counters(const runtime::ConnCore& core) {
  const runtime::CounterCells& c = core.cells;
  Counters k;
  for (size_t q = 0; q < Counters::kQoS; ++q) {
    k.messages_in[q] = c.in[q].messages.load(std::memory_order_relaxed);
    k.bytes_in[q] = c.in[q].bytes.load(std::memory_order_relaxed);
    k.messages_out[q] = c.out[q].messages.load(std::memory_order_relaxed);
    k.bytes_out[q] = c.out[q].bytes.load(std::memory_order_relaxed);
  }
  load_all(c.connection_errors, k.connection_errors);
  load_all(c.requests_failed, k.requests_failed);
  k.reconnects = core.reconnects.load(std::memory_order_relaxed);
  k.connection_attempts = core.attempts.load(std::memory_order_relaxed);
  k.reading_paused_ns = c.reading_paused_ns.load(std::memory_order_relaxed);
  k.log_records = c.log_records.load(std::memory_order_relaxed);
  k.log_dropped = c.log_dropped.load(std::memory_order_relaxed);
  return k;
}

}  // namespace

// --- Reactor ---

Reactor::Reactor(std::unique_ptr<detail::ReactorImpl> impl) : impl_(std::move(impl)) {}
Reactor::~Reactor() = default;

Result<std::shared_ptr<Reactor>, CreateError> Reactor::try_create(Options options) {
  try {
    auto impl = std::make_unique<detail::ReactorImpl>(std::move(options));
    if (!impl->ok()) {
      return unexpected(CreateError{CreateError::Code::Resources, impl->error_errno(),
                                    impl->error() + ": " + std::strerror(impl->error_errno())});
    }
    return std::shared_ptr<Reactor>(new Reactor(std::move(impl)));
  } catch (const std::bad_alloc&) {
    return unexpected(CreateError{CreateError::Code::Resources, ENOMEM, "out of memory"});
  }
}

std::shared_ptr<Reactor> Reactor::create(Options options) {
  auto r = try_create(std::move(options));
  if (!r.ok()) {
    if (r.error().sys_errno == ENOMEM) throw std::bad_alloc();
    throw std::system_error(r.error().sys_errno, std::generic_category(), r.error().message);
  }
  return std::move(r.value());
}

// --- options ---

std::string_view to_string(CreateError::Code c) {
  switch (c) {
    case CreateError::Code::InvalidOptions: return "InvalidOptions";
    case CreateError::Code::InvalidCapacity: return "InvalidCapacity";
    case CreateError::Code::Resources: return "Resources";
    case CreateError::Code::StoreFailed: return "StoreFailed";
  }
  return "Unknown";
}

std::string validate(const MqttOptions& o) {
  using namespace std::chrono;
  if (o.keep_alive < seconds::zero() || o.keep_alive > seconds(65535)) {
    return "keep_alive must be 0..65535 s (MQTT's range), got " +
           std::to_string(o.keep_alive.count()) + " s";
  }
  if (o.ping_timeout < milliseconds::zero()) return "ping_timeout must not be negative";
  if (o.connect_timeout <= milliseconds::zero()) return "connect_timeout must be positive";
  if (o.backoff.initial < milliseconds::zero() || o.backoff.max < milliseconds::zero() ||
      o.backoff.reset_after < milliseconds::zero()) {
    return "backoff durations must not be negative";
  }
  if (!(o.backoff.jitter >= 0.0 && o.backoff.jitter <= 1.0)) return "backoff.jitter must be 0..1";
  if (!(o.backoff.multiplier >= 1.0)) return "backoff.multiplier must be >= 1";
  if (o.spin_for < microseconds::zero()) return "spin_for must not be negative";
  if (o.max_incoming_packet_size < 2) return "max_incoming_packet_size must be at least 2";
  if (o.send_buffer < 0 || o.receive_buffer < 0) return "socket buffer sizes must not be negative";
  if (!o.bind_address.empty()) {
    in6_addr a6{};
    in_addr a4{};
    if (::inet_pton(AF_INET, o.bind_address.c_str(), &a4) != 1 &&
        ::inet_pton(AF_INET6, o.bind_address.c_str(), &a6) != 1) {
      return "bind_address must be an IPv4 or IPv6 literal, got '" + o.bind_address + "'";
    }
  }
  if (o.websocket) {
    if (!o.unix_path.empty()) return "websocket cannot be used with unix_path";
    if (o.websocket->path.empty() || o.websocket->path[0] != '/')
      return "websocket path must start with '/'";
    if (o.websocket->max_message < 16 || o.websocket->max_message > (16u << 20))
      return "websocket max_message must be 16 bytes to 16 MiB";
    for (const auto& h : o.websocket->headers) {
      if (h.key.empty() || h.key.find_first_of(":\r\n ") != std::string::npos ||
          h.value.find_first_of("\r\n") != std::string::npos)
        return "invalid websocket header '" + h.key + "'";
    }
  }
  if (o.proxy) {
    if (!o.unix_path.empty()) return "a proxy cannot be used with unix_path";
    if (o.proxy->host.empty() || o.proxy->port == 0) return "proxy needs a host and a port";
    if (o.proxy->password && !o.proxy->username) return "proxy password without a user name";
  }
  if (o.unix_path.size() > transport::unix_socket::kMaxPath) {
    return "unix_path is longer than " + std::to_string(transport::unix_socket::kMaxPath) + " bytes";
  }
  for (size_t i = 0; i < o.brokers.size(); ++i) {
    const BrokerAddress& b = o.brokers[i];
    const std::string which = "brokers[" + std::to_string(i) + "]";
    if (b.unix_path.empty()) {
      if (b.host.empty()) return which + " needs a host (or a unix_path)";
      if (b.port == 0) return which + " (" + b.host + ") needs a port from 1 to 65535";
    } else {
      if (!b.host.empty()) return which + " has both a host and a unix_path";
      if (o.proxy) return which + ": a proxy cannot be used with a unix_path";
      if (o.websocket) return which + ": websocket cannot be used with a unix_path";
      if (b.unix_path.size() > transport::unix_socket::kMaxPath) {
        return which + ".unix_path is longer than " +
               std::to_string(transport::unix_socket::kMaxPath) + " bytes";
      }
    }
  }
  if (o.connection_attempt_delay < milliseconds::zero()) {
    return "connection_attempt_delay must not be negative";
  }
  if (o.authentication_method) {
    if (o.protocol != ProtocolVersion::V5)
      return "authentication_method needs MQTT 5 (enhanced authentication, spec 4.12)";
    if (o.authentication_method->empty()) return "authentication_method must not be empty";
  } else if (!o.authentication_data.empty()) {
    return "authentication_data without authentication_method (spec 3.1.2.11.10)";
  }
  const RateLimit& r = o.rate_limit;
  if (!(r.messages_per_second >= 0) || !(r.bytes_per_second >= 0) || !(r.burst_messages >= 0) ||
      !(r.burst_bytes >= 0)) {
    return "rate_limit values must not be negative";
  }
  return {};
}

// --- Client ---

Client::Client(std::shared_ptr<detail::ClientShared> shared) : shared_(std::move(shared)) {}
Client::~Client() = default;

Result<std::pair<Client, Connection>, CreateError> Client::try_create(
    const MqttOptions& options, size_t capacity, std::shared_ptr<Reactor> reactor) {
  if (std::string why = validate(options); !why.empty()) {
    return unexpected(CreateError{CreateError::Code::InvalidOptions, 0, why});
  }
  if (capacity == 0 || capacity > kMaxCapacity) {
    return unexpected(CreateError{CreateError::Code::InvalidCapacity, 0,
                                  "capacity must be 1.." + std::to_string(kMaxCapacity) +
                                      ", got " + std::to_string(capacity)});
  }
  if (!reactor) {
    Reactor::Options r;
    r.thread_name = options.reactor_thread_name;
    r.cpu = options.reactor_cpu;
    r.wait = options.reactor_wait;
    r.spin_for = options.spin_for;
    auto made = Reactor::try_create(std::move(r));
    if (!made.ok()) return unexpected(made.error());
    reactor = std::move(made.value());
  }
  try {
    auto& impl = *reactor->impl_;
    // No descriptor here: the event queue's eventfd is created by the first
    // Connection::event_fd() call (which returns -1 if it cannot be had).
    auto core = std::make_shared<runtime::ConnCore>(options, capacity, impl.waker);
    std::shared_ptr<transport::tls::Context> tls;
    if (options.tls) {
      std::string why;
      tls = transport::tls::make_context(*options.tls, &why);
      if (!tls) return unexpected(CreateError{CreateError::Code::InvalidOptions, 0, "TLS: " + why});
    }
    auto driver = std::make_unique<runtime::Driver>(core, options, impl.epoll_fd(), tls);
    if (options.session_store && !options.clean_session) {
      // The session a killed process left (docs/session-store.md). With
      // clean_session the first CONNACK clears the store instead.
      auto stored = options.session_store->load(options.client_id);
      if (!stored.ok()) {
        return unexpected(CreateError{CreateError::Code::StoreFailed, stored.error().sys_errno,
                                      "session store: " + stored.error().message});
      }
      if (std::string why = driver->restore(*stored); !why.empty()) {
        return unexpected(
            CreateError{CreateError::Code::StoreFailed, 0, "session store: " + why});
      }
    }
    auto client_shared = std::make_shared<detail::ClientShared>();
    auto conn_shared = std::make_shared<detail::ClientShared>();
    // Nothing can fail from here on: hand the driver to the reactor.
    impl.add(std::move(driver));
    client_shared->core = core;
    client_shared->client_side = true;
    conn_shared->core = core;
    conn_shared->reactor = std::move(reactor);
    conn_shared->log_sink = options.log_sink;
    return std::pair<Client, Connection>{Client(std::move(client_shared)),
                                         Connection(std::move(conn_shared))};
  } catch (const std::bad_alloc&) {
    return unexpected(CreateError{CreateError::Code::Resources, ENOMEM,
                                  "out of memory (event queue of " + std::to_string(capacity) +
                                      " events)"});
  } catch (const std::system_error& e) {  // the store thread could not start
    return unexpected(CreateError{CreateError::Code::Resources, e.code().value(),
                                  std::string("session store thread: ") + e.what()});
  }
}

namespace {
std::pair<Client, Connection> created_or_throw(
    Result<std::pair<Client, Connection>, CreateError> r) {
  if (r.ok()) return std::move(r.value());
  const CreateError& e = r.error();
  if (e.code == CreateError::Code::Resources) {
    throw std::system_error(e.sys_errno, std::generic_category(), "mqtt: " + e.message);
  }
  if (e.code == CreateError::Code::StoreFailed) throw std::runtime_error("mqtt: " + e.message);
  throw std::invalid_argument("mqtt: " + e.message);
}
}  // namespace

std::pair<Client, Connection> Client::create(const MqttOptions& options, size_t capacity) {
  return created_or_throw(try_create(options, capacity, nullptr));
}

std::pair<Client, Connection> Client::create(const MqttOptions& options, size_t capacity,
                                             std::shared_ptr<Reactor> reactor) {
  if (!reactor) throw std::invalid_argument("mqtt: null reactor");
  return created_or_throw(try_create(options, capacity, std::move(reactor)));
}

Result<void, ClientError> Client::publish(std::string_view topic, QoS qos, bool retain,
                                          std::span<const uint8_t> payload,
                                          const Properties& properties) {
  return drop_token(
      do_publish(shared_.get(), topic, qos, retain, payload, properties, false, Mode::Blocking));
}

Result<void, ClientError> Client::publish(std::string_view topic, QoS qos, bool retain,
                                          std::string_view payload, const Properties& properties) {
  return drop_token(do_publish(shared_.get(), topic, qos, retain, codec::as_bytes(payload),
                               properties, false, Mode::Blocking));
}

Result<void, ClientError> Client::try_publish(std::string_view topic, QoS qos, bool retain,
                                              std::string_view payload,
                                              const Properties& properties) {
  return drop_token(do_publish(shared_.get(), topic, qos, retain, codec::as_bytes(payload),
                               properties, false, Mode::Try));
}

Result<Token, ClientError> Client::publish_tracked(std::string_view topic, QoS qos, bool retain,
                                                   std::string_view payload,
                                                   const Properties& properties) {
  return do_publish(shared_.get(), topic, qos, retain, codec::as_bytes(payload), properties, true,
                    Mode::Blocking);
}

Result<Token, ClientError> Client::try_publish_tracked(std::string_view topic, QoS qos,
                                                       bool retain, std::string_view payload,
                                                       const Properties& properties) {
  return do_publish(shared_.get(), topic, qos, retain, codec::as_bytes(payload), properties, true,
                    Mode::Try);
}

Result<Token, ClientError> Client::subscribe(std::string_view filter, QoS qos,
                                             const Properties& properties) {
  SubscribeFilter f{filter, qos};
  return do_subscribe(shared_.get(), std::span<const SubscribeFilter>(&f, 1), properties,
                      Mode::Blocking);
}

Result<Token, ClientError> Client::subscribe_many(std::span<const SubscribeFilter> filters,
                                                  const Properties& properties) {
  return do_subscribe(shared_.get(), filters, properties, Mode::Blocking);
}

Result<Token, ClientError> Client::try_subscribe(std::string_view filter, QoS qos,
                                                 const Properties& properties) {
  SubscribeFilter f{filter, qos};
  return do_subscribe(shared_.get(), std::span<const SubscribeFilter>(&f, 1), properties,
                      Mode::Try);
}

Result<Token, ClientError> Client::try_subscribe_many(std::span<const SubscribeFilter> filters,
                                                      const Properties& properties) {
  return do_subscribe(shared_.get(), filters, properties, Mode::Try);
}

Result<Token, ClientError> Client::unsubscribe(std::string_view filter,
                                               const Properties& properties) {
  return do_unsubscribe(shared_.get(), std::span<const std::string_view>(&filter, 1), properties,
                        Mode::Blocking);
}

Result<Token, ClientError> Client::unsubscribe_many(std::span<const std::string_view> filters,
                                                    const Properties& properties) {
  return do_unsubscribe(shared_.get(), filters, properties, Mode::Blocking);
}

Result<Token, ClientError> Client::try_unsubscribe(std::string_view filter,
                                                   const Properties& properties) {
  return do_unsubscribe(shared_.get(), std::span<const std::string_view>(&filter, 1), properties,
                        Mode::Try);
}

Result<Token, ClientError> Client::try_unsubscribe_many(std::span<const std::string_view> filters,
                                                        const Properties& properties) {
  return do_unsubscribe(shared_.get(), filters, properties, Mode::Try);
}

Result<void, ClientError> Client::ack(const codec::Publish& publish) {
  return do_ack(shared_.get(), publish, Mode::Blocking);
}

Result<void, ClientError> Client::try_ack(const codec::Publish& publish) {
  return do_ack(shared_.get(), publish, Mode::Try);
}

Result<void, ClientError> Client::auth(ReasonCode code, std::span<const uint8_t> data,
                                       const Properties& properties) {
  if (!shared_ || shared_->core->control.closed()) return unexpected(closed_error());
  auto& core = *shared_->core;
  const ProtocolVersion v = core.version.load(std::memory_order_relaxed);
  std::optional<std::string> method;
  {
    std::lock_guard<std::mutex> lock(core.auth_mu);
    method = core.auth_method;
  }
  if (v != ProtocolVersion::V5) {
    return unexpected(ClientError{ClientError::Code::InvalidRequest,
                                  codec::CodecError::InvalidPacketType,
                                  "invalid auth: AUTH needs MQTT 5 (enhanced authentication)"});
  }
  if (!method) {
    return unexpected(ClientError{ClientError::Code::InvalidRequest, {},
                                  "invalid auth: no authentication_method in the options "
                                  "[MQTT-4.12.0-7]"});
  }
  LaneItem item;
  auto built = session::make_auth_request(code, *method, data, properties, v);
  if (!built.ok()) return unexpected(invalid_error(built.error(), "auth"));
  item.req = std::move(built.value());
  item.version = v;
  return push(core.control, item, Mode::Try);
}

Result<void, ClientError> Client::disconnect(std::chrono::milliseconds drain_timeout,
                                             codec::Disconnect packet) {
  return do_disconnect(shared_.get(), drain_timeout, packet);
}

Result<void, ClientError> Client::try_disconnect(std::chrono::milliseconds drain_timeout,
                                                 codec::Disconnect packet) {
  return do_disconnect(shared_.get(), drain_timeout, packet);
}

Result<Token, ClientError> Client::disconnect_tracked(std::chrono::milliseconds drain_timeout,
                                                      codec::Disconnect packet) {
  auto r = do_disconnect(shared_.get(), drain_timeout, packet);
  if (!r.ok()) return unexpected(r.error());
  return Token(shared_->core->end_completion);
}

Result<void, ClientError> Client::update_options(const MqttOptions& options) {
  if (!shared_) return unexpected(closed_error());
  if (std::string why = validate(options); !why.empty()) {
    return unexpected(ClientError{ClientError::Code::InvalidRequest, {}, "invalid options: " + why});
  }
  std::shared_ptr<transport::tls::Context> tls;
  if (options.tls) {
    std::string why;
    tls = transport::tls::make_context(*options.tls, &why);
    if (!tls) {
      return unexpected(ClientError{ClientError::Code::InvalidRequest, {}, "invalid options: TLS: " + why});
    }
  }
  auto& core = *shared_->core;
  {
    // The sink stays the one given to create(); no copy of the user's
    // callable may reach (and be destroyed on) the reactor thread.
    MqttOptions copy = options;
    copy.log_sink = nullptr;
    std::lock_guard<std::mutex> lock(core.options_mu);
    core.new_options = copy;
    core.new_tls = std::move(tls);
  }
  core.session_expiry_s.store(options.session_expiry_interval_s.value_or(0),
                              std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(core.auth_mu);
    core.auth_method = options.authentication_method;
  }
  core.options_changed.store(true, std::memory_order_seq_cst);
  return {};
}

Counters Client::counters() const { return shared_ ? make_counters(*shared_->core) : Counters{}; }

Snapshot Client::snapshot() const {
  if (!shared_) {
    Snapshot s;
    s.state = Snapshot::State::Ended;
    return s;
  }
  return make_snapshot(*shared_->core);
}

// --- Connection ---

Connection::Connection(std::shared_ptr<detail::ClientShared> shared) : shared_(std::move(shared)) {}

Connection::Connection(Connection&& o) noexcept = default;

Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    if (shared_) shared_->core->request_shutdown();
    shared_ = std::move(o.shared_);
  }
  return *this;
}

Connection::~Connection() {
  if (shared_) {
    shared_->core->request_shutdown();
    // Dropping the last reference to an owned reactor joins its thread.
    shared_.reset();
  }
}

namespace {

// One consumer at a time: a second concurrent next*() is a bug in the
// caller that would corrupt the single-consumer queue. Abort loudly.
class ConsumerGuard {
 public:
  // `polls`: a next*() call (opens the reconnect gate); drain_log() is not.
  explicit ConsumerGuard(runtime::ConnCore& core, bool polls = true) : core_(core) {
    if (core_.in_next.exchange(true, std::memory_order_acquire)) {
      std::fputs(
          "mqtt: Connection::next()/try_next()/next_for() called from two threads at once; "
          "a Connection has one consumer thread at a time (see mqtt/client.h). Aborting.\n",
          stderr);
      std::abort();
    }
    // The first call after a non-terminal error lets the loop go on.
    if (polls && core_.gate_pending) {
      core_.gate_pending = false;
      core_.errors_polled.fetch_add(1, std::memory_order_seq_cst);
      core_.waker->wake();
    }
  }
  ~ConsumerGuard() { core_.in_next.store(false, std::memory_order_release); }
  ConsumerGuard(const ConsumerGuard&) = delete;
  ConsumerGuard& operator=(const ConsumerGuard&) = delete;

 private:
  runtime::ConnCore& core_;
};

// The consumer thread hands the reactor's log records to the sink (the
// reactor never calls user code). One atomic exchange when nothing waits.
void deliver_log(detail::ClientShared& shared) {
  if (!shared.log_sink) return;
  runtime::ConnCore& core = *shared.core;
  if (!core.log.take(core.log_taken)) return;
  // A throwing sink must not lose the event being returned: swallowed.
  for (const LogRecord& r : core.log_taken) {
    try {
      shared.log_sink(r);
    } catch (...) {
    }
  }
  core.log_taken.clear();
}

void after_take(runtime::ConnCore& core, const Event& e) {
  if (const ConnectionError* err = e.error()) {
    if (err->terminal) {
      core.consumer_ended.store(true, std::memory_order_release);
    } else {
      core.gate_pending = true;
    }
  }
}

}  // namespace

std::optional<Event> Connection::next() {
  if (!shared_) return std::nullopt;
  auto& core = *shared_->core;
  ConsumerGuard guard(core);
  if (core.consumer_ended.load(std::memory_order_acquire)) return std::nullopt;
  // Dequeued straight into the returned optional: one move of the event.
  std::optional<Event> e;
  core.events.pop(e, core.consumer_wait, core.spin_for);
  after_take(core, *e);
  deliver_log(*shared_);
  return e;
}

std::optional<Event> Connection::try_next() {
  if (!shared_) return std::nullopt;
  auto& core = *shared_->core;
  ConsumerGuard guard(core);
  if (core.consumer_ended.load(std::memory_order_acquire)) return std::nullopt;
  std::optional<Event> e;
  const bool got = core.events.try_pop(e);
  if (got) after_take(core, *e);
  deliver_log(*shared_);
  return e;
}

std::optional<Event> Connection::next_for(std::chrono::nanoseconds timeout) {
  if (!shared_) return std::nullopt;
  auto& core = *shared_->core;
  ConsumerGuard guard(core);
  if (core.consumer_ended.load(std::memory_order_acquire)) return std::nullopt;
  std::optional<Event> e;
  const bool got = core.events.pop_for(e, timeout);
  if (got) after_take(core, *e);
  deliver_log(*shared_);
  return e;
}

bool Connection::ended() const {
  return !shared_ || shared_->core->consumer_ended.load(std::memory_order_acquire);
}

void Connection::set_reconnect(bool enabled) {
  if (!shared_) return;
  shared_->core->reconnect_enabled.store(enabled, std::memory_order_seq_cst);
  shared_->core->waker->wake();
}

int Connection::event_fd() const {
  if (!shared_) return -1;
  return shared_->core->events.fd();
}

void Connection::drain_log() {
  if (!shared_) return;
  auto& core = *shared_->core;
  ConsumerGuard guard(core, /*polls=*/false);
  deliver_log(*shared_);
}

Counters Connection::counters() const {
  return shared_ ? make_counters(*shared_->core) : Counters{};
}

Snapshot Connection::snapshot() const {
  if (!shared_) {
    Snapshot s;
    s.state = Snapshot::State::Ended;
    return s;
  }
  return make_snapshot(*shared_->core);
}

}  // namespace mqtt
