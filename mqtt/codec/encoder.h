// Packet -> bytes, into a caller-supplied buffer. No allocation.
//
// Each function validates what it writes (string lengths, UTF-8, topic names
// and filters, QoS/packet-id consistency, properties allowed on the packet,
// fields that 3.1.1 lacks) and returns the error instead of writing an invalid
// packet. On error the output buffer's contents are unspecified.
//
// `dir` says who sends the packet (see Direction in types.h): a client's
// requests are encoded with Direction::ClientToServer, which also refuses a
// Subscription Identifier on PUBLISH (PropertyNotAllowed), server-only
// DISCONNECT/AUTH reason codes (InvalidReasonCode), a Server Reference on
// DISCONNECT, and a Payload Format Indicator of 1 on a payload that is not
// well-formed UTF-8 (PayloadFormatInvalid). The default, Any, encodes what
// either side may send, so a decoded packet always re-encodes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "mqtt/codec/error.h"
#include "mqtt/codec/packets.h"
#include "mqtt/result.h"

namespace mqtt::codec {

// Bytes needed to encode `p` for `version`, or why it cannot be encoded.
Result<size_t, CodecError> encoded_size(const Packet& p, ProtocolVersion version,
                                        Direction dir = Direction::Any);

// Encodes `p` at the start of `out`; returns the number of bytes written.
// BufferTooSmall when `out` is shorter than encoded_size().
Result<size_t, CodecError> encode(const Packet& p, ProtocolVersion version,
                                  std::span<uint8_t> out, Direction dir = Direction::Any);

// Overloads for the hot path that avoid building a Packet variant.
Result<size_t, CodecError> encoded_size(const Publish& p, ProtocolVersion version,
                                        Direction dir = Direction::Any);
Result<size_t, CodecError> encode(const Publish& p, ProtocolVersion version,
                                  std::span<uint8_t> out, Direction dir = Direction::Any);

// Number of bytes a Variable Byte Integer takes (1..4); value < 268435456.
constexpr size_t variable_byte_integer_size(uint32_t v) {
  return v < 128u ? 1 : v < 16384u ? 2 : v < 2097152u ? 3 : 4;
}

// Largest value a Remaining Length can hold.
inline constexpr uint32_t kMaxRemainingLength = 268435455;

}  // namespace mqtt::codec
