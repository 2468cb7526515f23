// A broker that breaks the protocol: nothing it sends in breach reaches the
// consumer, and on MQTT 5 the session writes DISCONNECT with the reason
// code before the connection is closed (issue cases 7 and 8).
#include "tests/session/harness.h"

using namespace session_test;

namespace {

// The last packet the session wrote, decoded (the output is not consumed:
// the runtime flushes it before closing).
SentList pending_output(Harness& h) { return h.take(); }

}  // namespace

TEST_CASE("case 7: MQTT 5 PUBLISH with a Topic Alias we never allowed: DISCONNECT 0x94, nothing delivered") {
  Harness h(v5config());
  h.connect();
  const size_t incoming_before = h.obs.incoming.size();
  codec::Publish p;
  p.topic = "";  // empty topic + alias: legal only if aliases were allowed
  p.qos = QoS::AtMostOnce;
  p.payload = codec::as_bytes("secret");
  p.properties.topic_alias = 1;
  auto r = h.feed(p);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ConnectionErrorCode::ProtocolViolation);
  CHECK(r.error().reason_code == ReasonCode::TopicAliasInvalid);
  CHECK(h.obs.incoming.size() == incoming_before);  // not delivered
  CHECK(h.s.flush_before_close());
  auto out = pending_output(h);
  REQUIRE(out.size() == 1);
  REQUIRE(out[0]->type() == PacketType::Disconnect);
  CHECK(out[0]->as<codec::Disconnect>().reason_code == ReasonCode::TopicAliasInvalid);
}

TEST_CASE("case 7: a Topic Alias on a PUBLISH with a topic is refused too (our maximum is 0)") {
  Harness h(v5config());
  h.connect();
  codec::Publish p;
  p.topic = "a/b";
  p.qos = QoS::AtLeastOnce;
  p.packet_id = 7;
  p.payload = codec::as_bytes("x");
  p.properties.topic_alias = 3;
  auto r = h.feed(p);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason_code == ReasonCode::TopicAliasInvalid);
  auto out = pending_output(h);
  // No PUBACK for the refused message: only the DISCONNECT.
  REQUIRE(out.size() == 1);
  CHECK(out[0]->type() == PacketType::Disconnect);
}

TEST_CASE("3.1.1: a protocol error closes without DISCONNECT (3.1.1 clients never send one for errors)") {
  Harness h;
  h.connect();
  auto r = h.feed(codec::ConnAck{});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ConnectionErrorCode::ProtocolViolation);
  CHECK_FALSE(h.s.flush_before_close());
  CHECK(h.s.output().empty());
}

TEST_CASE("MQTT 5: a second CONNACK is a protocol error answered with DISCONNECT 0x82") {
  Harness h(v5config());
  h.connect();
  auto r = h.feed(codec::ConnAck{});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason_code == ReasonCode::ProtocolError);
  auto out = pending_output(h);
  REQUIRE(out.size() == 1);
  CHECK(out[0]->as<codec::Disconnect>().reason_code == ReasonCode::ProtocolError);
}

TEST_CASE("MQTT 5: malformed input is answered with DISCONNECT 0x81 before closing") {
  Harness h(v5config());
  h.connect();
  const std::vector<uint8_t> bad = {0x40, 0x01, 0x00};  // PUBACK with a 1-byte body
  auto r = h.s.handle_input(bad, h.now);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ConnectionErrorCode::MalformedPacket);
  auto out = pending_output(h);
  REQUIRE(out.size() == 1);
  CHECK(out[0]->as<codec::Disconnect>().reason_code == ReasonCode::MalformedPacket);
}

TEST_CASE("case 8: a PUBLISH before CONNACK is not delivered; the error is") {
  for (auto v : {ProtocolVersion::V311, ProtocolVersion::V5}) {
    SessionConfig c;
    c.version = v;
    Harness h(c);
    h.s.begin_connection(h.connect_packet(), h.now, h.now + 10s);
    h.take();
    codec::Publish p;
    p.topic = "early";
    p.qos = QoS::AtMostOnce;
    p.payload = codec::as_bytes("x");
    auto r = h.feed(p);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ConnectionErrorCode::ProtocolViolation);
    CHECK(r.error().message.find("before CONNACK") != std::string::npos);
    CHECK(h.obs.incoming.empty());
    // Before CONNACK no DISCONNECT is written (the connection is not up).
    CHECK(h.s.output().empty());
  }
}

TEST_CASE("case 8: CONNACK followed by PUBLISH in one read: both delivered in order") {
  Harness h;
  h.s.begin_connection(h.connect_packet(), h.now, h.now + 10s);
  h.take();
  auto bytes = h.encode(codec::ConnAck{});
  codec::Publish p;
  p.topic = "t";
  p.qos = QoS::AtMostOnce;
  p.payload = codec::as_bytes("x");
  auto pub = h.encode(p);
  bytes.insert(bytes.end(), pub.begin(), pub.end());
  auto r = h.s.handle_input(bytes, h.now);
  REQUIRE(r.ok());
  CHECK(h.obs.incoming == std::vector<PacketType>{PacketType::ConnAck, PacketType::Publish});
}
