// Which reason codes each packet may carry (MQTT 5, spec tables 3-1 and
// 3-4..3-11) and the MQTT 3.1.1 CONNACK return code translation.
#include <cstdint>
#include <initializer_list>

#include "mqtt/codec/detail/wire.h"

namespace mqtt::codec::detail {
namespace {

struct RcSet {
  uint64_t bits[4] = {};
  constexpr RcSet(std::initializer_list<uint8_t> codes) {
    for (uint8_t c : codes) bits[c >> 6] |= uint64_t{1} << (c & 63);
  }
  constexpr bool has(uint8_t c) const { return (bits[c >> 6] >> (c & 63)) & 1; }
};

constexpr RcSet kConnAck{0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
                         0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
constexpr RcSet kPubAckRec{0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
constexpr RcSet kPubRelComp{0x00, 0x92};
constexpr RcSet kSubAck{0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
constexpr RcSet kUnsubAck{0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
constexpr RcSet kDisconnect{0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8C,
                            0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98,
                            0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
constexpr RcSet kAuth{0x00, 0x18, 0x19};
// Table 3-10, "Sent by": the codes a client may send in DISCONNECT. A server
// may send every other one (0x8C from table 2-6 included) but not 0x04.
constexpr RcSet kDisconnectFromClient{0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x90,
                                      0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99};
// Table 3-11: 0x19 (Re-authenticate) from the client, 0x00 (Success) from the server.
constexpr RcSet kAuthFromClient{0x18, 0x19};
constexpr RcSet kAuthFromServer{0x00, 0x18};

constexpr ReasonCode kV311ConnAck[6] = {
    ReasonCode::Success,           ReasonCode::UnsupportedProtocolVersion,
    ReasonCode::ClientIdentifierNotValid, ReasonCode::ServerUnavailable,
    ReasonCode::BadUserNameOrPassword,    ReasonCode::NotAuthorized,
};

}  // namespace

bool reason_code_allowed_v5(PacketType type, uint8_t rc, Direction dir) {
  switch (type) {
    case PacketType::ConnAck: return kConnAck.has(rc);
    case PacketType::PubAck:
    case PacketType::PubRec: return kPubAckRec.has(rc);
    case PacketType::PubRel:
    case PacketType::PubComp: return kPubRelComp.has(rc);
    case PacketType::SubAck: return kSubAck.has(rc);
    case PacketType::UnsubAck: return kUnsubAck.has(rc);
    case PacketType::Disconnect:
      if (dir == Direction::ClientToServer) return kDisconnectFromClient.has(rc);
      if (dir == Direction::ServerToClient) return kDisconnect.has(rc) && rc != 0x04;
      return kDisconnect.has(rc);
    case PacketType::Auth:
      if (dir == Direction::ClientToServer) return kAuthFromClient.has(rc);
      if (dir == Direction::ServerToClient) return kAuthFromServer.has(rc);
      return kAuth.has(rc);
    default: return false;
  }
}

bool connack_rc_from_v311(uint8_t wire, ReasonCode& out) {
  if (wire >= 6) return false;
  out = kV311ConnAck[wire];
  return true;
}

bool connack_rc_to_v311(ReasonCode rc, uint8_t& wire) {
  for (uint8_t i = 0; i < 6; ++i) {
    if (kV311ConnAck[i] == rc) {
      wire = i;
      return true;
    }
  }
  return false;
}

}  // namespace mqtt::codec::detail
