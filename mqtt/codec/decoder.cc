// Bytes -> Packet for MQTT 3.1.1 and 5.0. Views in the decoded packet point
// into the input. PUBLISH without user properties / subscription identifiers
// decodes without allocating.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <variant>

#include "mqtt/codec/decoder.h"
#include "mqtt/codec/detail/wire.h"
#include "mqtt/codec/topic.h"

namespace mqtt::codec {
namespace {

using detail::kOk;
using detail::Reader;

#define MQTT_TRY(expr) \
  if (auto e_ = (expr); e_ != kOk) return e_

constexpr uint8_t ctx(PacketType t) { return static_cast<uint8_t>(t); }

DecodeResult error_result(CodecError e, size_t off) {
  DecodeResult r;
  r.status = DecodeStatus::Error;
  r.error = e;
  r.error_offset = off;
  return r;
}

// A UTF-8 Encoded String field.
CodecError read_utf8(Reader& r, std::string_view& out) {
  const size_t off = r.pos;
  const uint8_t* d;
  size_t n;
  MQTT_TRY(r.bin(d, n));
  if (auto e = detail::check_utf8(d, n); e != kOk) return r.fail(e, off);
  out = std::string_view(reinterpret_cast<const char*>(d), n);
  return kOk;
}

CodecError read_packet_id(Reader& r, uint16_t& id) {
  const size_t off = r.pos;
  MQTT_TRY(r.u16(id));
  if (id == 0) return r.fail(CodecError::ZeroPacketIdentifier, off);
  return kOk;
}

CodecError read_props(Reader& r, PacketType t, Properties& out) {
  return detail::decode_properties(r, ctx(t), out);
}

// One reason code byte, validated for the packet (MQTT 5 lists).
CodecError read_reason_v5(Reader& r, PacketType t, ReasonCode& out) {
  const size_t off = r.pos;
  uint8_t rc;
  MQTT_TRY(r.u8(rc));
  if (!detail::reason_code_allowed_v5(t, rc, r.dir))
    return r.fail(CodecError::InvalidReasonCode, off);
  out = static_cast<ReasonCode>(rc);
  return kOk;
}

// --- CONNECT -------------------------------------------------------------------

CodecError decode_connect(Reader& r, Packet& out) {
  const size_t name_off = r.pos;
  const uint8_t* name;
  size_t name_len;
  MQTT_TRY(r.bin(name, name_len));
  if (name_len != 4 || std::memcmp(name, "MQTT", 4) != 0)
    return r.fail(CodecError::InvalidProtocolName, name_off);

  const size_t level_off = r.pos;
  uint8_t level;
  MQTT_TRY(r.u8(level));
  if (level != 4 && level != 5) return r.fail(CodecError::UnsupportedProtocolVersion, level_off);
  const bool v5 = level == 5;

  const size_t flags_off = r.pos;
  uint8_t flags;
  MQTT_TRY(r.u8(flags));
  const bool will_flag = flags & 0x04;
  const uint8_t will_qos = (flags >> 3) & 3;
  const bool will_retain = flags & 0x20;
  const bool password_flag = flags & 0x40;
  const bool username_flag = flags & 0x80;
  if (flags & 0x01) return r.fail(CodecError::InvalidConnectFlags, flags_off);  // [MQTT-3.1.2-3]
  if (will_qos == 3) return r.fail(CodecError::InvalidQoS, flags_off);
  if (!will_flag && (will_qos != 0 || will_retain))
    return r.fail(CodecError::InvalidConnectFlags, flags_off);
  if (!v5 && password_flag && !username_flag)  // 3.1.1 [MQTT-3.1.2-22]
    return r.fail(CodecError::InvalidConnectFlags, flags_off);

  Connect& c = out.emplace<Connect>();
  c.protocol_version = v5 ? ProtocolVersion::V5 : ProtocolVersion::V311;
  c.clean_start = flags & 0x02;
  MQTT_TRY(r.u16(c.keep_alive));
  if (v5) {
    const size_t props_off = r.pos;
    MQTT_TRY(read_props(r, PacketType::Connect, c.properties));
    // Spec 3.1.2.11.10: Authentication Data only with an Authentication Method.
    if (c.properties.authentication_data && !c.properties.authentication_method)
      return r.fail(CodecError::MissingAuthenticationMethod, props_off);
  }

  MQTT_TRY(read_utf8(r, c.client_id));
  if (will_flag) {
    Will& w = c.will.emplace();
    w.qos = static_cast<QoS>(will_qos);
    w.retain = will_retain;
    if (v5) MQTT_TRY(detail::decode_properties(r, detail::kWillContext, w.properties));
    const size_t topic_off = r.pos;
    MQTT_TRY(read_utf8(r, w.topic));
    if (auto e = validate_topic_name(w.topic)) return r.fail(*e, topic_off);
    MQTT_TRY(r.bin(w.payload));
  }
  if (username_flag) MQTT_TRY(read_utf8(r, c.username.emplace()));
  if (password_flag) MQTT_TRY(r.bin(c.password.emplace()));
  return kOk;
}

// --- CONNACK -------------------------------------------------------------------

CodecError decode_connack(Reader& r, ProtocolVersion v, Packet& out) {
  const size_t flags_off = r.pos;
  uint8_t flags;
  MQTT_TRY(r.u8(flags));
  if (flags & 0xFE) return r.fail(CodecError::InvalidConnAckFlags, flags_off);
  ConnAck& a = out.emplace<ConnAck>();
  a.session_present = flags & 1;
  if (v == ProtocolVersion::V311) {
    const size_t rc_off = r.pos;
    uint8_t rc;
    MQTT_TRY(r.u8(rc));
    if (!detail::connack_rc_from_v311(rc, a.reason_code))
      return r.fail(CodecError::InvalidReasonCode, rc_off);
    return kOk;
  }
  MQTT_TRY(read_reason_v5(r, PacketType::ConnAck, a.reason_code));
  return read_props(r, PacketType::ConnAck, a.properties);
}

// --- PUBLISH -------------------------------------------------------------------

inline CodecError decode_publish(Reader& r, uint8_t flags, ProtocolVersion v, Packet& out) {
  Publish* p = std::get_if<Publish>(&out);
  if (p) {
    detail::reset_properties(p->properties);
  } else {
    p = &out.emplace<Publish>();
  }
  const uint8_t qos = (flags >> 1) & 3;
  p->dup = flags & 0x08;
  p->qos = static_cast<QoS>(qos);
  p->retain = flags & 0x01;

  const size_t topic_off = r.pos;
  const uint8_t* t;
  size_t tn;
  MQTT_TRY(r.bin(t, tn));
  if (tn != 0) {
    if (auto e = detail::check_topic_name_chars(t, tn); e != kOk) return r.fail(e, topic_off);
  }
  p->topic = std::string_view(reinterpret_cast<const char*>(t), tn);
  if (qos != 0) {
    MQTT_TRY(read_packet_id(r, p->packet_id));
  } else {
    p->packet_id = 0;
  }
  if (v == ProtocolVersion::V5) {
    MQTT_TRY(read_props(r, PacketType::Publish, p->properties));
    if (tn == 0 && !p->properties.topic_alias)
      return r.fail(CodecError::EmptyTopicName, topic_off);
  } else if (tn == 0) {
    return r.fail(CodecError::EmptyTopicName, topic_off);
  }
  p->payload = Bytes(r.base + r.pos, r.end - r.pos);
  r.pos = r.end;
  return kOk;
}

// --- PUBACK / PUBREC / PUBREL / PUBCOMP ------------------------------------------

template <PacketType T>
CodecError decode_ack(Reader& r, ProtocolVersion v, Packet& out) {
  auto& a = out.emplace<Ack<T>>();
  MQTT_TRY(read_packet_id(r, a.packet_id));
  if (v == ProtocolVersion::V311 || r.left() == 0) return kOk;  // short form: Success
  MQTT_TRY(read_reason_v5(r, T, a.reason_code));
  if (r.left() == 0) return kOk;  // no Property Length
  return read_props(r, T, a.properties);
}

// --- SUBSCRIBE -----------------------------------------------------------------

CodecError decode_subscribe(Reader& r, ProtocolVersion v, Packet& out) {
  const bool v5 = v == ProtocolVersion::V5;
  Subscribe& s = out.emplace<Subscribe>();
  MQTT_TRY(read_packet_id(r, s.packet_id));
  if (v5) MQTT_TRY(read_props(r, PacketType::Subscribe, s.properties));
  if (r.left() == 0) return r.fail(CodecError::NoTopicFilters, r.pos);  // [MQTT-3.8.3-2]
  while (r.left() != 0) {
    Subscription sub;
    const size_t filter_off = r.pos;
    const uint8_t* d;
    size_t n;
    MQTT_TRY(r.bin(d, n));
    sub.filter = std::string_view(reinterpret_cast<const char*>(d), n);
    if (auto e = detail::check_topic_filter(sub.filter); e != kOk) return r.fail(e, filter_off);
    const size_t opt_off = r.pos;
    uint8_t o;
    MQTT_TRY(r.u8(o));
    if (v5) {
      if (o & 0xC0) return r.fail(CodecError::InvalidSubscriptionOptions, opt_off);
    } else if (o & 0xFC) {
      return r.fail(CodecError::InvalidSubscriptionOptions, opt_off);
    }
    if ((o & 3) == 3) return r.fail(CodecError::InvalidQoS, opt_off);
    sub.qos = static_cast<QoS>(o & 3);
    if (v5) {
      sub.no_local = o & 0x04;
      sub.retain_as_published = o & 0x08;
      const uint8_t rh = (o >> 4) & 3;
      if (rh == 3) return r.fail(CodecError::InvalidSubscriptionOptions, opt_off);
      sub.retain_handling = static_cast<RetainHandling>(rh);
      if (sub.no_local && parse_shared_filter(sub.filter))  // [MQTT-3.8.3-4]
        return r.fail(CodecError::InvalidSubscriptionOptions, opt_off);
    }
    s.subscriptions.push_back(sub);
  }
  return kOk;
}

// --- SUBACK --------------------------------------------------------------------

CodecError decode_suback(Reader& r, ProtocolVersion v, Packet& out) {
  const bool v5 = v == ProtocolVersion::V5;
  SubAck& a = out.emplace<SubAck>();
  MQTT_TRY(read_packet_id(r, a.packet_id));
  if (v5) MQTT_TRY(read_props(r, PacketType::SubAck, a.properties));
  a.reason_codes.reserve(r.left());
  while (r.left() != 0) {
    const uint8_t rc = r.base[r.pos];
    const bool ok = v5 ? detail::reason_code_allowed_v5(PacketType::SubAck, rc)
                       : detail::suback_rc_v311_ok(rc);
    if (!ok) return r.fail(CodecError::InvalidReasonCode, r.pos);
    a.reason_codes.push_back(static_cast<ReasonCode>(rc));
    ++r.pos;
  }
  return kOk;
}

// --- UNSUBSCRIBE ---------------------------------------------------------------

CodecError decode_unsubscribe(Reader& r, ProtocolVersion v, Packet& out) {
  Unsubscribe& u = out.emplace<Unsubscribe>();
  MQTT_TRY(read_packet_id(r, u.packet_id));
  if (v == ProtocolVersion::V5) MQTT_TRY(read_props(r, PacketType::Unsubscribe, u.properties));
  if (r.left() == 0) return r.fail(CodecError::NoTopicFilters, r.pos);  // [MQTT-3.10.3-2]
  while (r.left() != 0) {
    const size_t off = r.pos;
    const uint8_t* d;
    size_t n;
    MQTT_TRY(r.bin(d, n));
    std::string_view f(reinterpret_cast<const char*>(d), n);
    if (auto e = detail::check_topic_filter(f); e != kOk) return r.fail(e, off);
    u.filters.push_back(f);
  }
  return kOk;
}

// --- UNSUBACK ------------------------------------------------------------------

CodecError decode_unsuback(Reader& r, ProtocolVersion v, Packet& out) {
  UnsubAck& a = out.emplace<UnsubAck>();
  MQTT_TRY(read_packet_id(r, a.packet_id));
  if (v == ProtocolVersion::V311) return kOk;
  MQTT_TRY(read_props(r, PacketType::UnsubAck, a.properties));
  a.reason_codes.reserve(r.left());
  while (r.left() != 0) {
    const uint8_t rc = r.base[r.pos];
    if (!detail::reason_code_allowed_v5(PacketType::UnsubAck, rc))
      return r.fail(CodecError::InvalidReasonCode, r.pos);
    a.reason_codes.push_back(static_cast<ReasonCode>(rc));
    ++r.pos;
  }
  return kOk;
}

// --- DISCONNECT / AUTH -----------------------------------------------------------

template <class T>
CodecError decode_reason_and_props(Reader& r, ProtocolVersion v, Packet& out) {
  T& d = out.emplace<T>();
  if (v == ProtocolVersion::V311 || r.left() == 0) return kOk;  // Normal / Success
  constexpr bool auth = std::is_same_v<T, Auth>;
  constexpr PacketType type = auth ? PacketType::Auth : PacketType::Disconnect;
  MQTT_TRY(read_reason_v5(r, type, d.reason_code));
  // DISCONNECT may end after its reason code (spec 3.14.2.2.1); AUTH omits
  // reason code and Property Length together or not at all (spec 3.15.2.1).
  if (!auth && r.left() == 0) return kOk;
  const size_t props_off = r.pos;
  MQTT_TRY(read_props(r, type, d.properties));
  // Spec 3.15.2.2.2: "It is a Protocol Error to omit the Authentication Method".
  if (auth && !d.properties.authentication_method)
    return r.fail(CodecError::MissingAuthenticationMethod, props_off);
  return kOk;
}

CodecError decode_body(Reader& r, const FixedHeader& h, ProtocolVersion v, Packet& out) {
  switch (h.type()) {
    case PacketType::Connect: return decode_connect(r, out);
    case PacketType::ConnAck: return decode_connack(r, v, out);
    case PacketType::Publish: return decode_publish(r, h.flags(), v, out);
    case PacketType::PubAck: return decode_ack<PacketType::PubAck>(r, v, out);
    case PacketType::PubRec: return decode_ack<PacketType::PubRec>(r, v, out);
    case PacketType::PubRel: return decode_ack<PacketType::PubRel>(r, v, out);
    case PacketType::PubComp: return decode_ack<PacketType::PubComp>(r, v, out);
    case PacketType::Subscribe: return decode_subscribe(r, v, out);
    case PacketType::SubAck: return decode_suback(r, v, out);
    case PacketType::Unsubscribe: return decode_unsubscribe(r, v, out);
    case PacketType::UnsubAck: return decode_unsuback(r, v, out);
    case PacketType::PingReq: out.emplace<PingReq>(); return kOk;
    case PacketType::PingResp: out.emplace<PingResp>(); return kOk;
    case PacketType::Disconnect: return decode_reason_and_props<Disconnect>(r, v, out);
    case PacketType::Auth: return decode_reason_and_props<Auth>(r, v, out);
  }
  return r.fail(CodecError::InvalidPacketType, 0);
}

#undef MQTT_TRY

}  // namespace

DecodeResult decode_fixed_header(std::span<const uint8_t> in, const DecodeOptions& opts,
                                 FixedHeader& out) {
  if (in.empty()) return DecodeResult{};
  const uint8_t b0 = in[0];
  const uint8_t type = b0 >> 4;
  const uint8_t flags = b0 & 0x0F;
  if (type == 0 || (type == 15 && opts.version != ProtocolVersion::V5))
    return error_result(CodecError::InvalidPacketType, 0);
  switch (static_cast<PacketType>(type)) {
    case PacketType::Publish:
      if ((flags & 0x06) == 0x06) return error_result(CodecError::InvalidQoS, 0);
      if ((flags & 0x06) == 0 && (flags & 0x08))  // [MQTT-3.3.1-2]
        return error_result(CodecError::InvalidFixedHeaderFlags, 0);
      break;
    case PacketType::PubRel:
    case PacketType::Subscribe:
    case PacketType::Unsubscribe:
      if (flags != 0x02) return error_result(CodecError::InvalidFixedHeaderFlags, 0);
      break;
    default:
      if (flags != 0) return error_result(CodecError::InvalidFixedHeaderFlags, 0);
      break;
  }
  uint32_t len = 0;
  for (size_t i = 0;; ++i) {
    if (i == 4) return error_result(CodecError::MalformedRemainingLength, 1);
    if (1 + i >= in.size()) return DecodeResult{};  // NeedMore
    const uint8_t b = in[1 + i];
    len |= uint32_t{b & 0x7Fu} << (7 * i);
    if ((b & 0x80) == 0) {
      // A last byte of 0 after a continuation byte: not the shortest form.
      if (b == 0 && i != 0) return error_result(CodecError::NonMinimalVariableByteInteger, 1);
      out.header_size = static_cast<uint8_t>(2 + i);
      break;
    }
  }
  out.first_byte = b0;
  out.remaining_length = len;
  if (out.packet_size() > opts.max_packet_size)
    return error_result(CodecError::PacketTooLarge, 1);
  DecodeResult r;
  r.status = DecodeStatus::Ok;
  r.consumed = out.header_size;
  return r;
}

DecodeResult decode(std::span<const uint8_t> in, const DecodeOptions& opts, Packet& out) {
  FixedHeader h;
  DecodeResult hr = decode_fixed_header(in, opts, h);
  if (hr.status != DecodeStatus::Ok) return hr;
  const size_t size = h.packet_size();
  if (in.size() < size) return DecodeResult{};  // NeedMore
  Reader r{in.data(), h.header_size, size, 0, opts.direction};
  // Anything but MQTT 5 is treated as 3.1.1 (CONNECT announces its own version).
  const ProtocolVersion v =
      opts.version == ProtocolVersion::V5 ? ProtocolVersion::V5 : ProtocolVersion::V311;
  if (auto e = decode_body(r, h, v, out); e != kOk) return error_result(e, r.err_off);
  if (r.pos != size) return error_result(CodecError::TrailingBytes, r.pos);
  DecodeResult res;
  res.status = DecodeStatus::Ok;
  res.consumed = size;
  return res;
}

}  // namespace mqtt::codec
