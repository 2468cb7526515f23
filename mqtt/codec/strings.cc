// Human-readable names for the codec's enumerations.
#include <string_view>

#include "mqtt/codec/error.h"
#include "mqtt/codec/properties.h"
#include "mqtt/codec/types.h"

namespace mqtt {

std::string_view to_string(ReasonCode rc) {
  switch (rc) {
    case ReasonCode::Success: return "Success";
    case ReasonCode::GrantedQoS1: return "Granted QoS 1";
    case ReasonCode::GrantedQoS2: return "Granted QoS 2";
    case ReasonCode::DisconnectWithWillMessage: return "Disconnect with Will Message";
    case ReasonCode::NoMatchingSubscribers: return "No matching subscribers";
    case ReasonCode::NoSubscriptionExisted: return "No subscription existed";
    case ReasonCode::ContinueAuthentication: return "Continue authentication";
    case ReasonCode::ReAuthenticate: return "Re-authenticate";
    case ReasonCode::UnspecifiedError: return "Unspecified error";
    case ReasonCode::MalformedPacket: return "Malformed Packet";
    case ReasonCode::ProtocolError: return "Protocol Error";
    case ReasonCode::ImplementationSpecificError: return "Implementation specific error";
    case ReasonCode::UnsupportedProtocolVersion: return "Unsupported Protocol Version";
    case ReasonCode::ClientIdentifierNotValid: return "Client Identifier not valid";
    case ReasonCode::BadUserNameOrPassword: return "Bad User Name or Password";
    case ReasonCode::NotAuthorized: return "Not authorized";
    case ReasonCode::ServerUnavailable: return "Server unavailable";
    case ReasonCode::ServerBusy: return "Server busy";
    case ReasonCode::Banned: return "Banned";
    case ReasonCode::ServerShuttingDown: return "Server shutting down";
    case ReasonCode::BadAuthenticationMethod: return "Bad authentication method";
    case ReasonCode::KeepAliveTimeout: return "Keep Alive timeout";
    case ReasonCode::SessionTakenOver: return "Session taken over";
    case ReasonCode::TopicFilterInvalid: return "Topic Filter invalid";
    case ReasonCode::TopicNameInvalid: return "Topic Name invalid";
    case ReasonCode::PacketIdentifierInUse: return "Packet Identifier in use";
    case ReasonCode::PacketIdentifierNotFound: return "Packet Identifier not found";
    case ReasonCode::ReceiveMaximumExceeded: return "Receive Maximum exceeded";
    case ReasonCode::TopicAliasInvalid: return "Topic Alias invalid";
    case ReasonCode::PacketTooLarge: return "Packet too large";
    case ReasonCode::MessageRateTooHigh: return "Message rate too high";
    case ReasonCode::QuotaExceeded: return "Quota exceeded";
    case ReasonCode::AdministrativeAction: return "Administrative action";
    case ReasonCode::PayloadFormatInvalid: return "Payload format invalid";
    case ReasonCode::RetainNotSupported: return "Retain not supported";
    case ReasonCode::QoSNotSupported: return "QoS not supported";
    case ReasonCode::UseAnotherServer: return "Use another server";
    case ReasonCode::ServerMoved: return "Server moved";
    case ReasonCode::SharedSubscriptionsNotSupported:
      return "Shared Subscriptions not supported";
    case ReasonCode::ConnectionRateExceeded: return "Connection rate exceeded";
    case ReasonCode::MaximumConnectTime: return "Maximum connect time";
    case ReasonCode::SubscriptionIdentifiersNotSupported:
      return "Subscription Identifiers not supported";
    case ReasonCode::WildcardSubscriptionsNotSupported:
      return "Wildcard Subscriptions not supported";
  }
  return "Unknown reason code";
}

std::string_view to_string(QoS qos) {
  switch (qos) {
    case QoS::AtMostOnce: return "QoS 0 (at most once)";
    case QoS::AtLeastOnce: return "QoS 1 (at least once)";
    case QoS::ExactlyOnce: return "QoS 2 (exactly once)";
  }
  return "invalid QoS";
}

std::string_view to_string(ProtocolVersion v) {
  switch (v) {
    case ProtocolVersion::V311: return "MQTT 3.1.1";
    case ProtocolVersion::V5: return "MQTT 5.0";
  }
  return "unknown MQTT version";
}

}  // namespace mqtt

namespace mqtt::codec {

std::string_view to_string(PacketType t) {
  switch (t) {
    case PacketType::Connect: return "CONNECT";
    case PacketType::ConnAck: return "CONNACK";
    case PacketType::Publish: return "PUBLISH";
    case PacketType::PubAck: return "PUBACK";
    case PacketType::PubRec: return "PUBREC";
    case PacketType::PubRel: return "PUBREL";
    case PacketType::PubComp: return "PUBCOMP";
    case PacketType::Subscribe: return "SUBSCRIBE";
    case PacketType::SubAck: return "SUBACK";
    case PacketType::Unsubscribe: return "UNSUBSCRIBE";
    case PacketType::UnsubAck: return "UNSUBACK";
    case PacketType::PingReq: return "PINGREQ";
    case PacketType::PingResp: return "PINGRESP";
    case PacketType::Disconnect: return "DISCONNECT";
    case PacketType::Auth: return "AUTH";
  }
  return "UNKNOWN";
}

std::string_view to_string(CodecError e) {
  switch (e) {
    case CodecError::MalformedRemainingLength: return "remaining length longer than 4 bytes";
    case CodecError::PacketTooLarge: return "packet larger than the maximum packet size";
    case CodecError::InvalidPacketType: return "invalid packet type";
    case CodecError::InvalidFixedHeaderFlags: return "invalid fixed header flags";
    case CodecError::InvalidQoS: return "invalid QoS (3)";
    case CodecError::LengthExceedsPacket: return "length field runs past the end of the packet";
    case CodecError::TrailingBytes: return "bytes left over after the last field of the packet";
    case CodecError::MalformedVariableByteInteger:
      return "variable byte integer longer than 4 bytes";
    case CodecError::NonMinimalVariableByteInteger:
      return "variable byte integer longer than its value needs";
    case CodecError::InvalidUtf8: return "ill-formed UTF-8 string";
    case CodecError::Utf8NullCharacter: return "U+0000 in a UTF-8 string";
    case CodecError::Utf8Surrogate: return "surrogate code point in a UTF-8 string";
    case CodecError::StringTooLong: return "string or binary field longer than 65535 bytes";
    case CodecError::EmptyTopicName: return "empty topic name";
    case CodecError::WildcardInTopicName: return "wildcard character in a topic name";
    case CodecError::EmptyTopicFilter: return "empty topic filter";
    case CodecError::InvalidTopicFilter: return "invalid topic filter";
    case CodecError::NoTopicFilters: return "no topic filter in the payload";
    case CodecError::UnknownProperty: return "unknown property identifier";
    case CodecError::DuplicateProperty: return "property included more than once";
    case CodecError::PropertyNotAllowed:
      return "property not allowed on this packet (or from this side)";
    case CodecError::InvalidPropertyValue: return "invalid property value";
    case CodecError::PropertiesNotSupported: return "properties are not supported by MQTT 3.1.1";
    case CodecError::MissingAuthenticationMethod:
      return "Authentication Data or AUTH without an Authentication Method";
    case CodecError::InvalidProtocolName: return "protocol name is not \"MQTT\"";
    case CodecError::UnsupportedProtocolVersion: return "unsupported protocol level";
    case CodecError::InvalidConnectFlags: return "invalid CONNECT flags";
    case CodecError::InvalidConnAckFlags: return "invalid CONNACK acknowledge flags";
    case CodecError::InvalidReasonCode:
      return "reason code not allowed for this packet (or from this side)";
    case CodecError::ZeroPacketIdentifier: return "packet identifier is 0";
    case CodecError::UnexpectedPacketIdentifier: return "packet identifier on a QoS 0 PUBLISH";
    case CodecError::InvalidSubscriptionOptions: return "invalid subscription options";
    case CodecError::PayloadFormatInvalid:
      return "Payload Format Indicator 1 but the payload is not well-formed UTF-8";
    case CodecError::BufferTooSmall: return "output buffer too small";
    case CodecError::TooManyFilters: return "more than 65535 topic filters in one request";
    case CodecError::SessionExpiryWasZero:
      return "non-zero Session Expiry Interval on DISCONNECT after a CONNECT without one";
  }
  return "unknown codec error";
}

std::string_view to_string(PropertyId id) {
  switch (id) {
    case PropertyId::PayloadFormatIndicator: return "Payload Format Indicator";
    case PropertyId::MessageExpiryInterval: return "Message Expiry Interval";
    case PropertyId::ContentType: return "Content Type";
    case PropertyId::ResponseTopic: return "Response Topic";
    case PropertyId::CorrelationData: return "Correlation Data";
    case PropertyId::SubscriptionIdentifier: return "Subscription Identifier";
    case PropertyId::SessionExpiryInterval: return "Session Expiry Interval";
    case PropertyId::AssignedClientIdentifier: return "Assigned Client Identifier";
    case PropertyId::ServerKeepAlive: return "Server Keep Alive";
    case PropertyId::AuthenticationMethod: return "Authentication Method";
    case PropertyId::AuthenticationData: return "Authentication Data";
    case PropertyId::RequestProblemInformation: return "Request Problem Information";
    case PropertyId::WillDelayInterval: return "Will Delay Interval";
    case PropertyId::RequestResponseInformation: return "Request Response Information";
    case PropertyId::ResponseInformation: return "Response Information";
    case PropertyId::ServerReference: return "Server Reference";
    case PropertyId::ReasonString: return "Reason String";
    case PropertyId::ReceiveMaximum: return "Receive Maximum";
    case PropertyId::TopicAliasMaximum: return "Topic Alias Maximum";
    case PropertyId::TopicAlias: return "Topic Alias";
    case PropertyId::MaximumQoS: return "Maximum QoS";
    case PropertyId::RetainAvailable: return "Retain Available";
    case PropertyId::UserProperty: return "User Property";
    case PropertyId::MaximumPacketSize: return "Maximum Packet Size";
    case PropertyId::WildcardSubscriptionAvailable: return "Wildcard Subscription Available";
    case PropertyId::SubscriptionIdentifierAvailable: return "Subscription Identifier Available";
    case PropertyId::SharedSubscriptionAvailable: return "Shared Subscription Available";
  }
  return "Unknown property";
}

}  // namespace mqtt::codec
