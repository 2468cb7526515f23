// The MQTT session state machine (sans-I/O). Behaviour follows rumqttc's
// MqttState, with the decisions below where the spec leaves room.
//
// Decisions where the spec and the design leave room (for the docs):
// - Acks for a packet id that is not in flight (PUBACK, PUBREC, PUBCOMP,
//   SUBACK, UNSUBACK) do not end the connection (rumqttc errors): they are
//   ignored and counted in SessionStats::unknown_acks. Such a PUBREC is still
//   answered with PUBREL (MQTT 5: reason 0x92 Packet Identifier not found), so
//   the broker can release its state. A PUBREL for an unknown id is answered
//   with PUBCOMP (MQTT 5: 0x92) [MQTT-4.3.3-11 / spec 3.7.2.1].
// - Resume (CONNACK session_present=1): every unacknowledged QoS 1/2 PUBLISH
//   (DUP set) and every PUBREL awaiting PUBCOMP is resent first, in the order
//   the packets were last sent [MQTT-4.4.0-1, 4.6]. The broker's new Receive
//   Maximum does not hold back these resends.
// - Reset (session_present=0): in-flight publishes and PUBRELs are dropped and
//   their tokens fail with SessionReset; incoming QoS 2 state and held manual
//   acks are dropped too (they belong to the old session).
// - SUBSCRIBE/UNSUBSCRIBE written but not acknowledged when the connection
//   dropped are resent (same packet id) after every CONNACK, whether or not
//   the session was resumed: otherwise their tokens would never complete, and
//   both are idempotent on the broker.
// - Auto-resubscribe: filters granted by a SUBACK are remembered (with their
//   options and MQTT 5 Subscription Identifier) and forgotten on a successful
//   UNSUBACK; after a reconnect with session_present=0 one SUBSCRIBE per filter
//   is written before anything else of the control lane.
// - SUBACK: the token fails with Rejected when any filter was refused
//   (reason_codes say which); a wrong number of reason codes fails it with
//   ProtocolError.
// - Our Receive Maximum (MQTT 5 CONNECT property, else 65535): a new incoming
//   QoS 1/2 PUBLISH that arrives while that many are unacknowledged is handled
//   normally and counted in excess_incoming_qos2 (mosquitto does this after a
//   session restore).
// - After handle_input/handle_timeout return an error the state is
//   Disconnected; the runtime closes the transport and calls connection_lost().
// - Keepalive: one PINGREQ outstanding at a time. PingTimeout when
//   now >= time of PINGREQ + ping_timeout (while input is not paused).
//   "Sent" means written to the transport (consume_output), not appended:
//   a peer that reads nothing cannot keep the connection alive.
// - A request without a token that fails is reported through
//   on_request_failed (tracked ones only through their token).
// - Session reset: reported on every CONNACK with session present = 0 after
//   an earlier CONNACK, even when nothing was in flight.
// - Before CONNACK only CONNACK is accepted; anything else (a PUBLISH too) is
//   a protocol violation and is not reported as incoming.
// - MQTT 5 Topic Aliases (topic_alias.h), per network connection
//   [MQTT-3.3.2-7]. Incoming: we announce SessionConfig::topic_alias_maximum
//   (0 by default: none) in CONNECT; an alias of 0 or above it is invalid
//   (0x94) [MQTT-3.3.2-8, MQTT-3.1.2-26/-27, spec 3.3.4]; an empty topic
//   whose alias has no mapping, or without any alias, is a protocol error
//   (0x82, spec 3.3.4). The event carries the resolved topic. Outgoing:
//   automatic aliases (an LRU, off by default) and the caller's, never above
//   the broker's Topic Alias Maximum [MQTT-3.2.2-17/-18, MQTT-3.3.2-9]: a
//   chosen alias above it fails the request (TopicAliasInvalid). The stored
//   copy of a publish never holds an alias: a resend after a reconnect
//   carries the full topic.
// - Enhanced authentication (spec 4.12): with an Authentication Method in
//   CONNECT, the broker's AUTH 0x18 is reported as incoming before CONNACK
//   too, and the owner answers with an Auth request (0x18); after CONNACK an
//   Auth request 0x19 starts a re-authentication, answered by AUTH 0x18 or
//   0x00. An AUTH without a method in CONNECT, with another method, 0x19 from
//   the broker, 0x00 before CONNACK or outside a re-authentication, and a
//   CONNACK whose method differs, are protocol errors (0x82) [MQTT-4.12.0-5/
//   -6]. The CONNACK deadline bounds the whole exchange before CONNACK.
// - On a protocol error, and on malformed (0x81) or too large (0x95)
//   packets, MQTT 5 writes a DISCONNECT with the reason code before the
//   error is returned [MQTT-4.13.1].
#include "mqtt/session/session.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <utility>

#include "mqtt/codec/encoder.h"
#include "mqtt/session/deadline.h"
#include "mqtt/session/output_buffer.h"
#include "mqtt/session/packet_ids.h"
#include "mqtt/session/topic_alias.h"

namespace mqtt::session {

using mqtt::detail::CompletionState;
using detail::IdSet;
using detail::OutPublish;
using detail::PublishWindow;

namespace {

using CompletionPtr = std::shared_ptr<CompletionState>;

// `ack`: the broker's answer, whose Reason String and User Properties (MQTT 5)
// the completion carries.
void complete(const CompletionPtr& c, RequestError e, std::string message = {},
              std::vector<ReasonCode> codes = {}, const codec::Properties* ack = nullptr) {
  if (!c) return;
  Completion done;
  done.error = e;
  done.message = std::move(message);
  done.reason_codes = std::move(codes);
  if (ack) {
    if (ack->reason_string) done.reason_string = std::string(*ack->reason_string);
    for (const auto& u : ack->user_properties)
      done.user_properties.push_back({std::string(u.key), std::string(u.value)});
  }
  c->complete(std::move(done));
}

// Success with one reason code; builds nothing for an untracked request (the
// common case on the publish path, which must not allocate).
void complete_ok(const CompletionPtr& c, ReasonCode code, const codec::Properties* ack = nullptr) {
  if (c) complete(c, RequestError::None, {}, {code}, ack);
}

// What a refusing CONNACK or a DISCONNECT says beyond its reason code.
void broker_said(ConnectionError& e, const codec::Properties& p) {
  if (p.server_reference) e.server_reference = *p.server_reference;
  if (p.reason_string) e.reason_string = *p.reason_string;
  for (const auto& u : p.user_properties) e.user_properties.emplace_back(u.key, u.value);
}

ConnectionError make_error(ConnectionErrorCode code, std::string message) {
  ConnectionError e;
  e.code = code;
  e.message = std::move(message);
  return e;
}

bool terminal_refusal(ReasonCode rc) {
  switch (rc) {
    case ReasonCode::BadUserNameOrPassword:
    case ReasonCode::NotAuthorized:
    case ReasonCode::UnsupportedProtocolVersion:
    case ReasonCode::ClientIdentifierNotValid:
    case ReasonCode::Banned:
    case ReasonCode::BadAuthenticationMethod:
      return true;
    default:
      return false;
  }
}

void put_id(PacketBytes& bytes, uint32_t offset, uint16_t id) {
  bytes[offset] = static_cast<uint8_t>(id >> 8);
  bytes[offset + 1] = static_cast<uint8_t>(id & 0xFF);
}

std::string rc_text(ReasonCode rc, const codec::Properties& props) {
  std::string s(to_string(rc));
  if (props.reason_string) {
    s += " (";
    s += *props.reason_string;
    s += ")";
  }
  return s;
}

}  // namespace

namespace detail {

// A std::deque made by the first insertion and then kept: libstdc++'s deque
// allocates its map and a first node (~0.6 KiB) even when empty, and these
// queues stay empty on most connections. Only what the session uses.
// begin() == end() (value-initialised iterators) while none was made.
template <class T>
class LazyDeque {
 public:
  using iterator = typename std::deque<T>::iterator;
  bool empty() const { return !d_ || d_->empty(); }
  size_t size() const { return d_ ? d_->size() : 0; }
  T& front() { return d_->front(); }
  void pop_front() { d_->pop_front(); }
  void push_back(T&& v) { made().push_back(std::move(v)); }
  void push_back(const T& v) { made().push_back(v); }
  void clear() {
    if (d_) d_->clear();
  }
  iterator begin() { return d_ ? d_->begin() : iterator(); }
  iterator end() { return d_ ? d_->end() : iterator(); }
  iterator erase(iterator it) { return d_->erase(it); }
  // `pos`: an iterator of this deque (begin() or end() while none was made).
  template <class It>
  iterator insert(iterator pos, It first, It last) {
    if (!d_) {
      if (first == last) return pos;
      made();
      pos = d_->begin();
    }
    return d_->insert(pos, first, last);
  }

 private:
  std::deque<T>& made() {
    if (!d_) d_ = std::make_unique<std::deque<T>>();
    return *d_;
  }
  std::unique_ptr<std::deque<T>> d_;
};

}  // namespace detail

struct HeldControl {
  Request req;
  bool internal = false;  // an auto-resubscribe, not a user request
};

// A SUBSCRIBE/UNSUBSCRIBE written and waiting for SUBACK/UNSUBACK.
struct PendingControl {
  uint16_t id = 0;
  Request::Kind kind = Request::Kind::Subscribe;
  uint16_t filter_count = 0;
  uint32_t subscription_id = 0;  // Subscribe (MQTT 5), 0 for none
  bool internal = false;
  PacketBytes bytes;
  CompletionPtr completion;
};

struct StoredSubscription {
  std::string filter;
  codec::Subscription options;  // .filter is set from `filter` when used
  std::optional<uint32_t> subscription_id;
};

struct Session::Impl {
  explicit Impl(Session& s)
      : self(s),
        pubs(detail::publish_id_range(s.config_.max_inflight)),
        window_size(pubs.range()),
        next_control_id(static_cast<uint16_t>(pubs.range() + 1)),
        keep_alive(s.config_.keep_alive) {
    decode_opts.version = s.config_.version;
    decode_opts.max_packet_size = s.config_.max_incoming_packet_size;
    // What only a client may send is a Protocol Error from the broker.
    decode_opts.direction = codec::Direction::ServerToClient;
  }

  Session& self;
  const SessionConfig& cfg() const { return self.config_; }
  bool v5() const { return self.config_.version == ProtocolVersion::V5; }

  // --- output ---
  detail::OutputBuffer out;
  detail::TokenRing qos0_tokens;

  // --- outgoing publishes ---
  PublishWindow pubs;
  uint32_t window_size;
  uint64_t seq = 0;
  std::vector<uint16_t> scratch_ids;
  std::deque<Request> held_publishes;  // taken but not yet written (not connected / no room)

  // --- control lane ---
  // Lazy: the publish path keeps its std::deque (one comparison for empty()).
  detail::LazyDeque<HeldControl> held_controls;
  std::vector<PendingControl> pending_controls;
  uint16_t next_control_id;
  std::vector<StoredSubscription> subscriptions;

  // --- topic aliases (this connection's) ---
  detail::IncomingAliases in_aliases;
  detail::OutgoingAliases out_aliases;

  // --- incoming QoS 1/2 (broker's ids) ---
  IdSet in_qos2;           // PUBLISH QoS 2 received, PUBREL not yet
  IdSet in_qos2_unacked;   // manual acks: PUBREC not yet sent (subset of in_qos2)
  IdSet in_qos1_unacked;   // manual acks: PUBACK not yet sent
  IdSet in_qos1_acked;     // manual acks: PUBACK written on this connection

  // --- disconnect ---
  std::optional<Request> disconnect;
  TimePoint disconnect_deadline = TimePoint::max();
  bool disconnect_drained = false;
  bool flush_before_close = false;  // a DISCONNECT for an error is in `out`

  // --- connection and time ---
  TimePoint now{};
  TimePoint connack_deadline = TimePoint::max();
  TimePoint last_sent{};
  TimePoint last_received{};
  bool ping_outstanding = false;
  TimePoint ping_sent{};
  TimePoint ping_deadline = TimePoint::max();
  uint64_t ping_end = 0;  // output position just past the outstanding PINGREQ
  bool paused = false;
  std::chrono::seconds keep_alive;
  std::optional<ConnectionError> connect_error;  // CONNECT could not be encoded

  // --- enhanced authentication (MQTT 5, spec 4.12) ---
  // The CONNECT's Authentication Method on this connection; none: no AUTH
  // either way [MQTT-4.12.0-6/-7].
  std::optional<std::string> auth_method;
  bool auth_broker_waiting = false;  // the broker's AUTH 0x18 awaits our AUTH 0x18
  bool reauth_pending = false;       // our AUTH 0x19 sent, the broker's 0x00 not yet

  // --- negotiated (MQTT 5 CONNACK) ---
  uint32_t broker_max_packet_size = 0;
  uint8_t broker_max_qos = 2;
  bool retain_available = true;
  // MQTT 5 CONNACK: what subscriptions the broker supports (absent: yes).
  bool wildcard_available = true;
  bool shared_available = true;
  bool subscription_ids_available = true;
  // Subscription Identifiers this client subscribed with in the broker's
  // session (sorted). When that session was started by this client
  // (all_subscriptions_known), an incoming PUBLISH naming another is a
  // Protocol Error; after resuming a session it did not start, such a
  // PUBLISH is delivered and counted.
  std::vector<uint32_t> subscription_ids;
  bool all_subscriptions_known = false;
  // In-flight messages of a resumed session not resent yet (Receive Maximum).
  detail::LazyDeque<uint16_t> deferred_resends;
  bool sent_clean_start = false;  // the CONNECT of this connection had Clean Start
  uint64_t unknown_subscription_ids = 0;

  void note_subscription_id(uint32_t id) {
    if (id == 0) return;
    auto it = std::lower_bound(subscription_ids.begin(), subscription_ids.end(), id);
    if (it == subscription_ids.end() || *it != id) subscription_ids.insert(it, id);
  }
  uint16_t broker_receive_max = 65535;
  uint16_t our_receive_max = 65535;
  std::string assigned_client_id;
  bool ever_connected = false;

  uint64_t excess_incoming = 0;
  uint64_t unknown_acks = 0;

  // --- session store (SessionConfig::store) ---
  uint64_t store_seq = 0;        // last record reported
  uint64_t store_confirmed = 0;  // every record up to this one is stored
  // PUBRELs / PUBRECs waiting for their record: (record seq, packet id).
  detail::LazyDeque<std::pair<uint64_t, uint16_t>> held_pubrels;
  detail::LazyDeque<std::pair<uint64_t, uint16_t>> held_pubrecs;
  IdSet in_qos2_unstored;        // incoming QoS 2 ids whose record is not stored
  // Incoming QoS 2 ids released (PUBREL) whose record is not stored: PUBCOMP waits.
  IdSet in_released_unstored;
  detail::LazyDeque<std::pair<uint64_t, uint16_t>> held_pubcomps;
  bool restored = false;         // restore() seeded state: report a reset of it

  bool store_on() const { return self.config_.store; }
  // Reports a record; returns its sequence number.
  uint64_t record(StoreEvent::Type type, uint16_t id = 0, QoS qos = QoS::AtMostOnce,
                  std::span<const uint8_t> bytes = {}, const CompletionPtr* completion = nullptr) {
    StoreEvent e;
    e.type = type;
    e.seq = ++store_seq;
    e.packet_id = id;
    e.qos = qos;
    e.bytes = bytes;
    e.completion = completion;
    self.observer_.on_store(e);
    return e.seq;
  }
  bool live() const {
    return self.state_ == SessionState::Connected || self.state_ == SessionState::Disconnecting;
  }
  // Incoming QoS 2 id `id` is gone (PUBREL, reset): its held PUBREC too.
  void forget_held_pubrec(uint16_t id) {
    if (!in_qos2_unstored.erase(id)) return;
    for (auto it = held_pubrecs.begin(); it != held_pubrecs.end();) {
      it = it->second == id ? held_pubrecs.erase(it) : std::next(it);
    }
  }
  std::optional<Duration> last_ping_rtt;
  bool session_present = false;
  bool granted_subscription = false;  // a SUBACK granted a filter in this session

  codec::DecodeOptions decode_opts;
  codec::Packet packet;  // reused decode target

  // ------------------------------------------------------------------------

  void emit(Outgoing::Type type, uint16_t id = 0, bool dup = false) {
    self.observer_.on_outgoing(Outgoing{type, id, dup});
  }

  // Completes a token; a failed one is also told to the observer, which
  // counts it (Counters::requests_failed). Hides the free complete() here.
  void complete(const CompletionPtr& c, RequestError e, std::string message = {},
                std::vector<ReasonCode> codes = {}, const codec::Properties* ack = nullptr) {
    if (!c) return;
    if (e != RequestError::None) self.observer_.on_token_failed(e, message);
    session::complete(c, e, std::move(message), std::move(codes), ack);
  }

  // A request failed: its token, or the observer when it has none.
  void fail(CompletionPtr& c, Request::Kind kind, QoS qos, uint16_t id,
            std::span<const uint8_t> bytes, RequestError why, std::string_view message) {
    if (c) {
      complete(c, why, std::string(message));
      c.reset();
      return;
    }
    FailedRequest f;
    f.kind = kind;
    f.qos = qos;
    f.packet_id = id;
    if (kind == Request::Kind::Publish) f.topic = publish_topic(bytes);
    f.reason = why;
    f.message = message;
    self.observer_.on_request_failed(f);
  }
  void fail(Request& r, RequestError why, std::string_view message) {
    fail(r.completion, r.kind, r.qos, r.packet_id, r.bytes.span(), why, message);
  }

  template <class A>
  void write_ack(uint16_t id, ReasonCode rc, Outgoing::Type type) {
    // Small acks are encoded by hand: 2 bytes of id, plus the reason code in
    // MQTT 5 when it is not Success (spec 3.4.2.1). No Packet variant needed
    // on the hot path.
    const bool with_rc = v5() && rc != ReasonCode::Success;
    auto dst = out.extend(with_rc ? 5 : 4);
    dst[0] = static_cast<uint8_t>(static_cast<uint8_t>(A::type) << 4) |
             (A::type == codec::PacketType::PubRel ? 0x02 : 0x00);
    dst[1] = with_rc ? 3 : 2;
    dst[2] = static_cast<uint8_t>(id >> 8);
    dst[3] = static_cast<uint8_t>(id & 0xFF);
    if (with_rc) dst[4] = static_cast<uint8_t>(rc);
    emit(type, id);
  }

  void write_pingreq() {
    auto dst = out.extend(2);
    dst[0] = 0xC0;
    dst[1] = 0x00;
    emit(Outgoing::Type::PingReq);
    ping_outstanding = true;
    ping_sent = now;
    ping_deadline = mqtt::detail::saturating_add(now, cfg().ping_timeout);
    ping_end = out.end_position();
  }

  // --- publishes ---

  bool has_room() const { return pubs.count() < window_size && !pubs.full(); }

  // Checks the broker's limits; fails the token and returns false when one is
  // exceeded.
  bool publish_allowed(Request& r) {
    if (broker_max_packet_size != 0 && r.bytes.size() > broker_max_packet_size) {
      fail(r, RequestError::PacketTooLarge,
           "PUBLISH of " + std::to_string(r.bytes.size()) +
               " bytes exceeds the broker's Maximum Packet Size " +
               std::to_string(broker_max_packet_size));
      return false;
    }
    if (static_cast<uint8_t>(r.qos) > broker_max_qos) {
      fail(r, RequestError::QoSNotSupported,
           "broker's Maximum QoS is " + std::to_string(broker_max_qos));
      return false;
    }
    if (r.retain && !retain_available) {
      fail(r, RequestError::RetainNotSupported, "broker has Retain Available = 0");
      return false;
    }
    if (r.qos != QoS::AtMostOnce && (r.packet_id_offset == 0 ||
                                     size_t{r.packet_id_offset} + 2 > r.bytes.size())) {
      fail(r, RequestError::ProtocolError, "PUBLISH request without packet id slot");
      return false;
    }
    return true;
  }

  // Writes a publish now (connected, and room for QoS 1/2).
  void take_publish(Request&& r) {
    if (r.topic_alias != 0 && !resolve_manual_alias(r)) return;
    if (!publish_allowed(r)) return;
    const Wire wire = choose_wire(r);
    if (r.qos == QoS::AtMostOnce) {
      const uint64_t start = out.end_position();
      write_wire(r.bytes, wire);
      emit(Outgoing::Type::Publish);
      // Untracked ones too: a loss before they are written is reported.
      qos0_tokens.push(start, out.end_position(), std::move(r.completion));
      return;
    }
    const uint16_t id = pubs.allocate();
    OutPublish& s = pubs.slot(id);
    put_id(r.bytes, r.packet_id_offset, id);
    s.qos = r.qos;
    s.bytes = std::move(r.bytes);  // with its topic, without alias: for resends
    s.completion = std::move(r.completion);
    s.seq = ++seq;
    if (store_on()) record(StoreEvent::Type::Publish, id, s.qos, s.bytes.span(), &s.completion);
    write_wire(s.bytes, wire);
    emit(Outgoing::Type::Publish, id, false);
  }

  // --- outgoing topic aliases ---

  // A publish with a Topic Alias the caller chose: the broker must allow it
  // [MQTT-3.3.2-9, MQTT-3.2.2-18], and it needs a topic to stand for. One
  // without a topic takes the topic last used with its alias, and keeps it:
  // a resend on a later connection carries the topic.
  bool resolve_manual_alias(Request& r) {
    const uint16_t n = r.topic_alias;
    if (n > out_aliases.broker_maximum()) {
      fail(r, RequestError::TopicAliasInvalid,
           "Topic Alias " + std::to_string(n) + " is above the broker's Topic Alias Maximum " +
               std::to_string(out_aliases.broker_maximum()));
      return false;
    }
    if (!publish_topic(r.bytes).empty()) return true;
    const std::string_view topic = out_aliases.manual_topic(n);
    const auto l = detail::publish_layout(r.bytes.span());
    if (topic.empty() || !l) {
      fail(r, RequestError::TopicAliasInvalid,
           "Topic Alias " + std::to_string(n) +
               " has no topic yet: publish once with a topic and this alias");
      return false;
    }
    PacketBytes full;
    full.resize_for_write(detail::rewritten_size(*l, topic.size(), 0));
    detail::write_publish(r.bytes.span(), *l, topic, 0, full.span());
    r.bytes = std::move(full);
    if (r.qos != QoS::AtMostOnce) {
      r.packet_id_offset = static_cast<uint32_t>(detail::publish_layout(r.bytes.span())->props_at - 2);
    }
    return true;
  }

  // How a publish goes out: as it is (alias 0), with its topic and an alias
  // the broker learns now, or with the alias alone (omit_topic).
  struct Wire {
    uint16_t alias = 0;
    bool omit_topic = false;
    detail::PublishLayout layout;
  };

  Wire choose_wire(const Request& r) {
    Wire w;
    if (out_aliases.broker_maximum() == 0) return w;  // none allowed (and 3.1.1)
    if (r.topic_alias == 0 && out_aliases.auto_limit() == 0) return w;
    const auto l = detail::publish_layout(r.bytes.span());
    if (!l) return w;
    const std::string_view topic = publish_topic(r.bytes);
    // Topic and alias together add up to 5 bytes (the property, and longer
    // Remaining and Property Lengths): past the broker's limit, go without.
    const bool fits = broker_max_packet_size == 0 || r.bytes.size() + 5 <= broker_max_packet_size;
    detail::OutgoingAliases::Use use;
    if (r.topic_alias != 0) {
      use = out_aliases.manual(r.topic_alias, topic);
      if (!use.mapped && !fits) {
        out_aliases.forget_manual(r.topic_alias);
        return w;
      }
    } else {
      // A topic of 3 bytes or fewer gains nothing: the alias takes 3.
      if (topic.size() <= 3 || !fits) return w;
      use = out_aliases.automatic(topic);
    }
    w.alias = use.alias;
    w.omit_topic = use.mapped;
    w.layout = *l;
    return w;
  }

  void write_wire(const PacketBytes& bytes, const Wire& w) {
    if (w.alias == 0) {
      out.append(bytes);
      return;
    }
    const std::string_view topic =
        w.omit_topic ? std::string_view{} : publish_topic(bytes.span());
    const size_t n = detail::rewritten_size(w.layout, topic.size(), w.alias);
    detail::write_publish(bytes.span(), w.layout, topic, w.alias, out.extend(n));
  }

  // Writes held publishes while there is room.
  void drain_held_publishes() {
    if (self.state_ != SessionState::Connected && self.state_ != SessionState::Disconnecting)
      return;
    while (!held_publishes.empty()) {
      Request& r = held_publishes.front();
      if (r.qos != QoS::AtMostOnce && !has_room()) break;
      Request taken = std::move(r);
      held_publishes.pop_front();
      take_publish(std::move(taken));
    }
  }

  void publish_done(uint16_t id) {
    if (store_on()) record(StoreEvent::Type::PublishDone, id);
    pubs.release(id);
    resend_deferred();
    drain_held_publishes();
    maybe_finish_disconnect();
  }

  // --- control lane ---

  uint16_t allocate_control_id() {
    const uint32_t first = pubs.range() + 1u;
    const uint32_t span = 65536u - first;
    if (pending_controls.size() >= span) return 0;
    for (uint32_t i = 0; i < span; ++i) {
      const uint16_t id = next_control_id;
      next_control_id = id == 65535 ? static_cast<uint16_t>(first) : static_cast<uint16_t>(id + 1);
      bool busy = false;
      for (const auto& p : pending_controls) {
        if (p.id == id) {
          busy = true;
          break;
        }
      }
      if (!busy) return id;
    }
    return 0;
  }

  // Writes a control request now. False when it must stay held (no free id).
  bool write_control(HeldControl& h) {
    Request& r = h.req;
    switch (r.kind) {
      case Request::Kind::Ack:
        // Only a delivery that awaits its ack is acknowledged. An Ack for an
        // id acknowledged already, or from a session that was reset since,
        // writes nothing: the broker would take it for the ack of the next
        // message it sends with that id, before we received it.
        if (r.qos == QoS::AtLeastOnce && in_qos1_unacked.erase(r.packet_id)) {
          in_qos1_acked.insert(r.packet_id);
          write_ack<codec::PubAck>(r.packet_id, ReasonCode::Success, Outgoing::Type::PubAck);
        } else if (r.qos == QoS::ExactlyOnce && in_qos2_unacked.erase(r.packet_id)) {
          // With a store, store_confirmed() writes it once the id is stored.
          if (!in_qos2_unstored.test(r.packet_id)) {
            write_ack<codec::PubRec>(r.packet_id, ReasonCode::Success, Outgoing::Type::PubRec);
          }
        }
        complete_ok(r.completion, ReasonCode::Success);
        return true;
      case Request::Kind::Subscribe:
      case Request::Kind::Unsubscribe: {
        if (broker_max_packet_size != 0 && r.bytes.size() > broker_max_packet_size) {
          fail(r, RequestError::PacketTooLarge,
                   "request of " + std::to_string(r.bytes.size()) +
                       " bytes exceeds the broker's Maximum Packet Size " +
                       std::to_string(broker_max_packet_size));
          return true;
        }
        if (r.packet_id_offset == 0 || size_t{r.packet_id_offset} + 2 > r.bytes.size()) {
          fail(r, RequestError::ProtocolError, "request without packet id slot");
          return true;
        }
        // What the broker said it does not support would be refused by it
        // (0x9E/0xA1/0xA2), or end the connection: fail it here instead.
        if (const char* missing = r.uses_wildcard && !wildcard_available ? "Wildcard Subscription"
                                  : r.uses_shared && !shared_available ? "Shared Subscription"
                                  : r.uses_subscription_id && !subscription_ids_available
                                      ? "Subscription Identifier"
                                      : nullptr) {
          fail(r, RequestError::FeatureNotSupported,
               std::string("the broker has ") + missing + " Available = 0");
          return true;
        }
        const uint16_t id = allocate_control_id();
        if (id == 0) return false;
        put_id(r.bytes, r.packet_id_offset, id);
        PendingControl p;
        p.id = id;
        p.kind = r.kind;
        p.filter_count = r.filter_count;
        p.subscription_id = r.subscription_id;
        note_subscription_id(r.subscription_id);
        p.internal = h.internal;
        p.bytes = std::move(r.bytes);
        p.completion = std::move(r.completion);
        out.append(p.bytes);
        pending_controls.push_back(std::move(p));
        emit(r.kind == Request::Kind::Subscribe ? Outgoing::Type::Subscribe
                                                : Outgoing::Type::Unsubscribe,
             id);
        return true;
      }
      case Request::Kind::Publish:
      case Request::Kind::Disconnect:
      case Request::Kind::Auth:
        break;
    }
    return true;
  }

  void drain_held_controls() {
    if (self.state_ != SessionState::Connected && self.state_ != SessionState::Disconnecting)
      return;
    while (!held_controls.empty()) {
      if (!write_control(held_controls.front())) break;
      held_controls.pop_front();
    }
  }

  PendingControl* find_control(uint16_t id, Request::Kind kind) {
    for (auto& p : pending_controls) {
      if (p.id == id && p.kind == kind) return &p;
    }
    return nullptr;
  }

  void erase_control(PendingControl* p) {
    pending_controls.erase(pending_controls.begin() + (p - pending_controls.data()));
  }

  // --- disconnect ---

  // A DISCONNECT or AUTH larger than the broker's Maximum Packet Size goes
  // without its Reason String and User Properties, which must not make it
  // larger than that [MQTT-3.14.2-3/-4, MQTT-3.15.2-2/-3].
  void fit_to_broker_limit(PacketBytes& bytes) {
    if (broker_max_packet_size == 0 || bytes.size() <= broker_max_packet_size) return;
    codec::Packet decoded;
    codec::DecodeOptions opts;
    opts.version = cfg().version;
    if (codec::decode(std::as_const(bytes).span(), opts, decoded).status != codec::DecodeStatus::Ok)
      return;
    codec::Properties* props = nullptr;
    if (auto* d = std::get_if<codec::Disconnect>(&decoded)) props = &d->properties;
    if (auto* a = std::get_if<codec::Auth>(&decoded)) props = &a->properties;
    if (!props) return;
    props->reason_string.reset();
    props->user_properties.clear();
    auto size = codec::encoded_size(decoded, cfg().version);
    if (!size) return;
    PacketBytes smaller;
    smaller.resize_for_write(*size);
    if (codec::encode(decoded, cfg().version, smaller.span(), codec::Direction::ClientToServer).ok())
      bytes = std::move(smaller);
  }

  void maybe_finish_disconnect() {
    if (self.state_ != SessionState::Disconnecting || !disconnect) return;
    const bool drained = pubs.count() == 0 && held_publishes.empty();
    if (!drained && now < disconnect_deadline) return;
    disconnect_drained = drained;
    fit_to_broker_limit(disconnect->bytes);
    out.append(disconnect->bytes);
    emit(Outgoing::Type::Disconnect);
    self.state_ = SessionState::Closed;
    CompletionPtr token = std::move(disconnect->completion);
    disconnect.reset();
    fail_pending(RequestError::ConnectionClosed,
                 "the disconnect's drain timeout expired before the request completed",
                 /*include_qos0=*/false);
    complete(token, RequestError::None);
  }

  // A QoS 0 publish of the ring that will not be written.
  void fail_qos0(detail::TokenRing::Entry& e, RequestError why, std::string_view msg) {
    fail(e.completion, Request::Kind::Publish, QoS::AtMostOnce, 0, out.from(e.start), why, msg);
  }

  // Fails every request except the disconnect request.
  void fail_pending(RequestError why, std::string_view message, bool include_qos0) {
    for (uint32_t id = 1; id <= pubs.range(); ++id) {
      if (OutPublish* s = pubs.find(static_cast<uint16_t>(id))) {
        fail(s->completion, Request::Kind::Publish, s->qos, static_cast<uint16_t>(id),
             s->bytes.span(), why, message);
        pubs.release(static_cast<uint16_t>(id));
      }
    }
    for (auto& r : held_publishes) fail(r, why, message);
    held_publishes.clear();
    for (auto& h : held_controls) {
      if (!h.internal) fail(h.req, why, message);
    }
    held_controls.clear();
    for (auto& p : pending_controls) {
      if (!p.internal) fail(p.completion, p.kind, QoS::AtMostOnce, p.id, {}, why, message);
    }
    pending_controls.clear();
    if (include_qos0) {
      while (!qos0_tokens.empty()) {
        fail_qos0(qos0_tokens.front(), why, message);
        qos0_tokens.pop();
      }
    }
  }

  // --- connection ---

  // The broker did not resume the session (session present = 0).
  void reset_session() {
    deferred_resends.clear();
    if (store_on()) {
      record(StoreEvent::Type::Clear);
      held_pubrels.clear();
      held_pubrecs.clear();
      in_qos2_unstored.clear();
      held_pubcomps.clear();
      in_released_unstored.clear();
    }
    // A session this client starts: it knows every subscription in it.
    subscription_ids.clear();
    all_subscriptions_known = true;
    ResetInfo info;
    for (uint32_t id = 1; id <= pubs.range(); ++id) {
      OutPublish* s = pubs.find(static_cast<uint16_t>(id));
      if (!s) continue;
      if (s->stage == OutPublish::Stage::AwaitComp) {
        ++info.dropped_pubrels;
      } else {
        ++info.dropped_publishes;
      }
      fail(s->completion, Request::Kind::Publish, s->qos, static_cast<uint16_t>(id),
           s->bytes.span(), RequestError::SessionReset, "the broker did not resume the session");
      pubs.release(static_cast<uint16_t>(id));
    }
    in_qos2.clear();
    in_qos2_unacked.clear();
    in_qos1_unacked.clear();
    in_qos1_acked.clear();
    for (auto it = held_controls.begin(); it != held_controls.end();) {
      if (it->req.kind == Request::Kind::Ack) {
        fail(it->req, RequestError::SessionReset,
             "the broker did not resume the session: the acknowledged message is gone");
        it = held_controls.erase(it);
      } else {
        ++it;
      }
    }
    info.subscriptions_lost = granted_subscription;
    granted_subscription = false;
    if (ever_connected && cfg().auto_resubscribe) info.resubscribing = resubscribe();
    // A first CONNACK without a session is the normal start: nothing dropped
    // (unless restore() seeded a session from the store).
    if (ever_connected || restored) self.observer_.on_session_reset(info);
    restored = false;
  }

  // Resends one in-flight message of a resumed session: the PUBLISH again
  // (DUP) or, past PUBREC, its PUBREL.
  void resend_one(uint16_t id) {
    OutPublish& s = pubs.slot(id);
    s.seq = ++seq;
    if (s.stage == OutPublish::Stage::AwaitAck) {
      s.bytes[0] |= 0x08;  // DUP
      out.append(s.bytes);
      emit(Outgoing::Type::Publish, id, true);
    } else if (!s.pubrel_held) {
      write_ack<codec::PubRel>(id, ReasonCode::Success, Outgoing::Type::PubRel);
    }
  }

  // Resends held back by a smaller Receive Maximum go out as acks free room.
  void resend_deferred() {
    while (!deferred_resends.empty() &&
           pubs.count() - deferred_resends.size() < window_size) {
      const uint16_t id = deferred_resends.front();
      deferred_resends.pop_front();
      if (pubs.find(id)) resend_one(id);
    }
  }

  void resend_inflight() {
    deferred_resends.clear();
    scratch_ids.clear();
    for (uint32_t id = 1; id <= pubs.range(); ++id) {
      if (pubs.find(static_cast<uint16_t>(id))) scratch_ids.push_back(static_cast<uint16_t>(id));
    }
    std::sort(scratch_ids.begin(), scratch_ids.end(), [&](uint16_t a, uint16_t b) {
      return pubs.slot(a).seq < pubs.slot(b).seq;
    });
    // [MQTT-4.4.0-1] asks for every one to be resent, and [MQTT-3.3.4-7]
    // for no more unacknowledged QoS 1/2 PUBLISHes than the broker's Receive
    // Maximum: when the resumed broker's is smaller than what is in flight,
    // the oldest go out now and the rest as acks free room (rule 2 in
    // docs/session.md).
    // A PUBREL is never held back [MQTT-3.3.4-8]; its message still counts
    // against the quota until PUBCOMP.
    size_t sent = 0;
    for (uint16_t id : scratch_ids) {
      if (pubs.slot(id).stage != OutPublish::Stage::AwaitAck || sent < window_size) {
        resend_one(id);
        ++sent;
      } else {
        deferred_resends.push_back(id);
      }
    }
  }

  // Returns the number of filters queued again.
  uint32_t resubscribe() {
    std::vector<HeldControl> resubs;
    for (const auto& sub : subscriptions) {
      codec::Subscribe s;
      codec::Subscription o = sub.options;
      o.filter = sub.filter;
      s.subscriptions.push_back(o);
      if (v5() && sub.subscription_id) s.properties.subscription_identifiers.push_back(*sub.subscription_id);
      auto r = make_subscribe_request(s, cfg().version);
      if (!r) continue;
      resubs.push_back(HeldControl{std::move(*r), true});
    }
    // Before every other control request (an UNSUBSCRIBE queued for the same
    // filter must come after its re-SUBSCRIBE).
    held_controls.insert(held_controls.begin(), std::make_move_iterator(resubs.begin()),
                         std::make_move_iterator(resubs.end()));
    return static_cast<uint32_t>(resubs.size());
  }

  void remember_subscriptions(const PendingControl& p, const std::vector<ReasonCode>& codes) {
    codec::Packet decoded;
    codec::DecodeOptions opts;
    opts.version = cfg().version;
    auto r = codec::decode(p.bytes, opts, decoded);
    if (r.status != codec::DecodeStatus::Ok) return;
    const auto* s = std::get_if<codec::Subscribe>(&decoded);
    if (!s) return;
    for (size_t i = 0; i < s->subscriptions.size() && i < codes.size(); ++i) {
      const auto& sub = s->subscriptions[i];
      auto it = std::find_if(subscriptions.begin(), subscriptions.end(),
                             [&](const StoredSubscription& x) { return x.filter == sub.filter; });
      if (is_failure(codes[i])) {
        if (p.internal && it != subscriptions.end()) subscriptions.erase(it);
        continue;
      }
      if (it == subscriptions.end()) {
        subscriptions.push_back(StoredSubscription{std::string(sub.filter), sub, std::nullopt});
        it = subscriptions.end() - 1;
      }
      it->options = sub;
      it->options.filter = {};
      it->subscription_id = s->properties.subscription_identifiers.empty()
                                ? std::nullopt
                                : std::optional<uint32_t>(s->properties.subscription_identifiers[0]);
    }
  }

  void forget_subscriptions(const PendingControl& p, const std::vector<ReasonCode>& codes) {
    codec::Packet decoded;
    codec::DecodeOptions opts;
    opts.version = cfg().version;
    auto r = codec::decode(p.bytes, opts, decoded);
    if (r.status != codec::DecodeStatus::Ok) return;
    const auto* u = std::get_if<codec::Unsubscribe>(&decoded);
    if (!u) return;
    for (size_t i = 0; i < u->filters.size() && i < codes.size(); ++i) {
      if (is_failure(codes[i])) continue;
      std::erase_if(subscriptions,
                    [&](const StoredSubscription& x) { return x.filter == u->filters[i]; });
    }
  }

  // --- incoming ---

  Result<void, ConnectionError> on_connack(const codec::ConnAck& ack) {
    if (is_failure(ack.reason_code)) {
      ConnectionError e = make_error(ConnectionErrorCode::ConnectionRefused,
                                     "CONNACK: " + rc_text(ack.reason_code, ack.properties));
      e.reason_code = ack.reason_code;
      e.terminal = terminal_refusal(ack.reason_code);
      broker_said(e, ack.properties);
      return unexpected(std::move(e));
    }
    if (ack.session_present && sent_clean_start) {
      // We hold no session state after Clean Start [MQTT-3.2.2-4].
      return protocol_error(ReasonCode::ProtocolError,
                            "CONNACK with Session Present 1 after a CONNECT with Clean Start");
    }
    const codec::Properties& p = ack.properties;
    broker_receive_max = p.receive_maximum.value_or(65535);
    broker_max_packet_size = p.maximum_packet_size.value_or(0);
    broker_max_qos = p.maximum_qos.value_or(2);
    retain_available = p.retain_available.value_or(1) != 0;
    wildcard_available = p.wildcard_subscription_available.value_or(1) != 0;
    shared_available = p.shared_subscription_available.value_or(1) != 0;
    subscription_ids_available = p.subscription_identifiers_available.value_or(1) != 0;
    keep_alive = p.server_keep_alive ? std::chrono::seconds(*p.server_keep_alive)
                                     : std::chrono::seconds(std::min<int64_t>(cfg().keep_alive.count(), 65535));
    if (p.assigned_client_identifier && assigned_client_id != *p.assigned_client_identifier) {
      assigned_client_id = std::string(*p.assigned_client_identifier);
      if (store_on()) {
        record(StoreEvent::Type::ClientId, 0, QoS::AtMostOnce, codec::as_bytes(assigned_client_id));
      }
    }
    window_size = std::min<uint32_t>(pubs.range(), broker_receive_max);
    session_present = ack.session_present;
    // Outgoing aliases start afresh on every connection [MQTT-3.3.2-7].
    out_aliases.reset(v5() ? p.topic_alias_maximum.value_or(0) : 0, cfg().auto_topic_aliases);

    self.state_ = SessionState::Connected;
    connack_deadline = TimePoint::max();
    if (ack.session_present) {
      resend_inflight();
    } else {
      reset_session();
    }
    // SUBSCRIBE/UNSUBSCRIBE awaiting their ack: resend with the same ids.
    for (auto& pc : pending_controls) {
      note_subscription_id(pc.subscription_id);
      out.append(pc.bytes);
      emit(pc.kind == Request::Kind::Subscribe ? Outgoing::Type::Subscribe
                                               : Outgoing::Type::Unsubscribe,
           pc.id);
    }
    ever_connected = true;
    drain_held_controls();
    drain_held_publishes();
    if (disconnect) {
      self.state_ = SessionState::Disconnecting;
      maybe_finish_disconnect();
    }
    return {};
  }

  Result<void, ConnectionError> on_publish(codec::Publish& p, std::span<const uint8_t> raw) {
    if (v5()) {
      if (p.properties.topic_alias) {
        // Spec 3.3.4: the alias sets or updates a mapping, or stands for
        // the topic; reported with the resolved topic.
        const uint16_t alias = *p.properties.topic_alias;
        const uint16_t max = in_aliases.maximum();
        if (alias > max) {
          return protocol_error(
              ReasonCode::TopicAliasInvalid,
              "PUBLISH with Topic Alias " + std::to_string(alias) +
                  (max == 0 ? std::string(" although the client allows no topic aliases")
                            : " above the client's Topic Alias Maximum " + std::to_string(max)));
        }
        if (p.topic.empty()) {
          const std::string_view topic = in_aliases.find(alias);
          if (topic.empty()) {
            return protocol_error(ReasonCode::ProtocolError,
                                  "PUBLISH with an empty topic and Topic Alias " +
                                      std::to_string(alias) +
                                      ", which has no topic on this connection");
          }
          p.topic = topic;
        } else {
          in_aliases.set(alias, p.topic);
        }
      } else if (p.topic.empty()) {
        return protocol_error(ReasonCode::ProtocolError,
                              "PUBLISH with an empty topic and no Topic Alias");
      }
      for (uint32_t id : p.properties.subscription_identifiers) {
        if (std::binary_search(subscription_ids.begin(), subscription_ids.end(), id)) continue;
        if (all_subscriptions_known) {
          return protocol_error(ReasonCode::ProtocolError,
                                "PUBLISH with Subscription Identifier " + std::to_string(id) +
                                    ", which this client never subscribed with");
        }
        ++unknown_subscription_ids;  // a resumed session it did not start
      }
    }
    const bool manual = cfg().manual_acks;
    switch (p.qos) {
      case QoS::AtMostOnce:
        self.observer_.on_incoming(raw, packet);
        return {};
      case QoS::AtLeastOnce:
        count_excess();
        self.observer_.on_incoming(raw, packet);
        if (manual) {
          // A DUP of a message acked on this connection was sent before
          // the broker had our PUBACK: it owes no second one (which the
          // broker would take for its next message with this id).
          if (!p.dup || !in_qos1_acked.test(p.packet_id)) in_qos1_unacked.insert(p.packet_id);
          if (!p.dup) in_qos1_acked.erase(p.packet_id);
        } else {
          write_ack<codec::PubAck>(p.packet_id, ReasonCode::Success, Outgoing::Type::PubAck);
        }
        return {};
      case QoS::ExactlyOnce:
        if (in_qos2.test(p.packet_id)) {
          // Duplicate before PUBREL: not reported again [MQTT-4.3.3-10 method B].
          // With a store, the PUBREC waits for the id's record (rule 2).
          if (!in_qos2_unacked.test(p.packet_id) && !in_qos2_unstored.test(p.packet_id)) {
            write_ack<codec::PubRec>(p.packet_id, ReasonCode::Success, Outgoing::Type::PubRec);
          }
          return {};
        }
        count_excess();
        in_qos2.insert(p.packet_id);
        if (store_on()) {
          // PUBREC only once the id is stored: a PUBLISH the broker resends
          // after a restart is then known and not delivered again.
          in_released_unstored.erase(p.packet_id);  // only a broker that skipped our PUBCOMP
          const uint64_t n = record(StoreEvent::Type::IncomingQos2, p.packet_id, QoS::ExactlyOnce);
          in_qos2_unstored.insert(p.packet_id);
          held_pubrecs.push_back({n, p.packet_id});
        }
        self.observer_.on_incoming(raw, packet);
        if (manual) {
          in_qos2_unacked.insert(p.packet_id);
        } else if (!store_on()) {
          write_ack<codec::PubRec>(p.packet_id, ReasonCode::Success, Outgoing::Type::PubRec);
        }
        return {};
    }
    return {};
  }

  void count_excess() {
    if (in_qos1_unacked.size() + in_qos2.size() >= our_receive_max) ++excess_incoming;
  }

  // The broker refused an outgoing publish (reason code >= 0x80).
  void rejected(OutPublish& s, uint16_t id, std::string message, ReasonCode rc,
                const codec::Properties& ack) {
    if (s.completion) {
      complete(s.completion, RequestError::Rejected, std::move(message), {rc}, &ack);
    } else {
      fail(s.completion, Request::Kind::Publish, s.qos, id, s.bytes.span(), RequestError::Rejected,
           message);
    }
  }

  void on_puback(const codec::PubAck& a) {
    OutPublish* s = pubs.find(a.packet_id);
    if (!s || s->qos != QoS::AtLeastOnce) {
      ++unknown_acks;
      return;
    }
    if (is_failure(a.reason_code)) {
      rejected(*s, a.packet_id, "PUBACK: " + rc_text(a.reason_code, a.properties), a.reason_code,
               a.properties);
    } else {
      complete_ok(s->completion, a.reason_code, &a.properties);
    }
    publish_done(a.packet_id);
  }

  void on_pubrec(const codec::PubRec& a) {
    OutPublish* s = pubs.find(a.packet_id);
    if (!s || s->qos != QoS::ExactlyOnce) {
      ++unknown_acks;
      write_ack<codec::PubRel>(a.packet_id, ReasonCode::PacketIdentifierNotFound,
                               Outgoing::Type::PubRel);
      return;
    }
    if (s->stage == OutPublish::Stage::AwaitAck && is_failure(a.reason_code)) {
      rejected(*s, a.packet_id, "PUBREC: " + rc_text(a.reason_code, a.properties), a.reason_code,
               a.properties);
      publish_done(a.packet_id);
      return;
    }
    if (s->stage == OutPublish::Stage::AwaitAck) {
      s->stage = OutPublish::Stage::AwaitComp;
      s->bytes = PacketBytes();  // the PUBLISH is never resent now
      if (store_on()) {
        // The PUBREL waits until this record is stored (rule 1): a restart
        // must never resend a PUBLISH whose id the broker has released.
        s->store_seq = record(StoreEvent::Type::PubRecReceived, a.packet_id, QoS::ExactlyOnce);
        s->pubrel_held = true;
        held_pubrels.push_back({s->store_seq, a.packet_id});
      }
    }
    s->seq = ++seq;
    if (s->pubrel_held) return;
    write_ack<codec::PubRel>(a.packet_id, ReasonCode::Success, Outgoing::Type::PubRel);
  }

  void on_pubrel(const codec::PubRel& a) {
    if (in_qos2.erase(a.packet_id)) {
      in_qos2_unacked.erase(a.packet_id);
      if (store_on()) {
        forget_held_pubrec(a.packet_id);  // only a broker that skipped our PUBREC
        // PUBCOMP once the release is stored (rule 3): after PUBCOMP the
        // broker may reuse the id, which a restart must not take for a
        // duplicate.
        const uint64_t n =
            record(StoreEvent::Type::IncomingReleased, a.packet_id, QoS::ExactlyOnce);
        in_released_unstored.insert(a.packet_id);
        held_pubcomps.push_back({n, a.packet_id});
        return;
      }
      write_ack<codec::PubComp>(a.packet_id, ReasonCode::Success, Outgoing::Type::PubComp);
    } else if (in_released_unstored.test(a.packet_id)) {
      // Resent (after a reconnect) before the release is stored: answered then.
    } else {
      write_ack<codec::PubComp>(a.packet_id, ReasonCode::PacketIdentifierNotFound,
                                Outgoing::Type::PubComp);
    }
  }

  void on_pubcomp(const codec::PubComp& a) {
    OutPublish* s = pubs.find(a.packet_id);
    if (!s || s->qos != QoS::ExactlyOnce || s->stage != OutPublish::Stage::AwaitComp) {
      ++unknown_acks;
      return;
    }
    // 0x92 answers a PUBREL resent after the broker already released the
    // message (its PUBCOMP was lost): "not an error during recovery" (spec
    // 3.7.2.1). The PUBREC accepted the message, so it completes.
    if (is_failure(a.reason_code) && a.reason_code != ReasonCode::PacketIdentifierNotFound) {
      rejected(*s, a.packet_id, "PUBCOMP: " + rc_text(a.reason_code, a.properties), a.reason_code,
               a.properties);
    } else {
      complete_ok(s->completion, a.reason_code, &a.properties);
    }
    publish_done(a.packet_id);
  }

  void on_suback(const codec::SubAck& a) {
    PendingControl* p = find_control(a.packet_id, Request::Kind::Subscribe);
    if (!p) {
      ++unknown_acks;
      return;
    }
    if (a.reason_codes.size() != p->filter_count) {
      complete(p->completion, RequestError::ProtocolError,
               "SUBACK has " + std::to_string(a.reason_codes.size()) + " reason codes for " +
                   std::to_string(p->filter_count) + " filters",
               a.reason_codes);
    } else {
      if (cfg().auto_resubscribe) remember_subscriptions(*p, a.reason_codes);
      if (std::any_of(a.reason_codes.begin(), a.reason_codes.end(),
                      [](ReasonCode rc) { return !is_failure(rc); })) {
        granted_subscription = true;
      }
      const bool refused =
          std::any_of(a.reason_codes.begin(), a.reason_codes.end(), [](ReasonCode rc) { return is_failure(rc); });
      complete(p->completion, refused ? RequestError::Rejected : RequestError::None,
               refused ? "SUBACK refused a filter" : "", a.reason_codes, &a.properties);
    }
    erase_control(p);
    drain_held_controls();
  }

  void on_unsuback(const codec::UnsubAck& a) {
    PendingControl* p = find_control(a.packet_id, Request::Kind::Unsubscribe);
    if (!p) {
      ++unknown_acks;
      return;
    }
    std::vector<ReasonCode> codes = a.reason_codes;
    if (!v5()) codes.assign(p->filter_count, ReasonCode::Success);
    if (codes.size() != p->filter_count) {
      complete(p->completion, RequestError::ProtocolError,
               "UNSUBACK has " + std::to_string(codes.size()) + " reason codes for " +
                   std::to_string(p->filter_count) + " filters",
               codes);
    } else {
      if (cfg().auto_resubscribe) forget_subscriptions(*p, codes);
      const bool refused =
          std::any_of(codes.begin(), codes.end(), [](ReasonCode rc) { return is_failure(rc); });
      complete(p->completion, refused ? RequestError::Rejected : RequestError::None,
               refused ? "UNSUBACK refused a filter" : "", codes, &a.properties);
    }
    erase_control(p);
    drain_held_controls();
  }

  // --- enhanced authentication (spec 4.12) ---

  // An AUTH from the broker. Reported as incoming only when it keeps the
  // rules; anything else is a Protocol Error (DISCONNECT 0x82).
  Result<void, ConnectionError> on_auth(std::span<const uint8_t> raw) {
    const auto& a = std::get<codec::Auth>(packet);
    if (!auth_method) {
      return violation("AUTH from the broker, but the CONNECT had no Authentication Method "
                       "[MQTT-4.12.0-6]");
    }
    const auto& m = a.properties.authentication_method;
    if (!m || *m != *auth_method) {
      return violation("AUTH with Authentication Method '" + std::string(m.value_or("")) +
                       "', not the CONNECT's '" + *auth_method + "' [MQTT-4.12.0-5]");
    }
    if (a.reason_code == ReasonCode::ReAuthenticate) {
      return violation("AUTH Re-authenticate (0x19) from the broker (only a client sends it)");
    }
    if (self.state_ == SessionState::Connecting) {
      // The broker accepts with CONNACK, never with AUTH Success.
      if (a.reason_code != ReasonCode::ContinueAuthentication) {
        return violation("AUTH " + rc_text(a.reason_code, a.properties) +
                         " before CONNACK [MQTT-4.12.0-2]");
      }
      auth_broker_waiting = true;
    } else {
      if (!reauth_pending) {
        return violation("AUTH while no re-authentication is in progress [spec 4.12.1]");
      }
      if (a.reason_code == ReasonCode::Success) {
        reauth_pending = false;
        auth_broker_waiting = false;
      } else {
        auth_broker_waiting = true;
      }
    }
    self.observer_.on_incoming(raw, packet);
    return {};
  }

  // A successful CONNACK names the CONNECT's Authentication Method, and none
  // when the CONNECT had none [MQTT-4.12.0-5/-6].
  Result<void, ConnectionError> connack_auth_breach(const codec::ConnAck& ack) {
    if (!v5() || is_failure(ack.reason_code)) return {};
    const auto& m = ack.properties.authentication_method;
    if (!auth_method && m) {
      return violation("CONNACK with Authentication Method '" + std::string(*m) +
                       "', but the CONNECT had none [MQTT-4.12.0-6]");
    }
    if (auth_method && (!m || *m != *auth_method)) {
      return violation("CONNACK with Authentication Method '" + std::string(m.value_or("")) +
                       "', not the CONNECT's '" + *auth_method + "' [MQTT-4.12.0-5]");
    }
    return {};
  }

  // Our AUTH (Client::auth): written at once when it fits the exchange,
  // else failed (ProtocolError, or ConnectionClosed without a connection).
  void submit_auth(Request& r) {
    const auto f = auth_fields(r.bytes.span());
    const bool live = self.state_ == SessionState::Connected ||
                      self.state_ == SessionState::Disconnecting;
    if (self.state_ == SessionState::Closed || self.state_ == SessionState::Disconnected) {
      fail(r, RequestError::ConnectionClosed,
           "AUTH: no connection (a new one authenticates from its CONNECT)");
      return;
    }
    if (!f || !auth_method) {
      fail(r, RequestError::ProtocolError,
           "AUTH: this connection's CONNECT had no Authentication Method [MQTT-4.12.0-7]");
      return;
    }
    if (f->method != *auth_method) {
      fail(r, RequestError::ProtocolError,
           "AUTH: Authentication Method '" + f->method + "' is not this connection's '" +
               *auth_method + "' [MQTT-4.12.0-5, MQTT-4.12.1-1]");
      return;
    }
    if (f->code == ReasonCode::ContinueAuthentication) {
      if (!auth_broker_waiting) {
        fail(r, RequestError::ProtocolError,
             "AUTH Continue authentication: no AUTH from the broker awaits an answer "
             "[MQTT-4.12.0-3]");
        return;
      }
      auth_broker_waiting = false;
    } else {  // ReAuthenticate
      if (!live) {
        fail(r, RequestError::ProtocolError,
             "AUTH Re-authenticate before CONNACK [MQTT-4.12.1-1]");
        return;
      }
      if (reauth_pending) {
        fail(r, RequestError::ProtocolError,
             "AUTH Re-authenticate while a re-authentication is in progress");
        return;
      }
      reauth_pending = true;
    }
    fit_to_broker_limit(r.bytes);
    out.append(r.bytes);
    emit(Outgoing::Type::Auth);
    complete_ok(r.completion, f->code);
  }

  // Writes DISCONNECT with `rc` first (MQTT 5, once connected) so the broker
  // learns why; the runtime flushes it before closing.
  void write_disconnect_for_error(ReasonCode rc) {
    if (!v5() || flush_before_close) return;
    // Before CONNACK only during enhanced authentication, where a client may
    // send DISCONNECT [MQTT-3.1.2-30, spec 4.12].
    const bool authenticating = self.state_ == SessionState::Connecting && auth_method;
    if (self.state_ != SessionState::Connected && self.state_ != SessionState::Disconnecting &&
        !authenticating)
      return;
    auto dst = out.extend(3);
    dst[0] = 0xE0;
    dst[1] = 0x01;  // reason code only; no properties [MQTT 3.14.2.2]
    dst[2] = static_cast<uint8_t>(rc);
    emit(Outgoing::Type::Disconnect);
    flush_before_close = true;
  }

  Result<void, ConnectionError> protocol_error(ReasonCode rc, std::string msg) {
    write_disconnect_for_error(rc);
    ConnectionError e = make_error(ConnectionErrorCode::ProtocolViolation, std::move(msg));
    e.reason_code = v5() ? rc : ReasonCode::Success;
    return unexpected(std::move(e));
  }

  // The decode error is a PUBLISH's Topic Alias of 0 (the codec reports
  // InvalidPropertyValue at the property's identifier).
  bool topic_alias_zero(std::span<const uint8_t> in, const codec::DecodeResult& r) const {
    return v5() && r.error == codec::CodecError::InvalidPropertyValue && !in.empty() &&
           (in[0] >> 4) == 3 && r.error_offset < in.size() && in[r.error_offset] == 0x23;
  }

  Result<void, ConnectionError> violation(std::string msg) {
    return protocol_error(ReasonCode::ProtocolError, std::move(msg));
  }

  Result<void, ConnectionError> dispatch(std::span<const uint8_t> raw) {
    const codec::PacketType type = codec::packet_type(packet);
    if (self.state_ == SessionState::Connecting) {
      // Nothing reaches the consumer before the CONNACK.
      // Nothing but AUTH (enhanced authentication) and CONNACK.
      if (type == codec::PacketType::ConnAck) {
        if (auto bad = connack_auth_breach(std::get<codec::ConnAck>(packet)); !bad.ok()) return bad;
        self.observer_.on_incoming(raw, packet);
        return on_connack(std::get<codec::ConnAck>(packet));
      }
      if (type == codec::PacketType::Auth) return on_auth(raw);
      return violation(std::string(codec::to_string(type)) + " received before CONNACK");
    }
    if (type == codec::PacketType::Publish) return on_publish(std::get<codec::Publish>(packet), raw);
    if (type == codec::PacketType::Auth) return on_auth(raw);
    // A packet a broker never sends (or not now) is a protocol violation:
    // the error reaches the consumer, never the packet (on_incoming's
    // contract).
    switch (type) {
      case codec::PacketType::ConnAck: return violation("CONNACK received while connected");
      case codec::PacketType::Disconnect:
        if (!v5()) return violation("DISCONNECT from the broker (MQTT 3.1.1)");
        break;
      case codec::PacketType::Connect:
      case codec::PacketType::Subscribe:
      case codec::PacketType::Unsubscribe:
      case codec::PacketType::PingReq:
        return violation(std::string(codec::to_string(type)) +
                         " is not a packet a broker sends");
      default:
        break;
    }
    self.observer_.on_incoming(raw, packet);
    switch (type) {
      case codec::PacketType::PubAck: on_puback(std::get<codec::PubAck>(packet)); return {};
      case codec::PacketType::PubRec: on_pubrec(std::get<codec::PubRec>(packet)); return {};
      case codec::PacketType::PubRel: on_pubrel(std::get<codec::PubRel>(packet)); return {};
      case codec::PacketType::PubComp: on_pubcomp(std::get<codec::PubComp>(packet)); return {};
      case codec::PacketType::SubAck: on_suback(std::get<codec::SubAck>(packet)); return {};
      case codec::PacketType::UnsubAck: on_unsuback(std::get<codec::UnsubAck>(packet)); return {};
      case codec::PacketType::PingResp:
        if (ping_outstanding) {
          ping_outstanding = false;
          ping_deadline = TimePoint::max();
          last_ping_rtt = now - ping_sent;
        }
        return {};
      case codec::PacketType::Disconnect: {
        const auto& d = std::get<codec::Disconnect>(packet);
        ConnectionError e = make_error(ConnectionErrorCode::DisconnectedByBroker,
                                       "DISCONNECT: " + rc_text(d.reason_code, d.properties));
        e.reason_code = d.reason_code;
        broker_said(e, d.properties);
        return unexpected(std::move(e));
      }
      default:
        return {};  // refused above
    }
  }
};

// ----------------------------------------------------------------------------

Session::Session(SessionConfig config, SessionObserver& observer)
    : config_(config), observer_(observer), impl_(std::make_unique<Impl>(*this)) {}

Session::~Session() = default;

bool Session::reconfigure(const SessionConfig& config) {
  if (config.version != config_.version || config.max_inflight != config_.max_inflight) {
    return false;
  }
  config_ = config;
  return true;
}

void Session::begin_connection(const codec::Connect& connect, TimePoint now,
                               TimePoint connack_deadline) {
  Impl& m = *impl_;
  m.now = now;
  if (!m.out.empty() || !m.qos0_tokens.empty()) connection_lost();
  codec::Connect c = connect;
  c.protocol_version = config_.version;
  m.sent_clean_start = c.clean_start;
  c.keep_alive = static_cast<uint16_t>(std::min<int64_t>(config_.keep_alive.count(), 65535));
  if (!m.assigned_client_id.empty()) c.client_id = m.assigned_client_id;
  if (config_.version == ProtocolVersion::V5) {
    // Tell the broker our limit (it must not send larger packets).
    if (!c.properties.maximum_packet_size && config_.max_incoming_packet_size < 268435460u) {
      c.properties.maximum_packet_size = config_.max_incoming_packet_size;
    }
    m.our_receive_max = c.properties.receive_maximum.value_or(65535);
    // Topic Alias Maximum: the caller's CONNECT property, else the config's;
    // 0 is left out (absent means 0) [MQTT-3.1.2-27].
    const uint16_t aliases =
        c.properties.topic_alias_maximum.value_or(config_.topic_alias_maximum);
    if (aliases != 0) {
      c.properties.topic_alias_maximum = aliases;
    } else {
      c.properties.topic_alias_maximum.reset();
    }
    m.in_aliases.reset(aliases);  // nothing carried over [MQTT-3.3.2-7]
  } else {
    m.our_receive_max = 65535;
    m.in_aliases.reset(0);
  }
  m.decode_opts.version = config_.version;
  m.decode_opts.max_packet_size = config_.max_incoming_packet_size;
  m.keep_alive = std::chrono::seconds(c.keep_alive);
  m.connect_error.reset();
  // Enhanced authentication: this connection's method (MQTT 5 only).
  m.auth_method.reset();
  if (config_.version == ProtocolVersion::V5 && c.properties.authentication_method) {
    m.auth_method = std::string(*c.properties.authentication_method);
  }
  m.auth_broker_waiting = false;
  m.reauth_pending = false;
  m.ping_outstanding = false;
  m.ping_deadline = TimePoint::max();
  m.paused = false;
  m.flush_before_close = false;
  m.in_qos1_acked.clear();  // per connection: the broker resends what it lacks
  m.last_received = now;
  m.last_sent = now;
  m.connack_deadline = connack_deadline;
  state_ = SessionState::Connecting;

  const codec::Packet packet(c);
  auto size = codec::encoded_size(packet, config_.version);
  if (size) {
    auto dst = m.out.extend(*size);
    auto n = codec::encode(packet, config_.version, dst, codec::Direction::ClientToServer);
    if (n) {
      m.emit(Outgoing::Type::Connect);
      return;
    }
    m.out.shrink_back(*size);
    size = unexpected(n.error());
  }
  ConnectionError e = make_error(ConnectionErrorCode::ProtocolViolation,
                                 std::string("CONNECT cannot be encoded: ") +
                                     std::string(codec::to_string(size.error())));
  e.codec_error = size.error();
  e.terminal = true;
  m.connect_error = std::move(e);
}

Result<size_t, ConnectionError> Session::handle_input(std::span<const uint8_t> in, TimePoint now) {
  Impl& m = *impl_;
  m.now = now;
  if (state_ == SessionState::Closed) return in.size();  // after DISCONNECT: ignore
  if (state_ == SessionState::Disconnected) {
    return unexpected(make_error(ConnectionErrorCode::ProtocolViolation,
                                 "input while no connection is active"));
  }
  size_t pos = 0;
  while (pos < in.size() && (state_ != SessionState::Closed)) {
    auto rest = in.subspan(pos);
    const codec::DecodeResult r = codec::decode(rest, m.decode_opts, m.packet);
    if (r.status == codec::DecodeStatus::NeedMore) break;
    if (r.status == codec::DecodeStatus::Error) {
      if (m.topic_alias_zero(rest, r)) {
        // The codec refuses the value; the spec makes it a Protocol Error
        // with 0x94, not a malformed packet [MQTT-3.3.2-8, spec 3.3.4].
        auto e = m.protocol_error(ReasonCode::TopicAliasInvalid, "PUBLISH with Topic Alias 0");
        state_ = SessionState::Disconnected;
        return unexpected(e.error());
      }
      const bool too_large = r.error == codec::CodecError::PacketTooLarge;
      // Malformed (0x81) or a Protocol Error (0x82, e.g. a property only a
      // client may send) [spec 4.13]: the DISCONNECT says which.
      const ReasonCode why = codec::reason_for(r.error);
      ConnectionError e = make_error(
          too_large ? ConnectionErrorCode::PacketTooLarge
          : why == ReasonCode::ProtocolError ? ConnectionErrorCode::ProtocolViolation
                                             : ConnectionErrorCode::MalformedPacket,
          std::string(codec::to_string(r.error)) + " at offset " +
              std::to_string(pos + r.error_offset) + " of the input" +
              (too_large ? " (limit " + std::to_string(config_.max_incoming_packet_size) + " bytes)"
                         : std::string()));
      e.codec_error = r.error;
      m.write_disconnect_for_error(why);
      state_ = SessionState::Disconnected;
      return unexpected(std::move(e));
    }
    m.last_received = now;
    auto done = m.dispatch(rest.first(r.consumed));
    pos += r.consumed;
    if (!done) {
      state_ = SessionState::Disconnected;
      return unexpected(done.error());
    }
  }
  if (state_ == SessionState::Closed) return in.size();
  // A PINGRESP queued behind a backlog of incoming packets (a consumer
  // catching up): once our PINGREQ is written, every packet received shows
  // the link alive, so the timeout runs from the last one. (Unwritten, the
  // write progress rules: a peer that floods but reads nothing times out.)
  if (pos > 0 && m.ping_outstanding && m.out.consumed_position() >= m.ping_end) {
    m.ping_deadline = mqtt::detail::saturating_add(now, config_.ping_timeout);
  }
  return pos;
}

void Session::connection_lost() {
  Impl& m = *impl_;
  m.deferred_resends.clear();  // all are resent (or dropped) at the next CONNACK
  while (!m.qos0_tokens.empty()) {
    m.fail_qos0(m.qos0_tokens.front(), RequestError::ConnectionClosed,
                "connection lost before the QoS 0 publish was written");
    m.qos0_tokens.pop();
  }
  m.out.clear();
  for (auto it = m.held_publishes.begin(); it != m.held_publishes.end();) {
    if (it->qos == QoS::AtMostOnce) {
      m.fail(*it, RequestError::ConnectionClosed,
             "connection lost before the QoS 0 publish was written");
      it = m.held_publishes.erase(it);
    } else {
      ++it;
    }
  }
  m.ping_outstanding = false;
  m.ping_deadline = TimePoint::max();
  m.paused = false;
  m.flush_before_close = false;
  m.connack_deadline = TimePoint::max();
  m.connect_error.reset();
  m.auth_broker_waiting = false;
  m.reauth_pending = false;
  if (state_ != SessionState::Closed) state_ = SessionState::Disconnected;
}

void Session::fail_all(RequestError why, std::string_view message) {
  Impl& m = *impl_;
  m.fail_pending(why, message, /*include_qos0=*/true);
  if (m.disconnect) {
    m.fail(*m.disconnect, why, message);
    m.disconnect.reset();
  }
  state_ = SessionState::Closed;
}

TimePoint Session::next_deadline() const {
  const Impl& m = *impl_;
  if (m.connect_error) return TimePoint::min();
  switch (state_) {
    case SessionState::Connecting:
      return m.connack_deadline;
    case SessionState::Connected:
    case SessionState::Disconnecting: {
      TimePoint d = TimePoint::max();
      if (m.keep_alive.count() > 0) {
        if (m.ping_outstanding) {
          if (!m.paused) d = std::min(d, m.ping_deadline);
        } else {
          d = std::min(d, std::min(m.last_sent, m.last_received) + m.keep_alive);
        }
      }
      if (state_ == SessionState::Disconnecting) d = std::min(d, m.disconnect_deadline);
      return d;
    }
    default:
      return TimePoint::max();
  }
}

Result<void, ConnectionError> Session::handle_timeout(TimePoint now) {
  Impl& m = *impl_;
  m.now = now;
  if (m.connect_error) {
    ConnectionError e = *m.connect_error;
    m.connect_error.reset();
    state_ = SessionState::Disconnected;
    return unexpected(std::move(e));
  }
  switch (state_) {
    case SessionState::Connecting:
      if (now >= m.connack_deadline) {
        state_ = SessionState::Disconnected;
        return unexpected(make_error(ConnectionErrorCode::ConnectTimeout, "no CONNACK in time"));
      }
      return {};
    case SessionState::Connected:
    case SessionState::Disconnecting:
      if (m.keep_alive.count() > 0) {
        if (m.ping_outstanding) {
          if (!m.paused && now >= m.ping_deadline) {
            state_ = SessionState::Disconnected;
            return unexpected(make_error(
                ConnectionErrorCode::PingTimeout,
                "no PINGRESP within " +
                    std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       config_.ping_timeout)
                                       .count()) +
                    " ms of PINGREQ"));
          }
        } else if (now >= m.last_sent + m.keep_alive || now >= m.last_received + m.keep_alive) {
          m.write_pingreq();
        }
      }
      m.maybe_finish_disconnect();
      return {};
    default:
      return {};
  }
}

void Session::set_input_paused(bool paused, TimePoint now) {
  Impl& m = *impl_;
  m.now = now;
  if (m.paused && !paused && m.ping_outstanding) {
    m.ping_deadline = mqtt::detail::saturating_add(now, config_.ping_timeout);
  }
  m.paused = paused;
}

bool Session::can_send_publish(QoS qos) const {
  if (state_ != SessionState::Connected) return false;
  if (qos == QoS::AtMostOnce) return true;
  return impl_->held_publishes.empty() && impl_->has_room();
}

void Session::submit(Request&& request, TimePoint now, TimePoint deadline) {
  Impl& m = *impl_;
  m.now = now;
  const bool live = state_ == SessionState::Connected || state_ == SessionState::Disconnecting;
  switch (request.kind) {
    case Request::Kind::Publish: {
      if (state_ == SessionState::Closed || state_ == SessionState::Disconnecting || m.disconnect) {
        m.fail(request, RequestError::ConnectionClosed, "the client is disconnecting");
        return;
      }
      if (state_ == SessionState::Connected && m.held_publishes.empty() &&
          (request.qos == QoS::AtMostOnce || m.has_room())) {
        m.take_publish(std::move(request));
      } else {
        m.held_publishes.push_back(std::move(request));
      }
      return;
    }
    case Request::Kind::Subscribe:
    case Request::Kind::Unsubscribe:
    case Request::Kind::Ack: {
      if (state_ == SessionState::Closed) {
        m.fail(request, RequestError::ConnectionClosed, "the session is closed");
        return;
      }
      HeldControl h{std::move(request), false};
      if (live && m.held_controls.empty() && m.write_control(h)) return;
      m.held_controls.push_back(std::move(h));
      return;
    }
    case Request::Kind::Auth:
      // Never held: it belongs to this connection's exchange, which may be
      // before CONNACK [MQTT-3.1.2-30].
      m.submit_auth(request);
      return;
    case Request::Kind::Disconnect: {
      if (state_ == SessionState::Closed) {
        complete(request.completion, RequestError::None);
        return;
      }
      if (m.disconnect) {
        m.fail(request, RequestError::ConnectionClosed, "a disconnect is already in progress");
        return;
      }
      m.disconnect = std::move(request);
      m.disconnect_deadline = deadline;
      if (state_ == SessionState::Disconnected) {
        // No transport: nothing to send. The session ends here.
        state_ = SessionState::Closed;
        CompletionPtr token = std::move(m.disconnect->completion);
        m.disconnect.reset();
        complete(token, RequestError::None);
        return;
      }
      if (state_ == SessionState::Connected) {
        state_ = SessionState::Disconnecting;
        m.maybe_finish_disconnect();
      }
      // Connecting: taken up after CONNACK.
      return;
    }
  }
}

std::span<const uint8_t> Session::output() const { return impl_->out.data(); }

void Session::consume_output(size_t n, TimePoint now) {
  Impl& m = *impl_;
  if (n > 0) m.last_sent = now;
  const bool ping_unwritten = m.ping_outstanding && m.out.consumed_position() < m.ping_end;
  m.out.consume(n);
  if (ping_unwritten && n > 0) {
    // A PINGREQ queued behind a backlog: the timeout runs from the last write
    // progress towards it, and from when it is written. A slow link that
    // drains is not dead; a peer that takes nothing times out.
    m.ping_deadline = mqtt::detail::saturating_add(now, config_.ping_timeout);
    if (m.out.consumed_position() >= m.ping_end) m.ping_sent = now;
  }
  const uint64_t pos = m.out.consumed_position();
  while (!m.qos0_tokens.empty() && m.qos0_tokens.front().end <= pos) {
    complete_ok(m.qos0_tokens.front().completion, ReasonCode::Success);
    m.qos0_tokens.pop();
  }
}

SessionStats Session::stats() const {
  const Impl& m = *impl_;
  SessionStats s;
  s.inflight_publishes = m.pubs.count();
  s.inflight_window = m.window_size;
  s.pending_control = static_cast<uint32_t>(m.held_controls.size());
  s.incoming_qos2_pending = m.in_qos2.size();
  s.incoming_unacked = m.in_qos1_unacked.size() + m.in_qos2_unacked.size();
  s.excess_incoming_qos2 = m.excess_incoming;
  s.last_ping_rtt = m.last_ping_rtt;
  s.session_present = m.session_present;
  s.unknown_acks = m.unknown_acks;
  s.unknown_subscription_ids = m.unknown_subscription_ids;
  return s;
}

std::string Session::restore(const RestoredState& st) {
  Impl& m = *impl_;
  if (m.ever_connected || state_ != SessionState::Disconnected || m.pubs.count() != 0) {
    return "restore() must come before the first connection";
  }
  for (const auto& p : st.outgoing) {
    if (p.packet_id == 0 || p.packet_id > m.pubs.range()) {
      return "stored packet id " + std::to_string(p.packet_id) + " is outside 1.." +
             std::to_string(m.pubs.range()) + " (max_inflight)";
    }
    if (!p.pubrec_received && p.bytes.size() < 2) {
      return "stored PUBLISH " + std::to_string(p.packet_id) + " has no bytes";
    }
    if (!p.pubrec_received && p.version != config_.version) {
      return "stored PUBLISH " + std::to_string(p.packet_id) + " is encoded for MQTT " +
             (p.version == ProtocolVersion::V5 ? "5" : "3.1.1") +
             ", the options say otherwise (use the same protocol, or remove the store file)";
    }
  }
  size_t claimed = 0;
  for (const auto& p : st.outgoing) {
    if (!m.pubs.claim(p.packet_id)) {
      for (size_t i = 0; i < claimed; ++i) m.pubs.release(st.outgoing[i].packet_id);
      return "stored packet id " + std::to_string(p.packet_id) + " appears twice";
    }
    ++claimed;
    OutPublish& s = m.pubs.slot(p.packet_id);
    s.qos = p.qos;
    s.seq = ++m.seq;
    if (p.pubrec_received) {
      s.stage = OutPublish::Stage::AwaitComp;
    } else {
      s.bytes.resize_for_write(p.bytes.size());
      std::memcpy(s.bytes.data(), p.bytes.data(), p.bytes.size());
    }
  }
  for (uint16_t id : st.incoming_qos2) m.in_qos2.insert(id);
  if (!st.assigned_client_id.empty()) m.assigned_client_id = st.assigned_client_id;
  m.restored = !st.outgoing.empty() || !st.incoming_qos2.empty();
  return {};
}

void Session::store_confirmed(uint64_t seq) {
  Impl& m = *impl_;
  if (seq <= m.store_confirmed) return;
  m.store_confirmed = seq;
  while (!m.held_pubrels.empty() && m.held_pubrels.front().first <= seq) {
    const auto [n, id] = m.held_pubrels.front();
    m.held_pubrels.pop_front();
    OutPublish* s = m.pubs.find(id);
    if (!s || !s->pubrel_held || s->store_seq != n) continue;
    s->pubrel_held = false;
    // Not connected: the resend after the next CONNACK writes it.
    if (m.live() && !m.connect_error) {
      s->seq = ++m.seq;
      m.write_ack<codec::PubRel>(id, ReasonCode::Success, Outgoing::Type::PubRel);
    }
  }
  while (!m.held_pubrecs.empty() && m.held_pubrecs.front().first <= seq) {
    const uint16_t id = m.held_pubrecs.front().second;
    m.held_pubrecs.pop_front();
    if (!m.in_qos2_unstored.erase(id)) continue;
    // Not connected: the broker resends the PUBLISH, answered then.
    if (m.live() && !m.in_qos2_unacked.test(id)) {
      m.write_ack<codec::PubRec>(id, ReasonCode::Success, Outgoing::Type::PubRec);
    }
  }
  while (!m.held_pubcomps.empty() && m.held_pubcomps.front().first <= seq) {
    const uint16_t id = m.held_pubcomps.front().second;
    m.held_pubcomps.pop_front();
    if (!m.in_released_unstored.erase(id)) continue;
    // Not connected: the broker resends the PUBREL, answered then.
    if (m.live()) m.write_ack<codec::PubComp>(id, ReasonCode::Success, Outgoing::Type::PubComp);
  }
}

uint64_t Session::store_seq() const { return impl_->store_seq; }

bool Session::flush_before_close() const { return impl_->flush_before_close; }

bool Session::disconnect_drained() const { return impl_->disconnect_drained; }

const std::string& Session::assigned_client_id() const { return impl_->assigned_client_id; }

std::chrono::seconds Session::effective_keep_alive() const { return impl_->keep_alive; }

uint32_t Session::broker_max_packet_size() const { return impl_->broker_max_packet_size; }

}  // namespace mqtt::session
