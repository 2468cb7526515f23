// One struct per MQTT control packet, shared by MQTT 3.1.1 and MQTT 5.
//
// Strings and payloads are views (std::string_view, Bytes): a decoded packet
// points into the decoder's input buffer (no copy); a packet to encode points at
// the caller's data. Fields that MQTT 3.1.1 does not have (properties, most
// reason codes) must be left at their defaults when encoding for 3.1.1.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "mqtt/codec/properties.h"
#include "mqtt/codec/types.h"

namespace mqtt::codec {

struct Will {
  std::string_view topic;
  Bytes payload;
  QoS qos = QoS::AtMostOnce;
  bool retain = false;
  Properties properties;  // MQTT 5 Will Properties
  bool operator==(const Will& o) const;
};

struct Connect {
  ProtocolVersion protocol_version = ProtocolVersion::V311;  // protocol level byte
  std::string_view client_id;
  bool clean_start = true;  // "Clean Session" in 3.1.1
  uint16_t keep_alive = 60;  // seconds
  std::optional<Will> will;
  std::optional<std::string_view> username;
  std::optional<Bytes> password;
  Properties properties;
  bool operator==(const Connect& o) const;
};

struct ConnAck {
  bool session_present = false;
  ReasonCode reason_code = ReasonCode::Success;  // 3.1.1 return code, translated
  Properties properties;
  bool operator==(const ConnAck& o) const = default;
};

struct Publish {
  bool dup = false;
  QoS qos = QoS::AtMostOnce;
  bool retain = false;
  std::string_view topic;  // may be empty in MQTT 5 when a Topic Alias is set
  uint16_t packet_id = 0;  // 0 for QoS 0; non-zero otherwise
  Properties properties;
  Bytes payload;
  bool operator==(const Publish& o) const;
};

// PUBACK, PUBREC, PUBREL and PUBCOMP share one layout.
// Encoding picks the shortest form the spec allows (MQTT 5, spec 3.4.2.1):
// reason code Success with no properties is encoded as just the packet id;
// properties present force reason code and property length to be written.
// Decoding accepts every form.
template <PacketType kType>
struct Ack {
  static constexpr PacketType type = kType;
  uint16_t packet_id = 0;
  ReasonCode reason_code = ReasonCode::Success;
  Properties properties;
  bool operator==(const Ack& o) const = default;
};
using PubAck = Ack<PacketType::PubAck>;
using PubRec = Ack<PacketType::PubRec>;
using PubRel = Ack<PacketType::PubRel>;
using PubComp = Ack<PacketType::PubComp>;

struct Subscription {
  std::string_view filter;
  QoS qos = QoS::AtMostOnce;  // maximum QoS
  bool no_local = false;            // MQTT 5 only
  bool retain_as_published = false; // MQTT 5 only
  RetainHandling retain_handling = RetainHandling::SendAtSubscribe;  // MQTT 5 only
  bool operator==(const Subscription& o) const = default;
};

struct Subscribe {
  uint16_t packet_id = 0;
  std::vector<Subscription> subscriptions;  // at least one
  Properties properties;
  bool operator==(const Subscribe& o) const = default;
};

struct SubAck {
  uint16_t packet_id = 0;
  std::vector<ReasonCode> reason_codes;  // one per subscription
  Properties properties;
  bool operator==(const SubAck& o) const = default;
};

struct Unsubscribe {
  uint16_t packet_id = 0;
  std::vector<std::string_view> filters;  // at least one
  Properties properties;
  bool operator==(const Unsubscribe& o) const = default;
};

struct UnsubAck {
  uint16_t packet_id = 0;
  std::vector<ReasonCode> reason_codes;  // MQTT 5: one per filter; 3.1.1: empty
  Properties properties;
  bool operator==(const UnsubAck& o) const = default;
};

struct PingReq {
  bool operator==(const PingReq&) const = default;
};
struct PingResp {
  bool operator==(const PingResp&) const = default;
};

// MQTT 5: reason Normal disconnection with no properties encodes as an empty
// body. MQTT 3.1.1: always an empty body (reason code must stay Normal).
struct Disconnect {
  ReasonCode reason_code = ReasonCode::NormalDisconnection;
  Properties properties;
  bool operator==(const Disconnect& o) const = default;
};

// MQTT 5 only. Success with no properties encodes as an empty body.
struct Auth {
  ReasonCode reason_code = ReasonCode::Success;
  Properties properties;
  bool operator==(const Auth& o) const = default;
};

using Packet = std::variant<Connect, ConnAck, Publish, PubAck, PubRec, PubRel, PubComp,
                            Subscribe, SubAck, Unsubscribe, UnsubAck, PingReq, PingResp,
                            Disconnect, Auth>;

PacketType packet_type(const Packet& p);

}  // namespace mqtt::codec
