// decode() and decode_fixed_header() on hand-written wire vectors.
#include <deque>

#include "tests/codec/test_util.h"

namespace mqtt::codec {
namespace {

using test::ByteVec;
using test::decode_ok;
using test::hex;
using test::opts;
using test::sv;

constexpr auto V311 = ProtocolVersion::V311;
constexpr auto V5 = ProtocolVersion::V5;

// Decodes `in` as a T. The decoded views point into the input, so the input
// is copied into storage that outlives the test (callers pass temporaries).
template <class T>
T decode_as(const ByteVec& in, ProtocolVersion v) {
  static std::deque<ByteVec> keep_alive;
  keep_alive.push_back(in);
  Packet p = decode_ok(keep_alive.back(), v);
  REQUIRE(std::holds_alternative<T>(p));
  return std::get<T>(p);
}

TEST_CASE("decode CONNECT 3.1.1 (spec figure 3.6)", "[decoder][connect]") {
  const ByteVec in = {
      0x10, 0x20,                      // CONNECT, RL 32
      0x00, 0x04, 'M', 'Q', 'T', 'T',  // Protocol Name
      0x04,                            // Level 4
      0xCE,                            // user, password, Will QoS 1, Will, Clean Session
      0x00, 0x0A,                      // Keep Alive 10
      0x00, 0x03, 'c', 'i', 'd',       // Client Identifier
      0x00, 0x03, 'w', '/', 't',       // Will Topic
      0x00, 0x03, 'b', 'y', 'e',       // Will Message
      0x00, 0x01, 'u',                 // User Name
      0x00, 0x02, 'p', 'w',            // Password
  };
  auto c = decode_as<Connect>(in, V311);
  CHECK(c.protocol_version == V311);
  CHECK(c.client_id == "cid");
  CHECK(c.clean_start);
  CHECK(c.keep_alive == 10);
  REQUIRE(c.will.has_value());
  CHECK(c.will->topic == "w/t");
  CHECK(as_string(c.will->payload) == "bye");
  CHECK(c.will->qos == QoS::AtLeastOnce);
  CHECK_FALSE(c.will->retain);
  CHECK(c.will->properties.empty());
  REQUIRE(c.username.has_value());
  CHECK(*c.username == "u");
  REQUIRE(c.password.has_value());
  CHECK(as_string(*c.password) == "pw");
  CHECK(c.properties.empty());
}

TEST_CASE("decode CONNECT 5.0 (spec figure 3-6)", "[decoder][connect]") {
  const ByteVec in = {
      0x10, 0x27,                      // CONNECT, RL 39
      0x00, 0x04, 'M', 'Q', 'T', 'T',  // Protocol Name
      0x05,                            // Version 5
      0xCE,                            // flags
      0x00, 0x0A,                      // Keep Alive 10
      0x05, 0x11, 0x00, 0x00, 0x00, 0x0A,  // Properties: Session Expiry Interval 10
      0x00, 0x03, 'c', 'i', 'd',       // Client Identifier
      0x00,                            // Will Properties: none
      0x00, 0x03, 'w', '/', 't',       // Will Topic
      0x00, 0x03, 'b', 'y', 'e',       // Will Payload
      0x00, 0x01, 'u',                 // User Name
      0x00, 0x02, 'p', 'w',            // Password
  };
  // CONNECT is decoded with the version it announces, whatever opts.version is.
  for (auto v : {V311, V5}) {
    auto c = decode_as<Connect>(in, v);
    CHECK(c.protocol_version == V5);
    CHECK(c.client_id == "cid");
    REQUIRE(c.properties.session_expiry_interval.has_value());
    CHECK(*c.properties.session_expiry_interval == 10u);
    REQUIRE(c.will.has_value());
    CHECK(c.will->qos == QoS::AtLeastOnce);
    CHECK(c.will->topic == "w/t");
  }
}

TEST_CASE("decode 3.1.1 CONNECT while configured for 5.0", "[decoder][connect]") {
  auto c = decode_as<Connect>(hex("10 0C 00 04 4D 51 54 54 04 02 00 3C 00 00"), V5);
  CHECK(c.protocol_version == V311);
  CHECK(c.client_id.empty());
  CHECK(c.clean_start);
  CHECK(c.keep_alive == 60);
  CHECK_FALSE(c.will.has_value());
  CHECK_FALSE(c.username.has_value());
  CHECK_FALSE(c.password.has_value());
}

TEST_CASE("decode 5.0 CONNECT: password without user name is allowed", "[decoder][connect]") {
  auto c = decode_as<Connect>(hex("10 12"              // RL 18
                                  "00 04 4D 51 54 54"  // MQTT
                                  "05"                 // version 5
                                  "40"                 // Password flag only
                                  "00 00"              // Keep Alive
                                  "00"                 // no properties
                                  "00 01 61"           // client id "a"
                                  "00 02 70 77"),      // password "pw"
                              V5);
  CHECK_FALSE(c.username.has_value());
  REQUIRE(c.password.has_value());
  CHECK(as_string(*c.password) == "pw");
}

TEST_CASE("decode 3.1.1 CONNACK return codes map onto ReasonCode", "[decoder][connack]") {
  const std::pair<uint8_t, ReasonCode> map[] = {
      {0x00, ReasonCode::Success},
      {0x01, ReasonCode::UnsupportedProtocolVersion},
      {0x02, ReasonCode::ClientIdentifierNotValid},
      {0x03, ReasonCode::ServerUnavailable},
      {0x04, ReasonCode::BadUserNameOrPassword},
      {0x05, ReasonCode::NotAuthorized},
  };
  for (auto [wire, rc] : map) {
    INFO("return code " << int(wire));
    auto a = decode_as<ConnAck>(ByteVec{0x20, 0x02, 0x00, wire}, V311);
    CHECK(a.reason_code == rc);
    CHECK_FALSE(a.session_present);
    CHECK(a.properties.empty());
  }
  auto a = decode_as<ConnAck>(hex("20 02 01 00"), V311);
  CHECK(a.session_present);
  CHECK(a.reason_code == ReasonCode::Success);
}

TEST_CASE("decode 5.0 CONNACK", "[decoder][connack]") {
  auto a = decode_as<ConnAck>(hex("20 0C"             // RL 12
                                  "01"                // session present
                                  "00"                // Success
                                  "09"                // Property Length 9
                                  "13 00 1E"          // Server Keep Alive 30
                                  "21 00 0A"          // Receive Maximum 10
                                  "22 00 05"),        // Topic Alias Maximum 5
                              V5);
  CHECK(a.session_present);
  CHECK(a.reason_code == ReasonCode::Success);
  CHECK(a.properties.server_keep_alive == std::optional<uint16_t>(30));
  CHECK(a.properties.receive_maximum == std::optional<uint16_t>(10));
  CHECK(a.properties.topic_alias_maximum == std::optional<uint16_t>(5));
  auto b = decode_as<ConnAck>(hex("20 03 00 9F 00"), V5);
  CHECK(b.reason_code == ReasonCode::ConnectionRateExceeded);
}

TEST_CASE("decode PUBLISH", "[decoder][publish]") {
  SECTION("3.1.1 QoS 1") {
    auto p = decode_as<Publish>(hex("32 09 00 03 61 2F 62 00 0A 68 69"), V311);
    CHECK(p.qos == QoS::AtLeastOnce);
    CHECK_FALSE(p.dup);
    CHECK_FALSE(p.retain);
    CHECK(p.topic == "a/b");
    CHECK(p.packet_id == 10);
    CHECK(as_string(p.payload) == "hi");
    CHECK(p.properties.empty());
  }
  SECTION("5.0 QoS 2 DUP RETAIN with properties") {
    auto p = decode_as<Publish>(hex("3D 1A"                 // RL 26
                                    "00 01 74"              // topic "t"
                                    "12 34"                 // packet id
                                    "11"                    // Property Length 17
                                    "01 01"                 // Payload Format Indicator 1
                                    "02 00 00 00 3C"        // Message Expiry 60
                                    "23 00 05"              // Topic Alias 5
                                    "26 00 01 6B 00 01 76"  // User Property k=v
                                    "78 79 7A"),            // payload "xyz"
                                V5);
    CHECK(p.dup);
    CHECK(p.retain);
    CHECK(p.qos == QoS::ExactlyOnce);
    CHECK(p.packet_id == 0x1234);
    CHECK(p.properties.payload_format_indicator == std::optional<uint8_t>(1));
    CHECK(p.properties.message_expiry_interval == std::optional<uint32_t>(60));
    CHECK(p.properties.topic_alias == std::optional<uint16_t>(5));
    REQUIRE(p.properties.user_properties.size() == 1);
    CHECK(p.properties.user_properties[0].key == "k");
    CHECK(p.properties.user_properties[0].value == "v");
    CHECK(as_string(p.payload) == "xyz");
  }
  SECTION("5.0 properties in any order are accepted (spec 2.2.2.2)") {
    auto p = decode_as<Publish>(hex("30 0C 00 01 74"
                                    "08"             // Property Length 8
                                    "23 00 02"       // Topic Alias 2
                                    "02 00 00 00 01" // Message Expiry 1
                                    ""),
                                V5);
    CHECK(p.properties.topic_alias == std::optional<uint16_t>(2));
    CHECK(p.properties.message_expiry_interval == std::optional<uint32_t>(1));
    CHECK(p.payload.empty());
  }
  SECTION("5.0 empty topic with Topic Alias") {
    auto p = decode_as<Publish>(hex("30 06 00 00 03 23 00 01"), V5);
    CHECK(p.topic.empty());
    CHECK(p.properties.topic_alias == std::optional<uint16_t>(1));
  }
}

TEST_CASE("decode ack packets, all 5.0 forms", "[decoder][ack]") {
  SECTION("3.1.1") {
    CHECK(decode_as<PubAck>(hex("40 02 00 01"), V311).packet_id == 1);
    CHECK(decode_as<PubRec>(hex("50 02 01 02"), V311).packet_id == 0x0102);
    CHECK(decode_as<PubRel>(hex("62 02 FF FF"), V311).packet_id == 0xFFFF);
    CHECK(decode_as<PubComp>(hex("70 02 00 07"), V311).packet_id == 7);
  }
  SECTION("5.0 Remaining Length 2: Success") {
    auto a = decode_as<PubAck>(hex("40 02 00 01"), V5);
    CHECK(a.packet_id == 1);
    CHECK(a.reason_code == ReasonCode::Success);
    CHECK(a.properties.empty());
  }
  SECTION("5.0 Remaining Length 3: reason code, no properties") {
    auto a = decode_as<PubAck>(hex("40 03 00 01 10"), V5);
    CHECK(a.reason_code == ReasonCode::NoMatchingSubscribers);
    auto r = decode_as<PubRel>(hex("62 03 00 02 92"), V5);
    CHECK(r.reason_code == ReasonCode::PacketIdentifierNotFound);
    CHECK(r.packet_id == 2);
    auto c = decode_as<PubComp>(hex("70 03 00 02 00"), V5);
    CHECK(c.reason_code == ReasonCode::Success);
  }
  SECTION("5.0 Remaining Length 4: reason code and empty properties") {
    auto a = decode_as<PubRec>(hex("50 04 00 01 80 00"), V5);
    CHECK(a.reason_code == ReasonCode::UnspecifiedError);
    CHECK(a.properties.empty());
  }
  SECTION("5.0 with Reason String") {
    auto a = decode_as<PubAck>(hex("40 08 00 01 80 04 1F 00 01 78"), V5);
    CHECK(a.reason_code == ReasonCode::UnspecifiedError);
    CHECK(a.properties.reason_string == std::optional<std::string_view>("x"));
  }
}

TEST_CASE("decode SUBSCRIBE / SUBACK / UNSUBSCRIBE / UNSUBACK", "[decoder]") {
  SECTION("3.1.1 SUBSCRIBE") {
    auto s = decode_as<Subscribe>(hex("82 0E 00 0A 00 03 61 2F 62 01 00 03 63 2F 64 02"), V311);
    CHECK(s.packet_id == 10);
    REQUIRE(s.subscriptions.size() == 2);
    CHECK(s.subscriptions[0] == test::sub("a/b", QoS::AtLeastOnce));
    CHECK(s.subscriptions[1] == test::sub("c/d", QoS::ExactlyOnce));
  }
  SECTION("5.0 SUBSCRIBE with options") {
    auto s = decode_as<Subscribe>(
        hex("82 11 00 0A 02 0B 05 00 03 61 2F 62 2D 00 03 63 2F 64 12"), V5);
    REQUIRE(s.subscriptions.size() == 2);
    CHECK(s.subscriptions[0] ==
          test::sub("a/b", QoS::AtLeastOnce, true, true, RetainHandling::DoNotSend));
    CHECK(s.subscriptions[1] == test::sub("c/d", QoS::ExactlyOnce, false, false,
                                          RetainHandling::SendAtSubscribeIfNew));
    CHECK(s.properties.subscription_identifiers == std::vector<uint32_t>{5});
  }
  SECTION("3.1.1 SUBACK: 0x80 is UnspecifiedError") {
    auto a = decode_as<SubAck>(hex("90 06 00 0A 00 01 02 80"), V311);
    CHECK(a.packet_id == 10);
    CHECK(a.reason_codes == std::vector<ReasonCode>{ReasonCode::GrantedQoS0,
                                                    ReasonCode::GrantedQoS1,
                                                    ReasonCode::GrantedQoS2,
                                                    ReasonCode::UnspecifiedError});
  }
  SECTION("5.0 SUBACK") {
    auto a = decode_as<SubAck>(hex("90 06 00 0A 00 01 A2 9E"), V5);
    CHECK(a.reason_codes ==
          std::vector<ReasonCode>{ReasonCode::GrantedQoS1,
                                  ReasonCode::WildcardSubscriptionsNotSupported,
                                  ReasonCode::SharedSubscriptionsNotSupported});
  }
  SECTION("UNSUBSCRIBE") {
    auto u = decode_as<Unsubscribe>(hex("A2 0C 00 0A 00 03 61 2F 62 00 03 63 2F 64"), V311);
    CHECK(u.packet_id == 10);
    CHECK(u.filters == std::vector<std::string_view>{"a/b", "c/d"});
    auto u5 = decode_as<Unsubscribe>(hex("A2 06 00 0B 00 00 01 23"), V5);
    CHECK(u5.packet_id == 11);
    CHECK(u5.filters == std::vector<std::string_view>{"#"});
  }
  SECTION("UNSUBACK") {
    auto a = decode_as<UnsubAck>(hex("B0 02 00 0A"), V311);
    CHECK(a.packet_id == 10);
    CHECK(a.reason_codes.empty());
    auto a5 = decode_as<UnsubAck>(hex("B0 05 00 0A 00 00 11"), V5);
    CHECK(a5.reason_codes ==
          std::vector<ReasonCode>{ReasonCode::Success, ReasonCode::NoSubscriptionExisted});
  }
}

TEST_CASE("decode PINGREQ, PINGRESP, DISCONNECT, AUTH", "[decoder]") {
  for (auto v : {V311, V5}) {
    CHECK(std::holds_alternative<PingReq>(decode_ok(hex("C0 00"), v)));
    CHECK(std::holds_alternative<PingResp>(decode_ok(hex("D0 00"), v)));
    auto d = decode_as<Disconnect>(hex("E0 00"), v);
    CHECK(d.reason_code == ReasonCode::NormalDisconnection);
    CHECK(d.properties.empty());
  }
  // 5.0 DISCONNECT: Remaining Length 1 (reason only) and 2 (empty properties).
  CHECK(decode_as<Disconnect>(hex("E0 01 8E"), V5).reason_code ==
        ReasonCode::SessionTakenOver);
  CHECK(decode_as<Disconnect>(hex("E0 02 04 00"), V5).reason_code ==
        ReasonCode::DisconnectWithWillMessage);
  auto d = decode_as<Disconnect>(hex("E0 06 9D 04 1C 00 01 68"), V5);
  CHECK(d.reason_code == ReasonCode::ServerMoved);
  CHECK(d.properties.server_reference == std::optional<std::string_view>("h"));
  // AUTH
  auto a0 = decode_as<Auth>(hex("F0 00"), V5);
  CHECK(a0.reason_code == ReasonCode::Success);
  auto a = decode_as<Auth>(hex("F0 0A 18 08 15 00 05 53 43 52 41 4D"), V5);
  CHECK(a.reason_code == ReasonCode::ContinueAuthentication);
  CHECK(a.properties.authentication_method == std::optional<std::string_view>("SCRAM"));
}

TEST_CASE("decode_fixed_header: Remaining Length boundary values", "[decoder][vbi]") {
  struct Case {
    uint32_t rl;
    ByteVec vbi;
  };
  const Case cases[] = {
      {0, hex("00")},
      {127, hex("7F")},
      {128, hex("80 01")},
      {16383, hex("FF 7F")},
      {16384, hex("80 80 01")},
      {2097151, hex("FF FF 7F")},
      {2097152, hex("80 80 80 01")},
      {268435455, hex("FF FF FF 7F")},
      {321, hex("C1 02")},  // the spec 3.1.1 section 2.2.3 example
  };
  for (const auto& c : cases) {
    INFO("remaining length " << c.rl);
    ByteVec in = {0x30};
    in.insert(in.end(), c.vbi.begin(), c.vbi.end());
    FixedHeader h;
    auto r = decode_fixed_header(in, opts(V311), h);
    REQUIRE(r.status == DecodeStatus::Ok);
    CHECK(h.first_byte == 0x30);
    CHECK(h.type() == PacketType::Publish);
    CHECK(h.flags() == 0);
    CHECK(h.remaining_length == c.rl);
    CHECK(h.header_size == 1 + c.vbi.size());
    CHECK(h.packet_size() == 1 + c.vbi.size() + c.rl);
    // Every proper prefix of the header is NeedMore.
    for (size_t n = 0; n < in.size(); ++n) {
      FixedHeader h2;
      auto r2 = decode_fixed_header(std::span<const uint8_t>(in.data(), n), opts(V311), h2);
      CHECK(r2.status == DecodeStatus::NeedMore);
    }
  }
}

TEST_CASE("decode: whole packets at the Remaining Length boundaries", "[decoder][vbi]") {
  for (uint32_t rl : {127u, 128u, 16383u, 16384u, 2097151u, 2097152u}) {
    INFO("remaining length " << rl);
    ByteVec in = {0x30};
    uint32_t v = rl;
    do {
      uint8_t b = v % 128;
      v /= 128;
      if (v) b |= 0x80;
      in.push_back(b);
    } while (v);
    size_t payload_at = in.size() + 3;
    in.push_back(0x00);
    in.push_back(0x01);
    in.push_back('t');
    in.resize(payload_at + (rl - 3), 0x5A);
    Packet pk = decode_ok(in, V311);  // not decode_as: it would decode a copy
    REQUIRE(std::holds_alternative<Publish>(pk));
    const auto& p = std::get<Publish>(pk);
    CHECK(p.topic == "t");
    CHECK(p.payload.size() == rl - 3);
    CHECK(p.payload.data() == in.data() + payload_at);
  }
}

TEST_CASE("decode: NeedMore for a truncated packet, only the first of two packets", "[decoder]") {
  ByteVec two = hex("32 09 00 03 61 2F 62 00 0A 68 69  C0 00");
  for (size_t n = 0; n < 11; ++n) {
    Packet p;
    auto r = decode(std::span<const uint8_t>(two.data(), n), opts(V311), p);
    INFO("prefix " << n);
    CHECK(r.status == DecodeStatus::NeedMore);
    CHECK(r.consumed == 0);
  }
  Packet p;
  auto r = decode(two, opts(V311), p);
  REQUIRE(r.status == DecodeStatus::Ok);
  CHECK(r.consumed == 11);
  CHECK(std::holds_alternative<Publish>(p));
  auto r2 = decode(std::span<const uint8_t>(two).subspan(r.consumed), opts(V311), p);
  REQUIRE(r2.status == DecodeStatus::Ok);
  CHECK(r2.consumed == 2);
  CHECK(std::holds_alternative<PingReq>(p));
}

TEST_CASE("decode: PUBLISH topic and payload point into the input (zero copy)",
          "[decoder][zerocopy]") {
  ByteVec in = hex("32 0A 00 03 61 2F 62 00 0A 00 68 69");  // 5.0
  Packet pk = decode_ok(in, V5);  // not decode_as: it would decode a copy
  REQUIRE(std::holds_alternative<Publish>(pk));
  const auto& p = std::get<Publish>(pk);
  CHECK(p.topic.data() == reinterpret_cast<const char*>(in.data() + 4));
  CHECK(p.topic.size() == 3);
  CHECK(p.payload.data() == in.data() + 10);
  CHECK(p.payload.size() == 2);
  auto c = decode_as<Connect>(hex("10 0D 00 04 4D 51 54 54 04 02 00 3C 00 01 78"), V311);
  CHECK(c.client_id == "x");
}

TEST_CASE("decode: max_packet_size limits whole packet size", "[decoder][limits]") {
  // 5-byte PUBLISH (2 header + 3 body) exactly at the limit is accepted.
  ByteVec in = hex("30 03 00 01 74");
  Packet p;
  auto ok = decode(in, opts(V311, 5), p);
  CHECK(ok.status == DecodeStatus::Ok);
  auto too_big = decode(in, opts(V311, 4), p);
  REQUIRE(too_big.status == DecodeStatus::Error);
  CHECK(too_big.error == CodecError::PacketTooLarge);
}

TEST_CASE("to_string helpers are non-empty", "[decoder][names]") {
  CHECK_FALSE(to_string(PacketType::Publish).empty());
  CHECK(to_string(PacketType::Connect) == "CONNECT");
  CHECK(to_string(PacketType::Publish) == "PUBLISH");
  CHECK_FALSE(to_string(ReasonCode::NotAuthorized).empty());
  CHECK_FALSE(to_string(CodecError::TrailingBytes).empty());
  CHECK(to_string(CodecError::TrailingBytes) != to_string(CodecError::InvalidUtf8));
  CHECK_FALSE(to_string(PropertyId::TopicAlias).empty());
}

}  // namespace
}  // namespace mqtt::codec
