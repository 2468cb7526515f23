// MQTT 5 properties (spec 2.2.2.2). Strings and binary data are views: after a
// decode they point into the decoder's input buffer; for an encode they point
// at the caller's data. Either way the caller keeps that memory alive.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace mqtt::codec {

using Bytes = std::span<const uint8_t>;

inline Bytes as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_string(Bytes b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Property identifiers (spec 2.2.2.2, table 2-4).
enum class PropertyId : uint8_t {
  PayloadFormatIndicator = 0x01,
  MessageExpiryInterval = 0x02,
  ContentType = 0x03,
  ResponseTopic = 0x08,
  CorrelationData = 0x09,
  SubscriptionIdentifier = 0x0B,
  SessionExpiryInterval = 0x11,
  AssignedClientIdentifier = 0x12,
  ServerKeepAlive = 0x13,
  AuthenticationMethod = 0x15,
  AuthenticationData = 0x16,
  RequestProblemInformation = 0x17,
  WillDelayInterval = 0x18,
  RequestResponseInformation = 0x19,
  ResponseInformation = 0x1A,
  ServerReference = 0x1C,
  ReasonString = 0x1F,
  ReceiveMaximum = 0x21,
  TopicAliasMaximum = 0x22,
  TopicAlias = 0x23,
  MaximumQoS = 0x24,
  RetainAvailable = 0x25,
  UserProperty = 0x26,
  MaximumPacketSize = 0x27,
  WildcardSubscriptionAvailable = 0x28,
  SubscriptionIdentifierAvailable = 0x29,
  SharedSubscriptionAvailable = 0x2A,
};

std::string_view to_string(PropertyId id);

struct UserProperty {
  std::string_view key;
  std::string_view value;
  bool operator==(const UserProperty&) const = default;
};

// All MQTT 5 properties. An absent optional / empty vector is a property that is
// not present. Which ones a packet may carry is checked by the codec (encode and
// decode) against spec table 2-4; the Will's properties are a CONNECT payload
// field with their own allowed set (Will Delay Interval, Payload Format
// Indicator, Message Expiry Interval, Content Type, Response Topic, Correlation
// Data, User Property).
//
// Encoding order is fixed (increasing identifier, user properties last) so that
// encodings are deterministic.
struct Properties {
  std::optional<uint8_t> payload_format_indicator;         // 0x01: 0 or 1
  std::optional<uint32_t> message_expiry_interval;         // 0x02
  std::optional<std::string_view> content_type;            // 0x03
  std::optional<std::string_view> response_topic;          // 0x08: a topic name
  std::optional<Bytes> correlation_data;                   // 0x09
  std::vector<uint32_t> subscription_identifiers;          // 0x0B: 1..268435455; several
                                                           // allowed on PUBLISH only
  std::optional<uint32_t> session_expiry_interval;         // 0x11
  std::optional<std::string_view> assigned_client_identifier;  // 0x12
  std::optional<uint16_t> server_keep_alive;               // 0x13
  std::optional<std::string_view> authentication_method;   // 0x15
  std::optional<Bytes> authentication_data;                // 0x16
  std::optional<uint8_t> request_problem_information;      // 0x17: 0 or 1
  std::optional<uint32_t> will_delay_interval;             // 0x18
  std::optional<uint8_t> request_response_information;     // 0x19: 0 or 1
  std::optional<std::string_view> response_information;    // 0x1A
  std::optional<std::string_view> server_reference;        // 0x1C
  std::optional<std::string_view> reason_string;           // 0x1F
  std::optional<uint16_t> receive_maximum;                 // 0x21: not 0
  std::optional<uint16_t> topic_alias_maximum;             // 0x22
  std::optional<uint16_t> topic_alias;                     // 0x23: not 0
  std::optional<uint8_t> maximum_qos;                      // 0x24: 0 or 1
  std::optional<uint8_t> retain_available;                 // 0x25: 0 or 1
  std::vector<UserProperty> user_properties;               // 0x26: any number, order kept
  std::optional<uint32_t> maximum_packet_size;             // 0x27: not 0
  std::optional<uint8_t> wildcard_subscription_available;  // 0x28: 0 or 1
  std::optional<uint8_t> subscription_identifiers_available;  // 0x29: 0 or 1
  std::optional<uint8_t> shared_subscription_available;    // 0x2A: 0 or 1

  // True when no property is present.
  bool empty() const;
  bool operator==(const Properties& o) const;
};

// No properties: the default argument of the Client calls, so that a call
// without properties builds no temporary set (344 bytes) per message.
inline constexpr Properties kNoProperties{};

}  // namespace mqtt::codec
