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

// The Will message of a CONNECT.
struct Will {
  std::string_view topic;     // the Will topic
  Bytes payload;              // the Will payload
  QoS qos = QoS::AtMostOnce;  // the Will QoS
  bool retain = false;        // the Will retain flag
  Properties properties;  // MQTT 5 Will Properties
  bool operator==(const Will& o) const;  // field-wise; views by content
};

// CONNECT: the first packet of a connection, client to broker.
struct Connect {
  ProtocolVersion protocol_version = ProtocolVersion::V311;  // protocol level byte
  std::string_view client_id;  // may be empty (the broker assigns one)
  bool clean_start = true;  // "Clean Session" in 3.1.1
  uint16_t keep_alive = 60;  // seconds
  std::optional<Will> will;                  // set: the Will message
  std::optional<std::string_view> username;  // set: the User Name
  std::optional<Bytes> password;             // set: the Password
  Properties properties;                     // MQTT 5 CONNECT properties
  bool operator==(const Connect& o) const;  // field-wise; views by content
};

// CONNACK: the broker's answer to CONNECT.
struct ConnAck {
  bool session_present = false;  // the broker resumed a stored session
  ReasonCode reason_code = ReasonCode::Success;  // 3.1.1 return code, translated
  Properties properties;         // MQTT 5 CONNACK properties
  bool operator==(const ConnAck& o) const = default;  // field-wise; views by content
};

// PUBLISH: an application message, either direction.
struct Publish {
  bool dup = false;           // a redelivery of an earlier attempt
  QoS qos = QoS::AtMostOnce;  // the message's QoS
  bool retain = false;        // the retain flag
  std::string_view topic;  // may be empty in MQTT 5 when a Topic Alias is set
  uint16_t packet_id = 0;  // 0 for QoS 0; non-zero otherwise
  Properties properties;   // MQTT 5 PUBLISH properties
  Bytes payload;           // the application message
  bool operator==(const Publish& o) const;  // field-wise; views by content
};

// PUBACK, PUBREC, PUBREL and PUBCOMP share one layout.
// Encoding picks the shortest form the spec allows (MQTT 5, spec 3.4.2.1):
// reason code Success with no properties is encoded as just the packet id;
// properties present force reason code and property length to be written.
// Decoding accepts every form.
template <PacketType kType>
struct Ack {
  static constexpr PacketType type = kType;  // which of the four
  uint16_t packet_id = 0;                    // the acknowledged packet id
  ReasonCode reason_code = ReasonCode::Success;  // MQTT 5; Success for 3.1.1
  Properties properties;                     // MQTT 5 properties
  bool operator==(const Ack& o) const = default;  // field-wise; views by content
};
using PubAck = Ack<PacketType::PubAck>;    // QoS 1 acknowledgement
using PubRec = Ack<PacketType::PubRec>;    // QoS 2, first answer
using PubRel = Ack<PacketType::PubRel>;    // QoS 2, release
using PubComp = Ack<PacketType::PubComp>;  // QoS 2, completion

// One topic filter of a SUBSCRIBE with its options.
struct Subscription {
  std::string_view filter;  // the topic filter
  QoS qos = QoS::AtMostOnce;  // maximum QoS
  bool no_local = false;            // MQTT 5 only
  bool retain_as_published = false; // MQTT 5 only
  RetainHandling retain_handling = RetainHandling::SendAtSubscribe;  // MQTT 5 only
  bool operator==(const Subscription& o) const = default;  // field-wise; views by content
};

// SUBSCRIBE: client to broker.
struct Subscribe {
  uint16_t packet_id = 0;                   // non-zero
  std::vector<Subscription> subscriptions;  // at least one
  Properties properties;                    // MQTT 5 SUBSCRIBE properties
  bool operator==(const Subscribe& o) const = default;  // field-wise; views by content
};

// SUBACK: the broker's answer to SUBSCRIBE.
struct SubAck {
  uint16_t packet_id = 0;                // the SUBSCRIBE's packet id
  std::vector<ReasonCode> reason_codes;  // one per subscription
  Properties properties;                 // MQTT 5 SUBACK properties
  bool operator==(const SubAck& o) const = default;  // field-wise; views by content
};

// UNSUBSCRIBE: client to broker.
struct Unsubscribe {
  uint16_t packet_id = 0;                 // non-zero
  std::vector<std::string_view> filters;  // at least one
  Properties properties;                  // MQTT 5 UNSUBSCRIBE properties
  bool operator==(const Unsubscribe& o) const = default;  // field-wise; views by content
};

// UNSUBACK: the broker's answer to UNSUBSCRIBE.
struct UnsubAck {
  uint16_t packet_id = 0;                // the UNSUBSCRIBE's packet id
  std::vector<ReasonCode> reason_codes;  // MQTT 5: one per filter; 3.1.1: empty
  Properties properties;                 // MQTT 5 UNSUBACK properties
  bool operator==(const UnsubAck& o) const = default;  // field-wise; views by content
};

// PINGREQ: keep alive, client to broker. No fields.
struct PingReq {
  bool operator==(const PingReq&) const = default;  // always true
};
// PINGRESP: the broker's answer to PINGREQ. No fields.
struct PingResp {
  bool operator==(const PingResp&) const = default;  // always true
};

// MQTT 5: reason Normal disconnection with no properties encodes as an empty
// body. MQTT 3.1.1: always an empty body (reason code must stay Normal).
struct Disconnect {
  ReasonCode reason_code = ReasonCode::NormalDisconnection;  // why
  Properties properties;  // MQTT 5 DISCONNECT properties
  bool operator==(const Disconnect& o) const = default;  // field-wise; views by content
};

// MQTT 5 only. Success with no properties encodes as an empty body.
struct Auth {
  ReasonCode reason_code = ReasonCode::Success;  // 0x00, 0x18 or 0x19 (see ReasonCode)
  Properties properties;  // Authentication Method and Data, Reason String...
  bool operator==(const Auth& o) const = default;  // field-wise; views by content
};

// Any packet: what the decoder returns and the encoder takes.
using Packet = std::variant<Connect, ConnAck, Publish, PubAck, PubRec, PubRel, PubComp,
                            Subscribe, SubAck, Unsubscribe, UnsubAck, PingReq, PingResp,
                            Disconnect, Auth>;

// The type of the packet `p` holds. Pure: any thread, never blocks.
PacketType packet_type(const Packet& p);

}  // namespace mqtt::codec
