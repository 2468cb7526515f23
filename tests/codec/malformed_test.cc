// Every malformed input yields its own CodecError, with an error_offset that
// points at (or into) the offending field. Bodies are built with pkt() so the
// fixed header is 2 bytes: body offset k is input offset k + 2.
#include "tests/codec/test_util.h"

namespace mqtt::codec {
namespace {

using test::ByteVec;
using test::cat;
using test::hex;
using test::opts;
using test::pkt;
using test::str16;

constexpr auto V311 = ProtocolVersion::V311;
constexpr auto V5 = ProtocolVersion::V5;
using E = CodecError;

// A CONNECT variable header: protocol name, level, flags, keep alive 60.
ByteVec connect_vh(uint8_t level, uint8_t flags, std::string_view name = "MQTT") {
  return cat({str16(name), ByteVec{level, flags, 0x00, 0x3C}});
}

TEST_CASE("malformed: Remaining Length longer than 4 bytes", "[malformed][framing]") {
  CHECK_DECODE_ERROR(hex("30 FF FF FF FF 7F"), V311, E::MalformedRemainingLength, 1, 5);
  CHECK_DECODE_ERROR(hex("C0 80 80 80 80 01"), V5, E::MalformedRemainingLength, 1, 5);
  // The fifth byte need not arrive: a continuation bit on the fourth is enough.
  CHECK_DECODE_ERROR(hex("30 80 80 80 80"), V311, E::MalformedRemainingLength, 1, 4);
  FixedHeader h;
  auto r = decode_fixed_header(hex("30 FF FF FF FF 7F"), opts(V311), h);
  CHECK(r.status == DecodeStatus::Error);
  CHECK(r.error == E::MalformedRemainingLength);
}

TEST_CASE("malformed: invalid packet type", "[malformed][framing]") {
  CHECK_DECODE_ERROR(hex("00 00"), V311, E::InvalidPacketType, 0, 0);
  CHECK_DECODE_ERROR(hex("00 00"), V5, E::InvalidPacketType, 0, 0);
  // AUTH does not exist in 3.1.1.
  CHECK_DECODE_ERROR(hex("F0 00"), V311, E::InvalidPacketType, 0, 0);
  // Detected from the first byte alone.
  CHECK_DECODE_ERROR(hex("00"), V311, E::InvalidPacketType, 0, 0);
}

TEST_CASE("malformed: reserved fixed header flags", "[malformed][framing]") {
  // [MQTT-2.1.3-1] (5.0 section 2.1.3 / 3.1.1 section 2.2.2).
  struct Case {
    const char* in;
    ProtocolVersion v;
  };
  const Case cases[] = {
      {"60 02 00 01", V311},  // PUBREL must be 0010
      {"64 02 00 01", V5},
      {"63 02 00 01", V311},
      {"80 06 00 01 00 01 61 00", V311},  // SUBSCRIBE must be 0010
      {"83 06 00 01 00 01 61 00", V311},
      {"A0 05 00 01 00 01 61", V311},     // UNSUBSCRIBE must be 0010
      {"A6 05 00 01 00 01 61", V311},
      {"41 02 00 01", V311},              // PUBACK 0000
      {"52 02 00 01", V5},                // PUBREC 0000
      {"78 02 00 01", V311},              // PUBCOMP 0000
      {"12 0C 00 04 4D 51 54 54 04 02 00 3C 00 00", V311},  // CONNECT 0000
      {"28 02 00 00", V311},              // CONNACK 0000
      {"92 03 00 01 00", V311},           // SUBACK 0000
      {"B2 02 00 01", V311},              // UNSUBACK 0000
      {"C1 00", V311},                    // PINGREQ 0000
      {"D8 00", V5},                      // PINGRESP 0000
      {"E2 00", V311},                    // DISCONNECT 0000
      {"E1 00", V5},
      {"F1 00", V5},                      // AUTH 0000
  };
  for (const auto& c : cases) {
    CHECK_DECODE_ERROR(hex(c.in), c.v, E::InvalidFixedHeaderFlags, 0, 0);
    // Visible from the fixed header alone.
    ByteVec in = hex(c.in);
    FixedHeader h;
    auto r = decode_fixed_header(std::span<const uint8_t>(in.data(), 2), opts(c.v), h);
    CHECK(r.status == DecodeStatus::Error);
    CHECK(r.error == E::InvalidFixedHeaderFlags);
  }
}

TEST_CASE("malformed: PUBLISH QoS 3", "[malformed][publish]") {
  // [MQTT-3.3.1-4]
  CHECK_DECODE_ERROR(hex("36 05 00 01 74 00 01"), V311, E::InvalidQoS, 0, 0);
  CHECK_DECODE_ERROR(hex("3F 06 00 01 74 00 01 00"), V5, E::InvalidQoS, 0, 0);
}

TEST_CASE("malformed: a length field runs past the packet end", "[malformed][framing]") {
  // Topic length 5, but only 1 byte of body follows it.
  CHECK_DECODE_ERROR(hex("30 03 00 05 61"), V311, E::LengthExceedsPacket, 2, 4);
  // Bytes after the packet must not be used to satisfy the length.
  CHECK_DECODE_ERROR(hex("30 03 00 05 61 62 63 64 65 66"), V311, E::LengthExceedsPacket, 2, 4);
  // QoS 1 PUBLISH without room for the packet identifier.
  CHECK_DECODE_ERROR(hex("32 03 00 01 74"), V311, E::LengthExceedsPacket, 5, 5);
  // PUBACK (3.1.1) with a 1-byte body.
  CHECK_DECODE_ERROR(hex("40 01 00"), V311, E::LengthExceedsPacket, 2, 3);
  // CONNACK with a 1-byte body.
  CHECK_DECODE_ERROR(hex("20 01 00"), V311, E::LengthExceedsPacket, 2, 3);
  // CONNECT whose client id length runs past the end.
  CHECK_DECODE_ERROR(pkt(0x10, cat({connect_vh(4, 0x02), hex("00 09 61 62")})), V311,
                     E::LengthExceedsPacket, 12, 15);
  // CONNECT with the user name flag but no user name.
  CHECK_DECODE_ERROR(pkt(0x10, cat({connect_vh(4, 0x82), str16("id")})), V311,
                     E::LengthExceedsPacket, 16, 16);
  // 5.0 property length 5 but 1 byte left.
  CHECK_DECODE_ERROR(hex("40 05 00 01 80 05 1F"), V5, E::LengthExceedsPacket, 5, 7);
  // 5.0 string property whose length runs past the properties.
  CHECK_DECODE_ERROR(hex("40 07 00 01 80 03 1F 00 09"), V5, E::LengthExceedsPacket, 6, 9);
}

TEST_CASE("malformed: trailing bytes after the last field", "[malformed][framing]") {
  CHECK_DECODE_ERROR(hex("C0 01 00"), V311, E::TrailingBytes, 2, 2);
  CHECK_DECODE_ERROR(hex("D0 01 00"), V5, E::TrailingBytes, 2, 2);
  CHECK_DECODE_ERROR(hex("40 03 00 01 00"), V311, E::TrailingBytes, 4, 4);  // 3.1.1 PUBACK
  CHECK_DECODE_ERROR(hex("62 03 00 01 00"), V311, E::TrailingBytes, 4, 4);  // 3.1.1 PUBREL
  CHECK_DECODE_ERROR(hex("20 03 00 00 00"), V311, E::TrailingBytes, 4, 4);  // 3.1.1 CONNACK
  CHECK_DECODE_ERROR(hex("E0 01 00"), V311, E::TrailingBytes, 2, 2);        // 3.1.1 DISCONNECT
  CHECK_DECODE_ERROR(hex("B0 03 00 01 00"), V311, E::TrailingBytes, 4, 4);  // 3.1.1 UNSUBACK
  CHECK_DECODE_ERROR(hex("40 05 00 01 00 00 FF"), V5, E::TrailingBytes, 6, 6);  // 5.0 PUBACK
  CHECK_DECODE_ERROR(hex("20 04 00 00 00 FF"), V5, E::TrailingBytes, 5, 5);      // 5.0 CONNACK
  CHECK_DECODE_ERROR(hex("E0 03 00 00 FF"), V5, E::TrailingBytes, 4, 4);  // 5.0 DISCONNECT
  // CONNECT with one byte after the client identifier.
  CHECK_DECODE_ERROR(pkt(0x10, cat({connect_vh(4, 0x02), str16("id"), hex("FF")})), V311,
                     E::TrailingBytes, 16, 16);
}

TEST_CASE("malformed: UTF-8 errors in strings", "[malformed][utf8]") {
  // [MQTT-1.5.4-1] ill-formed / surrogates, [MQTT-1.5.4-2] U+0000.
  SECTION("PUBLISH topic") {
    CHECK_DECODE_ERROR(pkt(0x30, str16("a\xC3(")), V311, E::InvalidUtf8, 2, 6);
    CHECK_DECODE_ERROR(pkt(0x30, str16("\xFF")), V311, E::InvalidUtf8, 2, 4);
    CHECK_DECODE_ERROR(pkt(0x30, str16("\xC0\xAF")), V311, E::InvalidUtf8, 2, 5);  // overlong
    CHECK_DECODE_ERROR(pkt(0x30, str16("\xF4\x90\x80\x80")), V311, E::InvalidUtf8, 2, 7);
    CHECK_DECODE_ERROR(pkt(0x30, str16(std::string_view("a\0b", 3))), V311,
                       E::Utf8NullCharacter, 2, 6);
    CHECK_DECODE_ERROR(pkt(0x30, str16("\xED\xA0\x80")), V311, E::Utf8Surrogate, 2, 6);
    CHECK_DECODE_ERROR(pkt(0x30, cat({str16("x/\xED\xBF\xBF"), hex("00")})), V5,
                       E::Utf8Surrogate, 2, 8);
  }
  SECTION("CONNECT client identifier") {
    CHECK_DECODE_ERROR(pkt(0x10, cat({connect_vh(4, 0x02), str16("\xED\xA0\x80")})), V311,
                       E::Utf8Surrogate, 12, 16);
    CHECK_DECODE_ERROR(pkt(0x10, cat({connect_vh(4, 0x02), str16(std::string_view("\0", 1))})),
                       V311, E::Utf8NullCharacter, 12, 14);
    CHECK_DECODE_ERROR(pkt(0x10, cat({connect_vh(5, 0x02), hex("00"), str16("\x80")})), V5,
                       E::InvalidUtf8, 13, 15);
  }
  SECTION("user property") {
    // PUBACK 5.0, User Property key "\0".
    CHECK_DECODE_ERROR(hex("40 0B 00 01 00 07 26 00 01 00 00 01 76"), V5,
                       E::Utf8NullCharacter, 6, 12);
    // value 0xFF
    CHECK_DECODE_ERROR(hex("40 0B 00 01 00 07 26 00 01 6B 00 01 FF"), V5, E::InvalidUtf8, 6,
                       12);
    // value is a surrogate
    CHECK_DECODE_ERROR(hex("40 0D 00 01 00 09 26 00 01 6B 00 03 ED B0 80"), V5,
                       E::Utf8Surrogate, 6, 14);
  }
  SECTION("user name, will topic, subscription filter") {
    CHECK_DECODE_ERROR(
        pkt(0x10, cat({connect_vh(4, 0x82), str16("id"), str16("\xED\xA0\x80")})), V311,
        E::Utf8Surrogate, 16, 20);
    CHECK_DECODE_ERROR(
        pkt(0x10, cat({connect_vh(4, 0x06), str16("id"), str16("\xFE"), str16("m")})), V311,
        E::InvalidUtf8, 16, 19);
    CHECK_DECODE_ERROR(pkt(0x82, cat({hex("00 01"), str16("\xC3"), hex("00")})), V311,
                       E::InvalidUtf8, 4, 6);
  }
}

TEST_CASE("malformed: topic names", "[malformed][topic]") {
  // [MQTT-3.3.2-2] no wildcards in a topic name.
  CHECK_DECODE_ERROR(pkt(0x30, str16("a/#")), V311, E::WildcardInTopicName, 2, 6);
  CHECK_DECODE_ERROR(pkt(0x30, str16("+")), V311, E::WildcardInTopicName, 2, 4);
  CHECK_DECODE_ERROR(pkt(0x30, cat({str16("a+b"), hex("00")})), V5, E::WildcardInTopicName, 2,
                     6);
  // [MQTT-4.7.3-1] at least one character.
  CHECK_DECODE_ERROR(pkt(0x30, str16("")), V311, E::EmptyTopicName, 2, 3);
  CHECK_DECODE_ERROR(pkt(0x32, cat({str16(""), hex("00 01")})), V311, E::EmptyTopicName, 2, 3);
  // 5.0: empty without Topic Alias is an error, with one it is fine.
  CHECK_DECODE_ERROR(pkt(0x30, cat({str16(""), hex("00")})), V5, E::EmptyTopicName, 2, 5);
  CHECK_DECODE_ERROR(pkt(0x30, cat({str16(""), hex("05 02 00 00 00 0A")})), V5,
                     E::EmptyTopicName, 2, 11);
  Packet p;
  auto ok = decode(pkt(0x30, cat({str16(""), hex("03 23 00 07")})), opts(V5), p);
  CHECK(ok.status == DecodeStatus::Ok);
}

ByteVec subscribe311(std::string_view filter, uint8_t options = 0x00) {
  return pkt(0x82, cat({hex("00 01"), str16(filter), ByteVec{options}}));
}
ByteVec subscribe5(std::string_view filter, uint8_t options, const ByteVec& props = hex("00")) {
  return pkt(0x82, cat({hex("00 01"), props, str16(filter), ByteVec{options}}));
}
ByteVec unsubscribe311(std::string_view filter) {
  return pkt(0xA2, cat({hex("00 01"), str16(filter)}));
}

TEST_CASE("malformed: topic filters", "[malformed][topic]") {
  // [MQTT-4.7.1-1] '#' last and alone, [MQTT-4.7.1-2] '+' alone in its level.
  for (const char* f : {"a/#/b", "a#", "a/b+", "#/a", "+a", "sport/tennis#", "##", "a/++"}) {
    INFO("filter " << f);
    size_t end = 4 + 2 + std::string_view(f).size();
    CHECK_DECODE_ERROR(subscribe311(f), V311, E::InvalidTopicFilter, 4, end);
    CHECK_DECODE_ERROR(subscribe5(f, 0), V5, E::InvalidTopicFilter, 5, end + 1);
    CHECK_DECODE_ERROR(unsubscribe311(f), V311, E::InvalidTopicFilter, 4, end);
  }
  // Malformed shared subscriptions (5.0 section 4.8.2).
  for (const char* f : {"$share/g", "$share//a", "$share/g+/a", "$share/#/a"}) {
    INFO("filter " << f);
    CHECK_DECODE_ERROR(subscribe5(f, 0), V5, E::InvalidTopicFilter, 5,
                       5 + 2 + std::string_view(f).size());
  }
  // [MQTT-4.7.3-1] empty filter.
  CHECK_DECODE_ERROR(subscribe311(""), V311, E::EmptyTopicFilter, 4, 5);
  CHECK_DECODE_ERROR(subscribe5("", 0), V5, E::EmptyTopicFilter, 5, 6);
  CHECK_DECODE_ERROR(unsubscribe311(""), V311, E::EmptyTopicFilter, 4, 5);
  // Second filter invalid.
  CHECK_DECODE_ERROR(pkt(0x82, cat({hex("00 01"), str16("ok"), hex("00"), str16("a#"),
                                    hex("00")})),
                     V311, E::InvalidTopicFilter, 9, 13);
}

TEST_CASE("malformed: SUBSCRIBE/UNSUBSCRIBE without filters", "[malformed][topic]") {
  // [MQTT-3.8.3-3] (3.1.1), [MQTT-3.8.3-2] (5.0), [MQTT-3.10.3-2].
  CHECK_DECODE_ERROR(hex("82 02 00 01"), V311, E::NoTopicFilters, 2, 4);
  CHECK_DECODE_ERROR(hex("82 03 00 01 00"), V5, E::NoTopicFilters, 2, 5);
  CHECK_DECODE_ERROR(hex("A2 02 00 01"), V311, E::NoTopicFilters, 2, 4);
  CHECK_DECODE_ERROR(hex("A2 03 00 01 00"), V5, E::NoTopicFilters, 2, 5);
}

TEST_CASE("malformed: CONNECT protocol name and level", "[malformed][connect]") {
  // [MQTT-3.1.2-1]
  CHECK_DECODE_ERROR(pkt(0x10, cat({connect_vh(4, 0x02, "MQTX"), str16("id")})), V311,
                     E::InvalidProtocolName, 2, 7);
  CHECK_DECODE_ERROR(pkt(0x10, cat({connect_vh(4, 0x02, "mqtt"), str16("id")})), V311,
                     E::InvalidProtocolName, 2, 7);
  CHECK_DECODE_ERROR(pkt(0x10, cat({connect_vh(3, 0x02, "MQIsdp"), str16("id")})), V311,
                     E::InvalidProtocolName, 2, 9);
  // [MQTT-3.1.2-2]: level 3 (MQTT 3.1) and 6 are not supported.
  CHECK_DECODE_ERROR(pkt(0x10, cat({connect_vh(3, 0x02), str16("id")})), V311,
                     E::UnsupportedProtocolVersion, 8, 8);
  CHECK_DECODE_ERROR(pkt(0x10, cat({connect_vh(6, 0x02), str16("id")})), V5,
                     E::UnsupportedProtocolVersion, 8, 8);
}

TEST_CASE("malformed: CONNECT flags", "[malformed][connect]") {
  auto connect311 = [](uint8_t flags) {
    return pkt(0x10, cat({connect_vh(4, flags), str16("id")}));
  };
  // [MQTT-3.1.2-3] reserved bit 0.
  CHECK_DECODE_ERROR(connect311(0x03), V311, E::InvalidConnectFlags, 9, 9);
  CHECK_DECODE_ERROR(pkt(0x10, cat({connect_vh(5, 0x01), hex("00"), str16("id")})), V5,
                     E::InvalidConnectFlags, 9, 9);
  // [MQTT-3.1.2-11] Will QoS without the Will flag, [MQTT-3.1.2-13] Will Retain without it.
  CHECK_DECODE_ERROR(connect311(0x0A), V311, E::InvalidConnectFlags, 9, 9);
  CHECK_DECODE_ERROR(connect311(0x12), V311, E::InvalidConnectFlags, 9, 9);
  CHECK_DECODE_ERROR(connect311(0x22), V311, E::InvalidConnectFlags, 9, 9);
  // 3.1.1 [MQTT-3.1.2-22]: password without user name.
  CHECK_DECODE_ERROR(pkt(0x10, cat({connect_vh(4, 0x42), str16("id"), str16("pw")})), V311,
                     E::InvalidConnectFlags, 9, 9);
  // Will QoS 3 [MQTT-3.1.2-14] (3.1.1) / 3.1.2-12 (5.0).
  CHECK_DECODE_ERROR(
      pkt(0x10, cat({connect_vh(4, 0x1E), str16("id"), str16("w"), str16("m")})), V311,
      E::InvalidQoS, 9, 9);
}

TEST_CASE("malformed: CONNACK acknowledge flags", "[malformed][connack]") {
  // [MQTT-3.2.2-1] (5.0), 3.1.1 section 3.2.2.1: bits 7-1 reserved.
  CHECK_DECODE_ERROR(hex("20 02 02 00"), V311, E::InvalidConnAckFlags, 2, 2);
  CHECK_DECODE_ERROR(hex("20 02 80 00"), V311, E::InvalidConnAckFlags, 2, 2);
  CHECK_DECODE_ERROR(hex("20 03 FE 00 00"), V5, E::InvalidConnAckFlags, 2, 2);
}

TEST_CASE("malformed: zero packet identifier", "[malformed][packet-id]") {
  // [MQTT-2.3.1-1] (3.1.1) / [MQTT-2.2.1-3] (5.0).
  CHECK_DECODE_ERROR(hex("32 05 00 01 74 00 00"), V311, E::ZeroPacketIdentifier, 5, 6);
  CHECK_DECODE_ERROR(hex("34 06 00 01 74 00 00 00"), V5, E::ZeroPacketIdentifier, 5, 6);
  CHECK_DECODE_ERROR(hex("40 02 00 00"), V311, E::ZeroPacketIdentifier, 2, 3);
  CHECK_DECODE_ERROR(hex("50 02 00 00"), V5, E::ZeroPacketIdentifier, 2, 3);
  CHECK_DECODE_ERROR(hex("62 02 00 00"), V311, E::ZeroPacketIdentifier, 2, 3);
  CHECK_DECODE_ERROR(hex("70 03 00 00 00"), V5, E::ZeroPacketIdentifier, 2, 3);
  CHECK_DECODE_ERROR(hex("82 06 00 00 00 01 61 00"), V311, E::ZeroPacketIdentifier, 2, 3);
  CHECK_DECODE_ERROR(hex("90 03 00 00 00"), V311, E::ZeroPacketIdentifier, 2, 3);
  CHECK_DECODE_ERROR(hex("A2 05 00 00 00 01 61"), V311, E::ZeroPacketIdentifier, 2, 3);
  CHECK_DECODE_ERROR(hex("B0 02 00 00"), V311, E::ZeroPacketIdentifier, 2, 3);
}

TEST_CASE("malformed: subscription options", "[malformed][subscribe]") {
  // 3.1.1 [MQTT-3.8.3-4]: bits 7-2 reserved.
  for (uint8_t o : {0x04, 0x08, 0x10, 0x20, 0x40, 0x80}) {
    INFO("options " << int(o));
    CHECK_DECODE_ERROR(subscribe311("a", o), V311, E::InvalidSubscriptionOptions, 7, 7);
  }
  // 5.0 [MQTT-3.8.3-5]: bits 7-6 reserved; Retain Handling 3 is malformed.
  CHECK_DECODE_ERROR(subscribe5("a", 0x40), V5, E::InvalidSubscriptionOptions, 8, 8);
  CHECK_DECODE_ERROR(subscribe5("a", 0x80), V5, E::InvalidSubscriptionOptions, 8, 8);
  CHECK_DECODE_ERROR(subscribe5("a", 0x30), V5, E::InvalidSubscriptionOptions, 8, 8);
  // [MQTT-3.8.3-4] (5.0): No Local on a shared subscription.
  CHECK_DECODE_ERROR(subscribe5("$share/g/a", 0x04), V5, E::InvalidSubscriptionOptions, 5, 17);
  // QoS 3 in the options byte.
  CHECK_DECODE_ERROR(subscribe311("a", 0x03), V311, E::InvalidQoS, 7, 7);
  CHECK_DECODE_ERROR(subscribe5("a", 0x03), V5, E::InvalidQoS, 8, 8);
  // The valid extremes decode.
  Packet p;
  CHECK(decode(subscribe5("a", 0x2E), opts(V5), p).status == DecodeStatus::Ok);
  CHECK(decode(subscribe311("a", 0x02), opts(V311), p).status == DecodeStatus::Ok);
}

TEST_CASE("malformed: reason codes not allowed for the packet", "[malformed][reason]") {
  struct Case {
    const char* in;
    ProtocolVersion v;
    size_t at;
  };
  const Case cases[] = {
      {"20 02 00 06", V311, 3},            // 3.1.1 CONNACK return code 6
      {"20 02 00 80", V311, 3},            // 3.1.1 CONNACK 0x80
      {"90 03 00 01 03", V311, 4},         // 3.1.1 SUBACK 3
      {"90 03 00 01 87", V311, 4},         // 3.1.1 SUBACK 0x87 (5.0 only)
      {"20 03 00 04 00", V5, 3},           // CONNACK 0x04 (DISCONNECT only)
      {"20 03 00 10 00", V5, 3},           // CONNACK 0x10
      {"40 03 00 01 04", V5, 4},           // PUBACK 0x04
      {"40 03 00 01 92", V5, 4},           // PUBACK 0x92 (PUBREL/PUBCOMP only)
      {"50 03 00 01 01", V5, 4},           // PUBREC 0x01
      {"62 03 00 01 10", V5, 4},           // PUBREL 0x10
      {"62 03 00 01 80", V5, 4},           // PUBREL 0x80
      {"70 03 00 01 87", V5, 4},           // PUBCOMP 0x87
      {"90 04 00 01 00 11", V5, 5},        // SUBACK 0x11 (UNSUBACK only)
      {"90 04 00 01 00 03", V5, 5},        // SUBACK 3
      {"B0 04 00 01 00 01", V5, 5},        // UNSUBACK 0x01 (SUBACK only)
      {"B0 05 00 01 00 00 9E", V5, 6},     // UNSUBACK 0x9E (second code)
      {"E0 01 18", V5, 2},                 // DISCONNECT 0x18 (AUTH only)
      {"E0 01 05", V5, 2},                 // DISCONNECT undefined 0x05
      {"E0 01 84", V5, 2},                 // DISCONNECT 0x84 (CONNACK only)
      {"F0 02 04 00", V5, 2},              // AUTH 0x04
      {"F0 02 80 00", V5, 2},              // AUTH 0x80
  };
  for (const auto& c : cases) {
    CHECK_DECODE_ERROR(hex(c.in), c.v, E::InvalidReasonCode, c.at, c.at);
  }
}

TEST_CASE("malformed: packet larger than max_packet_size, from the fixed header alone",
          "[malformed][limits]") {
  // PUBLISH with Remaining Length 128: 131 bytes in all. Only the header is given.
  const ByteVec header = hex("30 80 01");
  Packet p;
  auto r = decode(header, opts(V311, 100), p);
  REQUIRE(r.status == DecodeStatus::Error);  // not NeedMore
  CHECK(r.error == E::PacketTooLarge);
  CHECK(r.error_offset <= 2);
  FixedHeader h;
  auto rh = decode_fixed_header(header, opts(V311, 100), h);
  REQUIRE(rh.status == DecodeStatus::Error);
  CHECK(rh.error == E::PacketTooLarge);
  // Exactly at the limit: NeedMore, the body is still missing.
  CHECK(decode(header, opts(V311, 131), p).status == DecodeStatus::NeedMore);
  CHECK(decode(header, opts(V311, 130), p).status == DecodeStatus::Error);
  // A 4-byte Remaining Length near the protocol maximum with the default limit.
  CHECK(decode(hex("30 FF FF FF 7F"), opts(V5), p).status == DecodeStatus::NeedMore);
  auto big = decode(hex("30 FF FF FF 7F"), opts(V5, 1024 * 1024), p);
  REQUIRE(big.status == DecodeStatus::Error);
  CHECK(big.error == E::PacketTooLarge);
}

TEST_CASE("malformed: Variable Byte Integers inside the body", "[malformed][vbi]") {
  // Property Length with 5 bytes.
  CHECK_DECODE_ERROR(hex("30 0A 00 01 74 80 80 80 80 01 00 00"), V5,
                     E::MalformedVariableByteInteger, 5, 9);
  // Subscription Identifier with 5 bytes.
  CHECK_DECODE_ERROR(hex("30 0A 00 01 74 06 0B FF FF FF FF 01"), V5,
                     E::MalformedVariableByteInteger, 6, 11);
}

TEST_CASE("malformed: Variable Byte Integers longer than their value needs [MQTT-1.5.5-1]",
          "[malformed][vbi]") {
  SECTION("Remaining Length") {
    // PINGREQ with Remaining Length 0 written as 80 00.
    CHECK_DECODE_ERROR(hex("C0 80 00"), V311, E::NonMinimalVariableByteInteger, 1, 1);
    // PUBLISH "t", Remaining Length 3 written as 83 00 and as 83 80 80 00.
    CHECK_DECODE_ERROR(hex("30 83 00 00 01 74"), V311, E::NonMinimalVariableByteInteger, 1, 1);
    CHECK_DECODE_ERROR(hex("30 83 80 80 00 00 01 74"), V5, E::NonMinimalVariableByteInteger,
                       1, 1);
    // 127 in two bytes.
    CHECK_DECODE_ERROR(hex("30 FF 00"), V311, E::NonMinimalVariableByteInteger, 1, 1);
    FixedHeader h;
    auto r = decode_fixed_header(hex("E0 80 00"), opts(V5), h);
    CHECK(r.status == DecodeStatus::Error);
    CHECK(r.error == E::NonMinimalVariableByteInteger);
    // Found as soon as the last length byte arrives, before any body byte.
    CHECK(test::decode_result(hex("30 80"), V311).status == DecodeStatus::NeedMore);
    CHECK(test::decode_result(hex("30 80 00"), V311).status == DecodeStatus::Error);
    // The shortest forms at the boundaries still decode (decoder_test has them all).
    CHECK(test::decode_result(hex("30 80 01"), V311).status == DecodeStatus::NeedMore);
  }
  SECTION("Property Length") {
    // PUBLISH "t" with Property Length 0 written as 80 00.
    CHECK_DECODE_ERROR(hex("30 05 00 01 74 80 00"), V5, E::NonMinimalVariableByteInteger, 5, 5);
    CHECK_DECODE_ERROR(hex("30 06 00 01 74 80 80 00"), V5, E::NonMinimalVariableByteInteger,
                       5, 5);
    // CONNACK, DISCONNECT and PUBACK property sections too.
    CHECK_DECODE_ERROR(hex("20 04 00 00 80 00"), V5, E::NonMinimalVariableByteInteger, 4, 4);
    CHECK_DECODE_ERROR(hex("E0 03 00 80 00"), V5, E::NonMinimalVariableByteInteger, 3, 3);
    CHECK_DECODE_ERROR(hex("40 05 00 01 00 80 00"), V5, E::NonMinimalVariableByteInteger, 5,
                       5);
  }
  SECTION("Subscription Identifier") {
    // 1 written as 81 00, on PUBLISH and on SUBSCRIBE.
    CHECK_DECODE_ERROR(hex("30 07 00 01 74 03 0B 81 00"), V5, E::NonMinimalVariableByteInteger,
                       7, 7);
    CHECK_DECODE_ERROR(hex("82 0A 00 01 03 0B 81 00 00 01 61 00"), V5,
                       E::NonMinimalVariableByteInteger, 6, 6);
    // 128 in three bytes.
    CHECK_DECODE_ERROR(hex("30 08 00 01 74 04 0B 80 81 00"), V5,
                       E::NonMinimalVariableByteInteger, 7, 7);
    // The shortest forms decode.
    CHECK(test::decode_result(hex("30 06 00 01 74 02 0B 01"), V5).status == DecodeStatus::Ok);
    CHECK(test::decode_result(hex("30 07 00 01 74 03 0B 80 01"), V5).status ==
          DecodeStatus::Ok);
  }
  SECTION("a StreamDecoder fed byte by byte reports the same error") {
    const ByteVec in = hex("D0 00 30 83 00 00 01 74");  // PINGRESP, then the bad PUBLISH
    StreamDecoder dec(opts(V311));
    Packet p;
    DecodeResult r;
    for (uint8_t b : in) {
      dec.feed(std::span<const uint8_t>(&b, 1));
      do {
        r = dec.next(p);
      } while (r.status == DecodeStatus::Ok);
      if (r.status == DecodeStatus::Error) break;
    }
    REQUIRE(r.status == DecodeStatus::Error);
    CHECK(r.error == E::NonMinimalVariableByteInteger);
    CHECK(r.error_offset == 3);
  }
}

TEST_CASE("malformed: AUTH without Authentication Method (spec 3.15.2.2.2)",
          "[malformed][auth]") {
  // A reason code and an empty property section.
  CHECK_DECODE_ERROR(hex("F0 02 18 00"), V5, E::MissingAuthenticationMethod, 3, 3);
  CHECK_DECODE_ERROR(hex("F0 02 19 00"), V5, E::MissingAuthenticationMethod, 3, 3);
  CHECK_DECODE_ERROR(hex("F0 02 00 00"), V5, E::MissingAuthenticationMethod, 3, 3);
  // Properties, but no method: Reason String only, Authentication Data only.
  CHECK_DECODE_ERROR(hex("F0 06 18 04 1F 00 01 61"), V5, E::MissingAuthenticationMethod, 3, 3);
  CHECK_DECODE_ERROR(hex("F0 07 18 05 16 00 02 AB CD"), V5, E::MissingAuthenticationMethod, 3,
                     3);
  // AUTH omits reason code and Property Length together or not at all (spec
  // 3.15.2.1): a reason code alone lacks its Property Length.
  CHECK_DECODE_ERROR(hex("F0 01 18"), V5, E::LengthExceedsPacket, 3, 3);
  // Remaining Length 0 (Success, no properties) and a named method decode.
  CHECK(test::decode_result(hex("F0 00"), V5).status == DecodeStatus::Ok);
  CHECK(test::decode_result(hex("F0 06 18 04 15 00 01 61"), V5).status == DecodeStatus::Ok);
}

TEST_CASE("malformed: CONNECT Authentication Data without Authentication Method "
          "(spec 3.1.2.11.10)",
          "[malformed][connect][auth]") {
  // Properties: Authentication Data (1 byte). Property Length at input offset 12.
  const ByteVec in = pkt(0x10, cat({connect_vh(5, 0x02), hex("04 16 00 01 00"), str16("id")}));
  CHECK_DECODE_ERROR(in, V5, E::MissingAuthenticationMethod, 12, 12);
  // With its method it decodes; a method alone too.
  const ByteVec ok = pkt(
      0x10, cat({connect_vh(5, 0x02), hex("08 15 00 01 61 16 00 01 00"), str16("id")}));
  CHECK(test::decode_result(ok, V5).status == DecodeStatus::Ok);
  const ByteVec method_only =
      pkt(0x10, cat({connect_vh(5, 0x02), hex("04 15 00 01 61"), str16("id")}));
  CHECK(test::decode_result(method_only, V5).status == DecodeStatus::Ok);
}

// A packet only one side may send: refused with `error` at `at` when decoded
// as coming from the other side, decoded when from its sender or from Any.
struct OneWay {
  const char* in;
  CodecError error;
  size_t at;
};

void check_one_way(const OneWay& c, Direction sender) {
  INFO(c.in);
  const Direction other = sender == Direction::ClientToServer ? Direction::ServerToClient
                                                              : Direction::ClientToServer;
  const ByteVec in = hex(c.in);
  Packet p;
  auto r = decode(in, test::opts_from(V5, other), p);
  REQUIRE(r.status == DecodeStatus::Error);
  CHECK(r.error == c.error);
  CHECK(r.error_offset == c.at);
  CHECK(decode(in, test::opts_from(V5, sender), p).status == DecodeStatus::Ok);
  CHECK(decode(in, opts(V5), p).status == DecodeStatus::Ok);
}

TEST_CASE("malformed: what only one side sends, from the other (DecodeOptions::direction)",
          "[malformed][direction]") {
  const OneWay client_only[] = {
      // [MQTT-3.14.2-2]: no Session Expiry Interval on a server's DISCONNECT.
      {"E0 07 00 05 11 00 00 00 0A", E::PropertyNotAllowed, 4},
      // Table 3-10: 0x04 (Disconnect with Will Message) is sent by a client.
      {"E0 01 04", E::InvalidReasonCode, 2},
      // Table 3-11: 0x19 (Re-authenticate) is sent by a client.
      {"F0 06 19 04 15 00 01 61", E::InvalidReasonCode, 2},
  };
  for (const auto& c : client_only) check_one_way(c, Direction::ClientToServer);
  const OneWay server_only[] = {
      // [MQTT-3.3.4-6]: no Subscription Identifier on a client's PUBLISH.
      {"30 06 00 01 74 02 0B 01", E::PropertyNotAllowed, 6},
      // Spec 3.14.2.2.5: the Server sends the Server Reference (and 0x9D).
      {"E0 06 9D 04 1C 00 01 68", E::InvalidReasonCode, 2},
      {"E0 06 80 04 1C 00 01 68", E::PropertyNotAllowed, 4},
      // Table 3-11: 0x00 (Success) is sent by the server.
      {"F0 06 00 04 15 00 01 61", E::InvalidReasonCode, 2},
  };
  for (const auto& c : server_only) check_one_way(c, Direction::ServerToClient);
}

TEST_CASE("malformed: reason_for() tells Malformed Packet from Protocol Error (spec 4.13)",
          "[malformed][reason_for]") {
  using RC = ReasonCode;
  // Cannot be parsed (spec 1.2 "Malformed Packet").
  for (auto e : {E::MalformedRemainingLength, E::NonMinimalVariableByteInteger,
                 E::MalformedVariableByteInteger, E::LengthExceedsPacket, E::TrailingBytes,
                 E::InvalidFixedHeaderFlags, E::InvalidQoS, E::InvalidUtf8,
                 E::Utf8NullCharacter, E::Utf8Surrogate, E::UnknownProperty,
                 E::PropertyNotAllowed, E::InvalidConnAckFlags, E::InvalidPacketType}) {
    INFO(Catch::Detail::stringify(e));
    CHECK(reason_for(e) == RC::MalformedPacket);
  }
  // Parsed, but against the protocol (spec 1.2 "Protocol Error"; the spec
  // says "It is a Protocol Error" for duplicates, values and missing methods).
  for (auto e : {E::DuplicateProperty, E::InvalidPropertyValue, E::EmptyTopicName,
                 E::WildcardInTopicName, E::InvalidReasonCode, E::ZeroPacketIdentifier,
                 E::MissingAuthenticationMethod, E::SessionExpiryWasZero}) {
    INFO(Catch::Detail::stringify(e));
    CHECK(reason_for(e) == RC::ProtocolError);
  }
  CHECK(reason_for(E::PacketTooLarge) == RC::PacketTooLarge);
  CHECK(reason_for(E::BufferTooSmall) == RC::UnspecifiedError);
  // Every error maps to a code either side may put in a DISCONNECT.
  for (int i = 1; i <= static_cast<int>(E::SessionExpiryWasZero); ++i) {
    const auto e = static_cast<CodecError>(i);
    INFO(Catch::Detail::stringify(e));
    Disconnect d;
    d.reason_code = reason_for(e);
    CHECK(test::encode_ok(d, V5, Direction::ClientToServer).size() >= 3);
    CHECK(test::encode_ok(d, V5, Direction::ServerToClient).size() >= 3);
  }
}

}  // namespace
}  // namespace mqtt::codec
