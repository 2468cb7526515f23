// What Connection::next() yields: an incoming packet, an outgoing packet (when
// asked for), a session reset notice, a connection error, or a failed
// untracked request.
#pragma once

#include <atomic>
#include <cstdint>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "mqtt/codec/packets.h"
#include "mqtt/completion.h"
#include "mqtt/connection_error.h"
#include "mqtt/outgoing.h"

namespace mqtt {

namespace runtime {
class IncomingPool;
}

// An incoming packet that owns its bytes: `packet()`'s views (topic, payload,
// string properties) point into this object's own buffer and stay valid as
// long as it lives, also after it is moved or copied. Packets of up to
// kInlineBytes (acks, small publishes) are stored inline: no heap allocation.
// An MQTT 5 PUBLISH sent with a Topic Alias has its resolved topic in
// publish()->topic (stored after the raw bytes, in the same buffer: as much
// room as the same message sent with its topic would take); raw() is the
// packet as received, whose topic may be empty. A value type: const calls
// may be made from any number of threads at once; nothing here blocks.
class Incoming {
 public:
  static constexpr size_t kInlineBytes = 128;  // larger packets go to the heap

  Incoming() = default;
  // Copies `raw` (one whole packet) and rebinds `decoded`'s views to the copy.
  // `broker`: see broker().
  Incoming(std::span<const uint8_t> raw, const codec::Packet& decoded, ProtocolVersion v,
           std::string broker = {});
  // Copies and moves keep packet()'s views valid: they point into the new
  // object's buffer.
  // @{
  Incoming(const Incoming& o);
  Incoming& operator=(const Incoming& o);
  Incoming(Incoming&& o) noexcept;
  Incoming& operator=(Incoming&& o) noexcept;
  // @}

  // The decoded packet; its views point into this object.
  const codec::Packet& packet() const { return packet_; }
  // The packet's type.
  codec::PacketType type() const { return codec::packet_type(packet_); }
  // Non-null when the packet is a PUBLISH.
  const codec::Publish* publish() const { return std::get_if<codec::Publish>(&packet_); }
  // The packet's bytes as received (fixed header included).
  std::span<const uint8_t> raw() const { return {data(), size_}; }
  // CONNACK only: the broker that answered, as to_string(BrokerAddress)
  // names it ("host:port", "unix:/path"); with MqttOptions::brokers, says
  // which one the client is now connected to. Empty for other packets.
  const std::string& broker() const { return broker_; }

 private:
  const uint8_t* data() const {
    return size_ + topic_size_ <= kInlineBytes ? inline_ : heap_.data();
  }
  friend class runtime::IncomingPool;  // refills pooled objects in place

  // Stores `raw` and points packet_'s views (which point into `raw`) at it.
  // A PUBLISH topic outside `raw` (resolved from a Topic Alias) is stored
  // after it.
  void assign(std::span<const uint8_t> raw, const codec::Packet& decoded);

  uint8_t inline_[kInlineBytes];
  std::vector<uint8_t> heap_;  // used when size_ + topic_size_ > kInlineBytes
  size_t size_ = 0;            // raw bytes
  size_t topic_size_ = 0;      // resolved topic bytes after them (0: none)
  codec::Packet packet_;
  ProtocolVersion version_ = ProtocolVersion::V311;
  std::string broker_;  // CONNACK only (no allocation for other packets)
};

// Session state was dropped: the broker did not resume the session (CONNACK
// with session present = 0 after an earlier connection), or update_options()
// changed the protocol version or max_inflight, which needs a new session.
// The dropped in-flight messages' tokens fail with RequestError::SessionReset;
// untracked ones are also reported one by one as RequestFailed events.
struct SessionReset {
  // Why the session state was dropped.
  enum class Cause : uint8_t {
    BrokerLostSession,  // CONNACK session present = 0 on a reconnect
    OptionsChanged,     // update_options() needed a new session
  };
  uint32_t dropped_publishes = 0;  // QoS 1/2 PUBLISHes awaiting PUBACK/PUBREC
  uint32_t dropped_pubrels = 0;    // QoS 2 PUBRELs awaiting PUBCOMP
  Cause cause = Cause::BrokerLostSession;  // why
  // The broker no longer holds the subscriptions this client made earlier
  // (at least one filter had been granted). With auto_resubscribe they are
  // being sent again: `resubscribing` filters.
  // @{
  bool subscriptions_lost = false;
  uint32_t resubscribing = 0;
  // @}
};

// The cause's name. Pure: any thread, never blocks.
std::string_view to_string(SessionReset::Cause c);

namespace detail {

// An Incoming shared by the events that hold it (it never changes once
// built). Events move a pointer, not the ~1 KB packet. Nodes come from the
// connection's pool (runtime/incoming_pool.h), which takes them back when
// the last event lets go, on any thread; a node without a pool is deleted.
struct IncomingNode {
  Incoming value;
  std::atomic<uint32_t> refs{1};
  runtime::IncomingPool* pool = nullptr;
  IncomingNode* next = nullptr;  // in the pool's free lists
};

void return_to_pool(IncomingNode* n) noexcept;  // runtime/incoming_pool.cc

class IncomingRef {
 public:
  IncomingRef() = default;
  explicit IncomingRef(IncomingNode* n) noexcept : n_(n) {}
  IncomingRef(const IncomingRef& o) noexcept : n_(o.n_) {
    if (n_) n_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  IncomingRef(IncomingRef&& o) noexcept : n_(o.n_) { o.n_ = nullptr; }
  IncomingRef& operator=(const IncomingRef& o) noexcept {
    IncomingRef tmp(o);
    std::swap(n_, tmp.n_);
    return *this;
  }
  IncomingRef& operator=(IncomingRef&& o) noexcept {
    std::swap(n_, o.n_);
    return *this;
  }
  ~IncomingRef() {
    if (n_ && n_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      if (n_->pool) {
        return_to_pool(n_);
      } else {
        delete n_;
      }
    }
  }
  const Incoming* get() const noexcept { return n_ ? &n_->value : nullptr; }

 private:
  IncomingNode* n_ = nullptr;
};

}  // namespace detail

// A request that a Client call accepted (it returned ok) but that failed
// afterwards, reported for requests WITHOUT a token (a tracked request
// reports through its token instead, never both). Causes: a broker limit
// learnt from an MQTT 5 CONNACK (PacketTooLarge, QoSNotSupported,
// RetainNotSupported, TopicAliasInvalid), a refusal by the broker (Rejected: PUBACK/PUBREC/
// PUBCOMP with a failure reason code), a session reset (SessionReset), the connection lost
// before a QoS 0 publish or a manual ack was written, a disconnect whose drain
// timeout expired, or the end of the loop (ConnectionClosed).
//
// When the event queue is full, failures are coalesced: one event per reason
// with `count` > 1, whose other fields describe the first of them. So a flood
// of failing publishes costs bounded memory.
struct RequestFailed {
  // The Client call that made the request.
  enum class Kind : uint8_t { Publish, Subscribe, Unsubscribe, Ack, Disconnect, Auth };
  Kind kind = Kind::Publish;  // which call
  RequestError reason = RequestError::ConnectionClosed;  // why it failed
  std::string topic;          // Publish: the topic name
  QoS qos = QoS::AtMostOnce;  // Publish, Ack
  uint16_t packet_id = 0;     // assigned packet identifier; 0 when none was
  uint64_t count = 1;         // requests this event stands for
  std::string message;        // human-readable detail (of the first)
};

// The kind's name. Pure: any thread, never blocks.
std::string_view to_string(RequestFailed::Kind k);

// Session store only (MqttOptions::session_store): an untracked QoS 1/2
// publish's record reached the store's durability (Token::stored() says the
// same for a tracked one, which gets no event). Same shape as RequestFailed
// (kind is always Publish). A store that fails reports RequestFailed with
// RequestError::StoreFailed instead: the message is still sent, but will
// not survive a restart. When the event queue is full these events wait in
// the connection's backlog like incoming packets (one per publish).
struct RequestStored {
  RequestFailed::Kind kind = RequestFailed::Kind::Publish;  // always Publish
  std::string topic;           // the topic name
  QoS qos = QoS::AtLeastOnce;  // 1 or 2
  uint16_t packet_id = 0;      // its packet identifier
};

// Copying an Event is cheap: an incoming packet is shared, not copied (it
// is immutable); the event may be kept, copied and moved to other threads.
class Event {
 public:
  // An incoming packet is held through a shared handle (incoming() is the
  // packet); the other alternatives are held by value.
  using Variant = std::variant<detail::IncomingRef, Outgoing, SessionReset, ConnectionError,
                               RequestFailed, RequestStored>;

  Event() = default;  // holds nothing: every accessor returns null
  // An event holding `i` (an incoming packet) or the given value; made by the
  // runtime, and by tests.
  // @{
  Event(Incoming&& i)                               // NOLINT
      : v_(detail::IncomingRef(new detail::IncomingNode{std::move(i)})) {}
  Event(const Incoming& i)                          // NOLINT
      : v_(detail::IncomingRef(new detail::IncomingNode{i})) {}
  explicit Event(detail::IncomingRef r) : v_(std::move(r)) {}
  Event(Outgoing o) : v_(o) {}                    // NOLINT
  Event(SessionReset s) : v_(s) {}                // NOLINT
  Event(ConnectionError e) : v_(std::move(e)) {}  // NOLINT
  Event(RequestFailed f) : v_(std::move(f)) {}    // NOLINT
  Event(RequestStored s) : v_(std::move(s)) {}    // NOLINT
  // @}

  // The alternative held, or null when the event holds another. They never
  // block; any thread.
  // @{
  const Incoming* incoming() const {
    const auto* r = std::get_if<detail::IncomingRef>(&v_);
    return r ? r->get() : nullptr;
  }
  const Outgoing* outgoing() const { return std::get_if<Outgoing>(&v_); }
  const SessionReset* session_reset() const { return std::get_if<SessionReset>(&v_); }
  const ConnectionError* error() const { return std::get_if<ConnectionError>(&v_); }
  const RequestFailed* request_failed() const { return std::get_if<RequestFailed>(&v_); }
  const RequestStored* request_stored() const { return std::get_if<RequestStored>(&v_); }
  // @}
  // Shortcut: the incoming PUBLISH, or null.
  const codec::Publish* publish() const { return incoming() ? incoming()->publish() : nullptr; }

  // The held alternative, for std::visit.
  const Variant& variant() const { return v_; }

 private:
  Variant v_;
};

// One line, e.g. `Incoming(Publish(topic="a/b", qos=1, pkid=3, payload=5 bytes))`.
// For logs; any thread, never blocks.
// @{
std::ostream& operator<<(std::ostream& os, const Event& e);
std::string to_string(const Event& e);
// @}

}  // namespace mqtt
