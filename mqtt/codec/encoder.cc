// Packet -> bytes for MQTT 3.1.1 and 5.0. Every encoder first "plans" the
// packet (validates it and computes the lengths), then writes it without
// further checks. No allocation.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <variant>

#include "mqtt/codec/detail/wire.h"
#include "mqtt/codec/encoder.h"
#include "mqtt/codec/topic.h"

namespace mqtt::codec {
namespace {

using detail::kOk;
using detail::Writer;

#define MQTT_TRY(expr) \
  if (auto e_ = (expr); e_ != kOk) return e_

struct Plan {
  Direction dir = Direction::Any;  // set before planning
  uint64_t remaining = 0;
  uint32_t props = 0;       // property section body length (MQTT 5)
  uint32_t will_props = 0;  // Will Properties body length (MQTT 5 CONNECT)
};

constexpr uint8_t ctx(PacketType t) { return static_cast<uint8_t>(t); }
constexpr uint8_t u8(ReasonCode rc) { return static_cast<uint8_t>(rc); }

inline uint64_t props_field_size(uint32_t body) {
  return variable_byte_integer_size(body) + uint64_t{body};
}

CodecError check_string(std::string_view s) {
  if (s.size() > 65535) return CodecError::StringTooLong;
  return detail::check_utf8(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

CodecError check_filter(std::string_view f) {
  if (f.size() > 65535) return CodecError::StringTooLong;
  return detail::check_topic_filter(f);
}

// Properties for `version`: MQTT 3.1.1 has none.
CodecError plan_props(const Properties& p, ProtocolVersion v, uint8_t c, Direction dir,
                      uint32_t& len) {
  if (v == ProtocolVersion::V311) return p.empty() ? kOk : CodecError::PropertiesNotSupported;
  return detail::measure_properties(p, c, dir, len);
}

// A client's Payload Format Indicator 1 promises well-formed UTF-8 (spec
// 3.3.2.3.2, 3.1.3.2.3). Only the sender of origin is held to it: a server
// forwards the indicator unaltered [MQTT-3.3.2-4], whatever the payload.
CodecError check_payload_format(const Properties& p, Bytes payload, Direction dir) {
  if (dir != Direction::ClientToServer || p.payload_format_indicator != uint8_t{1}) return kOk;
  return detail::check_utf8_payload(payload.data(), payload.size());
}

// --- CONNECT -------------------------------------------------------------------

CodecError plan(const Connect& p, ProtocolVersion v, Plan& pl) {
  const bool v5 = v == ProtocolVersion::V5;
  uint64_t n = 10;  // protocol name (6), level, flags, keep alive (2)
  MQTT_TRY(plan_props(p.properties, v, ctx(PacketType::Connect), pl.dir, pl.props));
  if (v5) n += props_field_size(pl.props);
  // Spec 3.1.2.11.10: Authentication Data only with an Authentication Method.
  if (p.properties.authentication_data && !p.properties.authentication_method)
    return CodecError::MissingAuthenticationMethod;
  MQTT_TRY(check_string(p.client_id));
  n += 2 + p.client_id.size();
  if (p.will) {
    const Will& w = *p.will;
    if (static_cast<uint8_t>(w.qos) > 2) return CodecError::InvalidQoS;
    MQTT_TRY(plan_props(w.properties, v, detail::kWillContext, pl.dir, pl.will_props));
    if (v5) n += props_field_size(pl.will_props);
    MQTT_TRY(check_payload_format(w.properties, w.payload, pl.dir));
    if (auto e = validate_topic_name(w.topic)) return *e;
    if (w.payload.size() > 65535) return CodecError::StringTooLong;
    n += 4 + w.topic.size() + w.payload.size();
  }
  if (p.username) {
    MQTT_TRY(check_string(*p.username));
    n += 2 + p.username->size();
  }
  if (p.password) {
    if (!v5 && !p.username) return CodecError::InvalidConnectFlags;  // [MQTT-3.1.2-22]
    if (p.password->size() > 65535) return CodecError::StringTooLong;
    n += 2 + p.password->size();
  }
  pl.remaining = n;
  return kOk;
}

uint8_t first_byte(const Connect&) { return 0x10; }

void write_body(const Connect& p, ProtocolVersion v, const Plan& pl, Writer& w) {
  const bool v5 = v == ProtocolVersion::V5;
  w.str("MQTT");
  w.u8(static_cast<uint8_t>(v));
  uint8_t flags = 0;
  if (p.clean_start) flags |= 0x02;
  if (p.will) {
    flags |= 0x04;
    flags |= static_cast<uint8_t>(static_cast<uint8_t>(p.will->qos) << 3);
    if (p.will->retain) flags |= 0x20;
  }
  if (p.password) flags |= 0x40;
  if (p.username) flags |= 0x80;
  w.u8(flags);
  w.u16(p.keep_alive);
  if (v5) detail::write_properties(p.properties, pl.props, w);
  w.str(p.client_id);
  if (p.will) {
    if (v5) detail::write_properties(p.will->properties, pl.will_props, w);
    w.str(p.will->topic);
    w.bin(p.will->payload);
  }
  if (p.username) w.str(*p.username);
  if (p.password) w.bin(*p.password);
}

// --- CONNACK -------------------------------------------------------------------

CodecError plan(const ConnAck& p, ProtocolVersion v, Plan& pl) {
  if (v == ProtocolVersion::V311) {
    uint8_t wire;
    if (!detail::connack_rc_to_v311(p.reason_code, wire)) return CodecError::InvalidReasonCode;
    MQTT_TRY(plan_props(p.properties, v, ctx(PacketType::ConnAck), pl.dir, pl.props));
    pl.remaining = 2;
    return kOk;
  }
  if (!detail::reason_code_allowed_v5(PacketType::ConnAck, u8(p.reason_code), pl.dir))
    return CodecError::InvalidReasonCode;
  MQTT_TRY(plan_props(p.properties, v, ctx(PacketType::ConnAck), pl.dir, pl.props));
  pl.remaining = 2 + props_field_size(pl.props);
  return kOk;
}

uint8_t first_byte(const ConnAck&) { return 0x20; }

void write_body(const ConnAck& p, ProtocolVersion v, const Plan& pl, Writer& w) {
  w.u8(p.session_present ? 1 : 0);
  if (v == ProtocolVersion::V311) {
    uint8_t wire = 0;
    (void)detail::connack_rc_to_v311(p.reason_code, wire);
    w.u8(wire);
    return;
  }
  w.u8(u8(p.reason_code));
  detail::write_properties(p.properties, pl.props, w);
}

// --- PUBLISH -------------------------------------------------------------------

inline CodecError plan(const PublishRef& p, ProtocolVersion v, Plan& pl) {
  const uint8_t qos = static_cast<uint8_t>(p.qos);
  if (qos > 2) return CodecError::InvalidQoS;
  if (qos == 0) {
    if (p.dup) return CodecError::InvalidFixedHeaderFlags;  // [MQTT-3.3.1-2]
  }
  const size_t tn = p.topic.size();
  if (tn > 65535) return CodecError::StringTooLong;
  const bool v5 = v == ProtocolVersion::V5;
  if (tn == 0) {
    if (!v5 || !p.properties->topic_alias) return CodecError::EmptyTopicName;
  } else {
    MQTT_TRY(detail::check_topic_name_chars(reinterpret_cast<const uint8_t*>(p.topic.data()), tn));
  }
  if (qos == 0) {
    if (p.packet_id != 0) return CodecError::UnexpectedPacketIdentifier;
  } else if (p.packet_id == 0) {
    return CodecError::ZeroPacketIdentifier;
  }
  uint64_t n = 2 + tn + (qos ? 2 : 0) + p.payload.size();
  if (v5) {
    MQTT_TRY(
        detail::measure_properties(*p.properties, ctx(PacketType::Publish), pl.dir, pl.props));
    n += props_field_size(pl.props);
    MQTT_TRY(check_payload_format(*p.properties, p.payload, pl.dir));
  } else if (p.properties != &kNoProperties && !p.properties->empty()) {
    return CodecError::PropertiesNotSupported;
  }
  pl.remaining = n;
  return kOk;
}

inline uint8_t first_byte(const PublishRef& p) {
  return static_cast<uint8_t>(0x30 | (p.dup ? 0x08 : 0) | (static_cast<uint8_t>(p.qos) << 1) |
                              (p.retain ? 0x01 : 0));
}

inline void write_body(const PublishRef& p, ProtocolVersion v, const Plan& pl, Writer& w) {
  w.str(p.topic);
  if (p.qos != QoS::AtMostOnce) w.u16(p.packet_id);
  if (v == ProtocolVersion::V5) detail::write_properties(*p.properties, pl.props, w);
  w.raw(p.payload.data(), p.payload.size());
}

// The Packet variant's Publish, through its view.
inline CodecError plan(const Publish& p, ProtocolVersion v, Plan& pl) {
  return plan(PublishRef(p), v, pl);
}
inline uint8_t first_byte(const Publish& p) { return first_byte(PublishRef(p)); }
inline void write_body(const Publish& p, ProtocolVersion v, const Plan& pl, Writer& w) {
  write_body(PublishRef(p), v, pl, w);
}

// --- PUBACK / PUBREC / PUBREL / PUBCOMP ------------------------------------------

template <PacketType T>
CodecError plan(const Ack<T>& p, ProtocolVersion v, Plan& pl) {
  if (p.packet_id == 0) return CodecError::ZeroPacketIdentifier;
  if (v == ProtocolVersion::V311) {
    if (p.reason_code != ReasonCode::Success) return CodecError::InvalidReasonCode;
    MQTT_TRY(plan_props(p.properties, v, ctx(T), pl.dir, pl.props));
    pl.remaining = 2;
    return kOk;
  }
  if (!detail::reason_code_allowed_v5(T, u8(p.reason_code), pl.dir))
    return CodecError::InvalidReasonCode;
  MQTT_TRY(detail::measure_properties(p.properties, ctx(T), pl.dir, pl.props));
  if (pl.props != 0)
    pl.remaining = 3 + props_field_size(pl.props);
  else
    pl.remaining = p.reason_code == ReasonCode::Success ? 2 : 3;
  return kOk;
}

template <PacketType T>
uint8_t first_byte(const Ack<T>&) {
  return static_cast<uint8_t>((static_cast<uint8_t>(T) << 4) | (T == PacketType::PubRel ? 2 : 0));
}

template <PacketType T>
void write_body(const Ack<T>& p, ProtocolVersion, const Plan& pl, Writer& w) {
  w.u16(p.packet_id);
  if (pl.remaining >= 3) w.u8(u8(p.reason_code));
  if (pl.remaining >= 4) detail::write_properties(p.properties, pl.props, w);
}

// --- SUBSCRIBE -----------------------------------------------------------------

CodecError plan(const Subscribe& p, ProtocolVersion v, Plan& pl) {
  const bool v5 = v == ProtocolVersion::V5;
  if (p.packet_id == 0) return CodecError::ZeroPacketIdentifier;
  MQTT_TRY(plan_props(p.properties, v, ctx(PacketType::Subscribe), pl.dir, pl.props));
  if (p.subscriptions.empty()) return CodecError::NoTopicFilters;
  uint64_t n = 2 + (v5 ? props_field_size(pl.props) : 0);
  for (const Subscription& s : p.subscriptions) {
    MQTT_TRY(check_filter(s.filter));
    if (static_cast<uint8_t>(s.qos) > 2) return CodecError::InvalidQoS;
    if (v5) {
      if (static_cast<uint8_t>(s.retain_handling) > 2) return CodecError::InvalidSubscriptionOptions;
      if (s.no_local && parse_shared_filter(s.filter))  // [MQTT-3.8.3-4]
        return CodecError::InvalidSubscriptionOptions;
    } else if (s.no_local || s.retain_as_published ||
               s.retain_handling != RetainHandling::SendAtSubscribe) {
      return CodecError::InvalidSubscriptionOptions;
    }
    n += 3 + s.filter.size();
  }
  pl.remaining = n;
  return kOk;
}

uint8_t first_byte(const Subscribe&) { return 0x82; }

void write_body(const Subscribe& p, ProtocolVersion v, const Plan& pl, Writer& w) {
  w.u16(p.packet_id);
  if (v == ProtocolVersion::V5) detail::write_properties(p.properties, pl.props, w);
  for (const Subscription& s : p.subscriptions) {
    w.str(s.filter);
    w.u8(static_cast<uint8_t>(static_cast<uint8_t>(s.qos) | (s.no_local ? 0x04 : 0) |
                              (s.retain_as_published ? 0x08 : 0) |
                              (static_cast<uint8_t>(s.retain_handling) << 4)));
  }
}

// --- SUBACK --------------------------------------------------------------------

CodecError plan(const SubAck& p, ProtocolVersion v, Plan& pl) {
  const bool v5 = v == ProtocolVersion::V5;
  if (p.packet_id == 0) return CodecError::ZeroPacketIdentifier;
  MQTT_TRY(plan_props(p.properties, v, ctx(PacketType::SubAck), pl.dir, pl.props));
  for (ReasonCode rc : p.reason_codes) {
    const bool ok = v5 ? detail::reason_code_allowed_v5(PacketType::SubAck, u8(rc), pl.dir)
                       : detail::suback_rc_v311_ok(u8(rc));
    if (!ok) return CodecError::InvalidReasonCode;
  }
  pl.remaining = 2 + (v5 ? props_field_size(pl.props) : 0) + p.reason_codes.size();
  return kOk;
}

uint8_t first_byte(const SubAck&) { return 0x90; }

void write_body(const SubAck& p, ProtocolVersion v, const Plan& pl, Writer& w) {
  w.u16(p.packet_id);
  if (v == ProtocolVersion::V5) detail::write_properties(p.properties, pl.props, w);
  for (ReasonCode rc : p.reason_codes) w.u8(u8(rc));
}

// --- UNSUBSCRIBE ---------------------------------------------------------------

CodecError plan(const Unsubscribe& p, ProtocolVersion v, Plan& pl) {
  const bool v5 = v == ProtocolVersion::V5;
  if (p.packet_id == 0) return CodecError::ZeroPacketIdentifier;
  MQTT_TRY(plan_props(p.properties, v, ctx(PacketType::Unsubscribe), pl.dir, pl.props));
  if (p.filters.empty()) return CodecError::NoTopicFilters;
  uint64_t n = 2 + (v5 ? props_field_size(pl.props) : 0);
  for (std::string_view f : p.filters) {
    MQTT_TRY(check_filter(f));
    n += 2 + f.size();
  }
  pl.remaining = n;
  return kOk;
}

uint8_t first_byte(const Unsubscribe&) { return 0xA2; }

void write_body(const Unsubscribe& p, ProtocolVersion v, const Plan& pl, Writer& w) {
  w.u16(p.packet_id);
  if (v == ProtocolVersion::V5) detail::write_properties(p.properties, pl.props, w);
  for (std::string_view f : p.filters) w.str(f);
}

// --- UNSUBACK ------------------------------------------------------------------

CodecError plan(const UnsubAck& p, ProtocolVersion v, Plan& pl) {
  if (p.packet_id == 0) return CodecError::ZeroPacketIdentifier;
  if (v == ProtocolVersion::V311) {
    // 3.1.1 UNSUBACK has no reason codes.
    if (!p.reason_codes.empty()) return CodecError::InvalidReasonCode;
    MQTT_TRY(plan_props(p.properties, v, ctx(PacketType::UnsubAck), pl.dir, pl.props));
    pl.remaining = 2;
    return kOk;
  }
  MQTT_TRY(plan_props(p.properties, v, ctx(PacketType::UnsubAck), pl.dir, pl.props));
  for (ReasonCode rc : p.reason_codes)
    if (!detail::reason_code_allowed_v5(PacketType::UnsubAck, u8(rc), pl.dir))
      return CodecError::InvalidReasonCode;
  pl.remaining = 2 + props_field_size(pl.props) + p.reason_codes.size();
  return kOk;
}

uint8_t first_byte(const UnsubAck&) { return 0xB0; }

void write_body(const UnsubAck& p, ProtocolVersion v, const Plan& pl, Writer& w) {
  w.u16(p.packet_id);
  if (v == ProtocolVersion::V311) return;
  detail::write_properties(p.properties, pl.props, w);
  for (ReasonCode rc : p.reason_codes) w.u8(u8(rc));
}

// --- PINGREQ / PINGRESP ----------------------------------------------------------

CodecError plan(const PingReq&, ProtocolVersion, Plan& pl) {
  pl.remaining = 0;
  return kOk;
}
CodecError plan(const PingResp&, ProtocolVersion, Plan& pl) {
  pl.remaining = 0;
  return kOk;
}
uint8_t first_byte(const PingReq&) { return 0xC0; }
uint8_t first_byte(const PingResp&) { return 0xD0; }
void write_body(const PingReq&, ProtocolVersion, const Plan&, Writer&) {}
void write_body(const PingResp&, ProtocolVersion, const Plan&, Writer&) {}

// --- DISCONNECT ----------------------------------------------------------------

CodecError plan(const Disconnect& p, ProtocolVersion v, Plan& pl) {
  if (v == ProtocolVersion::V311) {
    if (p.reason_code != ReasonCode::NormalDisconnection) return CodecError::InvalidReasonCode;
    MQTT_TRY(plan_props(p.properties, v, ctx(PacketType::Disconnect), pl.dir, pl.props));
    pl.remaining = 0;
    return kOk;
  }
  if (!detail::reason_code_allowed_v5(PacketType::Disconnect, u8(p.reason_code), pl.dir))
    return CodecError::InvalidReasonCode;
  MQTT_TRY(
      detail::measure_properties(p.properties, ctx(PacketType::Disconnect), pl.dir, pl.props));
  if (pl.props != 0)
    pl.remaining = 1 + props_field_size(pl.props);
  else  // spec 3.14.2.2.1: property length may be omitted when remaining length < 2
    pl.remaining = p.reason_code == ReasonCode::NormalDisconnection ? 0 : 1;
  return kOk;
}

uint8_t first_byte(const Disconnect&) { return 0xE0; }

void write_body(const Disconnect& p, ProtocolVersion, const Plan& pl, Writer& w) {
  if (pl.remaining >= 1) w.u8(u8(p.reason_code));
  if (pl.remaining >= 2) detail::write_properties(p.properties, pl.props, w);
}

// --- AUTH ----------------------------------------------------------------------

CodecError plan(const Auth& p, ProtocolVersion v, Plan& pl) {
  if (v == ProtocolVersion::V311) return CodecError::InvalidPacketType;
  if (!detail::reason_code_allowed_v5(PacketType::Auth, u8(p.reason_code), pl.dir))
    return CodecError::InvalidReasonCode;
  MQTT_TRY(detail::measure_properties(p.properties, ctx(PacketType::Auth), pl.dir, pl.props));
  if (pl.props == 0 && p.reason_code == ReasonCode::Success) {
    pl.remaining = 0;
    return kOk;
  }
  // AUTH has no form with a reason code but no property length, and every
  // form but the empty one names its Authentication Method (spec 3.15.2.2.2).
  if (!p.properties.authentication_method) return CodecError::MissingAuthenticationMethod;
  pl.remaining = 1 + props_field_size(pl.props);
  return kOk;
}

uint8_t first_byte(const Auth&) { return 0xF0; }

void write_body(const Auth& p, ProtocolVersion, const Plan& pl, Writer& w) {
  if (pl.remaining == 0) return;
  w.u8(u8(p.reason_code));
  detail::write_properties(p.properties, pl.props, w);
}

// --- generic -------------------------------------------------------------------

// Plans `p` for `v` (pl.dir set): every check, and the Remaining Length's bound.
template <class T>
inline CodecError plan_packet(const T& p, ProtocolVersion v, Plan& pl) {
  if (v != ProtocolVersion::V311 && v != ProtocolVersion::V5)
    return CodecError::UnsupportedProtocolVersion;
  MQTT_TRY(plan(p, v, pl));
  if (pl.remaining > kMaxRemainingLength) return CodecError::PacketTooLarge;
  return kOk;
}

// Bytes of the packet planned as `pl`.
inline size_t packet_size(const Plan& pl) {
  const auto rem = static_cast<uint32_t>(pl.remaining);
  return size_t{1} + variable_byte_integer_size(rem) + rem;
}

// Writes the packet planned as `pl` at `out` (packet_size(pl) bytes).
template <class T>
inline void write_packet(const T& p, ProtocolVersion v, const Plan& pl, uint8_t* out) {
  Writer w{out};
  w.u8(first_byte(p));
  w.vbi(static_cast<uint32_t>(pl.remaining));
  write_body(p, v, pl, w);
}

template <class T>
inline Result<size_t, CodecError> size_of(const T& p, ProtocolVersion v, Direction dir) {
  Plan pl;
  pl.dir = dir;
  if (auto e = plan_packet(p, v, pl); e != kOk) return unexpected(e);
  return packet_size(pl);
}

template <class T>
inline Result<size_t, CodecError> encode_one(const T& p, ProtocolVersion v,
                                             std::span<uint8_t> out, Direction dir) {
  Plan pl;
  pl.dir = dir;
  if (auto e = plan_packet(p, v, pl); e != kOk) return unexpected(e);
  const size_t total = packet_size(pl);
  if (out.size() < total) return unexpected(CodecError::BufferTooSmall);
  write_packet(p, v, pl, out.data());
  return total;
}

#undef MQTT_TRY

}  // namespace

Result<size_t, CodecError> encoded_size(const Packet& p, ProtocolVersion version,
                                        Direction dir) {
  return std::visit([version, dir](const auto& pkt) { return size_of(pkt, version, dir); }, p);
}

Result<size_t, CodecError> encode(const Packet& p, ProtocolVersion version,
                                  std::span<uint8_t> out, Direction dir) {
  return std::visit(
      [version, out, dir](const auto& pkt) { return encode_one(pkt, version, out, dir); }, p);
}

Result<size_t, CodecError> encoded_size(const Publish& p, ProtocolVersion version,
                                        Direction dir) {
  return size_of(PublishRef(p), version, dir);
}

Result<size_t, CodecError> encode(const Publish& p, ProtocolVersion version,
                                  std::span<uint8_t> out, Direction dir) {
  return encode_one(PublishRef(p), version, out, dir);
}

Result<PublishPlan, CodecError> plan_publish(const PublishRef& p, ProtocolVersion version,
                                             Direction dir) {
  Plan pl;
  pl.dir = dir;
  if (auto e = plan_packet(p, version, pl); e != kOk) return unexpected(e);
  PublishPlan out;
  out.size = packet_size(pl);
  out.remaining = static_cast<uint32_t>(pl.remaining);
  out.props = pl.props;
  return out;
}

size_t write_publish(const PublishRef& p, ProtocolVersion version, const PublishPlan& plan,
                     std::span<uint8_t> out) {
  Plan pl;
  pl.remaining = plan.remaining;
  pl.props = plan.props;
  write_packet(p, version, pl, out.data());
  return plan.size;
}

}  // namespace mqtt::codec
