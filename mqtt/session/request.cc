// Request builders: encode on the caller's thread, with a placeholder packet
// identifier (1) whose offset the session overwrites when it assigns the real
// one.
#include "mqtt/session/request.h"

#include "mqtt/codec/decoder.h"
#include "mqtt/codec/encoder.h"
#include "mqtt/session/topic_alias.h"

namespace mqtt::session {
namespace {

// Size of the fixed header at the start of an encoded packet: the first byte
// plus the Remaining Length's Variable Byte Integer.
uint32_t fixed_header_size(const PacketBytes& bytes) {
  uint32_t n = 1;
  while (n < bytes.size() && n < 5 && (bytes[n] & 0x80) != 0) ++n;
  return n + 1;
}

// Every request is a client's packet: encoded with the rules for what a
// client may send (codec::Direction::ClientToServer).
template <class P>
Result<PacketBytes, codec::CodecError> encode_to_bytes(const P& p, ProtocolVersion v) {
  constexpr auto kDir = codec::Direction::ClientToServer;
  auto size = codec::encoded_size(p, v, kDir);
  if (!size) return unexpected(size.error());
  PacketBytes bytes;
  bytes.resize_for_write(*size);
  auto written = codec::encode(p, v, bytes.span(), kDir);
  if (!written) return unexpected(written.error());
  bytes.truncate(*written);
  return bytes;
}

}  // namespace

namespace {

// A caller's Topic Alias (MQTT 5): the packet is kept without it, and the
// session adds it per connection. Without a topic, a one-byte stand-in
// passes the codec's checks and is cut out. Off the common path, so it
// copies the properties to drop the alias.
[[gnu::noinline]] Result<void, codec::CodecError> encode_without_alias(codec::PublishRef q,
                                                                       ProtocolVersion v,
                                                                       PacketBytes& out) {
  codec::Properties props = *q.properties;
  props.topic_alias.reset();
  q.properties = &props;
  const bool no_topic = q.topic.empty();
  if (no_topic) q.topic = "-";
  const auto plan = codec::plan_publish(q, v, codec::Direction::ClientToServer);
  if (!plan) return unexpected(plan.error());
  if (!no_topic) {
    out.resize_for_write(plan->size);
    codec::write_publish(q, v, *plan, out.span());
    return {};
  }
  PacketBytes with_stand_in;
  with_stand_in.resize_for_write(plan->size);
  codec::write_publish(q, v, *plan, with_stand_in.span());
  const auto l = detail::publish_layout(with_stand_in.span());
  if (!l) return unexpected(codec::CodecError::LengthExceedsPacket);  // not expected
  out.resize_for_write(detail::rewritten_size(*l, 0, 0));
  detail::write_publish(with_stand_in.span(), *l, {}, 0, out.span());
  return {};
}

}  // namespace

Result<void, codec::CodecError> make_publish_request(const codec::PublishRef& p,
                                                     ProtocolVersion v, Request& r) {
  codec::PublishRef q = p;
  q.packet_id = p.qos == QoS::AtMostOnce ? 0 : 1;
  const auto& alias = p.properties->topic_alias;
  const bool own_alias = v == ProtocolVersion::V5 && alias.has_value();
  if (own_alias) {
    if (*alias == 0) return unexpected(codec::CodecError::InvalidPropertyValue);
    if (auto e = encode_without_alias(q, v, r.bytes); !e) return e;
    r.topic_alias = *alias;
  } else {
    const auto plan = codec::plan_publish(q, v, codec::Direction::ClientToServer);
    if (!plan) return unexpected(plan.error());
    r.bytes.resize_for_write(plan->size);
    codec::write_publish(q, v, *plan, r.bytes.span());
  }
  r.kind = Request::Kind::Publish;
  r.qos = p.qos;
  r.retain = p.retain;
  if (p.qos != QoS::AtMostOnce) {
    r.packet_id_offset =
        fixed_header_size(r.bytes) + 2 + static_cast<uint32_t>(p.topic.size());
  }
  return {};
}

Result<Request, codec::CodecError> make_publish_request(const codec::PublishRef& p,
                                                        ProtocolVersion v) {
  // One named result, returned on every path, so it is built in place
  // (the packet's inline bytes are not copied on the way out).
  Result<Request, codec::CodecError> out{Request{}};
  if (auto e = make_publish_request(p, v, *out); !e) out = unexpected(e.error());
  return out;
}

Result<Request, codec::CodecError> make_subscribe_request(const codec::Subscribe& s,
                                                          ProtocolVersion v) {
  // The count is kept in 16 bits (it checks the SUBACK's reason codes).
  if (s.subscriptions.size() > 65535) return unexpected(codec::CodecError::TooManyFilters);
  codec::Subscribe copy = s;
  copy.packet_id = 1;
  auto bytes = encode_to_bytes(codec::Packet(std::move(copy)), v);
  if (!bytes) return unexpected(bytes.error());
  Request r;
  r.kind = Request::Kind::Subscribe;
  r.filter_count = static_cast<uint16_t>(s.subscriptions.size());
  for (const auto& f : s.subscriptions) {
    if (f.filter.starts_with("$share/")) r.uses_shared = true;
    if (f.filter.find_first_of("+#") != std::string_view::npos) r.uses_wildcard = true;
  }
  r.uses_subscription_id = !s.properties.subscription_identifiers.empty();
  if (r.uses_subscription_id) r.subscription_id = s.properties.subscription_identifiers.front();
  r.bytes = std::move(*bytes);
  r.packet_id_offset = fixed_header_size(r.bytes);
  return r;
}

Result<Request, codec::CodecError> make_unsubscribe_request(const codec::Unsubscribe& u,
                                                            ProtocolVersion v) {
  if (u.filters.size() > 65535) return unexpected(codec::CodecError::TooManyFilters);
  codec::Unsubscribe copy = u;
  copy.packet_id = 1;
  auto bytes = encode_to_bytes(codec::Packet(std::move(copy)), v);
  if (!bytes) return unexpected(bytes.error());
  Request r;
  r.kind = Request::Kind::Unsubscribe;
  r.filter_count = static_cast<uint16_t>(u.filters.size());
  r.bytes = std::move(*bytes);
  r.packet_id_offset = fixed_header_size(r.bytes);
  return r;
}

Result<Request, codec::CodecError> make_disconnect_request(const codec::Disconnect& d,
                                                           ProtocolVersion v,
                                                           uint32_t connect_session_expiry) {
  // Spec 3.14.2.2.2: a non-zero Session Expiry Interval on DISCONNECT is a
  // Protocol Error when the CONNECT's was zero (or absent).
  if (v == ProtocolVersion::V5 && connect_session_expiry == 0 &&
      d.properties.session_expiry_interval.value_or(0) != 0) {
    return unexpected(codec::CodecError::SessionExpiryWasZero);
  }
  auto bytes = encode_to_bytes(codec::Packet(d), v);
  if (!bytes) return unexpected(bytes.error());
  Request r;
  r.kind = Request::Kind::Disconnect;
  r.bytes = std::move(*bytes);
  return r;
}

std::string_view publish_topic(std::span<const uint8_t> bytes) {
  if (bytes.empty() || (bytes[0] >> 4) != 3) return {};
  size_t n = 1;
  while (n < bytes.size() && n < 5 && (bytes[n] & 0x80) != 0) ++n;
  const size_t at = n + 1;  // after the Remaining Length
  if (at + 2 > bytes.size()) return {};
  const size_t len = (size_t{bytes[at]} << 8) | bytes[at + 1];
  if (at + 2 + len > bytes.size()) return {};
  return {reinterpret_cast<const char*>(bytes.data() + at + 2), len};
}

Request make_ack_request(uint16_t packet_id, QoS qos) {
  Request r;
  r.kind = Request::Kind::Ack;
  r.qos = qos;
  r.packet_id = packet_id;
  return r;
}

Result<Request, codec::CodecError> make_auth_request(ReasonCode code, std::string_view method,
                                                     std::span<const uint8_t> data,
                                                     const codec::Properties& props,
                                                     ProtocolVersion v) {
  if (v != ProtocolVersion::V5) return unexpected(codec::CodecError::InvalidPacketType);
  if (code != ReasonCode::ContinueAuthentication && code != ReasonCode::ReAuthenticate) {
    return unexpected(codec::CodecError::InvalidReasonCode);
  }
  codec::Auth a;
  a.reason_code = code;
  a.properties = props;
  a.properties.authentication_method = method;
  if (data.empty()) {
    a.properties.authentication_data.reset();
  } else {
    a.properties.authentication_data = codec::Bytes(data.data(), data.size());
  }
  auto bytes = encode_to_bytes(codec::Packet(std::move(a)), v);
  if (!bytes) return unexpected(bytes.error());
  Request r;
  r.kind = Request::Kind::Auth;
  r.bytes = std::move(*bytes);
  return r;
}

std::optional<AuthFields> auth_fields(std::span<const uint8_t> bytes) {
  if (bytes.empty() || (bytes[0] >> 4) != 15) return std::nullopt;
  codec::Packet p;
  codec::DecodeOptions opts;
  opts.version = ProtocolVersion::V5;
  const auto r = codec::decode(bytes, opts, p);
  if (r.status != codec::DecodeStatus::Ok) return std::nullopt;
  const auto* a = std::get_if<codec::Auth>(&p);
  if (!a) return std::nullopt;
  AuthFields f;
  f.code = a->reason_code;
  if (a->properties.authentication_method) f.method = std::string(*a->properties.authentication_method);
  return f;
}

}  // namespace mqtt::session
