// Every way encoding or decoding can fail, each with its own value.
#pragma once

#include <cstdint>
#include <string_view>

namespace mqtt::codec {

enum class CodecError : uint8_t {
  // --- framing (fixed header) ---
  MalformedRemainingLength = 1,  // Remaining Length uses more than 4 bytes
  PacketTooLarge,                // whole packet larger than the configured maximum
  InvalidPacketType,             // type 0, or AUTH (15) in MQTT 3.1.1
  InvalidFixedHeaderFlags,       // reserved flag bits of the first byte not as required
  InvalidQoS,                    // QoS 3 (PUBLISH flags, Will QoS, subscription options)
  LengthExceedsPacket,           // a length field runs past the end of the packet
  TrailingBytes,                 // bytes left over in the packet after its last field
  MalformedVariableByteInteger,  // a Variable Byte Integer inside the body uses > 4 bytes

  // --- strings (spec 1.5.4) ---
  InvalidUtf8,           // ill-formed UTF-8 (bad sequence, overlong, > U+10FFFF)
  Utf8NullCharacter,     // U+0000 in a string
  Utf8Surrogate,         // U+D800..U+DFFF encoded in a string
  StringTooLong,         // encode: a string or binary field longer than 65535 bytes

  // --- topics ---
  EmptyTopicName,        // PUBLISH topic empty (and, in MQTT 5, no Topic Alias)
  WildcardInTopicName,   // '+' or '#' in a topic name
  EmptyTopicFilter,      // zero-length topic filter
  InvalidTopicFilter,    // '#' not last or not a whole level, '+' not a whole level,
                         // malformed $share/ filter
  NoTopicFilters,        // SUBSCRIBE/UNSUBSCRIBE with no filter in its payload

  // --- properties (MQTT 5) ---
  UnknownProperty,       // property identifier not defined by the spec
  DuplicateProperty,     // a property that may appear once appears twice
  PropertyNotAllowed,    // a defined property that this packet may not carry
  InvalidPropertyValue,  // e.g. Receive Maximum 0, Maximum QoS 2, a boolean not 0/1,
                         // Subscription Identifier 0, Topic Alias 0
  PropertiesNotSupported,  // encode: properties given for an MQTT 3.1.1 packet

  // --- packet-specific fields ---
  InvalidProtocolName,        // CONNECT protocol name is not "MQTT"
  UnsupportedProtocolVersion, // CONNECT protocol level is not 4 or 5
  InvalidConnectFlags,        // reserved bit set, Will flags without Will, password without
                              // user name (3.1.1), ...
  InvalidConnAckFlags,        // CONNACK acknowledge flags other than bit 0 set
  InvalidReasonCode,          // a reason code that is not allowed for this packet/version
  ZeroPacketIdentifier,       // packet identifier 0 where one is required
  UnexpectedPacketIdentifier, // encode: packet identifier given for a QoS 0 PUBLISH
  InvalidSubscriptionOptions, // reserved bits set, Retain Handling 3, No Local on a shared
                              // subscription

  // --- encoding ---
  BufferTooSmall,  // the output buffer cannot hold the encoded packet

  // --- requests ---
  TooManyFilters,  // more than 65535 filters in one SUBSCRIBE/UNSUBSCRIBE request
};

// A short English description, e.g. "remaining length longer than 4 bytes".
std::string_view to_string(CodecError e);

}  // namespace mqtt::codec
