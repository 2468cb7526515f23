// Byte-exact encodings, derived by hand from the packet layouts of the MQTT
// 3.1.1 and 5.0 specifications, plus the encode-side errors.
#include <set>

#include "tests/codec/test_util.h"

namespace mqtt::codec {
namespace {

using test::ack;
using test::ByteVec;
using test::sub;
using test::encode_error;
using test::encode_ok;
using test::hex;
using test::to_hex;

constexpr auto V311 = ProtocolVersion::V311;
constexpr auto V5 = ProtocolVersion::V5;

#define CHECK_BYTES(actual, expected)                                     \
  do {                                                                    \
    const ByteVec a_ = (actual);                                          \
    const ByteVec e_ = (expected);                                        \
    INFO("actual:   " << to_hex(a_));                                     \
    INFO("expected: " << to_hex(e_));                                     \
    CHECK(a_ == e_);                                                      \
  } while (0)

// The CONNECT of spec figure 3-6 (both versions): user name, password, Will QoS 1,
// Will flag, Clean Session/Start, Keep Alive 10.
Connect spec_connect(ProtocolVersion v) {
  Connect c;
  c.protocol_version = v;
  c.client_id = "cid";
  c.clean_start = true;
  c.keep_alive = 10;
  Will w;
  w.topic = "w/t";
  w.payload = as_bytes("bye");
  w.qos = QoS::AtLeastOnce;
  w.retain = false;
  c.will = w;
  c.username = "u";
  c.password = as_bytes("pw");
  if (v == ProtocolVersion::V5) c.properties.session_expiry_interval = 10;
  return c;
}

TEST_CASE("CONNECT 3.1.1: spec figure 3.6 variable header + payload", "[encoder][connect]") {
  const ByteVec expected = {
      0x10,                          // CONNECT, flags 0
      0x20,                          // Remaining Length 32
      0x00, 0x04, 'M', 'Q', 'T', 'T',  // Protocol Name
      0x04,                          // Protocol Level 4
      0xCE,                          // user name, password, Will QoS 01, Will, Clean Session
      0x00, 0x0A,                    // Keep Alive 10
      0x00, 0x03, 'c', 'i', 'd',     // Client Identifier
      0x00, 0x03, 'w', '/', 't',     // Will Topic
      0x00, 0x03, 'b', 'y', 'e',     // Will Message
      0x00, 0x01, 'u',               // User Name
      0x00, 0x02, 'p', 'w',          // Password
  };
  CHECK_BYTES(encode_ok(spec_connect(V311), V311), expected);
}

TEST_CASE("CONNECT 5.0: spec figure 3-6 variable header + payload", "[encoder][connect]") {
  const ByteVec expected = {
      0x10,                          // CONNECT
      0x27,                          // Remaining Length 39
      0x00, 0x04, 'M', 'Q', 'T', 'T',  // Protocol Name
      0x05,                          // Protocol Version 5
      0xCE,                          // user name, password, Will QoS 01, Will, Clean Start
      0x00, 0x0A,                    // Keep Alive 10
      0x05,                          // Property Length 5
      0x11, 0x00, 0x00, 0x00, 0x0A,  // Session Expiry Interval 10
      0x00, 0x03, 'c', 'i', 'd',     // Client Identifier
      0x00,                          // Will Property Length 0
      0x00, 0x03, 'w', '/', 't',     // Will Topic
      0x00, 0x03, 'b', 'y', 'e',     // Will Payload
      0x00, 0x01, 'u',               // User Name
      0x00, 0x02, 'p', 'w',          // Password
  };
  CHECK_BYTES(encode_ok(spec_connect(V5), V5), expected);
}

TEST_CASE("CONNECT minimal: empty client id, clean session, no flags", "[encoder][connect]") {
  Connect c;
  c.client_id = "";
  c.keep_alive = 0;
  CHECK_BYTES(encode_ok(c, V311), hex("10 0C"              // CONNECT, RL 12
                                      "00 04 4D 51 54 54"  // "MQTT"
                                      "04"                 // level 4
                                      "02"                 // Clean Session
                                      "00 00"              // Keep Alive 0
                                      "00 00"));           // empty Client Identifier
  c.protocol_version = V5;
  c.clean_start = false;
  c.keep_alive = 300;
  CHECK_BYTES(encode_ok(c, V5), hex("10 0D"              // CONNECT, RL 13
                                    "00 04 4D 51 54 54"  // "MQTT"
                                    "05"                 // version 5
                                    "00"                 // no flags
                                    "01 2C"              // Keep Alive 300
                                    "00"                 // Property Length 0
                                    "00 00"));           // empty Client Identifier
}

TEST_CASE("CONNECT with Will retain and QoS 2 sets flag bits 5 and 4", "[encoder][connect]") {
  Connect c;
  c.client_id = "a";
  c.keep_alive = 0;
  c.clean_start = false;
  Will w;
  w.topic = "t";
  w.payload = as_bytes("");
  w.qos = QoS::ExactlyOnce;
  w.retain = true;
  c.will = w;
  CHECK_BYTES(encode_ok(c, V311), hex("10 12"              // RL 18
                                      "00 04 4D 51 54 54"  // "MQTT"
                                      "04"                 // level 4
                                      "34"                 // Will Retain, Will QoS 10, Will
                                      "00 00"              // Keep Alive 0
                                      "00 01 61"           // Client Identifier "a"
                                      "00 01 74"           // Will Topic "t"
                                      "00 00"));           // empty Will Message
}

TEST_CASE("CONNACK encodings", "[encoder][connack]") {
  SECTION("3.1.1 session present, accepted") {
    ConnAck a;
    a.session_present = true;
    CHECK_BYTES(encode_ok(a, V311), hex("20 02 01 00"));
  }
  SECTION("3.1.1 return codes 1..5 from ReasonCode") {
    const std::pair<ReasonCode, uint8_t> map[] = {
        {ReasonCode::Success, 0x00},
        {ReasonCode::UnsupportedProtocolVersion, 0x01},
        {ReasonCode::ClientIdentifierNotValid, 0x02},
        {ReasonCode::ServerUnavailable, 0x03},
        {ReasonCode::BadUserNameOrPassword, 0x04},
        {ReasonCode::NotAuthorized, 0x05},
    };
    for (auto [rc, wire] : map) {
      ConnAck a;
      a.reason_code = rc;
      CHECK_BYTES(encode_ok(a, V311), (ByteVec{0x20, 0x02, 0x00, wire}));
    }
  }
  SECTION("5.0 success, no properties") {
    ConnAck a;
    CHECK_BYTES(encode_ok(a, V5), hex("20 03 00 00 00"));
  }
  SECTION("5.0 failure reason, with Maximum QoS and Retain Available") {
    ConnAck a;
    a.reason_code = ReasonCode::Banned;
    a.properties.maximum_qos = 1;
    a.properties.retain_available = 0;
    CHECK_BYTES(encode_ok(a, V5), hex("20 07"   // CONNACK, RL 7
                                      "00"      // flags
                                      "8A"      // Banned
                                      "04"      // Property Length 4
                                      "24 01"   // Maximum QoS 1
                                      "25 00")); // Retain Available 0
  }
}

TEST_CASE("PUBLISH encodings", "[encoder][publish]") {
  SECTION("3.1.1 QoS 1 (spec figure 3.11 topic a/b, id 10)") {
    Publish p;
    p.qos = QoS::AtLeastOnce;
    p.topic = "a/b";
    p.packet_id = 10;
    p.payload = as_bytes("hi");
    const ByteVec expected = {
        0x32,                     // PUBLISH, QoS 1
        0x09,                     // Remaining Length 9
        0x00, 0x03, 'a', '/', 'b',  // Topic Name
        0x00, 0x0A,               // Packet Identifier 10
        'h', 'i',                 // payload
    };
    CHECK_BYTES(encode_ok(p, V311), expected);
    // The Publish-specific overloads agree with the Packet ones.
    auto sz = encoded_size(p, V311);
    REQUIRE(sz.ok());
    CHECK(*sz == expected.size());
    ByteVec out(*sz);
    auto n = encode(p, V311, std::span<uint8_t>(out));
    REQUIRE(n.ok());
    CHECK(*n == expected.size());
    CHECK_BYTES(out, expected);
  }
  SECTION("5.0 QoS 1 with no properties") {
    Publish p;
    p.qos = QoS::AtLeastOnce;
    p.topic = "a/b";
    p.packet_id = 10;
    p.payload = as_bytes("hi");
    CHECK_BYTES(encode_ok(p, V5), hex("32 0A"           // PUBLISH QoS 1, RL 10
                                      "00 03 61 2F 62"  // "a/b"
                                      "00 0A"           // Packet Identifier 10
                                      "00"              // Property Length 0
                                      "68 69"));        // "hi"
  }
  SECTION("QoS 0: no packet identifier, empty payload") {
    Publish p;
    p.topic = "t";
    CHECK_BYTES(encode_ok(p, V311), hex("30 03 00 01 74"));
    CHECK_BYTES(encode_ok(p, V5), hex("30 04 00 01 74 00"));
  }
  SECTION("DUP + QoS 2 + RETAIN flags") {
    Publish p;
    p.dup = true;
    p.qos = QoS::ExactlyOnce;
    p.retain = true;
    p.topic = "t";
    p.packet_id = 0x1234;
    CHECK_BYTES(encode_ok(p, V311), hex("3D 05 00 01 74 12 34"));
  }
  SECTION("5.0 properties in increasing identifier order, user property last") {
    Publish p;
    p.topic = "t";
    p.payload = as_bytes("x");
    // Set in a different order than the wire order on purpose.
    p.properties.user_properties = {{"k", "v"}};
    p.properties.topic_alias = 5;
    p.properties.message_expiry_interval = 60;
    p.properties.payload_format_indicator = 1;
    CHECK_BYTES(encode_ok(p, V5), hex("30 16"                 // PUBLISH QoS 0, RL 22
                                      "00 01 74"              // topic "t"
                                      "11"                    // Property Length 17
                                      "01 01"                 // Payload Format Indicator 1
                                      "02 00 00 00 3C"        // Message Expiry Interval 60
                                      "23 00 05"              // Topic Alias 5
                                      "26 00 01 6B 00 01 76"  // User Property k=v
                                      "78"));                 // payload "x"
  }
  SECTION("5.0 empty topic with a Topic Alias") {
    Publish p;
    p.topic = "";
    p.properties.topic_alias = 1;
    CHECK_BYTES(encode_ok(p, V5), hex("30 06 00 00 03 23 00 01"));
  }
  SECTION("5.0 subscription identifier as a Variable Byte Integer") {
    Publish p;
    p.topic = "t";
    p.properties.subscription_identifiers = {1, 268435455};
    CHECK_BYTES(encode_ok(p, V5), hex("30 0B"            // RL 11
                                      "00 01 74"         // topic
                                      "07"               // Property Length 7
                                      "0B 01"            // Subscription Identifier 1
                                      "0B FF FF FF 7F")); // Subscription Identifier max
  }
}

TEST_CASE("PUBACK/PUBREC/PUBREL/PUBCOMP encodings", "[encoder][ack]") {
  SECTION("3.1.1: always 2-byte body, fixed flags") {
    CHECK_BYTES(encode_ok(ack<PubAck>(1), V311), hex("40 02 00 01"));
    CHECK_BYTES(encode_ok(ack<PubRec>(0x0102), V311), hex("50 02 01 02"));
    CHECK_BYTES(encode_ok(ack<PubRel>(0xFFFF), V311), hex("62 02 FF FF"));  // PUBREL flags 0010
    CHECK_BYTES(encode_ok(ack<PubComp>(7), V311), hex("70 02 00 07"));
  }
  SECTION("5.0: Success without properties is the 2-byte short form") {
    CHECK_BYTES(encode_ok(ack<PubAck>(1), V5), hex("40 02 00 01"));
    CHECK_BYTES(encode_ok(ack<PubRec>(1), V5), hex("50 02 00 01"));
    CHECK_BYTES(encode_ok(ack<PubRel>(1), V5), hex("62 02 00 01"));
    CHECK_BYTES(encode_ok(ack<PubComp>(1), V5), hex("70 02 00 01"));
  }
  SECTION("5.0: reason code without properties is the 3-byte form") {
    CHECK_BYTES(encode_ok(ack<PubAck>(1, ReasonCode::NoMatchingSubscribers), V5),
                hex("40 03 00 01 10"));
    CHECK_BYTES(encode_ok(ack<PubRec>(2, ReasonCode::QuotaExceeded), V5), hex("50 03 00 02 97"));
    CHECK_BYTES(encode_ok(ack<PubRel>(3, ReasonCode::PacketIdentifierNotFound), V5),
                hex("62 03 00 03 92"));
    CHECK_BYTES(encode_ok(ack<PubComp>(4, ReasonCode::PacketIdentifierNotFound), V5),
                hex("70 03 00 04 92"));
  }
  SECTION("5.0: properties force reason code and property length") {
    PubAck a = ack<PubAck>(1);
    a.properties.reason_string = "x";
    CHECK_BYTES(encode_ok(a, V5), hex("40 08"       // PUBACK, RL 8
                                      "00 01"       // Packet Identifier 1
                                      "00"          // Success
                                      "04"          // Property Length 4
                                      "1F 00 01 78")); // Reason String "x"
  }
}

TEST_CASE("SUBSCRIBE encodings", "[encoder][subscribe]") {
  SECTION("3.1.1 spec figure 3.23: a/b QoS 1, c/d QoS 2") {
    Subscribe s;
    s.packet_id = 10;
    s.subscriptions = {sub("a/b", QoS::AtLeastOnce), sub("c/d", QoS::ExactlyOnce)};
    const ByteVec expected = {
        0x82,                          // SUBSCRIBE, flags 0010
        0x0E,                          // Remaining Length 14
        0x00, 0x0A,                    // Packet Identifier 10
        0x00, 0x03, 'a', '/', 'b', 0x01,  // "a/b", QoS 1
        0x00, 0x03, 'c', '/', 'd', 0x02,  // "c/d", QoS 2
    };
    CHECK_BYTES(encode_ok(s, V311), expected);
  }
  SECTION("5.0 with subscription options and a Subscription Identifier") {
    Subscribe s;
    s.packet_id = 10;
    Subscription a = sub("a/b", QoS::AtLeastOnce, true, true, RetainHandling::DoNotSend);
    Subscription c =
        sub("c/d", QoS::ExactlyOnce, false, false, RetainHandling::SendAtSubscribeIfNew);
    s.subscriptions = {a, c};
    s.properties.subscription_identifiers = {5};
    const ByteVec expected = {
        0x82,                          // SUBSCRIBE, flags 0010
        0x11,                          // Remaining Length 17
        0x00, 0x0A,                    // Packet Identifier 10
        0x02, 0x0B, 0x05,              // Property Length 2, Subscription Identifier 5
        0x00, 0x03, 'a', '/', 'b',     // "a/b"
        0x2D,                          // RH 2 (0x20) | RAP (0x08) | NL (0x04) | QoS 1
        0x00, 0x03, 'c', '/', 'd',     // "c/d"
        0x12,                          // RH 1 (0x10) | QoS 2
    };
    CHECK_BYTES(encode_ok(s, V5), expected);
  }
}

TEST_CASE("SUBACK / UNSUBSCRIBE / UNSUBACK encodings", "[encoder][suback][unsubscribe]") {
  SECTION("3.1.1 SUBACK with return codes 0, 1, 0x80") {
    SubAck a;
    a.packet_id = 10;
    a.reason_codes = {ReasonCode::GrantedQoS0, ReasonCode::GrantedQoS1,
                      ReasonCode::UnspecifiedError};
    CHECK_BYTES(encode_ok(a, V311), hex("90 05 00 0A 00 01 80"));
  }
  SECTION("5.0 SUBACK") {
    SubAck a;
    a.packet_id = 10;
    a.reason_codes = {ReasonCode::GrantedQoS2, ReasonCode::NotAuthorized};
    CHECK_BYTES(encode_ok(a, V5), hex("90 05 00 0A 00 02 87"));
  }
  SECTION("3.1.1 UNSUBSCRIBE, spec figure 3.30") {
    Unsubscribe u;
    u.packet_id = 10;
    u.filters = {"a/b", "c/d"};
    CHECK_BYTES(encode_ok(u, V311), hex("A2 0C"            // UNSUBSCRIBE flags 0010, RL 12
                                        "00 0A"            // Packet Identifier 10
                                        "00 03 61 2F 62"   // "a/b"
                                        "00 03 63 2F 64"));// "c/d"
    u.properties.user_properties = {{"a", "b"}};
    CHECK_BYTES(encode_ok(u, V5), hex("A2 14"               // RL 20
                                      "00 0A"               // Packet Identifier
                                      "07"                  // Property Length 7
                                      "26 00 01 61 00 01 62"  // User Property a=b
                                      "00 03 61 2F 62"      // "a/b"
                                      "00 03 63 2F 64"));   // "c/d"
  }
  SECTION("UNSUBACK") {
    UnsubAck a;
    a.packet_id = 10;
    CHECK_BYTES(encode_ok(a, V311), hex("B0 02 00 0A"));
    a.reason_codes = {ReasonCode::Success, ReasonCode::NoSubscriptionExisted};
    CHECK_BYTES(encode_ok(a, V5), hex("B0 05 00 0A 00 00 11"));
  }
}

TEST_CASE("PINGREQ, PINGRESP, DISCONNECT, AUTH encodings", "[encoder]") {
  CHECK_BYTES(encode_ok(PingReq{}, V311), hex("C0 00"));
  CHECK_BYTES(encode_ok(PingReq{}, V5), hex("C0 00"));
  CHECK_BYTES(encode_ok(PingResp{}, V311), hex("D0 00"));
  CHECK_BYTES(encode_ok(PingResp{}, V5), hex("D0 00"));
  CHECK_BYTES(encode_ok(Disconnect{}, V311), hex("E0 00"));
  // 5.0: Normal disconnection without properties -> Remaining Length 0.
  CHECK_BYTES(encode_ok(Disconnect{}, V5), hex("E0 00"));
  // 5.0: AUTH Success without properties -> Remaining Length 0.
  CHECK_BYTES(encode_ok(Auth{}, V5), hex("F0 00"));

  Disconnect d;
  d.reason_code = ReasonCode::ServerMoved;
  d.properties.server_reference = "h";
  CHECK_BYTES(encode_ok(d, V5), hex("E0 06"        // DISCONNECT, RL 6
                                    "9D"           // Server moved
                                    "04"           // Property Length 4
                                    "1C 00 01 68"));  // Server Reference "h"

  Auth a;
  a.reason_code = ReasonCode::ContinueAuthentication;
  a.properties.authentication_method = "SCRAM";
  CHECK_BYTES(encode_ok(a, V5), hex("F0 0A"                    // AUTH, RL 10
                                    "18"                       // Continue authentication
                                    "08"                       // Property Length 8
                                    "15 00 05 53 43 52 41 4D"));  // Authentication Method
}

// A QoS 0 PUBLISH with topic "t" whose Remaining Length is `rl` (3.1.1).
Publish publish_with_remaining_length(uint32_t rl, const ByteVec& storage) {
  Publish p;
  p.topic = "t";
  p.payload = Bytes(storage.data(), rl - 3);  // 2 + 1 bytes of topic
  return p;
}

TEST_CASE("Remaining Length boundary values (spec 1.5.5 / 2.2.3)", "[encoder][vbi]") {
  struct Case {
    uint32_t rl;
    ByteVec vbi;
  };
  const Case cases[] = {
      {127, hex("7F")},
      {128, hex("80 01")},
      {16383, hex("FF 7F")},
      {16384, hex("80 80 01")},
      {2097151, hex("FF FF 7F")},
      {2097152, hex("80 80 80 01")},
  };
  ByteVec storage(2097152, 0xA5);
  for (const auto& c : cases) {
    INFO("remaining length " << c.rl);
    CHECK(variable_byte_integer_size(c.rl) == c.vbi.size());
    Publish p = publish_with_remaining_length(c.rl, storage);
    ByteVec wire = encode_ok(p, V311);
    REQUIRE(wire.size() == 1 + c.vbi.size() + c.rl);
    CHECK(wire[0] == 0x30);
    CHECK(ByteVec(wire.begin() + 1, wire.begin() + 1 + c.vbi.size()) == c.vbi);
    CHECK(wire[1 + c.vbi.size()] == 0x00);  // topic length MSB
    CHECK(wire[2 + c.vbi.size()] == 0x01);  // topic length LSB
  }
  SECTION("0 and 268435455") {
    CHECK(variable_byte_integer_size(0) == 1);
    CHECK(variable_byte_integer_size(kMaxRemainingLength) == 4);
    CHECK(kMaxRemainingLength == 268435455u);
    CHECK(encode_ok(PingReq{}, V311) == hex("C0 00"));  // Remaining Length 0
    // The largest packet: encoded_size only (the encode would need 256 MiB more).
    ByteVec big(kMaxRemainingLength - 2);
    Publish p;
    p.topic = "t";
    p.payload = Bytes(big.data(), kMaxRemainingLength - 3);
    auto sz = encoded_size(p, V311);
    REQUIRE(sz.ok());
    CHECK(*sz == 1 + 4 + size_t{kMaxRemainingLength});
    // One more byte cannot be expressed as a Remaining Length.
    p.payload = Bytes(big.data(), big.size());
    CHECK_FALSE(encoded_size(p, V311).ok());
  }
}

TEST_CASE("encode: BufferTooSmall", "[encoder][errors]") {
  Publish p;
  p.qos = QoS::AtLeastOnce;
  p.packet_id = 1;
  p.topic = "a/b";
  p.payload = as_bytes("payload");
  auto sz = encoded_size(p, V5);
  REQUIRE(sz.ok());
  for (size_t n : {size_t{0}, size_t{1}, size_t{2}, *sz - 1}) {
    INFO("buffer of " << n);
    ByteVec out(n + 1);  // +1: make sure the span length, not capacity, counts
    auto r = encode(Packet{p}, V5, std::span<uint8_t>(out.data(), n));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == CodecError::BufferTooSmall);
    auto r2 = encode(p, V5, std::span<uint8_t>(out.data(), n));
    REQUIRE_FALSE(r2.ok());
    CHECK(r2.error() == CodecError::BufferTooSmall);
  }
  ByteVec exact(*sz);
  auto r = encode(Packet{p}, V5, exact);
  REQUIRE(r.ok());
  CHECK(*r == *sz);
  ByteVec two(1);
  auto pr = encode(Packet{PingReq{}}, V311, two);
  REQUIRE_FALSE(pr.ok());
  CHECK(pr.error() == CodecError::BufferTooSmall);
}

TEST_CASE("encode: StringTooLong", "[encoder][errors]") {
  std::string long_topic(65536, 'a');
  Publish p;
  p.topic = long_topic;
  CHECK(encode_error(p, V311) == CodecError::StringTooLong);
  CHECK(encode_error(p, V5) == CodecError::StringTooLong);
  // 65535 bytes is still fine.
  std::string max_topic(65535, 'a');
  p.topic = max_topic;
  CHECK(encode_ok(p, V311).size() == 1 + 3 + 2 + 65535);

  Connect c;
  std::string long_id(65536, 'c');
  c.client_id = long_id;
  CHECK(encode_error(c, V311) == CodecError::StringTooLong);

  Connect c2;
  ByteVec long_pw(65536, 1);
  c2.username = "u";
  c2.password = Bytes(long_pw);
  CHECK(encode_error(c2, V311) == CodecError::StringTooLong);

  Publish p5;
  p5.topic = "t";
  p5.properties.correlation_data = Bytes(long_pw);
  CHECK(encode_error(p5, V5) == CodecError::StringTooLong);
}

TEST_CASE("encode: PropertiesNotSupported for 3.1.1", "[encoder][errors]") {
  Publish p;
  p.topic = "t";
  p.properties.user_properties = {{"k", "v"}};
  CHECK(encode_error(p, V311) == CodecError::PropertiesNotSupported);

  Connect c;
  c.properties.session_expiry_interval = 5;
  CHECK(encode_error(c, V311) == CodecError::PropertiesNotSupported);

  Connect cw;
  Will w;
  w.topic = "t";
  w.properties.will_delay_interval = 3;
  cw.will = w;
  CHECK(encode_error(cw, V311) == CodecError::PropertiesNotSupported);

  ConnAck a;
  a.properties.maximum_qos = 1;
  CHECK(encode_error(a, V311) == CodecError::PropertiesNotSupported);

  PubAck pa = ack<PubAck>(1);
  pa.properties.reason_string = "r";
  CHECK(encode_error(pa, V311) == CodecError::PropertiesNotSupported);

  Subscribe s;
  s.packet_id = 1;
  s.subscriptions = {sub("a")};
  s.properties.subscription_identifiers = {1};
  CHECK(encode_error(s, V311) == CodecError::PropertiesNotSupported);

  Disconnect d;
  d.properties.reason_string = "bye";
  CHECK(encode_error(d, V311) == CodecError::PropertiesNotSupported);
}

TEST_CASE("encode: packet identifier rules", "[encoder][errors]") {
  Publish p;
  p.topic = "t";
  p.qos = QoS::AtMostOnce;
  p.packet_id = 5;
  CHECK(encode_error(p, V311) == CodecError::UnexpectedPacketIdentifier);
  CHECK(encode_error(p, V5) == CodecError::UnexpectedPacketIdentifier);

  p.qos = QoS::AtLeastOnce;
  p.packet_id = 0;
  CHECK(encode_error(p, V311) == CodecError::ZeroPacketIdentifier);
  p.qos = QoS::ExactlyOnce;
  CHECK(encode_error(p, V5) == CodecError::ZeroPacketIdentifier);

  CHECK(encode_error(ack<PubAck>(0), V311) == CodecError::ZeroPacketIdentifier);
  CHECK(encode_error(ack<PubRel>(0), V5) == CodecError::ZeroPacketIdentifier);

  Subscribe s;
  s.subscriptions = {sub("a")};
  CHECK(encode_error(s, V311) == CodecError::ZeroPacketIdentifier);
  Unsubscribe u;
  u.filters = {"a"};
  CHECK(encode_error(u, V5) == CodecError::ZeroPacketIdentifier);
}

TEST_CASE("encode: topic names and filters are validated", "[encoder][errors]") {
  Publish p;
  p.topic = "a/+";
  CHECK(encode_error(p, V311) == CodecError::WildcardInTopicName);
  p.topic = "a/#";
  CHECK(encode_error(p, V5) == CodecError::WildcardInTopicName);
  p.topic = "";
  CHECK(encode_error(p, V311) == CodecError::EmptyTopicName);
  CHECK(encode_error(p, V5) == CodecError::EmptyTopicName);  // no Topic Alias
  p.topic = std::string_view("a\0b", 3);
  CHECK(encode_error(p, V311) == CodecError::Utf8NullCharacter);
  p.topic = "\xED\xA0\x80";
  CHECK(encode_error(p, V311) == CodecError::Utf8Surrogate);
  p.topic = "\xC3";
  CHECK(encode_error(p, V5) == CodecError::InvalidUtf8);

  Subscribe s;
  s.packet_id = 1;
  CHECK(encode_error(s, V311) == CodecError::NoTopicFilters);
  s.subscriptions = {sub("a/#/b")};
  CHECK(encode_error(s, V311) == CodecError::InvalidTopicFilter);
  s.subscriptions = {sub("")};
  CHECK(encode_error(s, V5) == CodecError::EmptyTopicFilter);

  Unsubscribe u;
  u.packet_id = 1;
  CHECK(encode_error(u, V5) == CodecError::NoTopicFilters);
  u.filters = {"a+"};
  CHECK(encode_error(u, V311) == CodecError::InvalidTopicFilter);
}

TEST_CASE("encode: property rules", "[encoder][errors]") {
  Publish p;
  p.topic = "t";
  p.properties.session_expiry_interval = 1;
  CHECK(encode_error(p, V5) == CodecError::PropertyNotAllowed);

  Subscribe s;
  s.packet_id = 1;
  s.subscriptions = {sub("a")};
  s.properties.topic_alias = 1;
  CHECK(encode_error(s, V5) == CodecError::PropertyNotAllowed);

  Connect c;
  c.protocol_version = V5;
  c.properties.receive_maximum = 0;
  CHECK(encode_error(c, V5) == CodecError::InvalidPropertyValue);

  Publish alias0;
  alias0.topic = "t";
  alias0.properties.topic_alias = 0;
  CHECK(encode_error(alias0, V5) == CodecError::InvalidPropertyValue);

  // Only PUBLISH may carry more than one Subscription Identifier.
  Subscribe s2;
  s2.packet_id = 1;
  s2.subscriptions = {sub("a")};
  s2.properties.subscription_identifiers = {1, 2};
  CHECK(encode_error(s2, V5) == CodecError::DuplicateProperty);
}

TEST_CASE("encode: reason codes that the packet/version cannot carry", "[encoder][errors]") {
  // PUBREL allows only Success and Packet Identifier not found (spec 3.6.2.1).
  CHECK(encode_error(ack<PubRel>(1, ReasonCode::NoMatchingSubscribers), V5) ==
        CodecError::InvalidReasonCode);
  // 3.1.1 CONNACK has no return code for Banned.
  ConnAck a;
  a.reason_code = ReasonCode::Banned;
  CHECK(encode_error(a, V311) == CodecError::InvalidReasonCode);
  // 3.1.1 SUBACK: only 0, 1, 2, 0x80.
  SubAck sa;
  sa.packet_id = 1;
  sa.reason_codes = {ReasonCode::NotAuthorized};
  CHECK(encode_error(sa, V311) == CodecError::InvalidReasonCode);
  // AUTH is MQTT 5 only.
  CHECK_FALSE(encoded_size(Packet{Auth{}}, V311).ok());
}

constexpr auto kFromClient = Direction::ClientToServer;
constexpr auto kFromServer = Direction::ServerToClient;

TEST_CASE("encode: a client's PUBLISH carries no Subscription Identifier [MQTT-3.3.4-6]",
          "[encoder][errors][direction]") {
  Publish p;
  p.topic = "t";
  p.properties.subscription_identifiers = {1};
  CHECK(encode_error(p, V5, kFromClient) == CodecError::PropertyNotAllowed);
  // A server's PUBLISH does (spec 3.3.4), and Any encodes what either side sends.
  CHECK_BYTES(encode_ok(p, V5, kFromServer), hex("30 06 00 01 74 02 0B 01"));
  CHECK_BYTES(encode_ok(p, V5), hex("30 06 00 01 74 02 0B 01"));
  // The Publish overloads (the hot path) take the direction too.
  ByteVec out(64);
  auto n = encode(p, V5, std::span<uint8_t>(out), kFromClient);
  REQUIRE_FALSE(n.ok());
  CHECK(n.error() == CodecError::PropertyNotAllowed);
  CHECK(encoded_size(p, V5, kFromClient).error() == CodecError::PropertyNotAllowed);
  // On SUBSCRIBE it belongs to the client.
  Subscribe s;
  s.packet_id = 1;
  s.subscriptions = {sub("a")};
  s.properties.subscription_identifiers = {5};
  CHECK(encode_ok(s, V5, kFromClient).size() == 11);
}

TEST_CASE("encode: DISCONNECT reason codes and properties by sender (table 3-10)",
          "[encoder][errors][direction]") {
  // "Sent by Client" (or "Client or Server") in table 3-10.
  const std::set<uint8_t> client = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x90,
                                    0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99};
  int allowed_any = 0;
  for (int rc = 0; rc < 256; ++rc) {
    INFO("reason code 0x" << std::hex << rc);
    Disconnect d;
    d.reason_code = static_cast<ReasonCode>(rc);
    const bool any = encoded_size(Packet{d}, V5).ok();
    allowed_any += any;
    const bool from_client = encoded_size(Packet{d}, V5, kFromClient).ok();
    const bool from_server = encoded_size(Packet{d}, V5, kFromServer).ok();
    CHECK(from_client == (client.count(static_cast<uint8_t>(rc)) == 1));
    CHECK(from_server == (any && rc != 0x04));  // 0x04 is the client's alone
    if (!from_client) CHECK(encode_error(d, V5, kFromClient) == CodecError::InvalidReasonCode);
  }
  CHECK(allowed_any == 30);
  // The Server sends a Server Reference (spec 3.14.2.2.5, 4.11).
  Disconnect ref;
  ref.reason_code = ReasonCode::UnspecifiedError;
  ref.properties.server_reference = "other:1883";
  CHECK(encode_error(ref, V5, kFromClient) == CodecError::PropertyNotAllowed);
  ref.reason_code = ReasonCode::UseAnotherServer;
  CHECK(encode_ok(ref, V5, kFromServer).size() > 3);
  // The client sends a Session Expiry Interval; the server must not [MQTT-3.14.2-2].
  Disconnect sei;
  sei.properties.session_expiry_interval = 60;
  CHECK_BYTES(encode_ok(sei, V5, kFromClient), hex("E0 07 00 05 11 00 00 00 3C"));
  CHECK(encode_error(sei, V5, kFromServer) == CodecError::PropertyNotAllowed);
}

TEST_CASE("encode: AUTH reason codes by sender (table 3-11) and its Authentication Method "
          "(spec 3.15.2.2.2)",
          "[encoder][errors][direction][auth]") {
  Auth a;
  a.properties.authentication_method = "SCRAM";
  a.reason_code = ReasonCode::ContinueAuthentication;
  CHECK(encode_ok(a, V5, kFromClient).size() == 12);
  CHECK(encode_ok(a, V5, kFromServer).size() == 12);
  a.reason_code = ReasonCode::ReAuthenticate;
  CHECK(encode_ok(a, V5, kFromClient).size() == 12);
  CHECK(encode_error(a, V5, kFromServer) == CodecError::InvalidReasonCode);
  a.reason_code = ReasonCode::Success;
  CHECK(encode_error(a, V5, kFromClient) == CodecError::InvalidReasonCode);
  CHECK(encode_ok(a, V5, kFromServer).size() == 12);
  // Without a method: only the empty Success form (Remaining Length 0).
  CHECK_BYTES(encode_ok(Auth{}, V5), hex("F0 00"));
  Auth bare;
  bare.reason_code = ReasonCode::ContinueAuthentication;
  CHECK(encode_error(bare, V5) == CodecError::MissingAuthenticationMethod);
  Auth no_method;
  no_method.properties.reason_string = "step";
  CHECK(encode_error(no_method, V5) == CodecError::MissingAuthenticationMethod);
  const uint8_t blob[] = {0xAB};
  Auth data_only;
  data_only.reason_code = ReasonCode::ContinueAuthentication;
  data_only.properties.authentication_data = Bytes(blob);
  CHECK(encode_error(data_only, V5) == CodecError::MissingAuthenticationMethod);
}

TEST_CASE("encode: CONNECT Authentication Data needs an Authentication Method "
          "(spec 3.1.2.11.10)",
          "[encoder][errors][connect][auth]") {
  const uint8_t blob[] = {0xAB};
  Connect c;
  c.protocol_version = V5;
  c.client_id = "id";
  c.properties.authentication_data = Bytes(blob);
  CHECK(encode_error(c, V5) == CodecError::MissingAuthenticationMethod);
  CHECK(encode_error(c, V5, kFromClient) == CodecError::MissingAuthenticationMethod);
  c.properties.authentication_method = "SCRAM";
  CHECK(encode_ok(c, V5, kFromClient).size() > 0);
  c.properties.authentication_data.reset();
  CHECK(encode_ok(c, V5).size() > 0);  // a method alone is fine
}

TEST_CASE("encode: Payload Format Indicator 1 needs well-formed UTF-8 from a client "
          "(spec 3.3.2.3.2, 3.1.3.2.3)",
          "[encoder][errors][direction][utf8]") {
  Publish p;
  p.topic = "t";
  p.properties.payload_format_indicator = 1;
  struct Case {
    const char* bytes;
    bool ok;
  };
  const Case cases[] = {
      {"", true},
      {"68 C3 A9 6C 6C 6F", true},                      // "héllo"
      {"F0 9F 98 80", true},                            // U+1F600
      {"61 00 62", true},                               // U+0000 is well-formed (RFC 3629)
      {"61 62 63 64 65 66 67 68 69 6A 6B 6C", true},    // ASCII words
      {"C3 28", false},                                 // bad continuation
      {"C0 80", false},                                 // overlong U+0000
      {"ED A0 80", false},                              // surrogate U+D800
      {"F4 90 80 80", false},                           // above U+10FFFF
      {"61 62 63 64 65 66 67 68 69 FF", false},         // after a whole ASCII word
      {"E2 82", false},                                 // truncated sequence
  };
  for (const auto& c : cases) {
    INFO("payload " << c.bytes);
    const ByteVec payload = hex(c.bytes);
    p.payload = Bytes(payload);
    if (c.ok) {
      CHECK(encode_ok(p, V5, kFromClient).size() > 0);
    } else {
      CHECK(encode_error(p, V5, kFromClient) == CodecError::PayloadFormatInvalid);
      // A server forwards the indicator unaltered [MQTT-3.3.2-4], whatever the
      // payload; the receiver MAY check it (spec 3.3.2.3.2), the decoder does not.
      const ByteVec wire = encode_ok(p, V5, kFromServer);
      CHECK(test::decode_ok(wire, V5) == Packet{p});
      CHECK(encode_ok(p, V5).size() == wire.size());
    }
  }
  // Indicator 0 (or absent): unspecified bytes.
  const ByteVec bad = hex("C3 28");
  p.payload = Bytes(bad);
  p.properties.payload_format_indicator = 0;
  CHECK(encode_ok(p, V5, kFromClient).size() > 0);
  // The Will's payload too.
  Connect c;
  c.protocol_version = V5;
  c.client_id = "id";
  Will w;
  w.topic = "w";
  w.payload = Bytes(bad);
  w.properties.payload_format_indicator = 1;
  c.will = w;
  CHECK(encode_error(c, V5, kFromClient) == CodecError::PayloadFormatInvalid);
  CHECK(encode_ok(c, V5).size() > 0);
  c.will->payload = as_bytes("fine");
  CHECK(encode_ok(c, V5, kFromClient).size() > 0);
}

}  // namespace
}  // namespace mqtt::codec

namespace mqtt::codec {
namespace {

using test::ack;
using test::sub;

TEST_CASE("encode: fields that 3.1.1 lacks must stay at their defaults", "[encoder][errors]") {
  constexpr auto V311 = ProtocolVersion::V311;
  ByteVec out(256);
  // MQTT 5 subscription options.
  Subscribe s;
  s.packet_id = 1;
  s.subscriptions = {sub("a", QoS::AtMostOnce, true)};
  CHECK_FALSE(encode(Packet{s}, V311, out).ok());
  s.subscriptions = {sub("a", QoS::AtMostOnce, false, true)};
  CHECK_FALSE(encode(Packet{s}, V311, out).ok());
  s.subscriptions = {sub("a", QoS::AtMostOnce, false, false, RetainHandling::DoNotSend)};
  CHECK_FALSE(encode(Packet{s}, V311, out).ok());
  // Reason codes on packets that have none in 3.1.1.
  CHECK_FALSE(encode(Packet{ack<PubAck>(1, ReasonCode::UnspecifiedError)}, V311, out).ok());
  CHECK_FALSE(encode(Packet{ack<PubRel>(1, ReasonCode::PacketIdentifierNotFound)}, V311, out).ok());
  Disconnect d;
  d.reason_code = ReasonCode::ServerShuttingDown;
  CHECK_FALSE(encode(Packet{d}, V311, out).ok());
  UnsubAck ua;
  ua.packet_id = 1;
  ua.reason_codes = {ReasonCode::Success};
  CHECK_FALSE(encode(Packet{ua}, V311, out).ok());
  // AUTH does not exist.
  CHECK_FALSE(encode(Packet{Auth{}}, V311, out).ok());
}

TEST_CASE("encode: out-of-range enum values", "[encoder][errors]") {
  Publish p;
  p.topic = "t";
  p.packet_id = 1;
  p.qos = static_cast<QoS>(3);
  CHECK(test::encode_error(p, ProtocolVersion::V5) == CodecError::InvalidQoS);
  Subscribe s;
  s.packet_id = 1;
  s.subscriptions = {sub("a", static_cast<QoS>(3))};
  CHECK(test::encode_error(s, ProtocolVersion::V311) == CodecError::InvalidQoS);
  s.subscriptions = {sub("a", QoS::AtMostOnce, false, false, static_cast<RetainHandling>(3))};
  CHECK(test::encode_error(s, ProtocolVersion::V5) == CodecError::InvalidSubscriptionOptions);
  // No Local on a shared subscription [MQTT-3.8.3-4].
  s.subscriptions = {sub("$share/g/a", QoS::AtMostOnce, true)};
  CHECK(test::encode_error(s, ProtocolVersion::V5) == CodecError::InvalidSubscriptionOptions);
}

}  // namespace
}  // namespace mqtt::codec
