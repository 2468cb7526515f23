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
#include <string_view>

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

// A PUBLISH by its parts, for callers that do not hold a Publish: the
// properties are referenced, not copied. A Publish converts to one.
struct PublishRef {
  PublishRef(const Publish& p)  // NOLINT: implicit, a view of `p`
      : dup(p.dup), qos(p.qos), retain(p.retain), topic(p.topic), packet_id(p.packet_id),
        properties(&p.properties), payload(p.payload) {}
  PublishRef(std::string_view t, QoS q, bool r, Bytes pl, const Properties& props)
      : qos(q), retain(r), topic(t), properties(&props), payload(pl) {}

  bool dup = false;
  QoS qos = QoS::AtMostOnce;
  bool retain = false;
  std::string_view topic;
  uint16_t packet_id = 0;
  const Properties* properties;  // never null
  Bytes payload;
};

// A PUBLISH in two steps, for callers that size their own storage from the
// packet: plan_publish() validates and measures it (the same checks, in the
// same order, and the same errors as encode()), then write_publish() writes
// exactly `size` bytes with no further checks. Together they cost one
// validation, where encoded_size() then encode() cost two.
struct PublishPlan {
  size_t size = 0;         // bytes of the whole packet
  uint32_t remaining = 0;  // its Remaining Length
  uint32_t props = 0;      // its Property Length (MQTT 5)
};
Result<PublishPlan, CodecError> plan_publish(const PublishRef& p, ProtocolVersion version,
                                             Direction dir = Direction::Any);
// `p` (unchanged since plan_publish() returned `plan` for it and `version`)
// into `out`, which has at least plan.size bytes; returns plan.size.
size_t write_publish(const PublishRef& p, ProtocolVersion version, const PublishPlan& plan,
                     std::span<uint8_t> out);

// Number of bytes a Variable Byte Integer takes (1..4); value < 268435456.
constexpr size_t variable_byte_integer_size(uint32_t v) {
  return v < 128u ? 1 : v < 16384u ? 2 : v < 2097152u ? 3 : 4;
}

// Largest value a Remaining Length can hold.
inline constexpr uint32_t kMaxRemainingLength = 268435455;

}  // namespace mqtt::codec
