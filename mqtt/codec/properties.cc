// MQTT 5 properties (spec 2.2.2): equality, validation, encoding, decoding.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>

#include "mqtt/codec/detail/wire.h"
#include "mqtt/codec/encoder.h"
#include "mqtt/codec/properties.h"
#include "mqtt/codec/topic.h"

namespace mqtt::codec {
namespace {

bool bytes_equal(Bytes a, Bytes b) {
  return a.size() == b.size() && (a.empty() || std::equal(a.begin(), a.end(), b.begin()));
}
bool opt_bytes_equal(const std::optional<Bytes>& a, const std::optional<Bytes>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || bytes_equal(*a, *b);
}

// Bit for a property context (see detail::kWillContext).
constexpr uint16_t ctx_bit(uint8_t ctx) { return static_cast<uint16_t>(1u << ctx); }
constexpr uint16_t pt(PacketType t) { return ctx_bit(static_cast<uint8_t>(t)); }
constexpr uint16_t kWill = ctx_bit(detail::kWillContext);

// Spec table 2-4: which packets (and the Will) may carry each property.
// Zero means "not a defined property identifier". `mask` holds every packet
// the property may appear on in either direction; `server_only` and
// `client_only` the packets (of those that flow both ways) where only one
// side may send it.
struct AllowedTable {
  uint16_t mask[64] = {};
  uint16_t server_only[64] = {};  // not from the client
  uint16_t client_only[64] = {};  // not from the server
  constexpr AllowedTable() {
    using P = PacketType;
    auto set = [this](PropertyId id, uint16_t m) { mask[static_cast<uint8_t>(id)] = m; };
    // [MQTT-3.3.4-6]: a PUBLISH from a client carries no Subscription Identifier.
    server_only[static_cast<uint8_t>(PropertyId::SubscriptionIdentifier)] = pt(P::Publish);
    // Spec 3.14.2.2.5 and 4.11: the Server sends a Server Reference.
    server_only[static_cast<uint8_t>(PropertyId::ServerReference)] = pt(P::Disconnect);
    // [MQTT-3.14.2-2]: no Session Expiry Interval on a DISCONNECT from the server.
    client_only[static_cast<uint8_t>(PropertyId::SessionExpiryInterval)] = pt(P::Disconnect);
    const uint16_t will_pub = pt(P::Publish) | kWill;
    set(PropertyId::PayloadFormatIndicator, will_pub);
    set(PropertyId::MessageExpiryInterval, will_pub);
    set(PropertyId::ContentType, will_pub);
    set(PropertyId::ResponseTopic, will_pub);
    set(PropertyId::CorrelationData, will_pub);
    set(PropertyId::SubscriptionIdentifier, pt(P::Publish) | pt(P::Subscribe));
    set(PropertyId::SessionExpiryInterval, pt(P::Connect) | pt(P::ConnAck) | pt(P::Disconnect));
    set(PropertyId::AssignedClientIdentifier, pt(P::ConnAck));
    set(PropertyId::ServerKeepAlive, pt(P::ConnAck));
    set(PropertyId::AuthenticationMethod, pt(P::Connect) | pt(P::ConnAck) | pt(P::Auth));
    set(PropertyId::AuthenticationData, pt(P::Connect) | pt(P::ConnAck) | pt(P::Auth));
    set(PropertyId::RequestProblemInformation, pt(P::Connect));
    set(PropertyId::WillDelayInterval, kWill);
    set(PropertyId::RequestResponseInformation, pt(P::Connect));
    set(PropertyId::ResponseInformation, pt(P::ConnAck));
    set(PropertyId::ServerReference, pt(P::ConnAck) | pt(P::Disconnect));
    set(PropertyId::ReasonString, pt(P::ConnAck) | pt(P::PubAck) | pt(P::PubRec) |
                                      pt(P::PubRel) | pt(P::PubComp) | pt(P::SubAck) |
                                      pt(P::UnsubAck) | pt(P::Disconnect) | pt(P::Auth));
    set(PropertyId::ReceiveMaximum, pt(P::Connect) | pt(P::ConnAck));
    set(PropertyId::TopicAliasMaximum, pt(P::Connect) | pt(P::ConnAck));
    set(PropertyId::TopicAlias, pt(P::Publish));
    set(PropertyId::MaximumQoS, pt(P::ConnAck));
    set(PropertyId::RetainAvailable, pt(P::ConnAck));
    set(PropertyId::UserProperty,
        pt(P::Connect) | pt(P::ConnAck) | pt(P::Publish) | kWill | pt(P::PubAck) |
            pt(P::PubRec) | pt(P::PubRel) | pt(P::PubComp) | pt(P::Subscribe) |
            pt(P::SubAck) | pt(P::Unsubscribe) | pt(P::UnsubAck) | pt(P::Disconnect) |
            pt(P::Auth));
    set(PropertyId::MaximumPacketSize, pt(P::Connect) | pt(P::ConnAck));
    set(PropertyId::WildcardSubscriptionAvailable, pt(P::ConnAck));
    set(PropertyId::SubscriptionIdentifierAvailable, pt(P::ConnAck));
    set(PropertyId::SharedSubscriptionAvailable, pt(P::ConnAck));
  }
};
constexpr AllowedTable kAllowed{};

// Whether property `raw_id` (a defined one) may appear in context `ctx` sent
// in direction `dir`.
inline bool allowed(uint8_t raw_id, uint8_t ctx, Direction dir) {
  uint16_t m = kAllowed.mask[raw_id];
  if (dir == Direction::ClientToServer) m &= static_cast<uint16_t>(~kAllowed.server_only[raw_id]);
  if (dir == Direction::ServerToClient) m &= static_cast<uint16_t>(~kAllowed.client_only[raw_id]);
  return (m & ctx_bit(ctx)) != 0;
}
inline bool allowed(PropertyId id, uint8_t ctx, Direction dir) {
  return allowed(static_cast<uint8_t>(id), ctx, dir);
}

constexpr uint32_t kMaxVbi = 268435455;

// Calls the visitor for every present property in encoding order (increasing
// identifier, user properties last). Stops at the first error.
template <class V>
CodecError visit(const Properties& p, V& v) {
  using detail::kOk;
  using I = PropertyId;
#define MQTT_VISIT(expr) \
  if (auto e = (expr); e != kOk) return e
  if (p.payload_format_indicator) MQTT_VISIT(v.byte(I::PayloadFormatIndicator, *p.payload_format_indicator));
  if (p.message_expiry_interval) MQTT_VISIT(v.u32(I::MessageExpiryInterval, *p.message_expiry_interval));
  if (p.content_type) MQTT_VISIT(v.str(I::ContentType, *p.content_type));
  if (p.response_topic) MQTT_VISIT(v.str(I::ResponseTopic, *p.response_topic));
  if (p.correlation_data) MQTT_VISIT(v.bin(I::CorrelationData, *p.correlation_data));
  if (!p.subscription_identifiers.empty()) MQTT_VISIT(v.sub_ids(p.subscription_identifiers));
  if (p.session_expiry_interval) MQTT_VISIT(v.u32(I::SessionExpiryInterval, *p.session_expiry_interval));
  if (p.assigned_client_identifier) MQTT_VISIT(v.str(I::AssignedClientIdentifier, *p.assigned_client_identifier));
  if (p.server_keep_alive) MQTT_VISIT(v.u16(I::ServerKeepAlive, *p.server_keep_alive));
  if (p.authentication_method) MQTT_VISIT(v.str(I::AuthenticationMethod, *p.authentication_method));
  if (p.authentication_data) MQTT_VISIT(v.bin(I::AuthenticationData, *p.authentication_data));
  if (p.request_problem_information) MQTT_VISIT(v.byte(I::RequestProblemInformation, *p.request_problem_information));
  if (p.will_delay_interval) MQTT_VISIT(v.u32(I::WillDelayInterval, *p.will_delay_interval));
  if (p.request_response_information) MQTT_VISIT(v.byte(I::RequestResponseInformation, *p.request_response_information));
  if (p.response_information) MQTT_VISIT(v.str(I::ResponseInformation, *p.response_information));
  if (p.server_reference) MQTT_VISIT(v.str(I::ServerReference, *p.server_reference));
  if (p.reason_string) MQTT_VISIT(v.str(I::ReasonString, *p.reason_string));
  if (p.receive_maximum) MQTT_VISIT(v.u16(I::ReceiveMaximum, *p.receive_maximum));
  if (p.topic_alias_maximum) MQTT_VISIT(v.u16(I::TopicAliasMaximum, *p.topic_alias_maximum));
  if (p.topic_alias) MQTT_VISIT(v.u16(I::TopicAlias, *p.topic_alias));
  if (p.maximum_qos) MQTT_VISIT(v.byte(I::MaximumQoS, *p.maximum_qos));
  if (p.retain_available) MQTT_VISIT(v.byte(I::RetainAvailable, *p.retain_available));
  if (p.maximum_packet_size) MQTT_VISIT(v.u32(I::MaximumPacketSize, *p.maximum_packet_size));
  if (p.wildcard_subscription_available) MQTT_VISIT(v.byte(I::WildcardSubscriptionAvailable, *p.wildcard_subscription_available));
  if (p.subscription_identifiers_available) MQTT_VISIT(v.byte(I::SubscriptionIdentifierAvailable, *p.subscription_identifiers_available));
  if (p.shared_subscription_available) MQTT_VISIT(v.byte(I::SharedSubscriptionAvailable, *p.shared_subscription_available));
  for (const UserProperty& up : p.user_properties) MQTT_VISIT(v.pair(up));
#undef MQTT_VISIT
  return kOk;
}

CodecError check_string(std::string_view s) {
  if (s.size() > 65535) return CodecError::StringTooLong;
  return detail::check_utf8(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// Validating size computation.
struct Measure {
  uint8_t ctx;
  Direction dir;
  uint64_t size = 0;

  CodecError check(PropertyId id) const {
    return allowed(id, ctx, dir) ? detail::kOk : CodecError::PropertyNotAllowed;
  }
  CodecError byte(PropertyId id, uint8_t v) {
    if (auto e = check(id); e != detail::kOk) return e;
    if (v > 1) return CodecError::InvalidPropertyValue;  // every Byte property is 0 or 1
    size += 2;
    return detail::kOk;
  }
  CodecError u16(PropertyId id, uint16_t v) {
    if (auto e = check(id); e != detail::kOk) return e;
    if (v == 0 && (id == PropertyId::ReceiveMaximum || id == PropertyId::TopicAlias))
      return CodecError::InvalidPropertyValue;
    size += 3;
    return detail::kOk;
  }
  CodecError u32(PropertyId id, uint32_t v) {
    if (auto e = check(id); e != detail::kOk) return e;
    if (v == 0 && id == PropertyId::MaximumPacketSize) return CodecError::InvalidPropertyValue;
    size += 5;
    return detail::kOk;
  }
  CodecError sub_ids(const std::vector<uint32_t>& ids) {
    if (auto e = check(PropertyId::SubscriptionIdentifier); e != detail::kOk) return e;
    if (ids.size() > 1 && ctx != static_cast<uint8_t>(PacketType::Publish))
      return CodecError::DuplicateProperty;
    for (uint32_t v : ids) {
      if (v == 0 || v > kMaxVbi) return CodecError::InvalidPropertyValue;
      size += 1 + variable_byte_integer_size(v);
    }
    return detail::kOk;
  }
  CodecError str(PropertyId id, std::string_view s) {
    if (auto e = check(id); e != detail::kOk) return e;
    if (id == PropertyId::ResponseTopic) {
      if (auto e = validate_topic_name(s)) return *e;
    } else if (auto e = check_string(s); e != detail::kOk) {
      return e;
    }
    size += 3 + s.size();
    return detail::kOk;
  }
  CodecError bin(PropertyId id, Bytes b) {
    if (auto e = check(id); e != detail::kOk) return e;
    if (b.size() > 65535) return CodecError::StringTooLong;
    size += 3 + b.size();
    return detail::kOk;
  }
  CodecError pair(const UserProperty& up) {
    if (auto e = check(PropertyId::UserProperty); e != detail::kOk) return e;
    if (auto e = check_string(up.key); e != detail::kOk) return e;
    if (auto e = check_string(up.value); e != detail::kOk) return e;
    size += 5 + up.key.size() + up.value.size();
    return detail::kOk;
  }
};

struct Write {
  detail::Writer& w;
  void id(PropertyId id) { w.u8(static_cast<uint8_t>(id)); }
  CodecError byte(PropertyId i, uint8_t v) {
    id(i);
    w.u8(v);
    return detail::kOk;
  }
  CodecError u16(PropertyId i, uint16_t v) {
    id(i);
    w.u16(v);
    return detail::kOk;
  }
  CodecError u32(PropertyId i, uint32_t v) {
    id(i);
    w.u32(v);
    return detail::kOk;
  }
  CodecError sub_ids(const std::vector<uint32_t>& ids) {
    for (uint32_t v : ids) {
      id(PropertyId::SubscriptionIdentifier);
      w.vbi(v);
    }
    return detail::kOk;
  }
  CodecError str(PropertyId i, std::string_view s) {
    id(i);
    w.str(s);
    return detail::kOk;
  }
  CodecError bin(PropertyId i, Bytes b) {
    id(i);
    w.bin(b);
    return detail::kOk;
  }
  CodecError pair(const UserProperty& up) {
    id(PropertyId::UserProperty);
    w.str(up.key);
    w.str(up.value);
    return detail::kOk;
  }
};

}  // namespace

bool Properties::empty() const {
  // One pass of loads and ORs, no branch per field: this runs for every
  // publish (almost always on an empty set).
  unsigned any = 0;
  any |= payload_format_indicator.has_value();
  any |= message_expiry_interval.has_value();
  any |= content_type.has_value();
  any |= response_topic.has_value();
  any |= correlation_data.has_value();
  any |= !subscription_identifiers.empty();
  any |= session_expiry_interval.has_value();
  any |= assigned_client_identifier.has_value();
  any |= server_keep_alive.has_value();
  any |= authentication_method.has_value();
  any |= authentication_data.has_value();
  any |= request_problem_information.has_value();
  any |= will_delay_interval.has_value();
  any |= request_response_information.has_value();
  any |= response_information.has_value();
  any |= server_reference.has_value();
  any |= reason_string.has_value();
  any |= receive_maximum.has_value();
  any |= topic_alias_maximum.has_value();
  any |= topic_alias.has_value();
  any |= maximum_qos.has_value();
  any |= retain_available.has_value();
  any |= !user_properties.empty();
  any |= maximum_packet_size.has_value();
  any |= wildcard_subscription_available.has_value();
  any |= subscription_identifiers_available.has_value();
  any |= shared_subscription_available.has_value();
  return any == 0;
}

bool Properties::operator==(const Properties& o) const {
  return payload_format_indicator == o.payload_format_indicator &&
         message_expiry_interval == o.message_expiry_interval &&
         content_type == o.content_type && response_topic == o.response_topic &&
         opt_bytes_equal(correlation_data, o.correlation_data) &&
         subscription_identifiers == o.subscription_identifiers &&
         session_expiry_interval == o.session_expiry_interval &&
         assigned_client_identifier == o.assigned_client_identifier &&
         server_keep_alive == o.server_keep_alive &&
         authentication_method == o.authentication_method &&
         opt_bytes_equal(authentication_data, o.authentication_data) &&
         request_problem_information == o.request_problem_information &&
         will_delay_interval == o.will_delay_interval &&
         request_response_information == o.request_response_information &&
         response_information == o.response_information &&
         server_reference == o.server_reference && reason_string == o.reason_string &&
         receive_maximum == o.receive_maximum && topic_alias_maximum == o.topic_alias_maximum &&
         topic_alias == o.topic_alias && maximum_qos == o.maximum_qos &&
         retain_available == o.retain_available && user_properties == o.user_properties &&
         maximum_packet_size == o.maximum_packet_size &&
         wildcard_subscription_available == o.wildcard_subscription_available &&
         subscription_identifiers_available == o.subscription_identifiers_available &&
         shared_subscription_available == o.shared_subscription_available;
}

namespace detail {

CodecError measure_properties(const Properties& p, uint8_t ctx, Direction dir,
                              uint32_t& body_len) {
  if (&p == &kNoProperties || p.empty()) {
    body_len = 0;
    return kOk;
  }
  Measure m{ctx, dir};
  if (auto e = visit(p, m); e != kOk) return e;
  if (m.size > kMaxVbi) return CodecError::PacketTooLarge;
  body_len = static_cast<uint32_t>(m.size);
  return kOk;
}

void write_properties(const Properties& p, uint32_t body_len, Writer& w) {
  w.vbi(body_len);
  if (body_len == 0) return;
  Write v{w};
  (void)visit(p, v);
}

void reset_properties(Properties& p) {
  if (p.empty()) return;
  p.payload_format_indicator.reset();
  p.message_expiry_interval.reset();
  p.content_type.reset();
  p.response_topic.reset();
  p.correlation_data.reset();
  p.subscription_identifiers.clear();
  p.session_expiry_interval.reset();
  p.assigned_client_identifier.reset();
  p.server_keep_alive.reset();
  p.authentication_method.reset();
  p.authentication_data.reset();
  p.request_problem_information.reset();
  p.will_delay_interval.reset();
  p.request_response_information.reset();
  p.response_information.reset();
  p.server_reference.reset();
  p.reason_string.reset();
  p.receive_maximum.reset();
  p.topic_alias_maximum.reset();
  p.topic_alias.reset();
  p.maximum_qos.reset();
  p.retain_available.reset();
  p.user_properties.clear();
  p.maximum_packet_size.reset();
  p.wildcard_subscription_available.reset();
  p.subscription_identifiers_available.reset();
  p.shared_subscription_available.reset();
}

namespace {

CodecError read_string(Reader& r, std::string_view& out) {
  const size_t off = r.pos;
  const uint8_t* d;
  size_t n;
  if (auto e = r.bin(d, n); e != kOk) return e;
  if (auto e = check_utf8(d, n); e != kOk) return r.fail(e, off);
  out = std::string_view(reinterpret_cast<const char*>(d), n);
  return kOk;
}

}  // namespace

CodecError decode_properties(Reader& r, uint8_t ctx, Properties& out) {
  const size_t len_off = r.pos;
  uint32_t len;
  if (auto e = r.vbi(len); e != kOk) return e;
  if (len == 0) return kOk;
  if (len > r.left()) return r.fail(CodecError::LengthExceedsPacket, len_off);
  const size_t outer_end = r.end;
  r.end = r.pos + len;
  uint64_t seen = 0;
  const bool multi_sub_ids = ctx == static_cast<uint8_t>(PacketType::Publish);

  while (r.pos < r.end) {
    const size_t off = r.pos;
    const uint8_t raw_id = r.base[r.pos++];
    if (raw_id >= 64 || kAllowed.mask[raw_id] == 0)
      return r.fail(CodecError::UnknownProperty, off);
    if (!allowed(raw_id, ctx, r.dir)) return r.fail(CodecError::PropertyNotAllowed, off);
    const auto id = static_cast<PropertyId>(raw_id);
    if (id != PropertyId::UserProperty &&
        !(id == PropertyId::SubscriptionIdentifier && multi_sub_ids)) {
      const uint64_t bit = uint64_t{1} << raw_id;
      if (seen & bit) return r.fail(CodecError::DuplicateProperty, off);
      seen |= bit;
    }

    CodecError e = kOk;
    auto byte_prop = [&](std::optional<uint8_t>& dst) {
      uint8_t v;
      if ((e = r.u8(v)) != kOk) return;
      if (v > 1) {
        e = r.fail(CodecError::InvalidPropertyValue, off);
        return;
      }
      dst = v;
    };
    auto u16_prop = [&](std::optional<uint16_t>& dst, bool nonzero) {
      uint16_t v;
      if ((e = r.u16(v)) != kOk) return;
      if (nonzero && v == 0) {
        e = r.fail(CodecError::InvalidPropertyValue, off);
        return;
      }
      dst = v;
    };
    auto u32_prop = [&](std::optional<uint32_t>& dst, bool nonzero) {
      uint32_t v;
      if ((e = r.u32(v)) != kOk) return;
      if (nonzero && v == 0) {
        e = r.fail(CodecError::InvalidPropertyValue, off);
        return;
      }
      dst = v;
    };
    auto str_prop = [&](std::optional<std::string_view>& dst) {
      std::string_view s;
      if ((e = read_string(r, s)) != kOk) return;
      dst = s;
    };
    auto bin_prop = [&](std::optional<Bytes>& dst) {
      Bytes b;
      if ((e = r.bin(b)) != kOk) return;
      dst = b;
    };

    switch (id) {
      case PropertyId::PayloadFormatIndicator: byte_prop(out.payload_format_indicator); break;
      case PropertyId::MessageExpiryInterval: u32_prop(out.message_expiry_interval, false); break;
      case PropertyId::ContentType: str_prop(out.content_type); break;
      case PropertyId::ResponseTopic: {
        const size_t soff = r.pos;
        str_prop(out.response_topic);
        if (e == kOk) {
          if (auto te = validate_topic_name(*out.response_topic)) e = r.fail(*te, soff);
        }
        break;
      }
      case PropertyId::CorrelationData: bin_prop(out.correlation_data); break;
      case PropertyId::SubscriptionIdentifier: {
        uint32_t v;
        if ((e = r.vbi(v)) != kOk) break;
        if (v == 0) {
          e = r.fail(CodecError::InvalidPropertyValue, off);
          break;
        }
        out.subscription_identifiers.push_back(v);
        break;
      }
      case PropertyId::SessionExpiryInterval: u32_prop(out.session_expiry_interval, false); break;
      case PropertyId::AssignedClientIdentifier: str_prop(out.assigned_client_identifier); break;
      case PropertyId::ServerKeepAlive: u16_prop(out.server_keep_alive, false); break;
      case PropertyId::AuthenticationMethod: str_prop(out.authentication_method); break;
      case PropertyId::AuthenticationData: bin_prop(out.authentication_data); break;
      case PropertyId::RequestProblemInformation: byte_prop(out.request_problem_information); break;
      case PropertyId::WillDelayInterval: u32_prop(out.will_delay_interval, false); break;
      case PropertyId::RequestResponseInformation:
        byte_prop(out.request_response_information);
        break;
      case PropertyId::ResponseInformation: str_prop(out.response_information); break;
      case PropertyId::ServerReference: str_prop(out.server_reference); break;
      case PropertyId::ReasonString: str_prop(out.reason_string); break;
      case PropertyId::ReceiveMaximum: u16_prop(out.receive_maximum, true); break;
      case PropertyId::TopicAliasMaximum: u16_prop(out.topic_alias_maximum, false); break;
      case PropertyId::TopicAlias: u16_prop(out.topic_alias, true); break;
      case PropertyId::MaximumQoS: byte_prop(out.maximum_qos); break;
      case PropertyId::RetainAvailable: byte_prop(out.retain_available); break;
      case PropertyId::UserProperty: {
        UserProperty up;
        if ((e = read_string(r, up.key)) != kOk) break;
        if ((e = read_string(r, up.value)) != kOk) break;
        out.user_properties.push_back(up);
        break;
      }
      case PropertyId::MaximumPacketSize: u32_prop(out.maximum_packet_size, true); break;
      case PropertyId::WildcardSubscriptionAvailable:
        byte_prop(out.wildcard_subscription_available);
        break;
      case PropertyId::SubscriptionIdentifierAvailable:
        byte_prop(out.subscription_identifiers_available);
        break;
      case PropertyId::SharedSubscriptionAvailable:
        byte_prop(out.shared_subscription_available);
        break;
    }
    if (e != kOk) return e;
  }
  r.end = outer_end;
  return kOk;
}

}  // namespace detail
}  // namespace mqtt::codec
