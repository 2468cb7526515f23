// Small helpers shared by the codec tests.
#pragma once

#include <catch2/catch.hpp>

#include <cctype>
#include <cstdio>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "mqtt/codec/decoder.h"
#include "mqtt/codec/encoder.h"
#include "mqtt/codec/error.h"
#include "mqtt/codec/packets.h"
#include "mqtt/codec/properties.h"
#include "mqtt/codec/topic.h"
#include "mqtt/codec/types.h"

namespace Catch {
template <>
struct StringMaker<mqtt::codec::CodecError> {
  static std::string convert(mqtt::codec::CodecError e) {
    static const char* const names[] = {
        "?", "MalformedRemainingLength", "PacketTooLarge", "InvalidPacketType",
        "InvalidFixedHeaderFlags", "InvalidQoS", "LengthExceedsPacket", "TrailingBytes",
        "MalformedVariableByteInteger", "NonMinimalVariableByteInteger", "InvalidUtf8",
        "Utf8NullCharacter", "Utf8Surrogate",
        "StringTooLong", "EmptyTopicName", "WildcardInTopicName", "EmptyTopicFilter",
        "InvalidTopicFilter", "NoTopicFilters", "UnknownProperty", "DuplicateProperty",
        "PropertyNotAllowed", "InvalidPropertyValue", "PropertiesNotSupported",
        "MissingAuthenticationMethod", "InvalidProtocolName", "UnsupportedProtocolVersion",
        "InvalidConnectFlags",
        "InvalidConnAckFlags", "InvalidReasonCode", "ZeroPacketIdentifier",
        "UnexpectedPacketIdentifier", "InvalidSubscriptionOptions", "PayloadFormatInvalid",
        "BufferTooSmall", "TooManyFilters", "SessionExpiryWasZero"};
    auto i = static_cast<size_t>(e);
    return i < sizeof(names) / sizeof(names[0]) ? names[i] : "CodecError(" + std::to_string(i) + ")";
  }
};
template <>
struct StringMaker<mqtt::ReasonCode> {
  static std::string convert(mqtt::ReasonCode e) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "RC(0x%02X)", static_cast<unsigned>(e));
    return buf;
  }
};
template <>
struct StringMaker<mqtt::codec::DecodeStatus> {
  static std::string convert(mqtt::codec::DecodeStatus s) {
    switch (s) {
      case mqtt::codec::DecodeStatus::Ok: return "Ok";
      case mqtt::codec::DecodeStatus::NeedMore: return "NeedMore";
      case mqtt::codec::DecodeStatus::Error: return "Error";
    }
    return "?";
  }
};
}  // namespace Catch

namespace mqtt::codec::test {

using ByteVec = std::vector<uint8_t>;

// "10 1A 00 04" -> {0x10, 0x1A, 0x00, 0x04}. Whitespace is ignored.
inline ByteVec hex(std::string_view s) {
  ByteVec out;
  int hi = -1;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      throw std::invalid_argument("bad hex digit");
    }
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>(hi * 16 + v));
      hi = -1;
    }
  }
  if (hi >= 0) throw std::invalid_argument("odd number of hex digits");
  return out;
}

// Concatenation of byte vectors.
inline ByteVec cat(std::initializer_list<ByteVec> parts) {
  ByteVec out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Variable Byte Integer encoding (spec 1.5.5), written independently of the codec.
inline ByteVec vbi(uint32_t v) {
  ByteVec out;
  do {
    uint8_t b = v % 128;
    v /= 128;
    if (v) b |= 0x80;
    out.push_back(b);
  } while (v);
  return out;
}

// A whole packet: first byte, Remaining Length, body.
inline ByteVec pkt(uint8_t first, const ByteVec& body) {
  return cat({ByteVec{first}, vbi(static_cast<uint32_t>(body.size())), body});
}

// A length-prefixed UTF-8 string / binary field.
inline ByteVec str16(std::string_view s) {
  ByteVec out = {static_cast<uint8_t>(s.size() >> 8), static_cast<uint8_t>(s.size() & 0xFF)};
  out.insert(out.end(), s.begin(), s.end());
  return out;
}

// Hex dump used in failure messages.
inline std::string to_hex(std::span<const uint8_t> b) {
  static const char* d = "0123456789ABCDEF";
  std::string s;
  for (size_t i = 0; i < b.size(); ++i) {
    if (i) s += ' ';
    s += d[b[i] >> 4];
    s += d[b[i] & 15];
  }
  return s;
}

// Ack packets without -Wmissing-field-initializers noise.
template <class A>
A ack(uint16_t id, ReasonCode rc = ReasonCode::Success) {
  A a;
  a.packet_id = id;
  a.reason_code = rc;
  return a;
}

inline Subscription sub(std::string_view filter, QoS qos = QoS::AtMostOnce,
                        bool no_local = false, bool rap = false,
                        RetainHandling rh = RetainHandling::SendAtSubscribe) {
  Subscription s;
  s.filter = filter;
  s.qos = qos;
  s.no_local = no_local;
  s.retain_as_published = rap;
  s.retain_handling = rh;
  return s;
}

inline Bytes bytes_of(std::string_view s) { return as_bytes(s); }

inline std::string_view sv(const ByteVec& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size()};
}

// Encodes `p`, checking that encoded_size() agrees with the bytes written.
// Fails the current test (REQUIRE) when encoding fails.
inline ByteVec encode_ok(const Packet& p, ProtocolVersion v, Direction dir = Direction::Any) {
  auto size = encoded_size(p, v, dir);
  INFO("encoded_size error: " << (size.ok() ? std::string("-") : Catch::Detail::stringify(size.error())));
  REQUIRE(size.ok());
  ByteVec out(*size + 16, 0xEE);
  auto n = encode(p, v, out, dir);
  INFO("encode error: " << (n.ok() ? std::string("-") : Catch::Detail::stringify(n.error())));
  REQUIRE(n.ok());
  REQUIRE(*n == *size);
  out.resize(*n);
  return out;
}

// The CodecError of a failed encode (REQUIREs failure). Also checks that
// encoded_size() reports the same error.
inline CodecError encode_error(const Packet& p, ProtocolVersion v,
                               Direction dir = Direction::Any) {
  ByteVec out(1 << 17, 0);
  auto n = encode(p, v, out, dir);
  REQUIRE_FALSE(n.ok());
  auto size = encoded_size(p, v, dir);
  REQUIRE_FALSE(size.ok());
  CHECK(size.error() == n.error());
  return n.error();
}

inline DecodeOptions opts(ProtocolVersion v, uint32_t max = 268435460) {
  DecodeOptions o;
  o.version = v;
  o.max_packet_size = max;
  return o;
}

// Options for packets sent in direction `dir`.
inline DecodeOptions opts_from(ProtocolVersion v, Direction dir) {
  DecodeOptions o = opts(v);
  o.direction = dir;
  return o;
}

// Decodes exactly one whole packet from `in` (REQUIREs Ok and consumed == size).
inline Packet decode_ok(const ByteVec& in, ProtocolVersion v) {
  Packet p;
  auto r = decode(in, opts(v), p);
  INFO("input: " << to_hex(in));
  INFO("status " << Catch::Detail::stringify(r.status) << " error " << Catch::Detail::stringify(r.error) << " at " << r.error_offset);
  REQUIRE(r.status == DecodeStatus::Ok);
  REQUIRE(r.consumed == in.size());
  return p;
}

inline DecodeResult decode_result(const ByteVec& in, ProtocolVersion v) {
  Packet p;
  return decode(in, opts(v), p);
}

inline bool in_range(size_t x, size_t lo, size_t hi) { return lo <= x && x <= hi; }

// Checks that decoding `in` fails with `err` and that error_offset lies in
// [lo, hi] (inclusive).
#define CHECK_DECODE_ERROR(in, ver, err, lo, hi)                                  \
  do {                                                                           \
    const ::mqtt::codec::test::ByteVec in_ = (in);                               \
    auto r_ = ::mqtt::codec::test::decode_result(in_, (ver));                    \
    INFO("input: " << ::mqtt::codec::test::to_hex(in_));                         \
    INFO("got " << Catch::Detail::stringify(r_.status) << " "                    \
                 << Catch::Detail::stringify(r_.error) << " at offset "          \
                 << r_.error_offset);                                            \
    REQUIRE(r_.status == ::mqtt::codec::DecodeStatus::Error);                    \
    CHECK(r_.error == (err));                                                    \
    INFO("expected offset in [" << (lo) << ", " << (hi) << "]");                 \
    CHECK(::mqtt::codec::test::in_range(r_.error_offset, (lo), (hi)));           \
  } while (0)

// Encodes with the version, decodes back and compares.
template <class T>
T roundtrip(const T& pkt, ProtocolVersion v) {
  ByteVec wire = encode_ok(Packet{pkt}, v);
  Packet out = decode_ok(wire, v);
  REQUIRE(std::holds_alternative<T>(out));
  return std::get<T>(out);
}

}  // namespace mqtt::codec::test

