// MQTT 5 properties (spec 2.2.2): which packet may carry which property
// (table 2-4), once-only properties, unknown identifiers, value ranges.
#include <algorithm>
#include <set>

#include "tests/codec/test_util.h"

namespace mqtt::codec {
namespace {

using test::ack;
using test::ByteVec;
using test::cat;
using test::encode_ok;
using test::hex;
using test::opts;
using test::pkt;
using test::str16;
using test::sub;
using test::vbi;

constexpr auto V5 = ProtocolVersion::V5;
using E = CodecError;

enum class Kind {
  Connect, Will, ConnAck, Publish, PubAck, PubRec, PubRel, PubComp,
  Subscribe, SubAck, Unsubscribe, UnsubAck, Disconnect, Auth,
};
const Kind kAllKinds[] = {Kind::Connect, Kind::Will, Kind::ConnAck, Kind::Publish,
                          Kind::PubAck, Kind::PubRec, Kind::PubRel, Kind::PubComp,
                          Kind::Subscribe, Kind::SubAck, Kind::Unsubscribe, Kind::UnsubAck,
                          Kind::Disconnect, Kind::Auth};

const char* name(Kind k) {
  static const char* const n[] = {"CONNECT", "Will", "CONNACK", "PUBLISH", "PUBACK",
                                  "PUBREC", "PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK",
                                  "UNSUBSCRIBE", "UNSUBACK", "DISCONNECT", "AUTH"};
  return n[static_cast<int>(k)];
}

// A 5.0 packet of kind `k` carrying the property bytes `props`, and the input
// offset where the property bytes start.
std::pair<ByteVec, size_t> build(Kind k, const ByteVec& props) {
  ByteVec pl = cat({vbi(static_cast<uint32_t>(props.size())), props});
  size_t pl_size = pl.size() - props.size();
  ByteVec body;
  uint8_t first = 0;
  size_t at = 0;  // body offset of the first property byte
  const ByteVec connect_vh = hex("00 04 4D 51 54 54 05");
  switch (k) {
    case Kind::Connect:
      first = 0x10;
      body = cat({connect_vh, hex("02 00 3C"), pl, str16("id")});
      at = 10;
      break;
    case Kind::Will:
      first = 0x10;
      body = cat({connect_vh, hex("06 00 3C 00"), str16("id"), pl, str16("w"), str16("m")});
      at = 15;
      break;
    case Kind::ConnAck:
      first = 0x20;
      body = cat({hex("00 00"), pl});
      at = 2;
      break;
    case Kind::Publish:
      first = 0x30;
      body = cat({str16("t"), pl});
      at = 3;
      break;
    case Kind::PubAck:
    case Kind::PubRec:
    case Kind::PubRel:
    case Kind::PubComp:
      first = k == Kind::PubAck ? 0x40 : k == Kind::PubRec ? 0x50 : k == Kind::PubRel ? 0x62 : 0x70;
      body = cat({hex("00 01 00"), pl});
      at = 3;
      break;
    case Kind::Subscribe:
      first = 0x82;
      body = cat({hex("00 01"), pl, str16("a"), hex("00")});
      at = 2;
      break;
    case Kind::SubAck:
      first = 0x90;
      body = cat({hex("00 01"), pl, hex("00")});
      at = 2;
      break;
    case Kind::Unsubscribe:
      first = 0xA2;
      body = cat({hex("00 01"), pl, str16("a")});
      at = 2;
      break;
    case Kind::UnsubAck:
      first = 0xB0;
      body = cat({hex("00 01"), pl, hex("00")});
      at = 2;
      break;
    case Kind::Disconnect:
      first = 0xE0;
      body = cat({hex("00"), pl});
      at = 1;
      break;
    case Kind::Auth: {
      // An AUTH names its Authentication Method (spec 3.15.2.2.2): one goes
      // first unless the sample starts with its own.
      first = 0xF0;
      const bool own_method = !props.empty() && props[0] == 0x15;
      const ByteVec method = own_method ? ByteVec{} : hex("15 00 01 61");
      pl = cat({vbi(static_cast<uint32_t>(method.size() + props.size())), method, props});
      pl_size = pl.size() - props.size();
      body = cat({hex("18"), pl});
      at = 1;
      break;
    }
  }
  ByteVec whole = pkt(first, body);
  size_t header = whole.size() - body.size();
  return {whole, header + at + pl_size};
}

struct Sample {
  uint8_t id;
  const char* bytes;  // a valid encoding of the property
  std::set<Kind> allowed;  // spec table 2-4
};

const std::set<Kind> kWillPub = {Kind::Publish, Kind::Will};
const std::set<Kind> kReasonString = {Kind::ConnAck, Kind::PubAck,   Kind::PubRec,
                                      Kind::PubRel,  Kind::PubComp,  Kind::SubAck,
                                      Kind::UnsubAck, Kind::Disconnect, Kind::Auth};

const std::vector<Sample>& samples() {
  static const std::vector<Sample> s = {
      {0x01, "01 01", kWillPub},
      {0x02, "02 00 00 00 0A", kWillPub},
      {0x03, "03 00 01 61", kWillPub},
      {0x08, "08 00 01 61", kWillPub},
      {0x09, "09 00 01 00", kWillPub},
      {0x0B, "0B 01", {Kind::Publish, Kind::Subscribe}},
      {0x11, "11 00 00 00 0A", {Kind::Connect, Kind::ConnAck, Kind::Disconnect}},
      {0x12, "12 00 01 61", {Kind::ConnAck}},
      {0x13, "13 00 0A", {Kind::ConnAck}},
      {0x15, "15 00 01 61", {Kind::Connect, Kind::ConnAck, Kind::Auth}},
      // Authentication Data together with its Authentication Method.
      {0x16, "15 00 01 61 16 00 01 00", {Kind::Connect, Kind::ConnAck, Kind::Auth}},
      {0x17, "17 01", {Kind::Connect}},
      {0x18, "18 00 00 00 0A", {Kind::Will}},
      {0x19, "19 01", {Kind::Connect}},
      {0x1A, "1A 00 01 61", {Kind::ConnAck}},
      {0x1C, "1C 00 01 61", {Kind::ConnAck, Kind::Disconnect}},
      {0x1F, "1F 00 01 61", kReasonString},
      {0x21, "21 00 0A", {Kind::Connect, Kind::ConnAck}},
      {0x22, "22 00 0A", {Kind::Connect, Kind::ConnAck}},
      {0x23, "23 00 01", {Kind::Publish}},
      {0x24, "24 01", {Kind::ConnAck}},
      {0x25, "25 01", {Kind::ConnAck}},
      {0x26, "26 00 01 61 00 01 62",
       {Kind::Connect, Kind::ConnAck, Kind::Publish, Kind::Will, Kind::PubAck, Kind::PubRec,
        Kind::PubRel, Kind::PubComp, Kind::Subscribe, Kind::SubAck, Kind::Unsubscribe,
        Kind::UnsubAck, Kind::Disconnect, Kind::Auth}},
      {0x27, "27 00 00 04 00", {Kind::Connect, Kind::ConnAck}},
      {0x28, "28 01", {Kind::ConnAck}},
      {0x29, "29 01", {Kind::ConnAck}},
      {0x2A, "2A 01", {Kind::ConnAck}},
  };
  return s;
}

TEST_CASE("properties: the builder itself produces valid packets", "[properties]") {
  for (Kind k : kAllKinds) {
    INFO(name(k));
    auto [in, at] = build(k, {});
    CHECK(at == in.size() - (k == Kind::Connect ? 4 : k == Kind::Will ? 6
                                 : k == Kind::Subscribe ? 4 : k == Kind::SubAck ? 1
                                 : k == Kind::Unsubscribe ? 3 : k == Kind::UnsubAck ? 1 : 0));
    Packet p;
    auto r = decode(in, opts(V5), p);
    CHECK(r.status == DecodeStatus::Ok);
  }
}

TEST_CASE("properties: allowed / not allowed per packet (spec table 2-4), decode",
          "[properties][allowed]") {
  for (const auto& s : samples()) {
    for (Kind k : kAllKinds) {
      INFO("property 0x" << std::hex << int(s.id) << std::dec << " on " << name(k));
      auto [in, at] = build(k, hex(s.bytes));
      Packet p;
      auto r = decode(in, opts(V5), p);
      if (s.allowed.count(k)) {
        INFO("error " << Catch::Detail::stringify(r.error) << " at " << r.error_offset);
        CHECK(r.status == DecodeStatus::Ok);
      } else {
        REQUIRE(r.status == DecodeStatus::Error);
        CHECK(r.error == E::PropertyNotAllowed);
        INFO("offset " << r.error_offset << ", property at " << at);
        CHECK(r.error_offset >= at);
        CHECK(r.error_offset < in.size());
      }
    }
  }
}

TEST_CASE("properties: once-only properties twice are DuplicateProperty", "[properties][dup]") {
  for (const auto& s : samples()) {
    if (s.id == 0x26) continue;  // User Property may repeat
    for (Kind k : s.allowed) {
      if (s.id == 0x0B && k == Kind::Publish) continue;  // several allowed on PUBLISH
      INFO("property 0x" << std::hex << int(s.id) << std::dec << " twice on " << name(k));
      ByteVec one = hex(s.bytes);
      auto [in, at] = build(k, cat({one, one}));
      Packet p;
      auto r = decode(in, opts(V5), p);
      REQUIRE(r.status == DecodeStatus::Error);
      CHECK(r.error == E::DuplicateProperty);
      INFO("offset " << r.error_offset << ", second copy at " << at + one.size());
      CHECK(r.error_offset >= at + one.size());  // not before the second copy
      CHECK(r.error_offset < in.size());
    }
  }
  // Precise offset: the second Topic Alias identifier byte.
  auto in = hex("30 0A 00 01 74 06 23 00 01 23 00 02");
  Packet p;
  auto r = decode(in, opts(V5), p);
  REQUIRE(r.status == DecodeStatus::Error);
  CHECK(r.error == E::DuplicateProperty);
  CHECK(test::in_range(r.error_offset, 9, 11));
}

TEST_CASE("properties: repeatable properties", "[properties]") {
  SECTION("several User Properties keep their order, same key allowed") {
    auto [in, at] = build(Kind::PubAck, hex("26 00 01 62 00 01 32"     // b=2
                                            "26 00 01 61 00 01 31"     // a=1
                                            "26 00 01 62 00 01 33"));  // b=3
    auto p = test::decode_ok(in, V5);
    REQUIRE(std::holds_alternative<PubAck>(p));
    const auto& up = std::get<PubAck>(p).properties.user_properties;
    REQUIRE(up.size() == 3);
    CHECK(up[0] == UserProperty{"b", "2"});
    CHECK(up[1] == UserProperty{"a", "1"});
    CHECK(up[2] == UserProperty{"b", "3"});
  }
  SECTION("several Subscription Identifiers on PUBLISH") {
    auto [in, at] = build(Kind::Publish, hex("0B 01 0B 80 01 0B FF FF FF 7F"));
    auto p = test::decode_ok(in, V5);
    REQUIRE(std::holds_alternative<Publish>(p));
    CHECK(std::get<Publish>(p).properties.subscription_identifiers ==
          std::vector<uint32_t>{1, 128, 268435455});
  }
  SECTION("two Subscription Identifiers on SUBSCRIBE are a duplicate") {
    auto [in, at] = build(Kind::Subscribe, hex("0B 01 0B 02"));
    Packet p;
    auto r = decode(in, opts(V5), p);
    REQUIRE(r.status == DecodeStatus::Error);
    CHECK(r.error == E::DuplicateProperty);
  }
}

TEST_CASE("properties: unknown identifiers", "[properties][unknown]") {
  for (uint8_t id : {0x00, 0x04, 0x0A, 0x10, 0x14, 0x1B, 0x20, 0x2B, 0x7F}) {
    INFO("id 0x" << std::hex << int(id));
    auto [in, at] = build(Kind::Publish, ByteVec{id, 0x00});
    Packet p;
    auto r = decode(in, opts(V5), p);
    REQUIRE(r.status == DecodeStatus::Error);
    CHECK(r.error == E::UnknownProperty);
    CHECK(r.error_offset == at);
  }
  // Also after a valid property, and on an ack.
  auto [in, at] = build(Kind::PubAck, hex("1F 00 01 61 7F 00"));
  Packet p;
  auto r = decode(in, opts(V5), p);
  REQUIRE(r.status == DecodeStatus::Error);
  CHECK(r.error == E::UnknownProperty);
  CHECK(r.error_offset == at + 4);
}

TEST_CASE("properties: invalid values", "[properties][values]") {
  struct Case {
    Kind kind;
    const char* bytes;
  };
  const Case cases[] = {
      {Kind::Connect, "21 00 00"},         // Receive Maximum 0 [MQTT-3.1.2.11.3]
      {Kind::ConnAck, "21 00 00"},         // Receive Maximum 0
      {Kind::Connect, "27 00 00 00 00"},   // Maximum Packet Size 0
      {Kind::ConnAck, "27 00 00 00 00"},
      {Kind::ConnAck, "24 02"},            // Maximum QoS 2
      {Kind::ConnAck, "25 02"},            // Retain Available 2
      {Kind::ConnAck, "28 02"},            // Wildcard Subscription Available 2
      {Kind::ConnAck, "29 02"},            // Subscription Identifier Available 2
      {Kind::ConnAck, "2A 02"},            // Shared Subscription Available 2
      {Kind::Connect, "17 02"},            // Request Problem Information 2
      {Kind::Connect, "19 02"},            // Request Response Information 2
      {Kind::Publish, "01 02"},            // Payload Format Indicator 2
      {Kind::Will, "01 FF"},
      {Kind::Publish, "23 00 00"},         // Topic Alias 0 [MQTT-3.3.2-8]
      {Kind::Publish, "0B 00"},            // Subscription Identifier 0
      {Kind::Subscribe, "0B 00"},
  };
  for (const auto& c : cases) {
    INFO(c.bytes << " on " << name(c.kind));
    auto [in, at] = build(c.kind, hex(c.bytes));
    Packet p;
    auto r = decode(in, opts(V5), p);
    REQUIRE(r.status == DecodeStatus::Error);
    CHECK(r.error == E::InvalidPropertyValue);
    CHECK(test::in_range(r.error_offset, at, in.size() - 1));
  }
  // The boundaries that are valid.
  for (const char* ok : {"21 00 01", "27 00 00 00 01", "24 00", "24 01"}) {
    INFO(ok);
    auto [in, at] = build(Kind::ConnAck, hex(ok));
    Packet p;
    CHECK(decode(in, opts(V5), p).status == DecodeStatus::Ok);
  }
}

TEST_CASE("properties: string properties are validated", "[properties][utf8]") {
  auto check = [](Kind k, const char* bytes, CodecError e) {
    INFO(bytes << " on " << name(k));
    auto [in, at] = build(k, hex(bytes));
    Packet p;
    auto r = decode(in, opts(V5), p);
    REQUIRE(r.status == DecodeStatus::Error);
    CHECK(r.error == e);
    CHECK(test::in_range(r.error_offset, at, in.size() - 1));
  };
  check(Kind::Publish, "03 00 03 ED A0 80", E::Utf8Surrogate);    // Content Type
  check(Kind::ConnAck, "1F 00 01 00", E::Utf8NullCharacter);      // Reason String
  check(Kind::ConnAck, "12 00 01 C0", E::InvalidUtf8);            // Assigned Client Id
  check(Kind::Publish, "08 00 03 61 2F 23", E::WildcardInTopicName);  // [MQTT-3.3.2-14]
  check(Kind::Disconnect, "26 00 01 FF 00 00", E::InvalidUtf8);   // User Property key
}

// Sets the property of `sample` on a Properties value.
void set_sample(Properties& p, uint8_t id) {
  static const uint8_t blob[] = {0};
  switch (id) {
    case 0x01: p.payload_format_indicator = 1; break;
    case 0x02: p.message_expiry_interval = 10; break;
    case 0x03: p.content_type = "a"; break;
    case 0x08: p.response_topic = "a"; break;
    case 0x09: p.correlation_data = Bytes(blob); break;
    case 0x0B: p.subscription_identifiers = {1}; break;
    case 0x11: p.session_expiry_interval = 10; break;
    case 0x12: p.assigned_client_identifier = "a"; break;
    case 0x13: p.server_keep_alive = 10; break;
    case 0x15: p.authentication_method = "a"; break;
    case 0x16: p.authentication_method = "a"; p.authentication_data = Bytes(blob); break;
    case 0x17: p.request_problem_information = 1; break;
    case 0x18: p.will_delay_interval = 10; break;
    case 0x19: p.request_response_information = 1; break;
    case 0x1A: p.response_information = "a"; break;
    case 0x1C: p.server_reference = "a"; break;
    case 0x1F: p.reason_string = "a"; break;
    case 0x21: p.receive_maximum = 10; break;
    case 0x22: p.topic_alias_maximum = 10; break;
    case 0x23: p.topic_alias = 1; break;
    case 0x24: p.maximum_qos = 1; break;
    case 0x25: p.retain_available = 1; break;
    case 0x26: p.user_properties = {{"a", "b"}}; break;
    case 0x27: p.maximum_packet_size = 1024; break;
    case 0x28: p.wildcard_subscription_available = 1; break;
    case 0x29: p.subscription_identifiers_available = 1; break;
    case 0x2A: p.shared_subscription_available = 1; break;
  }
}

// A packet of kind `k` whose properties (or Will properties) are `props`.
Packet make(Kind k, const Properties& props) {
  switch (k) {
    case Kind::Connect: {
      Connect c;
      c.protocol_version = V5;
      c.client_id = "id";
      c.properties = props;
      return c;
    }
    case Kind::Will: {
      Connect c;
      c.protocol_version = V5;
      c.client_id = "id";
      Will w;
      w.topic = "w";
      w.payload = as_bytes("m");
      w.properties = props;
      c.will = w;
      return c;
    }
    case Kind::ConnAck: { ConnAck a; a.properties = props; return a; }
    case Kind::Publish: { Publish p; p.topic = "t"; p.properties = props; return p; }
    case Kind::PubAck: { auto a = ack<PubAck>(1); a.properties = props; return a; }
    case Kind::PubRec: { auto a = ack<PubRec>(1); a.properties = props; return a; }
    case Kind::PubRel: { auto a = ack<PubRel>(1); a.properties = props; return a; }
    case Kind::PubComp: { auto a = ack<PubComp>(1); a.properties = props; return a; }
    case Kind::Subscribe: {
      Subscribe s;
      s.packet_id = 1;
      s.subscriptions = {sub("a")};
      s.properties = props;
      return s;
    }
    case Kind::SubAck: {
      SubAck s;
      s.packet_id = 1;
      s.reason_codes = {ReasonCode::GrantedQoS0};
      s.properties = props;
      return s;
    }
    case Kind::Unsubscribe: {
      Unsubscribe u;
      u.packet_id = 1;
      u.filters = {"a"};
      u.properties = props;
      return u;
    }
    case Kind::UnsubAck: {
      UnsubAck u;
      u.packet_id = 1;
      u.reason_codes = {ReasonCode::Success};
      u.properties = props;
      return u;
    }
    case Kind::Disconnect: { Disconnect d; d.properties = props; return d; }
    case Kind::Auth: {
      Auth a;
      a.reason_code = ReasonCode::ContinueAuthentication;
      a.properties = props;
      // An AUTH names its Authentication Method (spec 3.15.2.2.2).
      if (!a.properties.authentication_method) a.properties.authentication_method = "a";
      return a;
    }
  }
  return PingReq{};
}

TEST_CASE("properties: allowed / not allowed per packet (spec table 2-4), encode",
          "[properties][allowed]") {
  for (const auto& s : samples()) {
    for (Kind k : kAllKinds) {
      INFO("property 0x" << std::hex << int(s.id) << std::dec << " on " << name(k));
      Properties props;
      set_sample(props, s.id);
      REQUIRE_FALSE(props.empty());
      Packet pk = make(k, props);
      if (s.allowed.count(k)) {
        ByteVec wire = encode_ok(pk, V5);
        // The property bytes appear verbatim in the encoding.
        const ByteVec expect = hex(s.bytes);
        CHECK(std::search(wire.begin(), wire.end(), expect.begin(), expect.end()) !=
              wire.end());
        Packet back = test::decode_ok(wire, V5);
        CHECK(back == pk);
      } else {
        ByteVec out(256);
        auto r = encode(pk, V5, out);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error() == E::PropertyNotAllowed);
      }
    }
  }
}

// The packets (of those that flow both ways) where only one side may send a
// property: [MQTT-3.3.4-6], spec 3.14.2.2.5 and [MQTT-3.14.2-2].
bool one_way_refused(uint8_t id, Kind k, Direction dir) {
  if (dir == Direction::ClientToServer)
    return (id == 0x0B && k == Kind::Publish) || (id == 0x1C && k == Kind::Disconnect);
  if (dir == Direction::ServerToClient) return id == 0x11 && k == Kind::Disconnect;
  return false;
}

TEST_CASE("properties: one-way properties by direction, decode and encode",
          "[properties][allowed][direction]") {
  for (Direction dir : {Direction::ClientToServer, Direction::ServerToClient}) {
    for (const auto& s : samples()) {
      for (Kind k : kAllKinds) {
        INFO("property 0x" << std::hex << int(s.id) << std::dec << " on " << name(k)
                           << (dir == Direction::ClientToServer ? " from a client"
                                                                : " from a server"));
        const bool ok = s.allowed.count(k) && !one_way_refused(s.id, k, dir);
        auto [in, at] = build(k, hex(s.bytes));
        Packet p;
        auto r = decode(in, test::opts_from(V5, dir), p);
        if (ok) {
          CHECK(r.status == DecodeStatus::Ok);
        } else {
          REQUIRE(r.status == DecodeStatus::Error);
          CHECK(r.error == E::PropertyNotAllowed);
          CHECK(r.error_offset >= at);
        }
        Properties props;
        set_sample(props, s.id);
        Packet pk = make(k, props);
        if (ok) {
          CHECK(test::encode_ok(pk, V5, dir).size() > 0);
        } else {
          CHECK(test::encode_error(pk, V5, dir) == E::PropertyNotAllowed);
        }
      }
    }
  }
}

TEST_CASE("properties: Properties::empty and operator==", "[properties]") {
  Properties a;
  CHECK(a.empty());
  Properties b;
  CHECK(a == b);
  for (const auto& s : samples()) {
    Properties c;
    set_sample(c, s.id);
    INFO("property 0x" << std::hex << int(s.id));
    CHECK_FALSE(c.empty());
    CHECK_FALSE(c == a);
    Properties d;
    set_sample(d, s.id);
    CHECK(c == d);
  }
  // Views compare by content, not by address.
  std::string k1 = "key", k2 = "key";
  Properties x, y;
  x.user_properties = {{k1, "v"}};
  y.user_properties = {{k2, "v"}};
  CHECK(x == y);
  const uint8_t d1[] = {1, 2}, d2[] = {1, 2}, d3[] = {1, 3};
  x.correlation_data = Bytes(d1);
  y.correlation_data = Bytes(d2);
  CHECK(x == y);
  y.correlation_data = Bytes(d3);
  CHECK_FALSE(x == y);
  // User property order matters.
  Properties o1, o2;
  o1.user_properties = {{"a", "1"}, {"b", "2"}};
  o2.user_properties = {{"b", "2"}, {"a", "1"}};
  CHECK_FALSE(o1 == o2);
}

}  // namespace
}  // namespace mqtt::codec
