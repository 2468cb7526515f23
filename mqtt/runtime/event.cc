// Incoming (owning copy of a received packet) and the one-line Event format.
#include <cstdint>
#include <cstring>
#include <ostream>
#include <sstream>
#include <type_traits>

#include "mqtt/event.h"

namespace mqtt {

namespace {

// Moves every view of a decoded packet from one buffer to a copy of it.
struct Rebase {
  uintptr_t old_begin;
  uintptr_t old_end;
  const uint8_t* new_begin;

  template <class P>
  bool inside(const P* p, size_t n) const {
    const auto q = reinterpret_cast<uintptr_t>(p);
    return p != nullptr && q >= old_begin && q + n <= old_end;
  }
  void sv(std::string_view& s) const {
    if (inside(s.data(), s.size())) {
      s = std::string_view(reinterpret_cast<const char*>(new_begin) +
                               (reinterpret_cast<uintptr_t>(s.data()) - old_begin),
                           s.size());
    }
  }
  void bytes(codec::Bytes& b) const {
    if (inside(b.data(), b.size())) {
      b = codec::Bytes(new_begin + (reinterpret_cast<uintptr_t>(b.data()) - old_begin), b.size());
    }
  }
  template <class T>
  void opt_sv(std::optional<T>& o) const {
    if (o) sv(*o);
  }
  void opt_bytes(std::optional<codec::Bytes>& o) const {
    if (o) bytes(*o);
  }
  void props(codec::Properties& p) const {
    opt_sv(p.content_type);
    opt_sv(p.response_topic);
    opt_bytes(p.correlation_data);
    opt_sv(p.assigned_client_identifier);
    opt_sv(p.authentication_method);
    opt_bytes(p.authentication_data);
    opt_sv(p.response_information);
    opt_sv(p.server_reference);
    opt_sv(p.reason_string);
    for (auto& u : p.user_properties) {
      sv(u.key);
      sv(u.value);
    }
  }
  void packet(codec::Packet& pk) const {
    std::visit(
        [&](auto& p) {
          using T = std::decay_t<decltype(p)>;
          if constexpr (std::is_same_v<T, codec::Connect>) {
            sv(p.client_id);
            if (p.will) {
              sv(p.will->topic);
              bytes(p.will->payload);
              props(p.will->properties);
            }
            opt_sv(p.username);
            opt_bytes(p.password);
            props(p.properties);
          } else if constexpr (std::is_same_v<T, codec::Publish>) {
            sv(p.topic);
            bytes(p.payload);
            props(p.properties);
          } else if constexpr (std::is_same_v<T, codec::Subscribe>) {
            for (auto& s : p.subscriptions) sv(s.filter);
            props(p.properties);
          } else if constexpr (std::is_same_v<T, codec::Unsubscribe>) {
            for (auto& f : p.filters) sv(f);
            props(p.properties);
          } else if constexpr (std::is_same_v<T, codec::PingReq> ||
                               std::is_same_v<T, codec::PingResp>) {
          } else {
            props(p.properties);
          }
        },
        pk);
  }
};

template <class T>
constexpr bool is_ack_v = std::is_same_v<T, codec::PubAck> || std::is_same_v<T, codec::PubRec> ||
                          std::is_same_v<T, codec::PubRel> || std::is_same_v<T, codec::PubComp>;

// dst = src. For the same alternative with no properties on either side
// (every ack and publish in 3.1.1, most in 5) only the fields are copied,
// not ~350 bytes of empty Properties: a pooled Incoming is refilled per
// message with the same kind of packet.
void copy_packet(codec::Packet& dst, const codec::Packet& src) {
  const bool done = dst.index() == src.index() && std::visit(
      [&](const auto& s) -> bool {
        using T = std::decay_t<decltype(s)>;
        if constexpr (is_ack_v<T> || std::is_same_v<T, codec::Publish>) {
          T& d = std::get<T>(dst);
          if (!s.properties.empty() || !d.properties.empty()) return false;
          d.packet_id = s.packet_id;
          if constexpr (std::is_same_v<T, codec::Publish>) {
            d.dup = s.dup;
            d.qos = s.qos;
            d.retain = s.retain;
            d.topic = s.topic;
            d.payload = s.payload;
          } else {
            d.reason_code = s.reason_code;
          }
          return true;
        } else {
          return false;
        }
      },
      src);
  if (!done) dst = src;
}

void rebase(codec::Packet& p, const uint8_t* old_data, size_t n, const uint8_t* new_data) {
  const auto b = reinterpret_cast<uintptr_t>(old_data);
  Rebase{b, b + n, new_data}.packet(p);
}

const char* boolstr(bool b) { return b ? "true" : "false"; }

const char* request_error_name(RequestError e) {
  switch (e) {
    case RequestError::None: return "None";
    case RequestError::Rejected: return "Rejected";
    case RequestError::SessionReset: return "SessionReset";
    case RequestError::ConnectionClosed: return "ConnectionClosed";
    case RequestError::PacketTooLarge: return "PacketTooLarge";
    case RequestError::QoSNotSupported: return "QoSNotSupported";
    case RequestError::RetainNotSupported: return "RetainNotSupported";
    case RequestError::ProtocolError: return "ProtocolError";
    case RequestError::TopicAliasInvalid: return "TopicAliasInvalid";
    case RequestError::FeatureNotSupported: return "FeatureNotSupported";
    case RequestError::StoreFailed: return "StoreFailed";
  }
  return "Unknown";
}

const char* outgoing_name(Outgoing::Type t) {
  switch (t) {
    case Outgoing::Type::Connect: return "Connect";
    case Outgoing::Type::Publish: return "Publish";
    case Outgoing::Type::Subscribe: return "Subscribe";
    case Outgoing::Type::Unsubscribe: return "Unsubscribe";
    case Outgoing::Type::PubAck: return "PubAck";
    case Outgoing::Type::PubRec: return "PubRec";
    case Outgoing::Type::PubRel: return "PubRel";
    case Outgoing::Type::PubComp: return "PubComp";
    case Outgoing::Type::PingReq: return "PingReq";
    case Outgoing::Type::Disconnect: return "Disconnect";
    case Outgoing::Type::Auth: return "Auth";
  }
  return "Unknown";
}

void print_codes(std::ostream& os, const std::vector<ReasonCode>& codes) {
  os << '[';
  for (size_t i = 0; i < codes.size(); ++i) {
    if (i) os << ", ";
    os << to_string(codes[i]);
  }
  os << ']';
}

void print_packet(std::ostream& os, const codec::Packet& pk) {
  std::visit(
      [&](const auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, codec::Publish>) {
          os << "Publish { topic: \"" << p.topic << "\", qos: " << static_cast<int>(p.qos)
             << ", pkid: " << p.packet_id << ", retain: " << boolstr(p.retain)
             << ", dup: " << boolstr(p.dup) << ", payload: " << p.payload.size() << " bytes }";
        } else if constexpr (std::is_same_v<T, codec::ConnAck>) {
          os << "ConnAck { session_present: " << boolstr(p.session_present)
             << ", code: " << to_string(p.reason_code) << " }";
        } else if constexpr (std::is_same_v<T, codec::PubAck> || std::is_same_v<T, codec::PubRec> ||
                             std::is_same_v<T, codec::PubRel> ||
                             std::is_same_v<T, codec::PubComp>) {
          os << (std::is_same_v<T, codec::PubAck>   ? "PubAck"
                 : std::is_same_v<T, codec::PubRec> ? "PubRec"
                 : std::is_same_v<T, codec::PubRel> ? "PubRel"
                                                    : "PubComp")
             << " { pkid: " << p.packet_id << ", code: " << to_string(p.reason_code) << " }";
        } else if constexpr (std::is_same_v<T, codec::SubAck>) {
          os << "SubAck { pkid: " << p.packet_id << ", return_codes: ";
          print_codes(os, p.reason_codes);
          os << " }";
        } else if constexpr (std::is_same_v<T, codec::UnsubAck>) {
          os << "UnsubAck { pkid: " << p.packet_id;
          if (!p.reason_codes.empty()) {
            os << ", reasons: ";
            print_codes(os, p.reason_codes);
          }
          os << " }";
        } else if constexpr (std::is_same_v<T, codec::PingResp>) {
          os << "PingResp";
        } else if constexpr (std::is_same_v<T, codec::PingReq>) {
          os << "PingReq";
        } else if constexpr (std::is_same_v<T, codec::Disconnect>) {
          os << "Disconnect { reason: " << to_string(p.reason_code) << " }";
        } else if constexpr (std::is_same_v<T, codec::Auth>) {
          os << "Auth { reason: " << to_string(p.reason_code) << " }";
        } else if constexpr (std::is_same_v<T, codec::Subscribe>) {
          os << "Subscribe { pkid: " << p.packet_id << ", filters: " << p.subscriptions.size()
             << " }";
        } else if constexpr (std::is_same_v<T, codec::Unsubscribe>) {
          os << "Unsubscribe { pkid: " << p.packet_id << ", filters: " << p.filters.size() << " }";
        } else {
          os << "Connect { client_id: \"" << p.client_id << "\" }";
        }
      },
      pk);
}

}  // namespace

void Incoming::assign(std::span<const uint8_t> raw, const codec::Packet& decoded) {
  // A topic resolved from a Topic Alias lies outside `raw`.
  std::string_view topic;
  if (const auto* p = std::get_if<codec::Publish>(&decoded); p && !p->topic.empty()) {
    const auto b = reinterpret_cast<uintptr_t>(raw.data());
    if (!Rebase{b, b + raw.size(), nullptr}.inside(p->topic.data(), p->topic.size())) {
      topic = p->topic;
    }
  }
  size_ = raw.size();
  topic_size_ = topic.size();
  const size_t total = size_ + topic_size_;
  uint8_t* dst;
  if (total <= kInlineBytes) {
    heap_.clear();
    dst = inline_;
    if (size_ > 0) std::memcpy(dst, raw.data(), size_);
    if (topic_size_ > 0) std::memcpy(dst + size_, topic.data(), topic_size_);
  } else {
    heap_.reserve(total);
    heap_.assign(raw.begin(), raw.end());
    heap_.insert(heap_.end(), topic.begin(), topic.end());
    dst = heap_.data();
  }
  copy_packet(packet_, decoded);
  rebase(packet_, raw.data(), raw.size(), dst);
  if (topic_size_ > 0) {
    std::get<codec::Publish>(packet_).topic =
        std::string_view(reinterpret_cast<const char*>(dst + size_), topic_size_);
  }
}

Incoming::Incoming(std::span<const uint8_t> raw, const codec::Packet& decoded, ProtocolVersion v,
                   std::string broker)
    : version_(v), broker_(std::move(broker)) {
  assign(raw, decoded);
}

Incoming::Incoming(const Incoming& o) : version_(o.version_), broker_(o.broker_) {
  assign(o.raw(), o.packet_);
}

Incoming& Incoming::operator=(const Incoming& o) {
  if (this != &o) {
    version_ = o.version_;
    broker_ = o.broker_;
    assign(o.raw(), o.packet_);
  }
  return *this;
}

// Heap bytes move with their vector (views stay valid); inline bytes are
// copied and the views rebased.
Incoming::Incoming(Incoming&& o) noexcept
    : heap_(std::move(o.heap_)),
      size_(o.size_),
      topic_size_(o.topic_size_),
      packet_(std::move(o.packet_)),
      version_(o.version_),
      broker_(std::move(o.broker_)) {
  const size_t total = size_ + topic_size_;
  if (total <= kInlineBytes) {
    if (total > 0) std::memcpy(inline_, o.inline_, total);
    rebase(packet_, o.inline_, total, inline_);
  }
  o.size_ = 0;
  o.topic_size_ = 0;
}

Incoming& Incoming::operator=(Incoming&& o) noexcept {
  if (this != &o) {
    heap_ = std::move(o.heap_);
    size_ = o.size_;
    topic_size_ = o.topic_size_;
    packet_ = std::move(o.packet_);
    version_ = o.version_;
    broker_ = std::move(o.broker_);
    const size_t total = size_ + topic_size_;
    if (total <= kInlineBytes) {
      if (total > 0) std::memcpy(inline_, o.inline_, total);
      rebase(packet_, o.inline_, total, inline_);
    }
    o.size_ = 0;
    o.topic_size_ = 0;
  }
  return *this;
}

std::string_view to_string(SessionReset::Cause c) {
  switch (c) {
    case SessionReset::Cause::BrokerLostSession: return "BrokerLostSession";
    case SessionReset::Cause::OptionsChanged: return "OptionsChanged";
  }
  return "Unknown";
}

std::string_view to_string(RequestFailed::Kind k) {
  switch (k) {
    case RequestFailed::Kind::Publish: return "Publish";
    case RequestFailed::Kind::Subscribe: return "Subscribe";
    case RequestFailed::Kind::Unsubscribe: return "Unsubscribe";
    case RequestFailed::Kind::Ack: return "Ack";
    case RequestFailed::Kind::Disconnect: return "Disconnect";
    case RequestFailed::Kind::Auth: return "Auth";
  }
  return "Unknown";
}

std::ostream& operator<<(std::ostream& os, const Event& e) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, detail::IncomingRef>) {
          const Incoming* in = v.get();
          if (in == nullptr) {
            os << "Empty";
            return;
          }
          os << "Incoming(";
          print_packet(os, in->packet());
          if (!in->broker().empty()) os << " from " << in->broker();
          os << ')';
        } else if constexpr (std::is_same_v<T, Outgoing>) {
          os << "Outgoing(" << outgoing_name(v.type);
          if (v.packet_id != 0 || v.dup) {
            os << " { pkid: " << v.packet_id << ", dup: " << boolstr(v.dup) << " }";
          }
          os << ')';
        } else if constexpr (std::is_same_v<T, SessionReset>) {
          os << "SessionReset { cause: " << to_string(v.cause)
             << ", dropped_publishes: " << v.dropped_publishes
             << ", dropped_pubrels: " << v.dropped_pubrels
             << ", subscriptions_lost: " << boolstr(v.subscriptions_lost);
          if (v.resubscribing) os << ", resubscribing: " << v.resubscribing;
          os << " }";
        } else if constexpr (std::is_same_v<T, RequestFailed>) {
          os << "RequestFailed { " << to_string(v.kind) << ", reason: " << request_error_name(v.reason);
          if (!v.topic.empty()) os << ", topic: \"" << v.topic << '"';
          if (v.kind == RequestFailed::Kind::Publish || v.kind == RequestFailed::Kind::Ack) {
            os << ", qos: " << static_cast<int>(v.qos);
          }
          if (v.packet_id) os << ", pkid: " << v.packet_id;
          if (v.count != 1) os << ", count: " << v.count;
          if (!v.message.empty()) os << ", message: \"" << v.message << '"';
          os << " }";
        } else if constexpr (std::is_same_v<T, RequestStored>) {
          os << "RequestStored { " << to_string(v.kind) << ", topic: \"" << v.topic
             << "\", qos: " << static_cast<int>(v.qos) << ", pkid: " << v.packet_id << " }";
        } else {
          os << "Error(" << describe(v) << ')';  // describe() marks terminal ones
        }
      },
      e.variant());
  return os;
}

std::string to_string(const Event& e) {
  std::ostringstream os;
  os << e;
  return os.str();
}

}  // namespace mqtt
