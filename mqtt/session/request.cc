// Request builders: encode on the caller's thread, with a placeholder packet
// identifier (1) whose offset the session overwrites when it assigns the real
// one.
#include "mqtt/session/request.h"

#include "mqtt/codec/encoder.h"

namespace mqtt::session {
namespace {

// Size of the fixed header at the start of an encoded packet: the first byte
// plus the Remaining Length's Variable Byte Integer.
uint32_t fixed_header_size(const PacketBytes& bytes) {
  uint32_t n = 1;
  while (n < bytes.size() && n < 5 && (bytes[n] & 0x80) != 0) ++n;
  return n + 1;
}

template <class P>
Result<PacketBytes, codec::CodecError> encode_to_bytes(const P& p, ProtocolVersion v) {
  auto size = codec::encoded_size(p, v);
  if (!size) return unexpected(size.error());
  PacketBytes bytes;
  bytes.resize_for_write(*size);
  auto written = codec::encode(p, v, bytes.span());
  if (!written) return unexpected(written.error());
  bytes.truncate(*written);
  return bytes;
}

}  // namespace

Result<Request, codec::CodecError> make_publish_request(const codec::Publish& p,
                                                        ProtocolVersion v) {
  codec::Publish copy = p;
  copy.packet_id = p.qos == QoS::AtMostOnce ? 0 : 1;
  auto bytes = encode_to_bytes(copy, v);
  if (!bytes) return unexpected(bytes.error());
  Request r;
  r.kind = Request::Kind::Publish;
  r.qos = p.qos;
  r.retain = p.retain;
  r.bytes = std::move(*bytes);
  if (p.qos != QoS::AtMostOnce) {
    r.packet_id_offset =
        fixed_header_size(r.bytes) + 2 + static_cast<uint32_t>(p.topic.size());
  }
  return r;
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
                                                           ProtocolVersion v) {
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

}  // namespace mqtt::session
