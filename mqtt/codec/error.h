// Every way encoding or decoding can fail, each with its own value.
#pragma once

#include <cstdint>
#include <string_view>

#include "mqtt/codec/types.h"

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
  NonMinimalVariableByteInteger,  // a Variable Byte Integer (Remaining Length included)
                                  // uses more bytes than its value needs [MQTT-1.5.5-1]

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
  PropertyNotAllowed,    // a defined property that this packet may not carry (in this
                         // direction: see Direction)
  InvalidPropertyValue,  // e.g. Receive Maximum 0, Maximum QoS 2, a boolean not 0/1,
                         // Subscription Identifier 0, Topic Alias 0
  PropertiesNotSupported,  // encode: properties given for an MQTT 3.1.1 packet
  MissingAuthenticationMethod,  // Authentication Data without Authentication Method on
                                // CONNECT (spec 3.1.2.11.10), or an AUTH with a reason
                                // code but no Authentication Method (spec 3.15.2.2.2)

  // --- packet-specific fields ---
  InvalidProtocolName,        // CONNECT protocol name is not "MQTT"
  UnsupportedProtocolVersion, // CONNECT protocol level is not 4 or 5
  InvalidConnectFlags,        // reserved bit set, Will flags without Will, password without
                              // user name (3.1.1), ...
  InvalidConnAckFlags,        // CONNACK acknowledge flags other than bit 0 set
  InvalidReasonCode,          // a reason code that is not allowed for this packet/version
                              // (or direction: see Direction)
  ZeroPacketIdentifier,       // packet identifier 0 where one is required
  UnexpectedPacketIdentifier, // encode: packet identifier given for a QoS 0 PUBLISH
  InvalidSubscriptionOptions, // reserved bits set, Retain Handling 3, No Local on a shared
                              // subscription
  PayloadFormatInvalid,       // encode, ClientToServer: Payload Format Indicator 1 but the
                              // (Will) payload is not well-formed UTF-8 (spec 3.3.2.3.2)

  // --- encoding ---
  BufferTooSmall,  // the output buffer cannot hold the encoded packet

  // --- requests ---
  TooManyFilters,  // more than 65535 filters in one SUBSCRIBE/UNSUBSCRIBE request
  SessionExpiryWasZero,  // DISCONNECT with a non-zero Session Expiry Interval after a
                         // CONNECT whose was 0 or absent (spec 3.14.2.2.2)
};

// A short English description, e.g. "remaining length longer than 4 bytes".
std::string_view to_string(CodecError e);

// The reason code for a DISCONNECT (or CONNACK) that answers a received packet
// which failed to decode with `e` (spec 4.13): MalformedPacket (0x81) when the
// packet cannot be parsed (framing, lengths, UTF-8, property identifiers not
// valid for the packet: spec 1.2, 2.2.2.2), ProtocolError (0x82) when it
// parses but breaks a rule (duplicate properties, out-of-range values, reason
// codes, packet identifier 0, empty topic without alias, wildcards in a topic
// name, missing Authentication Method), PacketTooLarge (0x95) for
// PacketTooLarge. Errors that only the encoder or the request builders return
// (BufferTooSmall, StringTooLong, ...) give UnspecifiedError (0x80). Every
// result is a valid DISCONNECT reason code for either sender.
ReasonCode reason_for(CodecError e);

}  // namespace mqtt::codec
