// reason_for(): which reason code answers a packet that failed to decode.
// Spec 1.2 defines a Malformed Packet as one that "cannot be parsed" and a
// Protocol Error as one that parses but breaks a rule; section 4.13 asks for
// 0x81 or 0x82 (or a more specific code) in the DISCONNECT that follows.
#include "mqtt/codec/error.h"

namespace mqtt::codec {

ReasonCode reason_for(CodecError e) {
  using E = CodecError;
  switch (e) {
    // Cannot be parsed: framing, lengths, encodings.
    case E::MalformedRemainingLength:      // spec 1.5.5
    case E::NonMinimalVariableByteInteger:  // [MQTT-1.5.5-1]
    case E::MalformedVariableByteInteger:
    case E::InvalidPacketType:              // spec 2.1.2: reserved type
    case E::InvalidFixedHeaderFlags:        // spec 2.1.3: "it is a Malformed Packet"
    case E::InvalidQoS:                     // spec 3.3.1.2, 3.1.2.6: QoS 3 is malformed
    case E::LengthExceedsPacket:
    case E::TrailingBytes:
    case E::InvalidUtf8:                    // [MQTT-1.5.4-1]
    case E::Utf8NullCharacter:              // [MQTT-1.5.4-2]
    case E::Utf8Surrogate:                  // [MQTT-1.5.4-1]
    case E::UnknownProperty:                // spec 2.2.2.2: identifier not valid ...
    case E::PropertyNotAllowed:             // ... for its packet type: malformed
    case E::InvalidProtocolName:
    case E::UnsupportedProtocolVersion:     // a CONNECT; 0x84 is for a server's CONNACK
    case E::InvalidConnectFlags:            // [MQTT-3.1.2-3] reserved flag
    case E::InvalidConnAckFlags:            // [MQTT-3.2.2-1] reserved bits
      return ReasonCode::MalformedPacket;

    // Parsed, but not allowed by the protocol.
    case E::EmptyTopicName:              // spec 3.3.2.1: "It is a Protocol Error"
    case E::WildcardInTopicName:         // [MQTT-3.3.2-2]
    case E::EmptyTopicFilter:            // [MQTT-4.7.3-1]
    case E::InvalidTopicFilter:          // spec 4.7.1
    case E::NoTopicFilters:              // [MQTT-3.8.3-2], [MQTT-3.10.3-2]: Protocol Error
    case E::DuplicateProperty:           // "It is a Protocol Error to include ... more than once"
    case E::InvalidPropertyValue:        // e.g. spec 3.2.2.3.3: Receive Maximum 0
    case E::MissingAuthenticationMethod:  // spec 3.1.2.11.10, 3.15.2.2.2
    case E::InvalidReasonCode:           // [MQTT-3.14.2-1], [MQTT-3.15.2-1], ...
    case E::ZeroPacketIdentifier:        // [MQTT-2.2.1-3]
    case E::InvalidSubscriptionOptions:  // spec 3.8.3.1 (reserved bits: malformed, a server
                                         // concern; a client never receives SUBSCRIBE)
    case E::SessionExpiryWasZero:        // spec 3.14.2.2.2
      return ReasonCode::ProtocolError;

    case E::PacketTooLarge:
      return ReasonCode::PacketTooLarge;
    case E::PayloadFormatInvalid:  // spec 3.3.2.3.2 (the decoder does not check it)
      return ReasonCode::PayloadFormatInvalid;

    // Only the encoder or the request builders report these.
    case E::StringTooLong:
    case E::PropertiesNotSupported:
    case E::UnexpectedPacketIdentifier:
    case E::BufferTooSmall:
    case E::TooManyFilters:
      return ReasonCode::UnspecifiedError;
  }
  return ReasonCode::UnspecifiedError;
}

}  // namespace mqtt::codec
