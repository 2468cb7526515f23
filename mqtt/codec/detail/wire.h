// Internal helpers shared by the codec's translation units: byte readers and
// writers, the property context numbering and declarations of internal
// functions. Not part of the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "mqtt/codec/error.h"
#include "mqtt/codec/properties.h"
#include "mqtt/codec/types.h"

namespace mqtt::codec::detail {

// "No error" marker: CodecError has no enumerator with value 0.
inline constexpr CodecError kOk = CodecError{0};

// Bounds-checked reader over one packet body. Offsets are relative to `base`
// (the start of the decoder's input) so errors can report them directly.
struct Reader {
  const uint8_t* base = nullptr;
  size_t pos = 0;  // next byte to read
  size_t end = 0;  // one past the last byte of the current region
  size_t err_off = 0;
  Direction dir = Direction::Any;  // which way the packet travels (DecodeOptions)

  CodecError fail(CodecError e, size_t off) {
    err_off = off;
    return e;
  }
  size_t left() const { return end - pos; }

  CodecError u8(uint8_t& v) {
    if (pos >= end) return fail(CodecError::LengthExceedsPacket, pos);
    v = base[pos++];
    return kOk;
  }
  CodecError u16(uint16_t& v) {
    if (end - pos < 2) return fail(CodecError::LengthExceedsPacket, pos);
    v = static_cast<uint16_t>((base[pos] << 8) | base[pos + 1]);
    pos += 2;
    return kOk;
  }
  CodecError u32(uint32_t& v) {
    if (end - pos < 4) return fail(CodecError::LengthExceedsPacket, pos);
    v = (uint32_t{base[pos]} << 24) | (uint32_t{base[pos + 1]} << 16) |
        (uint32_t{base[pos + 2]} << 8) | uint32_t{base[pos + 3]};
    pos += 4;
    return kOk;
  }
  // Variable Byte Integer inside a packet body, in its shortest form: a last
  // byte of 0 after a continuation byte is one byte too many [MQTT-1.5.5-1].
  CodecError vbi(uint32_t& v) {
    const size_t start = pos;
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      if (pos >= end) return fail(CodecError::LengthExceedsPacket, start);
      const uint8_t b = base[pos++];
      value |= uint32_t{b & 0x7Fu} << (7 * i);
      if ((b & 0x80) == 0) {
        if (b == 0 && i != 0) return fail(CodecError::NonMinimalVariableByteInteger, start);
        v = value;
        return kOk;
      }
    }
    return fail(CodecError::MalformedVariableByteInteger, start);
  }
  // Two-byte length followed by that many bytes (Binary Data / raw string).
  CodecError bin(const uint8_t*& data, size_t& len) {
    const size_t start = pos;
    if (end - pos < 2) return fail(CodecError::LengthExceedsPacket, start);
    const size_t n = (size_t{base[pos]} << 8) | base[pos + 1];
    if (end - pos - 2 < n) return fail(CodecError::LengthExceedsPacket, start);
    data = base + pos + 2;
    len = n;
    pos += 2 + n;
    return kOk;
  }
  CodecError bin(Bytes& out) {
    const uint8_t* d;
    size_t n;
    if (auto e = bin(d, n); e != kOk) return e;
    out = Bytes(d, n);
    return kOk;
  }
};

// Unchecked writer: the encoder sizes the packet before writing.
struct Writer {
  uint8_t* p;

  void u8(uint8_t v) { *p++ = v; }
  void u16(uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
    p += 2;
  }
  void u32(uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
    p += 4;
  }
  void vbi(uint32_t v) {
    do {
      uint8_t b = v & 0x7F;
      v >>= 7;
      if (v) b |= 0x80;
      *p++ = b;
    } while (v);
  }
  void raw(const void* d, size_t n) {
    if (n) std::memcpy(p, d, n);
    p += n;
  }
  void str(std::string_view s) {
    u16(static_cast<uint16_t>(s.size()));
    raw(s.data(), s.size());
  }
  void bin(Bytes b) {
    u16(static_cast<uint16_t>(b.size()));
    raw(b.data(), b.size());
  }
};

// --- property contexts -------------------------------------------------------
// A property context is the packet type number (1..15) of the packet carrying
// the properties, or kWillContext for the Will Properties of CONNECT.
inline constexpr uint8_t kWillContext = 0;

// Validates `p` for context `ctx` sent in direction `dir` and computes the
// length of the property section body (without the Property Length VBI).
CodecError measure_properties(const Properties& p, uint8_t ctx, Direction dir,
                              uint32_t& body_len);
// Writes Property Length (VBI of body_len) then the properties.
void write_properties(const Properties& p, uint32_t body_len, Writer& w);
// Reads Property Length and the properties that follow, for context `ctx`
// (and the direction r.dir). `out` must be empty (see reset_properties).
CodecError decode_properties(Reader& r, uint8_t ctx, Properties& out);
// Clears every property without releasing vector capacity.
void reset_properties(Properties& p);

// --- strings -------------------------------------------------------------------
// UTF-8 validation without the length check (kOk when valid).
CodecError check_utf8(const uint8_t* s, size_t n);
// Well-formed UTF-8 as RFC 3629 defines it (U+0000 allowed): a payload whose
// Payload Format Indicator is 1 (spec 3.3.2.3.2). kOk or PayloadFormatInvalid.
CodecError check_utf8_payload(const uint8_t* s, size_t n);
// Topic name without the emptiness check: UTF-8 plus no wildcards.
CodecError check_topic_name_chars(const uint8_t* s, size_t n);
// Topic filter structure (non-empty, wildcards, $share). Includes UTF-8.
CodecError check_topic_filter(std::string_view f);

// --- reason codes --------------------------------------------------------------
// Whether `rc` is allowed (MQTT 5) in a packet of type `type` sent in
// direction `dir` (tables 3-10 and 3-11 say who may send which code).
bool reason_code_allowed_v5(PacketType type, uint8_t rc, Direction dir = Direction::Any);
// MQTT 3.1.1 CONNACK return code (0..5) <-> ReasonCode. False when unmapped.
bool connack_rc_from_v311(uint8_t wire, ReasonCode& out);
bool connack_rc_to_v311(ReasonCode rc, uint8_t& wire);
// MQTT 3.1.1 SUBACK return codes 0, 1, 2, 0x80 (same values as ReasonCode).
inline bool suback_rc_v311_ok(uint8_t rc) { return rc <= 2 || rc == 0x80; }

}  // namespace mqtt::codec::detail
