#include <cerrno>
#include <cstring>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "mqtt/event.h"

using namespace mqtt;

TEST_CASE("Incoming owns its bytes: views survive copies and moves of the source") {
  std::vector<uint8_t> buf = {0x32, 0x0a, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x05, 'h', 'e', 'y'};
  codec::Publish p;
  p.qos = QoS::AtLeastOnce;
  p.packet_id = 5;
  p.topic = std::string_view(reinterpret_cast<const char*>(buf.data() + 4), 3);
  p.payload = codec::Bytes(buf.data() + 9, 3);
  Incoming in(buf, codec::Packet(p), ProtocolVersion::V311);
  std::fill(buf.begin(), buf.end(), 0);  // the source goes away
  REQUIRE(in.publish());
  CHECK(in.publish()->topic == "a/b");
  CHECK(codec::as_string(in.publish()->payload) == "hey");
  CHECK(in.raw().size() == 12);
  Incoming copy = in;
  Incoming moved = std::move(in);
  CHECK(copy.publish()->topic == "a/b");
  CHECK(moved.publish()->topic == "a/b");
  CHECK(copy.publish()->topic.data() != moved.publish()->topic.data());
  Event e(std::move(copy));
  CHECK(to_string(e) ==
        "Incoming(Publish { topic: \"a/b\", qos: 1, pkid: 5, retain: false, dup: false, payload: "
        "3 bytes })");
}

// True when every byte of `v` lies inside `owner`'s own copy of the packet.
static bool inside(const Incoming& owner, const void* v, size_t n) {
  auto raw = owner.raw();
  auto p = static_cast<const uint8_t*>(v);
  return p >= raw.data() && p + n <= raw.data() + raw.size();
}

// A QoS 0 PUBLISH with `body` after its fixed header; `header` gets the
// fixed header's size.
static std::vector<uint8_t> qos0_publish(const std::vector<uint8_t>& body, size_t& header) {
  std::vector<uint8_t> buf = {0x30};
  size_t len = body.size();
  do {  // remaining length
    uint8_t b = len % 128;
    len /= 128;
    buf.push_back(static_cast<uint8_t>(b | (len ? 0x80 : 0)));
  } while (len);
  header = buf.size();
  buf.insert(buf.end(), body.begin(), body.end());
  return buf;
}

TEST_CASE("Incoming stores small packets inline and large ones on the heap; views follow moves") {
  for (size_t payload_size : {size_t{3}, Incoming::kInlineBytes, size_t{4000}}) {
    INFO("payload " << payload_size);
    const std::string topic = "t/x";
    std::vector<uint8_t> body = {0x00, 0x03, 't', '/', 'x'};
    body.insert(body.end(), payload_size, 'p');
    size_t header = 0;
    std::vector<uint8_t> buf = qos0_publish(body, header);
    codec::Publish p;
    p.topic = std::string_view(reinterpret_cast<const char*>(buf.data() + header + 2), 3);
    p.payload = codec::Bytes(buf.data() + header + 5, payload_size);

    Incoming a(buf, codec::Packet(p), ProtocolVersion::V311);
    std::fill(buf.begin(), buf.end(), 0);
    Incoming b = std::move(a);
    Incoming c;
    c = b;
    Incoming d;
    d = std::move(c);
    for (const Incoming* in : {&b, &d}) {
      REQUIRE(in->publish());
      CHECK(in->publish()->topic == topic);
      CHECK(in->publish()->payload.size() == payload_size);
      CHECK(codec::as_string(in->publish()->payload) == std::string(payload_size, 'p'));
      CHECK(inside(*in, in->publish()->topic.data(), 3));
      CHECK(inside(*in, in->publish()->payload.data(), payload_size));
    }
  }
}

TEST_CASE("Event one-line forms") {
  CHECK(to_string(Event(Outgoing{Outgoing::Type::Publish, 3, false})) ==
        "Outgoing(Publish { pkid: 3, dup: false })");
  CHECK(to_string(Event(Outgoing{Outgoing::Type::PingReq, 0, false})) == "Outgoing(PingReq)");
  CHECK(to_string(Event(SessionReset{2, 1})) ==
        "SessionReset { cause: BrokerLostSession, dropped_publishes: 2, dropped_pubrels: 1, "
        "subscriptions_lost: false }");
  SessionReset reset{0, 0, SessionReset::Cause::BrokerLostSession, true, 3};
  CHECK(to_string(Event(reset)) ==
        "SessionReset { cause: BrokerLostSession, dropped_publishes: 0, dropped_pubrels: 0, "
        "subscriptions_lost: true, resubscribing: 3 }");
  RequestFailed failed;
  failed.kind = RequestFailed::Kind::Publish;
  failed.reason = RequestError::PacketTooLarge;
  failed.topic = "a/b";
  failed.qos = QoS::AtLeastOnce;
  failed.count = 4;
  failed.message = "too big";
  CHECK(to_string(Event(failed)) ==
        "RequestFailed { Publish, reason: PacketTooLarge, topic: \"a/b\", qos: 1, count: 4, "
        "message: \"too big\" }");
  ConnectionError err;
  err.code = ConnectionErrorCode::Disconnected;
  err.terminal = true;
  const std::string s = to_string(Event(err));
  CHECK(s.rfind("Error(", 0) == 0);
  CHECK(s.find("terminal") != std::string::npos);
  std::vector<uint8_t> raw = {0x20, 0x02, 0x01, 0x00};
  codec::ConnAck ack;
  ack.session_present = true;
  CHECK(to_string(Event(Incoming(raw, codec::Packet(ack), ProtocolVersion::V311))) ==
        "Incoming(ConnAck { session_present: true, code: " +
            std::string(to_string(ReasonCode::Success)) + " })");
}

TEST_CASE("Events name the broker: ConnectionError::broker and a CONNACK's Incoming::broker()") {
  ConnectionError err;
  err.code = ConnectionErrorCode::Io;
  err.sys_errno = ECONNREFUSED;
  err.message = "connect to b.example:1884 failed: Connection refused";
  err.broker = "b.example:1884";
  CHECK(mqtt::describe(err) == std::string(to_string(ConnectionErrorCode::Io)) + " (" +
                                   std::string(std::strerror(ECONNREFUSED)) +
                                   ") [broker b.example:1884]: connect to b.example:1884 failed: "
                                   "Connection refused");
  std::vector<uint8_t> raw = {0x20, 0x02, 0x00, 0x00};
  codec::ConnAck ack;
  Incoming in(raw, codec::Packet(ack), ProtocolVersion::V311, "a.example:1883");
  CHECK(in.broker() == "a.example:1883");
  Incoming copy = in;
  Incoming moved = std::move(in);
  CHECK(copy.broker() == "a.example:1883");
  CHECK(moved.broker() == "a.example:1883");
  CHECK(to_string(Event(moved)) == "Incoming(ConnAck { session_present: false, code: " +
                                       std::string(to_string(ReasonCode::Success)) +
                                       " } from a.example:1883)");
}

TEST_CASE("Incoming owns a topic resolved from a Topic Alias: stored after the raw bytes, kept by copies and moves") {
  // An MQTT 5 PUBLISH with an empty topic and Topic Alias 1; the session
  // hands over the resolved topic from its alias table (outside `raw`).
  for (size_t payload_size : {size_t{3}, size_t{100}, size_t{4000}}) {
    for (size_t topic_size : {size_t{5}, size_t{100}}) {
      INFO("payload " << payload_size << ", topic " << topic_size);
      std::vector<uint8_t> body = {0x00, 0x00, 0x03, 0x23, 0x00, 0x01};
      body.insert(body.end(), payload_size, 'p');
      size_t header = 0;
      std::vector<uint8_t> buf = qos0_publish(body, header);
      std::string table(topic_size, 'T');  // the session's alias table
      codec::Publish p;
      p.topic = table;
      p.properties.topic_alias = 1;
      p.payload = codec::Bytes(buf.data() + header + 6, payload_size);

      Incoming a(buf, codec::Packet(p), ProtocolVersion::V5);
      std::fill(buf.begin(), buf.end(), 0);
      std::fill(table.begin(), table.end(), 0);  // remapped or gone
      CHECK(a.raw().size() == header + body.size());
      Incoming b = std::move(a);
      Incoming c;
      c = b;
      Incoming d;
      d = std::move(c);
      Incoming e = d;
      for (const Incoming* in : {&b, &d, &e}) {
        REQUIRE(in->publish());
        CHECK(in->publish()->topic == std::string(topic_size, 'T'));
        CHECK(codec::as_string(in->publish()->payload) == std::string(payload_size, 'p'));
        CHECK(in->publish()->properties.topic_alias == std::optional<uint16_t>(1));
        CHECK(in->raw().size() == header + body.size());
        // The topic lies right after the raw bytes, in the event's own buffer.
        CHECK(in->publish()->topic.data() ==
              reinterpret_cast<const char*>(in->raw().data() + in->raw().size()));
      }
    }
  }
}
