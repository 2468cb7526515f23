// Vocabulary shared by every layer: protocol versions, QoS, packet types and
// reason codes.
#pragma once

#include <cstdint>
#include <string_view>

namespace mqtt {

// The value is the protocol level byte of CONNECT.
enum class ProtocolVersion : uint8_t { V311 = 4, V5 = 5 };

// Quality of service of a message: delivered at most once, at least once, or
// exactly once.
enum class QoS : uint8_t { AtMostOnce = 0, AtLeastOnce = 1, ExactlyOnce = 2 };

// MQTT 5 "Retain Handling" subscription option (3.1.1 has none: always 0).
enum class RetainHandling : uint8_t {
  SendAtSubscribe = 0,
  SendAtSubscribeIfNew = 1,
  DoNotSend = 2,
};

// MQTT 5 reason codes (spec 2.4). MQTT 3.1.1's CONNACK return codes and SUBACK
// return codes map one-to-one onto a subset of these, so both versions use this
// one type; the codec translates on the wire for 3.1.1:
//   CONNACK 0..5 <-> Success, UnsupportedProtocolVersion, ClientIdentifierNotValid,
//                   ServerUnavailable, BadUserNameOrPassword, NotAuthorized
//   SUBACK 0,1,2,0x80 <-> GrantedQoS0, GrantedQoS1, GrantedQoS2, UnspecifiedError
enum class ReasonCode : uint8_t {
  Success = 0x00,  // also Normal disconnection and Granted QoS 0
  NormalDisconnection = 0x00,
  GrantedQoS0 = 0x00,
  GrantedQoS1 = 0x01,
  GrantedQoS2 = 0x02,
  DisconnectWithWillMessage = 0x04,
  NoMatchingSubscribers = 0x10,
  NoSubscriptionExisted = 0x11,
  ContinueAuthentication = 0x18,
  ReAuthenticate = 0x19,
  UnspecifiedError = 0x80,
  MalformedPacket = 0x81,
  ProtocolError = 0x82,
  ImplementationSpecificError = 0x83,
  UnsupportedProtocolVersion = 0x84,
  ClientIdentifierNotValid = 0x85,
  BadUserNameOrPassword = 0x86,
  NotAuthorized = 0x87,
  ServerUnavailable = 0x88,
  ServerBusy = 0x89,
  Banned = 0x8A,
  ServerShuttingDown = 0x8B,
  BadAuthenticationMethod = 0x8C,
  KeepAliveTimeout = 0x8D,
  SessionTakenOver = 0x8E,
  TopicFilterInvalid = 0x8F,
  TopicNameInvalid = 0x90,
  PacketIdentifierInUse = 0x91,
  PacketIdentifierNotFound = 0x92,
  ReceiveMaximumExceeded = 0x93,
  TopicAliasInvalid = 0x94,
  PacketTooLarge = 0x95,
  MessageRateTooHigh = 0x96,
  QuotaExceeded = 0x97,
  AdministrativeAction = 0x98,
  PayloadFormatInvalid = 0x99,
  RetainNotSupported = 0x9A,
  QoSNotSupported = 0x9B,
  UseAnotherServer = 0x9C,
  ServerMoved = 0x9D,
  SharedSubscriptionsNotSupported = 0x9E,
  ConnectionRateExceeded = 0x9F,
  MaximumConnectTime = 0xA0,
  SubscriptionIdentifiersNotSupported = 0xA1,
  WildcardSubscriptionsNotSupported = 0xA2,
};

// True for reason codes >= 0x80 (failure), per spec 2.4.
constexpr bool is_failure(ReasonCode rc) { return static_cast<uint8_t>(rc) >= 0x80; }

// Human-readable name, e.g. "Not authorized". Never null. Pure functions:
// any thread, never block.
// @{
std::string_view to_string(ReasonCode rc);
std::string_view to_string(QoS qos);
std::string_view to_string(ProtocolVersion v);
// @}

}  // namespace mqtt

namespace mqtt::codec {

// The four high bits of the first byte of every packet.
enum class PacketType : uint8_t {
  Connect = 1,
  ConnAck = 2,
  Publish = 3,
  PubAck = 4,
  PubRec = 5,
  PubRel = 6,
  PubComp = 7,
  Subscribe = 8,
  SubAck = 9,
  Unsubscribe = 10,
  UnsubAck = 11,
  PingReq = 12,
  PingResp = 13,
  Disconnect = 14,
  Auth = 15,  // MQTT 5 only
};

// "CONNECT", "PUBLISH", ...
std::string_view to_string(PacketType t);

// Which way a packet travels. A few properties and reason codes may flow one
// way only: a Subscription Identifier on PUBLISH only from server to client
// [MQTT-3.3.4-6]; a Session Expiry Interval on DISCONNECT only from client to
// server [MQTT-3.14.2-2]; a Server Reference only from the server (spec
// 3.14.2.2.5); DISCONNECT reason codes as table 3-10's "Sent by" column says
// (0x04 from the client only; 0x87, 0x89, 0x8B..0x8F, 0x9A..0xA2 from the
// server only); AUTH 0x19 from the client only, 0x00 from the server only
// (table 3-11). ClientToServer also holds the client to what only the origin
// of a message can know: a Payload Format Indicator of 1 needs a well-formed
// UTF-8 payload (spec 3.3.2.3.2, 3.1.3.2.3). Any accepts what either side may
// send: for tools and tests that play both roles. The direction is never
// inferred from the packet type.
enum class Direction : uint8_t { Any, ClientToServer, ServerToClient };

}  // namespace mqtt::codec
