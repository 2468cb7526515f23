#include "mqtt/runtime/driver.h"

#include <sys/epoll.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include "mqtt/codec/decoder.h"
#include "transport/proxy/http_connect.h"
#include "transport/proxy/socks5.h"
#include "transport/tcp/tcp.h"
#include "transport/unix/unix.h"
#include "transport/ws/proxy_hop.h"
#include "transport/ws/ws.h"

namespace mqtt::runtime {

namespace {

// Read buffer (see Driver::rbuf_): the first read of a connection allocates
// kReadBufferMin; a read that fills the buffer doubles it for the next one,
// up to kReadBufferMax (one packet bigger than the buffer gets its own
// size). Every kReadBufferReview while above kReadBufferMin, an empty buffer
// shrinks to twice the most it held at once meanwhile (to kReadBufferMin
// when idle). A closed connection holds none.
constexpr size_t kReadBufferMin = 2 * 1024;
constexpr size_t kReadBufferMax = 64 * 1024;
constexpr std::chrono::seconds kReadBufferReview{2};
std::atomic<size_t> g_read_buffer_bytes{0};
constexpr int kMaxReadsPerPoll = 8;
constexpr int kMaxPublishesPerPoll = 1024;
constexpr size_t kMaxControlPerPoll = 256;
// The longest wait for the broker to close after our DISCONNECT (Driver::linger).
constexpr std::chrono::milliseconds kLingerMax{1000};
// Above this much unwritten output, no publishes are taken and the socket is
// not read: a peer that does not read what we write (our acks included)
// cannot make us buffer without bound; TCP pushes back on it instead.
constexpr size_t kOutputHighWater = 512 * 1024;

ConnectionErrorCode error_code(transport::ErrorKind k) {
  switch (k) {
    case transport::ErrorKind::Dns: return ConnectionErrorCode::Dns;
    case transport::ErrorKind::Tls: return ConnectionErrorCode::Tls;
    case transport::ErrorKind::WebSocket: return ConnectionErrorCode::WebSocket;
    default: return ConnectionErrorCode::Io;
  }
}

ConnectionError make_error(ConnectionErrorCode code, std::string message, int err = 0) {
  ConnectionError e;
  e.code = code;
  e.message = std::move(message);
  e.sys_errno = err;
  return e;
}

RequestFailed::Kind failed_kind(session::Request::Kind k) {
  switch (k) {
    case session::Request::Kind::Publish: return RequestFailed::Kind::Publish;
    case session::Request::Kind::Subscribe: return RequestFailed::Kind::Subscribe;
    case session::Request::Kind::Unsubscribe: return RequestFailed::Kind::Unsubscribe;
    case session::Request::Kind::Ack: return RequestFailed::Kind::Ack;
    case session::Request::Kind::Disconnect: return RequestFailed::Kind::Disconnect;
    case session::Request::Kind::Auth: return RequestFailed::Kind::Auth;
  }
  return RequestFailed::Kind::Publish;
}


// Length of the longest prefix of `in` made of at most `max_packets` whole
// packets. A malformed header makes it return all of `in`: the session then
// reports the error.
size_t whole_packets_prefix(std::span<const uint8_t> in, size_t max_packets,
                            const codec::DecodeOptions& opts) {
  size_t pos = 0;
  for (size_t n = 0; n < max_packets && pos < in.size(); ++n) {
    codec::FixedHeader fh;
    codec::DecodeResult r = codec::decode_fixed_header(in.subspan(pos), opts, fh);
    if (r.status == codec::DecodeStatus::Error) return in.size();
    if (r.status == codec::DecodeStatus::NeedMore) break;
    if (fh.packet_size() > in.size() - pos) break;
    pos += fh.packet_size();
  }
  return pos;
}

}  // namespace

Driver::Driver(std::shared_ptr<ConnCore> core, const MqttOptions& options, int epoll_fd,
               std::shared_ptr<transport::tls::Context> tls)
    : core_(std::move(core)),
      opts_(options),
      epfd_(epoll_fd),
      session_version_(options.protocol),
      tls_(std::move(tls)),
      backoff_(options.backoff),
      rate_(options.rate_limit, Clock::now()),
      brokers_(brokers_of(options)) {
  // The sink stays with the Connection and runs on the consumer thread only.
  opts_.log_sink = nullptr;
  if (options.log_sink) log_max_ = static_cast<int>(options.log_level);
  if (opts_.session_store) {
    store_ = std::make_unique<StoreWorker>(opts_.session_store, opts_.client_id, core_->waker);
  }
  session_ = std::make_unique<session::Session>(session_config(), *this);
}

std::string Driver::restore(const StoredSession& stored) {
  session::RestoredState st;
  for (const auto& p : stored.outgoing) {
    st.outgoing.push_back({p.packet_id, p.qos, p.pubrec_received, p.bytes, p.version});
  }
  st.incoming_qos2 = stored.incoming_qos2;
  st.assigned_client_id = stored.assigned_client_id;
  return session_->restore(st);
}

Driver::~Driver() {
  push_store_records();  // the worker applies them before its thread ends
  incoming_pool_->close();  // freed with the last event that holds one of its packets
  close_stream();
  if (pending_) abandon_item(*pending_);
  core_->end_completion->complete(
      Completion{RequestError::ConnectionClosed, {}, "the connection has ended"});
}

session::SessionConfig Driver::session_config() const {
  session::SessionConfig c;
  c.version = opts_.protocol;
  c.keep_alive = opts_.keep_alive;
  c.ping_timeout = mqtt::detail::saturating_cast<session::Duration>(opts_.effective_ping_timeout());
  c.max_inflight = opts_.max_inflight == 0 ? 1 : opts_.max_inflight;
  c.manual_acks = opts_.manual_acks;
  c.auto_resubscribe = opts_.auto_resubscribe;
  c.max_incoming_packet_size = opts_.max_incoming_packet_size;
  c.topic_alias_maximum = opts_.topic_alias_maximum;
  c.auto_topic_aliases = opts_.auto_topic_aliases;
  c.store = store_ != nullptr;
  return c;
}

// --- session store ---

void Driver::on_store(const session::StoreEvent& e) {
  using T = session::StoreEvent::Type;
  StoreWorker::Item item;
  item.seq = store_base_ + e.seq;
  switch (e.type) {
    case T::Publish: item.record.type = StoreRecord::Type::Publish; break;
    case T::PubRecReceived: item.record.type = StoreRecord::Type::PubRecReceived; break;
    case T::PublishDone: item.record.type = StoreRecord::Type::PublishDone; break;
    case T::IncomingQos2: item.record.type = StoreRecord::Type::IncomingQos2; break;
    case T::IncomingReleased: item.record.type = StoreRecord::Type::IncomingReleased; break;
    case T::ClientId: item.record.type = StoreRecord::Type::ClientId; break;
    case T::Clear: item.record.type = StoreRecord::Type::Clear; break;
  }
  item.record.packet_id = e.packet_id;
  item.record.qos = e.qos;
  item.record.version = session_version_;
  item.record.bytes.assign(e.bytes.begin(), e.bytes.end());
  if (e.type == T::Publish) {
    if (e.completion && *e.completion) {
      (*e.completion)->store_pending();
      item.completion = *e.completion;
    } else {
      store_untracked_.push_back(UntrackedStored{item.seq, e.qos, e.packet_id,
                                                 std::string(session::publish_topic(e.bytes))});
    }
  }
  store_batch_.push_back(std::move(item));
}

void Driver::push_store_records() {
  if (store_ && !store_batch_.empty()) store_->push(store_batch_);
}

void Driver::store_sync(bool report) {
  if (!store_) return;
  const uint64_t done = store_->done_seq();
  if (done == store_seen_) return;
  store_seen_ = done;
  if (done > store_base_) session_->store_confirmed(done - store_base_);
  const uint64_t failed_from = store_->failed_from();
  while (!store_untracked_.empty() && store_untracked_.front().seq <= done) {
    UntrackedStored& u = store_untracked_.front();
    if (report && u.seq < failed_from) {
      emit(Event(RequestStored{RequestFailed::Kind::Publish, std::move(u.topic), u.qos,
                               u.packet_id}));
    } else if (report) {
      RequestFailed f;
      f.kind = RequestFailed::Kind::Publish;
      f.reason = RequestError::StoreFailed;
      f.topic = std::move(u.topic);
      f.qos = u.qos;
      f.packet_id = u.packet_id;
      f.message = "the session store failed (" + store_->failure() +
                  "): the message is still sent but will not survive a restart";
      report_failure(std::move(f));
    }
    store_untracked_.pop_front();
  }
  busy_ = true;  // released PUBRELs/PUBRECs are waiting to be written
}

// --- SessionObserver ---

void Driver::on_incoming(std::span<const uint8_t> raw, const codec::Packet& packet) {
  // The hot path first. Always-on counters: a few instructions per message
  // (docs/benchmarks.md).
  if (const auto* p = std::get_if<codec::Publish>(&packet)) {
    core_->cells.in[static_cast<size_t>(p->qos)].add(raw.size());
    emit(Event(incoming_pool_->make(raw, packet, session_version_)));
    return;
  }
  // Count the connection before its CONNACK becomes visible to the consumer.
  if (const auto* ack = std::get_if<codec::ConnAck>(&packet)) {
    if (!is_failure(ack->reason_code)) {
      mark_connected();
      if (logs(LogLevel::Info)) {
        log(LogLevel::Info, "connect",
            "connected to " + to_string(brokers_.current()) +
                (ack->session_present ? " (session present)" : " (no session present)"));
      }
    }
    emit(Event(incoming_pool_->make(raw, packet, session_version_, to_string(brokers_.current()))));
    return;
  }
  emit(Event(incoming_pool_->make(raw, packet, session_version_)));
}

void Driver::on_outgoing(const Outgoing& out) {
  if (opts_.outgoing_events) emit(Event(out));
}

void Driver::on_session_reset(const session::ResetInfo& info) {
  SessionReset r;
  r.dropped_publishes = info.dropped_publishes;
  r.dropped_pubrels = info.dropped_pubrels;
  r.cause = SessionReset::Cause::BrokerLostSession;
  r.subscriptions_lost = info.subscriptions_lost;
  r.resubscribing = info.resubscribing;
  emit(Event(r));
}

void Driver::on_request_failed(const session::FailedRequest& f) {
  RequestFailed e;
  e.kind = failed_kind(f.kind);
  e.reason = f.reason;
  e.topic = std::string(f.topic);
  e.qos = f.qos;
  e.packet_id = f.packet_id;
  e.message = std::string(f.message);
  report_failure(std::move(e));
}

void Driver::on_token_failed(RequestError why, std::string_view message) {
  note_failure(why, 1, message);
}

void Driver::fail_request(session::Request& r, RequestError why, const std::string& message) {
  if (r.completion) {
    note_failure(why, 1, message);
    r.completion->complete(Completion{why, {}, message});
    r.completion.reset();
    return;
  }
  RequestFailed e;
  e.kind = failed_kind(r.kind);
  e.reason = why;
  if (r.kind == session::Request::Kind::Publish) e.topic = std::string(session::publish_topic(r.bytes.span()));
  e.qos = r.qos;
  e.packet_id = r.packet_id;
  e.message = message;
  report_failure(std::move(e));
}

void Driver::report_failure(RequestFailed&& f) {
  note_failure(f.reason, f.count, f.message);
  // Only the reactor pushes, so room seen here stays room.
  if (failures_pending_ == 0 && overflow_.empty() && !core_->events.full()) {
    Event e(std::move(f));
    if (core_->events.try_push(e)) return;
    f = *e.request_failed();  // not expected (there was room): coalesce it
  }
  // The queue is full: one event per reason, counting.
  const size_t i = std::min<size_t>(static_cast<size_t>(f.reason), failures_.size() - 1);
  if (failures_[i]) {
    failures_[i]->count += f.count;
  } else {
    failures_[i] = std::move(f);
    ++failures_pending_;
  }
  core_->events.want_progress();
}

void Driver::mark_connected() {
  if (phase_ != Phase::Handshake) return;
  phase_ = Phase::Connected;
  connected_since_ = now_;
  if (ever_connected_) core_->reconnects.fetch_add(1, std::memory_order_relaxed);
  ever_connected_ = true;
  brokers_.connected();
  core_->state.store(Snapshot::State::Connected, std::memory_order_relaxed);
}

// --- events ---

void Driver::emit(Event&& e) {
  if (overflow_.empty() && failures_pending_ == 0 && core_->events.try_push(e)) return;
  overflow_.push_back(std::move(e));
  core_->events.want_progress();
}

// Coalesced failures first (they are bounded; the final event, which is
// always last, may be waiting in overflow_), then the overflow in order.
void Driver::flush_overflow() {
  for (auto& f : failures_) {
    if (!f) continue;
    if (core_->events.full()) {
      core_->events.want_progress();
      return;
    }
    Event e(std::move(*f));
    if (!core_->events.try_push(e)) {  // not expected: the queue had room
      f = *e.request_failed();
      core_->events.want_progress();
      return;
    }
    f.reset();
    --failures_pending_;
  }
  while (!overflow_.empty() && core_->events.try_push(overflow_.front())) overflow_.pop_front();
  if (!overflow_.empty()) core_->events.want_progress();
}

// --- polling ---

void Driver::poll(TimePoint now) {
  busy_ = false;
  now_ = now;
  try {
    step(now);
  } catch (const std::exception& ex) {
    try {
      end(make_error(ConnectionErrorCode::Io, std::string("internal error: ") + ex.what()));
    } catch (...) {
      phase_ = Phase::Ended;
    }
  } catch (...) {
    try {
      end(make_error(ConnectionErrorCode::Io, "internal error"));
    } catch (...) {
      phase_ = Phase::Ended;
    }
  }
  review_read_buffer(now);
  flush_drop_log();
  push_store_records();
  compute_deadline(now);
  publish_snapshot();
}

// --- read buffer ---

size_t read_buffer_bytes_total() { return g_read_buffer_bytes.load(std::memory_order_relaxed); }

Driver::ReadBuffer::~ReadBuffer() { g_read_buffer_bytes.fetch_sub(cap, std::memory_order_relaxed); }

void Driver::resize_read_buffer(size_t cap) {
  const size_t held = rlen_ - rpos_;
  if (cap < held) cap = held;
  if (cap == rbuf_.cap) return;
  std::unique_ptr<uint8_t[]> b;
  if (cap > 0) {
    b = std::make_unique_for_overwrite<uint8_t[]>(cap);  // untouched until read into
    if (held > 0) std::memcpy(b.get(), rbuf_.bytes.get() + rpos_, held);
  }
  g_read_buffer_bytes.fetch_add(cap, std::memory_order_relaxed);
  g_read_buffer_bytes.fetch_sub(rbuf_.cap, std::memory_order_relaxed);
  rbuf_.bytes = std::move(b);
  rbuf_.cap = cap;
  rpos_ = 0;
  rlen_ = held;
  if (cap <= kReadBufferMin) rreview_at_ = TimePoint::max();
}

// A buffer above kReadBufferMin shrinks, once it is empty, to twice the most
// it held at once since the last review (kReadBufferMin when idle), so a
// quiet connection gives back what a burst or a big packet made it take
// while a steady stream keeps the size it needs.
void Driver::review_read_buffer(TimePoint now) {
  if (rbuf_.cap <= kReadBufferMin || now < rreview_at_) return;
  if (rlen_ == rpos_) {
    size_t want = kReadBufferMin;
    while (want < 2 * rpeak_ && want < rbuf_.cap) want *= 2;
    if (want < rbuf_.cap) resize_read_buffer(want);
  }
  rpeak_ = 0;
  if (rbuf_.cap > kReadBufferMin) rreview_at_ = mqtt::detail::saturating_add(now, kReadBufferReview);
}

void Driver::step(TimePoint now) {
  if (phase_ == Phase::Ended) {
    store_sync(false);
    flush_overflow();
    return;
  }
  store_sync(true);
  if (core_->shutdown.load(std::memory_order_seq_cst)) {
    end(make_error(ConnectionErrorCode::Shutdown, "the connection was shut down"));
    return;
  }
  flush_overflow();
  update_pause(now);
  pull_control(now, kMaxControlPerPoll);
  switch (phase_) {
    case Phase::Start:
      start_attempt(now);
      break;
    case Phase::Connecting:
      advance_connect(now);
      break;
    case Phase::Handshake:
    case Phase::Connected:
      io(now);
      break;
    case Phase::ErrorWait:
      // The loop advances only while polled: the error must have been taken
      // and next*() called again since (see Connection::next()).
      if (core_->errors_polled.load(std::memory_order_seq_cst) >= errors_emitted_ &&
          reconnect_allowed()) {
        phase_ = Phase::Backoff;
        // Within a round of the broker list the next broker is tried at
        // once; the backoff applies between rounds (and after a drop).
        backoff_until_ = brokers_.continue_round()
                             ? now
                             : mqtt::detail::saturating_add(now, backoff_.next_delay());
        if (logs(LogLevel::Info)) {
          log(LogLevel::Info, "connect",
              "reconnecting in " +
                  std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     backoff_until_ - now).count()) +
                  " ms");
        }
        if (backoff_until_ <= now) start_attempt(now);
      }
      break;
    case Phase::Backoff:
      if (now >= backoff_until_) {
        if (reconnect_allowed()) {
          start_attempt(now);
        } else {
          phase_ = Phase::ErrorWait;  // set_reconnect(false) came meanwhile
        }
      }
      break;
    case Phase::Ended:
      break;
  }
  if (phase_ != Phase::Ended) check_ends(now);
}

std::string Driver::endpoint() const {
  if (!opts_.unix_path.empty()) return "unix:" + opts_.unix_path;
  std::string s = opts_.host + ":" + std::to_string(opts_.port);
  if (opts_.proxy) s += " via proxy " + opts_.proxy->host + ":" + std::to_string(opts_.proxy->port);
  return s;
}

bool Driver::reconnect_allowed() const {
  return core_->reconnect_enabled.load(std::memory_order_seq_cst);
}

void Driver::on_ready(uint32_t ev) {
  if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readable_ = true;
  if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) writable_ = true;
  // A stream whose fd() is an epoll set (the WebSocket proxy hop) only ever
  // turns readable: when it waits to write, that means "try again".
  if ((ev & EPOLLIN) && stream_ && stream_->interest().write) writable_ = true;
}

// --- connecting ---

void Driver::apply_new_options() {
  if (!core_->options_changed.exchange(false, std::memory_order_seq_cst)) return;
  MqttOptions n;
  {
    std::lock_guard<std::mutex> lock(core_->options_mu);
    if (!core_->new_options) return;
    n = *core_->new_options;
    tls_ = core_->new_tls;
  }
  const session::SessionConfig old_cfg = session_config();
  n.session_store = opts_.session_store;  // fixed at create()
  opts_ = std::move(n);
  brokers_.configure(brokers_of(opts_));
  backoff_.set_config(opts_.backoff);
  rate_ = RateLimiter(opts_.rate_limit, Clock::now());
  const session::SessionConfig c = session_config();
  const bool same = c.version == old_cfg.version && c.keep_alive == old_cfg.keep_alive &&
                    c.ping_timeout == old_cfg.ping_timeout &&
                    c.max_inflight == old_cfg.max_inflight &&
                    c.manual_acks == old_cfg.manual_acks &&
                    c.auto_resubscribe == old_cfg.auto_resubscribe &&
                    c.max_incoming_packet_size == old_cfg.max_incoming_packet_size &&
                    c.topic_alias_maximum == old_cfg.topic_alias_maximum &&
                    c.auto_topic_aliases == old_cfg.auto_topic_aliases;
  if (same || session_->reconfigure(c)) return;
  // A new protocol version or window needs a new session: its state
  // (in-flight QoS 1/2, held requests) does not carry over, so those
  // requests fail with SessionReset, and the consumer hears of it.
  const session::SessionStats st = session_->stats();
  SessionReset r;
  r.cause = SessionReset::Cause::OptionsChanged;
  r.dropped_publishes = st.inflight_publishes;
  emit(Event(r));
  session_->fail_all(RequestError::SessionReset,
                     "session options changed by update_options(): in-flight state dropped");
  if (store_) {
    // A new session: the stored one is gone too. Its records continue the
    // numbering of the old session's.
    StoreWorker::Item clear;
    clear.record.type = StoreRecord::Type::Clear;
    clear.seq = store_base_ + session_->store_seq() + 1;
    store_base_ = clear.seq;
    store_batch_.push_back(std::move(clear));
  }
  session_ = std::make_unique<session::Session>(c, *this);
  session_version_ = c.version;
  core_->version.store(c.version, std::memory_order_seq_cst);
}

// The transport stack for one attempt: TCP or a Unix socket, a proxy tunnel,
// TLS; or a WebSocket (libwebsockets, with its own TLS for wss).
std::unique_ptr<transport::Stream> Driver::open_stream() {
  std::unique_ptr<transport::Stream> s;
  if (!opts_.unix_path.empty()) {
    s = transport::unix_socket::open(opts_.unix_path);
  } else if (!opts_.websocket || opts_.proxy) {
    transport::tcp::Options t;
    t.host = opts_.proxy ? opts_.proxy->host : opts_.host;
    t.port = opts_.proxy ? opts_.proxy->port : opts_.port;
    t.nodelay = opts_.tcp_nodelay;
    t.send_buffer = opts_.send_buffer;
    t.receive_buffer = opts_.receive_buffer;
    t.bind_address = opts_.bind_address;
    t.attempt_delay = opts_.connection_attempt_delay;  // Happy Eyeballs
    s = transport::tcp::open(t);
    if (const auto& p = opts_.proxy) {
      // The tunnel to the broker first; TLS or WebSocket run through it.
      if (p->kind == ProxyOptions::Kind::HttpConnect) {
        s = transport::proxy::http_connect(std::move(s),
                                           {opts_.host, opts_.port, p->username, p->password});
      } else {
        s = transport::proxy::socks5(std::move(s),
                                     {opts_.host, opts_.port, p->username, p->password});
      }
    }
  }
  if (opts_.websocket && opts_.unix_path.empty()) {
    // libwebsockets brings its own TLS (wss) over its own socket; through a
    // proxy it reaches the tunnel over one local hop (transport/ws/proxy_hop.h).
    transport::ws::Options w;
    w.host = opts_.host;
    w.port = opts_.port;
    w.path = opts_.websocket->path;
    for (const auto& h : opts_.websocket->headers) w.headers.emplace_back(h.key, h.value);
    w.subprotocol = opts_.websocket->subprotocol;
    w.origin = opts_.websocket->origin;
    w.max_message = opts_.websocket->max_message;
    w.tls = tls_;
    if (opts_.tls) w.tls_options = *opts_.tls;
    w.bind_address = opts_.bind_address;
    w.attempt_delay = opts_.connection_attempt_delay;
    return s ? transport::ws::open_through(std::move(s), w) : transport::ws::open(w);
  }
  if (tls_) s = transport::tls::wrap(std::move(s), tls_, opts_.host);
  return s;
}

void Driver::start_attempt(TimePoint now) {
  apply_new_options();
  const uint64_t attempt = core_->attempts.fetch_add(1, std::memory_order_relaxed) + 1;
  attempted_ = true;
  // This attempt's broker (MqttOptions::brokers, or host:port / unix_path):
  // from here on opts_'s host, port and unix_path name it, for the
  // transports, the TLS name check and the messages.
  {
    const BrokerAddress& b = brokers_.begin_attempt();
    opts_.host = b.host;
    opts_.port = b.port;
    opts_.unix_path = b.unix_path;
  }
  if (logs(LogLevel::Debug)) {
    log(LogLevel::Debug, "connect",
        "connecting to " + endpoint() + " (attempt " + std::to_string(attempt) + ")");
  }
  stream_ = open_stream();
  attempt_deadline_ = mqtt::detail::saturating_add(now, opts_.connect_timeout);
  readable_ = writable_ = true;  // check progress at once
  phase_ = Phase::Connecting;
  if (core_->state.load(std::memory_order_relaxed) != Snapshot::State::Connecting && ever_connected_) {
    core_->state.store(Snapshot::State::Reconnecting, std::memory_order_relaxed);
  }
  advance_connect(now);
}

void Driver::advance_connect(TimePoint now) {
  if (!readable_ && !writable_) {
    if (now >= attempt_deadline_) {
      connection_failed(make_error(ConnectionErrorCode::ConnectTimeout,
                                   "connecting to " + endpoint() + " took longer than " +
                                       std::to_string(opts_.connect_timeout.count()) + " ms"),
                        now);
    }
    return;
  }
  readable_ = writable_ = false;
  const transport::Status s = stream_->connect();
  sync_registration();
  switch (s) {
    case transport::Status::Ok: {
      // Build CONNECT from the options (views into opts_, encoded at once).
      codec::Connect c;
      c.protocol_version = opts_.protocol;
      c.client_id = opts_.client_id;
      c.clean_start = opts_.clean_session;
      c.keep_alive = static_cast<uint16_t>(std::min<int64_t>(opts_.keep_alive.count(), 65535));
      std::vector<codec::UserProperty> will_props;
      std::vector<codec::UserProperty> connect_props;
      if (opts_.last_will) {
        const LastWill& w = *opts_.last_will;
        codec::Will will;
        will.topic = w.topic;
        will.payload = codec::as_bytes(w.payload);
        will.qos = w.qos;
        will.retain = w.retain;
        if (opts_.protocol == ProtocolVersion::V5) {
          will.properties.will_delay_interval = w.delay_interval_s;
          will.properties.message_expiry_interval = w.message_expiry_interval_s;
          if (w.content_type) will.properties.content_type = *w.content_type;
          for (const auto& p : w.user_properties) will_props.push_back({p.key, p.value});
          will.properties.user_properties = will_props;
        }
        c.will = std::move(will);
      }
      if (opts_.username) c.username = *opts_.username;
      if (opts_.password) c.password = codec::as_bytes(*opts_.password);
      if (opts_.protocol == ProtocolVersion::V5) {
        c.properties.session_expiry_interval = opts_.session_expiry_interval_s;
        if (opts_.request_response_information) c.properties.request_response_information = 1;
        c.properties.receive_maximum = opts_.receive_maximum;
        for (const auto& p : opts_.connect_user_properties) connect_props.push_back({p.key, p.value});
        c.properties.user_properties = connect_props;
        // Enhanced authentication (docs/session.md): the exchange runs
        // through Incoming(Auth) events and Client::auth().
        if (opts_.authentication_method) {
          c.properties.authentication_method = *opts_.authentication_method;
          if (!opts_.authentication_data.empty()) {
            c.properties.authentication_data = codec::as_bytes(opts_.authentication_data);
          }
        }
      }
      session_->begin_connection(c, now, attempt_deadline_);
      phase_ = Phase::Handshake;
      readable_ = writable_ = true;
      busy_ = true;
      return;
    }
    case transport::Status::WouldBlock:
      if (now >= attempt_deadline_) {
        connection_failed(make_error(ConnectionErrorCode::ConnectTimeout,
                                     "connecting to " + endpoint() + " took longer than " +
                                         std::to_string(opts_.connect_timeout.count()) + " ms"),
                          now);
      }
      return;
    default: {
      const transport::Error& e = stream_->error();
      connection_failed(make_error(error_code(e.kind), e.message, e.sys_errno), now);
      return;
    }
  }
}

void Driver::sync_registration() {
  const int fd = stream_ ? stream_->fd() : -1;
  if (registered_fd_ >= 0 && fd != registered_fd_) {
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, registered_fd_, nullptr);  // may be closed already
    registered_fd_ = -1;
  }
  if (fd < 0) return;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = this;
  if (registered_fd_ == fd) {
    // Same number, but it may be a new descriptor (the old one closed and
    // its number reused): MOD, or ADD if epoll dropped the old one.
    if (::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0) return;
  }
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0 || errno == EEXIST) {
    if (errno == EEXIST) ::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);
    registered_fd_ = fd;
  }
}

void Driver::close_stream() {
  if (registered_fd_ >= 0) {
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, registered_fd_, nullptr);
    registered_fd_ = -1;
  }
  if (stream_) {
    stream_->close();
    stream_.reset();
  }
  readable_ = writable_ = false;
}

// --- connected I/O ---

size_t Driver::output_size() const { return session_->output().size(); }

// The consumer is behind (a consumer pause: the ping deadline is suspended).
bool Driver::input_paused() const {
  return !overflow_.empty() || failures_pending_ > 0 || core_->events.full();
}

// The peer does not take what we write (not a consumer pause: keepalive
// goes on and finds a dead peer).
bool Driver::output_paused() const { return output_size() >= kOutputHighWater; }

void Driver::update_pause(TimePoint now) {
  const bool p = input_paused();
  if (p != paused_) {
    set_paused(p, now);
    if (phase_ == Phase::Handshake || phase_ == Phase::Connected) {
      session_->set_input_paused(p, now);
    }
  }
  if (paused_) core_->events.want_progress();
}

void Driver::io(TimePoint now) {
  if (lingering_) {
    linger_read();
    return;
  }
  if (!read_input(now)) return;
  pull_publishes(now);
  if (now >= session_->next_deadline()) {
    auto r = session_->handle_timeout(now);
    if (!r.ok()) {
      connection_failed(r.error(), now);
      return;
    }
  }
  if (!flush_output()) {
    const transport::Error& e = stream_->error();
    connection_failed(make_error(error_code(e.kind), "write failed: " + e.message, e.sys_errno),
                      now);
    return;
  }
}

bool Driver::feed_input(TimePoint now) {
  codec::DecodeOptions dopts;
  dopts.version = session_version_;
  dopts.max_packet_size = opts_.max_incoming_packet_size;
  while (rpos_ < rlen_) {
    if (!overflow_.empty()) break;
    const size_t queued = core_->events.size();
    const size_t cap = core_->events.capacity();
    if (queued >= cap) break;
    std::span<const uint8_t> in(rbuf_.bytes.get() + rpos_, rlen_ - rpos_);
    // A packet takes at least 2 bytes: when the queue has room for in.size()/2
    // events, every whole packet in `in` fits and the scan is not needed.
    const size_t limit = (in.size() + 1) / 2 <= cap - queued
                             ? in.size()
                             : whole_packets_prefix(in, cap - queued, dopts);
    if (limit == 0) break;
    auto r = session_->handle_input(in.first(limit), now);
    if (!r.ok()) {
      connection_failed(r.error(), now);
      return false;
    }
    if (*r == 0) break;
    rpos_ += *r;
    if (session_->connected()) mark_connected();
  }
  if (rpos_ == rlen_) rpos_ = rlen_ = 0;
  update_pause(now);
  return true;
}

bool Driver::read_input(TimePoint now) {
  if (!feed_input(now)) return false;
  for (int reads = 0; readable_ && !paused_ && !output_paused();) {
    if (reads == kMaxReadsPerPoll) {
      busy_ = true;  // let the others run; come back at once
      break;
    }
    if (rbuf_.cap == 0) {
      resize_read_buffer(kReadBufferMin);
    } else if (rfilled_ && rbuf_.cap < kReadBufferMax) {
      // The last read filled the buffer: more is likely waiting. Double it.
      resize_read_buffer(std::min(rbuf_.cap * 2, kReadBufferMax));
      rreview_at_ = mqtt::detail::saturating_add(now, kReadBufferReview);
    } else if (rlen_ == rbuf_.cap) {
      if (rpos_ > 0) {
        std::memmove(rbuf_.bytes.get(), rbuf_.bytes.get() + rpos_, rlen_ - rpos_);
        rlen_ -= rpos_;
        rpos_ = 0;
      } else {
        // One partial packet fills the buffer: grow to hold it.
        size_t want = rbuf_.cap * 2;
        codec::FixedHeader fh;
        codec::DecodeOptions dopts;
        dopts.version = session_version_;
        dopts.max_packet_size = opts_.max_incoming_packet_size;
        if (codec::decode_fixed_header({rbuf_.bytes.get(), rlen_}, dopts, fh).status ==
            codec::DecodeStatus::Ok) {
          want = std::max(want, fh.packet_size());
        }
        resize_read_buffer(want);
        rreview_at_ = mqtt::detail::saturating_add(now, kReadBufferReview);
      }
    }
    const size_t room = rbuf_.cap - rlen_;
    const transport::IoResult r = stream_->read({rbuf_.bytes.get() + rlen_, room});
    rfilled_ = r.status == transport::Status::Ok && r.bytes == room;
    switch (r.status) {
      case transport::Status::Ok:
        rlen_ += r.bytes;
        rpeak_ = std::max(rpeak_, rlen_ - rpos_);
        ++reads;
        if (!feed_input(now)) return false;
        break;
      case transport::Status::WouldBlock:
        readable_ = false;
        break;
      case transport::Status::Closed:
        connection_failed(make_error(ConnectionErrorCode::ClosedByBroker,
                                     "the broker closed the connection"),
                          now);
        return false;
      case transport::Status::Error: {
        const transport::Error& e = stream_->error();
        connection_failed(make_error(error_code(e.kind), "read failed: " + e.message, e.sys_errno),
                          now);
        return false;
      }
    }
  }
  return true;
}

// Closing right after the DISCONNECT, with the broker's bytes unread (it
// goes on sending until it reads our DISCONNECT), makes the kernel reset
// the connection. A broker that meets the reset first (mosquitto: a failed
// write, "Broken pipe") drops the connection without reading what we sent
// last: the acks queued before the disconnect are lost (redelivered later)
// and the DISCONNECT too (it publishes the Will). So: FIN, then read and
// discard until the broker closes, at most kLingerMax and never past
// disconnect()'s deadline. The broker normally closes within a round trip.
bool Driver::linger(TimePoint now) {
  if (!stream_ || linger_done_) return false;
  if (!lingering_) {
    linger_until_ = std::min(mqtt::detail::saturating_add(now, kLingerMax), disconnect_deadline());
    if (now >= linger_until_) return false;
    lingering_ = true;
    stream_->shutdown_write();
    linger_read();
  }
  if (linger_done_ || now >= linger_until_) {
    linger_done_ = true;
    return false;
  }
  return true;
}

void Driver::linger_read() {
  for (int reads = 0; readable_ && !linger_done_; ++reads) {
    if (reads == kMaxReadsPerPoll) {
      busy_ = true;  // let the others run; come back at once
      return;
    }
    if (rbuf_.cap == 0) resize_read_buffer(kReadBufferMin);
    const transport::IoResult r = stream_->read({rbuf_.bytes.get(), rbuf_.cap});
    rpos_ = rlen_ = 0;  // discarded: the session is closed
    if (r.status == transport::Status::WouldBlock) {
      readable_ = false;
    } else if (r.status != transport::Status::Ok) {
      linger_done_ = true;  // the broker closed (or the socket failed): done
      busy_ = true;         // check_ends() ends the loop on this pass
    }
  }
}

bool Driver::flush_output() {
  while (writable_) {
    const std::span<const uint8_t> out = session_->output();
    // A layered stream (TLS, WebSocket) may hold bytes it accepted but the
    // socket did not take yet: an empty write pushes them on.
    if (out.empty() && !stream_->interest().write) break;
    const transport::IoResult r = stream_->write(out);
    if (out.empty() && r.status == transport::Status::Ok) break;
    if (r.status == transport::Status::Ok) {
      session_->consume_output(r.bytes, now_);
    } else if (r.status == transport::Status::WouldBlock) {
      writable_ = false;
    } else {
      return false;
    }
  }
  return true;
}

// --- requests ---

bool Driver::can_pull_control() const {
  if (opts_.outgoing_events && (!overflow_.empty() || core_->events.full())) return false;
  return session_->stats().pending_control < core_->capacity;
}

bool Driver::can_pull_publishes() const {
  if (phase_ != Phase::Connected || disconnecting_ || !session_->connected()) return false;
  if (output_size() >= kOutputHighWater) return false;
  // The store thread is behind: no new publishes (like a full window).
  if (store_ && !store_->has_room()) return false;
  if (opts_.outgoing_events && (!overflow_.empty() || core_->events.full())) return false;
  return true;
}

void Driver::pull_control(TimePoint now, size_t limit) {
  if (phase_ == Phase::Ended) return;
  for (size_t i = 0; i < limit; ++i) {
    if (!can_pull_control()) return;
    LaneItem item;
    if (!core_->control.try_pop(item)) return;
    if (item.version != session_version_) {
      fail_request(item.req, RequestError::ProtocolError,
                   "request encoded for another protocol version than the connection's");
      continue;
    }
    session_->submit(std::move(item.req), now);
  }
  busy_ = true;
}

void Driver::pull_publishes(TimePoint now) {
  rate_wait_until_ = TimePoint::max();
  for (int i = 0; i < kMaxPublishesPerPoll; ++i) {
    if (!can_pull_publishes()) return;
    if (!pending_) {
      // Dequeued in place: one move of the ~200-byte item, not two.
      pending_.emplace();
      if (!core_->publishes.try_pop(*pending_)) {
        pending_.reset();
        return;
      }
    }
    LaneItem& it = *pending_;
    if (it.req.kind == session::Request::Kind::Disconnect) {
      // Every publish its thread queued before it has been taken. So are
      // its acks, subscribes and unsubscribes: they are in the control lane
      // already (counted before the marker was pushed), and go first.
      pull_control(now, core_->control.size());
      if (it.version != session_version_) {
        auto fresh = session::make_disconnect_request(codec::Disconnect{}, session_version_);
        if (fresh.ok()) {
          fresh->completion = std::move(it.req.completion);
          it.req = std::move(fresh.value());
        }
      }
      session_->submit(std::move(it.req), now, disconnect_deadline());
      pending_.reset();
      disconnecting_ = true;
      core_->state.store(Snapshot::State::Disconnecting, std::memory_order_relaxed);
      return;
    }
    if (it.version != session_version_) {
      fail_request(it.req, RequestError::ProtocolError,
                   "publish encoded for another protocol version than the connection's");
      pending_.reset();
      continue;
    }
    if (!session_->can_send_publish(it.req.qos)) return;
    if (rate_.enabled() && !rate_.try_acquire(it.req.bytes.size(), now)) {
      rate_wait_until_ = rate_.ready_at(it.req.bytes.size(), now);
      return;
    }
    core_->cells.out[static_cast<size_t>(it.req.qos)].add(it.req.bytes.size());
    session_->submit(std::move(it.req), now);
    pending_.reset();
  }
  busy_ = true;
}

// --- ends ---

TimePoint Driver::disconnect_deadline() const {
  const int64_t dl = core_->disconnect_deadline_ns.load(std::memory_order_seq_cst);
  return dl == INT64_MAX ? TimePoint::max() : TimePoint(std::chrono::nanoseconds(dl));
}

void Driver::fail_queued(RequestError why, const std::string& message) {
  if (pending_) {
    fail_request(pending_->req, why, message);
    pending_.reset();
  }
  // Bounded: each lane holds at most its capacity (plus disconnect markers).
  for (Lane<LaneItem>* lane : {&core_->publishes, &core_->control}) {
    const size_t n = lane->size() + 16;
    LaneItem item;
    for (size_t i = 0; i < n && lane->try_pop(item); ++i) {
      if (item.req.kind == session::Request::Kind::Disconnect) {
        if (!disconnect_marker_) disconnect_marker_ = std::move(item.req);
      } else {
        fail_request(item.req, why, message);
      }
      item = LaneItem{};
    }
  }
}

void Driver::disconnect_expired(TimePoint now) {
  const std::string msg = "the disconnect's drain timeout expired before the request completed";
  fail_queued(RequestError::ConnectionClosed, msg);
  bool sent = false;
  if (stream_ && phase_ == Phase::Connected) {
    if (session_->state() == session::SessionState::Connected) {
      // The marker had not reached the session (held behind publishes).
      session::Request d;
      if (disconnect_marker_ && !disconnect_marker_->bytes.empty()) {
        d = std::move(*disconnect_marker_);
      } else if (auto fresh = session::make_disconnect_request(codec::Disconnect{}, session_version_);
                 fresh.ok()) {
        d = std::move(fresh.value());
      }
      session_->submit(std::move(d), now, now);
    } else if (session_->state() == session::SessionState::Disconnecting) {
      (void)session_->handle_timeout(now);  // writes DISCONNECT: its deadline passed
    }
    if (session_->state() == session::SessionState::Closed) {
      if (flush_output()) sent = output_size() == 0;
    }
  }
  disconnect_marker_.reset();
  end(make_error(ConnectionErrorCode::Disconnected,
                 sent ? "disconnect(): drain timeout expired; what was left failed, DISCONNECT sent"
                      : "disconnect(): drain timeout expired; what was left failed, ended "
                        "without DISCONNECT (not connected, or the socket did not take it)"));
}

void Driver::connection_failed(ConnectionError e, TimePoint now) {
  if (e.broker.empty()) e.broker = to_string(brokers_.current());
  // An attempt that never got its CONNACK: the next goes to the next broker.
  if (phase_ == Phase::Connecting || phase_ == Phase::Handshake) brokers_.attempt_failed();
  // MQTT 5: tell the broker why (a DISCONNECT with the reason code), if the
  // socket takes it right away.
  if (stream_ && session_->flush_before_close()) {
    writable_ = true;
    (void)flush_output();
  }
  close_stream();
  session_->connection_lost();
  rpos_ = rlen_ = 0;
  rfilled_ = false;
  resize_read_buffer(0);  // none while disconnected
  set_paused(false, now);
  if (phase_ == Phase::Connected) backoff_.connection_lasted(now - connected_since_);
  if (e.code == ConnectionErrorCode::ConnectionRefused && opts_.reconnect_on_fatal_refusal) {
    e.terminal = false;
  }
  follow_redirect(e);
  if (e.terminal) {
    end(std::move(e));
    return;
  }
  if (disconnecting_) {
    std::string why = describe(e);
    note_error(e);
    emit(Event(std::move(e)));
    ++errors_emitted_;
    end(make_error(ConnectionErrorCode::Disconnected,
                   "the connection was lost while disconnecting (" + why +
                       "): ended without DISCONNECT"));
    return;
  }
  note_error(e);
  emit(Event(std::move(e)));
  ++errors_emitted_;  // the consumer's next*() after taking it opens the gate
  phase_ = Phase::ErrorWait;
  if (ever_connected_) core_->state.store(Snapshot::State::Reconnecting, std::memory_order_relaxed);
  core_->events.want_progress();
}

// MQTT 5 server redirection (MqttOptions::follow_server_redirects): the next
// attempt goes to the referenced server.
void Driver::follow_redirect(ConnectionError& e) {
  if (!opts_.follow_server_redirects || e.server_reference.empty()) return;
  if (e.code != ConnectionErrorCode::ConnectionRefused &&
      e.code != ConnectionErrorCode::DisconnectedByBroker)
    return;
  if (e.reason_code != ReasonCode::UseAnotherServer && e.reason_code != ReasonCode::ServerMoved)
    return;
  const auto b = runtime::parse_server_reference(e.server_reference, brokers_.current().port);
  if (!b) {
    e.message += " (Server Reference \"" + e.server_reference + "\" not followed: not host[:port])";
    return;
  }
  insert_broker_front(*b);
  e.message += " (following the Server Reference to " + to_string(*b) + ")";
}

void Driver::end(ConnectionError e) {
  e.terminal = true;
  if (e.broker.empty() && attempted_) e.broker = to_string(brokers_.current());
  const std::string msg = "the connection has ended: " + std::string(to_string(e.code));
  // Everything still queued or in flight fails now, before the final event:
  // tokens, or RequestFailed events for the untracked. Producers blocked on
  // a full lane get Closed (refuse() first, so none slips in as we drain).
  core_->publishes.refuse();
  core_->control.refuse();
  fail_queued(RequestError::ConnectionClosed, msg);
  session_->fail_all(RequestError::ConnectionClosed, msg);
  close_stream();
  core_->loop_ended.store(true, std::memory_order_seq_cst);
  core_->publishes.close();
  core_->control.close();
  // Requests that raced with close() (pushed as we drained) were abandoned.
  if (const uint64_t n = core_->abandoned_untracked.exchange(0, std::memory_order_seq_cst)) {
    RequestFailed f;
    f.reason = RequestError::ConnectionClosed;
    f.count = n;
    f.message = msg + " (requests queued as it ended)";
    report_failure(std::move(f));
  }
  const bool clean = e.code == ConnectionErrorCode::Disconnected && clean_disconnect_;
  core_->end_completion->complete(
      clean ? Completion{}
            : Completion{RequestError::ConnectionClosed, {}, msg + ": " + e.message});
  phase_ = Phase::Ended;
  core_->state.store(Snapshot::State::Ended, std::memory_order_relaxed);
  // The drop lines go out before the final event: a consumer that reads the
  // log once it has seen that event finds them there.
  flush_drop_log();
  note_error(e);
  emit(Event(std::move(e)));
}

void Driver::force_shutdown(TimePoint) {
  if (phase_ != Phase::Ended) {
    end(make_error(ConnectionErrorCode::Shutdown, "the reactor was shut down"));
  }
}

void Driver::check_ends(TimePoint now) {
  // Graceful disconnect done: DISCONNECT written.
  if (disconnecting_ && session_->state() == session::SessionState::Closed &&
      output_size() == 0) {
    if (linger(now)) return;
    clean_disconnect_ = session_->disconnect_drained();
    end(make_error(ConnectionErrorCode::Disconnected,
                   clean_disconnect_ ? "disconnected by the client"
                                     : "disconnected by the client after the drain timeout "
                                       "expired (what was left failed)"));
    return;
  }
  // disconnect()'s deadline bounds it in every state.
  const int64_t dl = core_->disconnect_deadline_ns.load(std::memory_order_seq_cst);
  seen_disconnect_deadline_ = dl;
  if (dl != INT64_MAX && now >= TimePoint(std::chrono::nanoseconds(dl))) {
    disconnect_expired(now);
    return;
  }
  // Every Client is gone: end once what they queued has been handed over.
  if (core_->clients_gone.load(std::memory_order_seq_cst)) {
    clients_gone_seen_ = true;
    const bool lanes_empty =
        core_->publishes.size() == 0 && core_->control.size() == 0 && !pending_;
    if (!lanes_empty) return;
    const bool held = session_->stats().pending_control > 0;
    if (phase_ == Phase::Connected) {
      if (held || output_size() > 0) return;
    } else if (held) {
      return;  // needs a connection to send them
    }
    end(make_error(ConnectionErrorCode::RequestsDone,
                   "every Client handle is gone and their requests were sent"));
  }
}

bool Driver::finished() const {
  // With a store, also once its thread has applied every record (then the
  // reactor's join in ~StoreWorker does not wait on disk).
  return phase_ == Phase::Ended && ((overflow_.empty() && failures_pending_ == 0 &&
                                     (!store_ || store_->idle())) ||
                                    core_->shutdown.load(std::memory_order_relaxed));
}

bool Driver::has_external_work() const {
  const bool backlog = !overflow_.empty() || failures_pending_ > 0;
  if (store_ && store_->done_seq() != store_seen_) return true;
  if (phase_ == Phase::Ended) {
    return backlog && (!core_->events.full() || core_->shutdown.load(std::memory_order_seq_cst));
  }
  if (core_->shutdown.load(std::memory_order_seq_cst)) return true;
  if (!clients_gone_seen_ && core_->clients_gone.load(std::memory_order_seq_cst)) return true;
  if (core_->disconnect_deadline_ns.load(std::memory_order_seq_cst) != seen_disconnect_deadline_) {
    return true;
  }
  // Waiting for the consumer: re-arm the one-shot wake-up request here, after
  // the reactor announced it may sleep. An earlier take (say of the CONNACK
  // before the awaited error) may have used up the request while we were not
  // asleep yet; the take we wait for must still wake us.
  if (paused_ || backlog) core_->events.want_progress();
  if ((paused_ || backlog) && !core_->events.full()) return true;
  if (phase_ == Phase::ErrorWait &&
      core_->errors_polled.load(std::memory_order_seq_cst) >= errors_emitted_ &&
      reconnect_allowed()) {
    return true;
  }
  if (core_->control.size() > 0 && can_pull_control()) return true;
  if (core_->publishes.size() > 0 && !pending_ && can_pull_publishes()) return true;
  return false;
}

void Driver::compute_deadline(TimePoint now) {
  TimePoint d = TimePoint::max();
  switch (phase_) {
    case Phase::Start:
      busy_ = true;
      break;
    case Phase::Connecting:
      d = attempt_deadline_;
      break;
    case Phase::Handshake:
    case Phase::Connected:
      d = session_->next_deadline();
      if (lingering_) d = std::min(d, linger_until_);
      if (writable_ && output_size() > 0) busy_ = true;
      // Reading stopped for the output backlog, which has drained since:
      // the socket's readiness edge is behind us, so read again now.
      if (readable_ && !paused_ && !output_paused()) busy_ = true;
      break;
    case Phase::Backoff:
      d = backoff_until_;
      break;
    default:
      break;
  }
  // The rate limit's wake-up is for pulling publishes, which happens only
  // while connected; kept after a drop it would be in the past and spin.
  if (phase_ == Phase::Connected && pending_ && rate_wait_until_ != TimePoint::max()) {
    d = std::min(d, rate_wait_until_);
  }
  d = std::min(d, rreview_at_);  // the read buffer's next review (none at its smallest)
  if (phase_ != Phase::Ended) d = std::min(d, disconnect_deadline());
  if (d <= now) busy_ = true;
  deadline_ = d;
}

void Driver::publish_snapshot() {
  const session::SessionStats s = session_->stats();
  core_->inflight.store(s.inflight_publishes, std::memory_order_relaxed);
  core_->window.store(s.inflight_window, std::memory_order_relaxed);
  core_->last_ping_rtt_ns.store(s.last_ping_rtt ? s.last_ping_rtt->count() : -1,
                                std::memory_order_relaxed);
  core_->excess_qos2.store(s.excess_incoming_qos2, std::memory_order_relaxed);
  core_->reading_paused.store(paused_, std::memory_order_relaxed);
  core_->cells.reading_paused_ns.store(
      paused_total_ns_ +
          (paused_ ? static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                               now_ - paused_since_).count())
                   : 0),
      std::memory_order_relaxed);
  core_->unwritten.store(output_size(), std::memory_order_relaxed);
}

}  // namespace mqtt::runtime
