// Bytes -> Packet. The decoder never allocates for PUBLISH topic or payload:
// the decoded packet's views point into the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "mqtt/codec/error.h"
#include "mqtt/codec/packets.h"

namespace mqtt::codec {

struct DecodeOptions {
  ProtocolVersion version = ProtocolVersion::V311;
  // Largest whole packet (fixed header included) accepted. A larger one is
  // rejected with PacketTooLarge as soon as its fixed header is complete,
  // before the body is buffered. Default: the protocol maximum.
  uint32_t max_packet_size = 268435460;
  // Who sent the bytes (see Direction in types.h). A client decodes with
  // ServerToClient: a DISCONNECT with a Session Expiry Interval
  // [MQTT-3.14.2-2] or reason 0x04, or an AUTH with reason 0x19, is then an
  // error. Any (the default) accepts what either side may send.
  Direction direction = Direction::Any;
};

enum class DecodeStatus : uint8_t {
  Ok,        // a packet was decoded; `consumed` bytes belong to it
  NeedMore,  // the input holds no whole packet yet; nothing consumed
  Error,     // the input is malformed; `error` and `error_offset` say how/where
};

struct DecodeResult {
  DecodeStatus status = DecodeStatus::NeedMore;
  size_t consumed = 0;      // Ok: size of the decoded packet in bytes
  CodecError error{};       // Error: what is wrong
  size_t error_offset = 0;  // Error: offset from the start of the input of the
                            // byte (or field start) where the problem was found
};

struct FixedHeader {
  uint8_t first_byte = 0;  // packet type (high nibble) and flags (low nibble)
  uint32_t remaining_length = 0;
  uint8_t header_size = 0;  // 2..5
  PacketType type() const { return static_cast<PacketType>(first_byte >> 4); }
  uint8_t flags() const { return first_byte & 0x0F; }
  size_t packet_size() const { return header_size + static_cast<size_t>(remaining_length); }
};

// Parses the fixed header at the start of `in` (type, flags, remaining length)
// and checks packet type, reserved flags and the size limit.
// NeedMore when the header is incomplete.
DecodeResult decode_fixed_header(std::span<const uint8_t> in, const DecodeOptions& opts,
                                 FixedHeader& out);

// Decodes one packet from the start of `in` into `out`. `in` may hold a partial
// packet (NeedMore) or more than one packet (only the first is decoded).
// CONNECT is decoded with the version it announces; all other packets with
// opts.version. Views in `out` point into `in`.
DecodeResult decode(std::span<const uint8_t> in, const DecodeOptions& opts, Packet& out);

// Accumulates a byte stream that arrives in arbitrary fragments and yields
// whole packets. Views in a decoded packet stay valid until the next call to
// feed() or next(). After an Error the stream is broken: next() keeps
// returning that error.
class StreamDecoder {
 public:
  explicit StreamDecoder(DecodeOptions opts = {}) : opts_(opts) {}

  void feed(std::span<const uint8_t> bytes);
  // Ok with one packet, NeedMore, or Error. error_offset is counted from the
  // start of the whole stream.
  DecodeResult next(Packet& out);

  const DecodeOptions& options() const { return opts_; }
  void set_version(ProtocolVersion v) { opts_.version = v; }
  size_t buffered() const { return buf_.size() - start_; }

 private:
  DecodeOptions opts_;
  std::vector<uint8_t> buf_;
  size_t start_ = 0;          // first unconsumed byte in buf_
  size_t stream_offset_ = 0;  // stream position of buf_[0]
  bool failed_ = false;
  DecodeResult failure_;
};

}  // namespace mqtt::codec
