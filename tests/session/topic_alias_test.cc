// MQTT 5 Topic Aliases in the session (spec 3.3.2.3.4 and 3.3.4), both ways:
// what the client announces and accepts, what it sends, and how the tables
// behave across connections. Every rule's spec id is in its test's name.
#include <algorithm>
#include <cstdio>
#include <map>
#include <random>

#include "mqtt/session/topic_alias.h"
#include "tests/session/harness.h"

using namespace session_test;
using mqtt::session::detail::OutgoingAliases;

namespace {

SessionConfig aliases(uint16_t incoming_max, uint16_t auto_cap = 0) {
  SessionConfig c = v5config();
  c.topic_alias_maximum = incoming_max;
  c.auto_topic_aliases = auto_cap;
  return c;
}

// CONNACK properties with the broker's Topic Alias Maximum.
codec::Properties broker_max(uint16_t n) {
  codec::Properties p;
  p.topic_alias_maximum = n;
  return p;
}

codec::Publish incoming(std::string_view topic, std::optional<uint16_t> alias, QoS qos = QoS::AtMostOnce,
                        uint16_t id = 0, std::string_view payload = "x") {
  codec::Publish p;
  p.topic = topic;
  p.qos = qos;
  p.packet_id = id;
  p.payload = codec::as_bytes(payload);
  p.properties.topic_alias = alias;
  return p;
}

// A publish request with the caller's own Topic Alias.
Request with_alias(Harness& h, std::string_view topic, uint16_t alias, QoS qos = QoS::AtMostOnce) {
  codec::Publish p;
  p.topic = topic;
  p.qos = qos;
  p.payload = codec::as_bytes("x");
  p.properties.topic_alias = alias;
  auto r = make_publish_request(p, h.v());
  REQUIRE(r.ok());
  r->completion = token();
  return std::move(*r);
}

// Submits a tracked request that the session settles at once; its result.
Completion settled(Harness& h, Request r) {
  auto t = r.completion;
  h.s.submit(std::move(r), h.now);
  REQUIRE(t->done());
  return t->result();
}

const codec::Publish& pub_of(const SentList& l, size_t i) {
  REQUIRE(l.size() > i);
  REQUIRE(l[i]->type() == PacketType::Publish);
  return l[i]->as<codec::Publish>();
}

const std::string kLong(100, 'L');  // a 100-byte topic

std::string long_topic(char c) { return std::string(60, c) + "/tail"; }

}  // namespace

// --- incoming ---------------------------------------------------------------

TEST_CASE("CONNECT announces Topic Alias Maximum when configured, and never by default or on 3.1.1") {
  for (uint16_t max : {uint16_t{0}, uint16_t{7}}) {
    Harness h(aliases(max));
    h.s.begin_connection(h.connect_packet(), h.now, h.now + 10s);
    auto sent = h.take();
    REQUIRE(sent.size() == 1);
    const auto& c = sent[0]->as<codec::Connect>();
    // Absent means 0 [MQTT-3.1.2-27]: 0 is left out.
    CHECK(c.properties.topic_alias_maximum ==
          (max ? std::optional<uint16_t>(max) : std::nullopt));
  }
  SessionConfig v311;
  v311.topic_alias_maximum = 7;  // ignored: no properties in 3.1.1
  Harness h(v311);
  h.s.begin_connection(h.connect_packet(), h.now, h.now + 10s);
  CHECK(h.take().size() == 1);  // encoded, so it carried no properties
}

TEST_CASE("spec 3.3.4: topic + alias sets the mapping, alias alone uses it; events carry the topic") {
  Harness h(aliases(5));
  h.connect();
  h.feed_ok(incoming("sensors/a", 1));
  h.feed_ok(incoming("", 1, QoS::AtLeastOnce, 10));
  h.feed_ok(incoming("", 1, QoS::AtMostOnce));
  REQUIRE(h.obs.incoming_topics.size() == 3);
  CHECK(h.obs.incoming_topics == std::vector<std::string>{"sensors/a", "sensors/a", "sensors/a"});
  // The raw bytes are the packet as received (empty topic).
  codec::Packet raw;
  codec::DecodeOptions opts;
  opts.version = ProtocolVersion::V5;
  REQUIRE(codec::decode(h.obs.incoming_raw.back(), opts, raw).status == codec::DecodeStatus::Ok);
  CHECK(std::get<codec::Publish>(raw).topic.empty());
  // QoS 1 acknowledged as usual.
  auto out = h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0]->as<codec::PubAck>().packet_id == 10);
}

TEST_CASE("spec 3.3.4 2b: a new topic with a mapped alias replaces the mapping") {
  Harness h(aliases(2));
  h.connect();
  h.feed_ok(incoming("a", 2));
  h.feed_ok(incoming("b", 2));
  h.feed_ok(incoming("", 2));
  h.feed_ok(incoming("c", 1));
  h.feed_ok(incoming("", 1));
  h.feed_ok(incoming("", 2));
  CHECK(h.obs.incoming_topics == std::vector<std::string>{"a", "b", "b", "c", "c", "b"});
}

TEST_CASE("[MQTT-3.3.2-10] every alias 1..maximum is accepted, the maximum included") {
  Harness h(aliases(65535));
  h.connect();
  h.feed_ok(incoming("max", 65535));
  h.feed_ok(incoming("one", 1));
  h.feed_ok(incoming("", 65535));
  h.feed_ok(incoming("", 1));
  CHECK(h.obs.incoming_topics == std::vector<std::string>{"max", "one", "max", "one"});
}

TEST_CASE("[MQTT-3.1.2-26] spec 3.3.4 1: an alias above our maximum is DISCONNECT 0x94, nothing delivered") {
  for (std::string_view topic : {"t", ""}) {
    INFO("topic '" << topic << "'");
    Harness h(aliases(3));
    h.connect();
    const size_t before = h.obs.incoming.size();
    auto r = h.feed(incoming(topic, 4, QoS::AtLeastOnce, 9));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ConnectionErrorCode::ProtocolViolation);
    CHECK(r.error().reason_code == ReasonCode::TopicAliasInvalid);
    CHECK(r.error().message.find("above the client's Topic Alias Maximum 3") != std::string::npos);
    CHECK(h.obs.incoming.size() == before);
    CHECK(h.s.flush_before_close());
    auto out = h.take();  // no PUBACK: only the DISCONNECT
    REQUIRE(out.size() == 1);
    CHECK(out[0]->as<codec::Disconnect>().reason_code == ReasonCode::TopicAliasInvalid);
  }
}

TEST_CASE("[MQTT-3.1.2-27] with no maximum announced (the default) any alias is DISCONNECT 0x94") {
  Harness h(v5config());
  h.connect();
  auto r = h.feed(incoming("t", 1));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason_code == ReasonCode::TopicAliasInvalid);
  CHECK(r.error().message.find("allows no topic aliases") != std::string::npos);
  CHECK(h.obs.incoming_topics.empty());  // nothing delivered
}

TEST_CASE("[MQTT-3.3.2-8] spec 3.3.4 1: Topic Alias 0 is DISCONNECT 0x94 (a protocol error, not malformed)") {
  Harness h(aliases(5));
  h.connect();
  // PUBLISH QoS 0, topic "t", properties: Topic Alias 0, payload "x".
  const std::vector<uint8_t> bytes = {0x30, 0x08, 0x00, 0x01, 't', 0x03, 0x23, 0x00, 0x00, 'x'};
  auto r = h.s.handle_input(bytes, h.now);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ConnectionErrorCode::ProtocolViolation);
  CHECK(r.error().reason_code == ReasonCode::TopicAliasInvalid);
  CHECK(h.obs.incoming_topics.empty());
  auto out = h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0]->as<codec::Disconnect>().reason_code == ReasonCode::TopicAliasInvalid);
}

TEST_CASE("spec 3.3.4 3a: an empty topic with an alias that has no mapping is DISCONNECT 0x82") {
  Harness h(aliases(5));
  h.connect();
  h.feed_ok(incoming("mapped", 1));
  auto r = h.feed(incoming("", 2, QoS::ExactlyOnce, 3));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ConnectionErrorCode::ProtocolViolation);
  CHECK(r.error().reason_code == ReasonCode::ProtocolError);
  CHECK(r.error().message.find("Topic Alias 2") != std::string::npos);
  CHECK(h.obs.incoming_topics == std::vector<std::string>{"mapped"});  // nothing more
  auto out = h.take();  // no PUBREC
  REQUIRE(out.size() == 1);
  CHECK(out[0]->as<codec::Disconnect>().reason_code == ReasonCode::ProtocolError);
}

TEST_CASE("[MQTT-3.3.2-7] incoming mappings do not survive the connection") {
  Harness h(aliases(5));
  h.connect();
  h.feed_ok(incoming("old", 1));
  h.s.connection_lost();
  h.connect(true);
  auto r = h.feed(incoming("", 1));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason_code == ReasonCode::ProtocolError);
  CHECK(h.obs.incoming_topics == std::vector<std::string>{"old"});
}

TEST_CASE("QoS 2 with an alias: delivered once, at PUBLISH, with the resolved topic") {
  Harness h(aliases(5));
  h.connect();
  h.feed_ok(incoming("q2/topic", 4, QoS::ExactlyOnce, 7));
  auto out = h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0]->as<codec::PubRec>().packet_id == 7);
  // The broker sends it again (same id, alias only) before PUBREL: not
  // delivered again, answered with PUBREC.
  auto dup = incoming("", 4, QoS::ExactlyOnce, 7);
  dup.dup = true;
  h.feed_ok(dup);
  out = h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0]->type() == PacketType::PubRec);
  codec::PubRel rel;
  rel.packet_id = 7;
  h.feed_ok(rel);
  out = h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0]->as<codec::PubComp>().reason_code == ReasonCode::Success);
  CHECK(h.obs.incoming_topics == std::vector<std::string>{"q2/topic"});
}

TEST_CASE("update_options: a new Topic Alias Maximum applies from the next connection") {
  Harness h(aliases(0));
  h.connect();
  SessionConfig c = aliases(2);
  REQUIRE(h.s.reconfigure(c));
  CHECK_FALSE(h.feed(incoming("t", 1)).ok());  // this connection announced 0
  h.s.connection_lost();
  h.connect(true);
  h.feed_ok(incoming("t", 1));
  CHECK(h.obs.incoming_topics == std::vector<std::string>{"t"});
}

// --- outgoing: automatic ----------------------------------------------------

TEST_CASE("automatic aliases are off by default, even when the broker allows them") {
  Harness h(v5config());
  h.connect(false, broker_max(10));
  h.pub(kLong, QoS::AtMostOnce);
  h.pub(kLong, QoS::AtMostOnce);
  auto out = h.take();
  for (size_t i = 0; i < 2; ++i) {
    CHECK(pub_of(out, i).topic == kLong);
    CHECK_FALSE(pub_of(out, i).properties.topic_alias);
  }
}

TEST_CASE("[MQTT-3.2.2-18] automatic aliases: none when the broker's maximum is absent or 0") {
  for (bool explicit_zero : {false, true}) {
    Harness h(aliases(0, 10));
    h.connect(false, explicit_zero ? broker_max(0) : codec::Properties{});
    h.pub(kLong, QoS::AtLeastOnce);
    h.pub(kLong, QoS::AtLeastOnce);
    auto out = h.take();
    CHECK_FALSE(pub_of(out, 0).properties.topic_alias);
    CHECK_FALSE(pub_of(out, 1).properties.topic_alias);
    CHECK(pub_of(out, 1).topic == kLong);
  }
}

TEST_CASE("spec 3.3.2.3.4: first use sends topic + alias, later uses the alias with an empty topic") {
  Harness h(aliases(0, 10));
  h.connect(false, broker_max(10));
  auto t1 = h.pub(kLong, QoS::AtLeastOnce);
  auto t2 = h.pub(kLong, QoS::AtLeastOnce);
  h.pub(kLong, QoS::AtMostOnce);
  auto out = h.take();
  CHECK(pub_of(out, 0).topic == kLong);
  CHECK(pub_of(out, 0).properties.topic_alias == std::optional<uint16_t>(1));
  for (size_t i : {1, 2}) {
    CHECK(pub_of(out, i).topic.empty());
    CHECK(pub_of(out, i).properties.topic_alias == std::optional<uint16_t>(1));
  }
  // Everything else is as the caller built it.
  CHECK(pub_of(out, 1).packet_id == 2);
  CHECK(codec::as_string(pub_of(out, 1).payload) == "x");
  codec::PubAck a;
  a.packet_id = 2;
  h.feed_ok(a);
  CHECK(t2->done());
  CHECK_FALSE(t1->done());
}

TEST_CASE("[MQTT-3.2.2-17] [MQTT-3.3.2-9] automatic aliases stay within min(cap, broker maximum); LRU replaces") {
  Harness h(aliases(0, 5));
  h.connect(false, broker_max(2));  // the broker's 2 < our cap of 5
  const std::string a = long_topic('a'), b = long_topic('b'), c = long_topic('c');
  for (const std::string* t : {&a, &b, &a, &c, &a, &b}) h.pub(*t, QoS::AtMostOnce);
  auto out = h.take();
  struct Want {
    std::string topic;  // "" = alias only
    uint16_t alias;
  };
  const std::vector<Want> want = {
      {a, 1}, {b, 2},  // unused aliases first
      {"", 1},         // a again: a is now the most recent
      {c, 2},          // c replaces b, the least recently used
      {"", 1},         // a still mapped
      {b, 2},          // b replaces c
  };
  REQUIRE(out.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("publish " << i);
    CHECK(pub_of(out, i).topic == want[i].topic);
    CHECK(pub_of(out, i).properties.topic_alias == std::optional<uint16_t>(want[i].alias));
  }
}

TEST_CASE("automatic aliases skip topics of 3 bytes or fewer (no gain)") {
  Harness h(aliases(0, 10));
  h.connect(false, broker_max(10));
  h.pub("abc", QoS::AtMostOnce);
  h.pub("abc", QoS::AtMostOnce);
  h.pub("abcd", QoS::AtMostOnce);
  h.pub("abcd", QoS::AtMostOnce);
  auto out = h.take();
  CHECK_FALSE(pub_of(out, 1).properties.topic_alias);
  CHECK(pub_of(out, 1).topic == "abc");
  CHECK(pub_of(out, 3).properties.topic_alias == std::optional<uint16_t>(1));
  CHECK(pub_of(out, 3).topic.empty());
}

TEST_CASE("automatic aliases: a publish near the broker's Maximum Packet Size goes without one") {
  Harness h(aliases(0, 10));
  codec::Properties p = broker_max(10);
  Request probe = h.publish(kLong, QoS::AtMostOnce);
  p.maximum_packet_size = static_cast<uint32_t>(probe.bytes.size() + 2);  // fits only as is
  h.connect(false, p);
  h.pub(kLong, QoS::AtMostOnce);
  h.pub(kLong, QoS::AtMostOnce);
  auto out = h.take();
  REQUIRE(out.size() == 2);
  CHECK_FALSE(pub_of(out, 0).properties.topic_alias);
  CHECK_FALSE(pub_of(out, 1).properties.topic_alias);
}

TEST_CASE("[MQTT-3.3.2-7] after a reconnect: resends carry the full topic, aliases start afresh") {
  Harness h(aliases(0, 10));
  h.connect(false, broker_max(10));
  auto t1 = h.pub(kLong, QoS::AtLeastOnce);
  auto t2 = h.pub(kLong, QoS::ExactlyOnce);
  auto out = h.take();
  CHECK(pub_of(out, 1).topic.empty());  // sent as alias only
  h.s.connection_lost();
  auto resent = h.connect(true, broker_max(10));
  REQUIRE(resent.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(pub_of(resent, i).dup);
    CHECK(pub_of(resent, i).topic == kLong);
    CHECK_FALSE(pub_of(resent, i).properties.topic_alias);
  }
  // A new publish teaches the broker the alias again.
  h.pub(kLong, QoS::AtMostOnce);
  h.pub(kLong, QoS::AtMostOnce);
  out = h.take();
  CHECK(pub_of(out, 0).topic == kLong);
  CHECK(pub_of(out, 0).properties.topic_alias == std::optional<uint16_t>(1));
  CHECK(pub_of(out, 1).topic.empty());
  // A broker without aliases on the next connection: none used.
  h.s.connection_lost();
  h.connect(true);
  h.pub(kLong, QoS::AtMostOnce);
  out = h.take();
  CHECK(pub_of(out, out.size() - 1).topic == kLong);
  CHECK_FALSE(pub_of(out, out.size() - 1).properties.topic_alias);
}

TEST_CASE("bytes on the wire per PUBLISH with a 100-byte topic, with and without aliases") {
  const SessionConfig off = aliases(0, 0), on = aliases(0, 16);
  std::printf("[topic alias] 100-byte topic: bytes per PUBLISH (plain / first with alias / "
              "later with alias; saved)\n");
  for (QoS qos : {QoS::AtMostOnce, QoS::AtLeastOnce}) {
    for (size_t payload : {size_t{8}, size_t{100}, size_t{1000}}) {
      size_t sizes[2][3] = {};
      for (int aliased = 0; aliased < 2; ++aliased) {
        Harness h(aliased ? on : off);
        h.connect(false, broker_max(16));
        for (int i = 0; i < 3; ++i) {
          Request r = h.publish(kLong, qos, std::string(payload, 'p'));
          h.s.submit(std::move(r), h.now);
          sizes[aliased][i] = h.s.output().size();
          h.take();
        }
      }
      const size_t plain = sizes[0][2], first = sizes[1][0], later = sizes[1][2];
      std::printf("[topic alias] QoS %d, payload %4zu: %4zu / %4zu / %4zu bytes; saved %zu "
                  "bytes (%.0f%%) per message after the first\n",
                  static_cast<int>(qos), payload, plain, first, later, plain - later,
                  100.0 * static_cast<double>(plain - later) / static_cast<double>(plain));
      CHECK(sizes[0][0] == plain);
      CHECK(first == plain + 3);         // the Topic Alias property
      CHECK(later == sizes[1][1]);
      // The topic, less the property; one more when the shorter packet's
      // Remaining Length needs one byte less.
      CHECK((plain - later == 100 - 3 || plain - later == 100 - 3 + 1));
    }
  }
}

// --- outgoing: the caller's own aliases --------------------------------------

TEST_CASE("[MQTT-3.3.2-8] a caller's Topic Alias of 0 is refused at the call") {
  codec::Publish p;
  p.topic = "t";
  p.properties.topic_alias = 0;
  auto r = make_publish_request(p, ProtocolVersion::V5);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == codec::CodecError::InvalidPropertyValue);
  // 3.1.1 has no properties at all.
  p.properties.topic_alias = 1;
  auto r311 = make_publish_request(p, ProtocolVersion::V311);
  REQUIRE_FALSE(r311.ok());
  CHECK(r311.error() == codec::CodecError::PropertiesNotSupported);
}

TEST_CASE("a caller's alias: topic + alias first on each connection, the alias alone once the broker knows it") {
  Harness h(v5config());
  h.connect(false, broker_max(5));
  const std::string a = long_topic('a');
  for (int i = 0; i < 2; ++i) h.s.submit(with_alias(h, a, 3, QoS::AtLeastOnce), h.now);
  auto out = h.take();
  CHECK(pub_of(out, 0).topic == a);
  CHECK(pub_of(out, 0).properties.topic_alias == std::optional<uint16_t>(3));
  CHECK(pub_of(out, 1).topic.empty());
  CHECK(pub_of(out, 1).properties.topic_alias == std::optional<uint16_t>(3));
  // Another topic with the same alias: the mapping changes.
  h.s.submit(with_alias(h, "other/topic", 3), h.now);
  out = h.take();
  CHECK(pub_of(out, 0).topic == "other/topic");
  CHECK(pub_of(out, 0).properties.topic_alias == std::optional<uint16_t>(3));
}

TEST_CASE("a caller's alias without a topic uses the topic last sent with it, also after a reconnect") {
  Harness h(v5config());
  h.connect(false, broker_max(5));
  const std::string a = long_topic('a');
  h.s.submit(with_alias(h, a, 2), h.now);
  h.s.submit(with_alias(h, "", 2, QoS::AtLeastOnce), h.now);
  auto out = h.take();
  CHECK(pub_of(out, 1).topic.empty());
  CHECK(pub_of(out, 1).properties.topic_alias == std::optional<uint16_t>(2));
  // Not acknowledged; the connection drops: the resend has the topic.
  h.s.connection_lost();
  auto resent = h.connect(true, broker_max(5));
  REQUIRE(resent.size() == 1);
  CHECK(pub_of(resent, 0).topic == a);
  CHECK_FALSE(pub_of(resent, 0).properties.topic_alias);
  // On this new connection the broker does not know alias 2 yet.
  h.s.submit(with_alias(h, "", 2), h.now);
  h.s.submit(with_alias(h, "", 2), h.now);
  out = h.take();
  CHECK(pub_of(out, 0).topic == a);
  CHECK(pub_of(out, 0).properties.topic_alias == std::optional<uint16_t>(2));
  CHECK(pub_of(out, 1).topic.empty());
}

TEST_CASE("[MQTT-3.3.2-9] a caller's alias above the broker's maximum fails when the session takes it") {
  Harness h(v5config());
  h.connect(false, broker_max(4));
  const Completion c = settled(h, with_alias(h, "t/x", 5, QoS::AtLeastOnce));
  CHECK(c.error == RequestError::TopicAliasInvalid);
  CHECK(c.message.find("Topic Alias Maximum 4") != std::string::npos);
  CHECK(h.s.output().empty());
  CHECK(h.obs.failures.empty());  // tracked: through its token only
  // Untracked: reported to the observer (a RequestFailed event).
  Request u = with_alias(h, "t/y", 9);
  u.completion.reset();
  h.s.submit(std::move(u), h.now);
  REQUIRE(h.obs.failures.size() == 1);
  CHECK(h.obs.failures[0].reason == RequestError::TopicAliasInvalid);
  CHECK(h.obs.failures[0].topic == "t/y");
  CHECK(h.s.output().empty());
}

TEST_CASE("[MQTT-3.2.2-18] a caller's alias with a broker that allows none fails") {
  Harness h(v5config());
  h.connect();  // no Topic Alias Maximum in CONNACK
  CHECK(settled(h, with_alias(h, "t", 1)).error == RequestError::TopicAliasInvalid);
  CHECK(h.s.output().empty());
}

TEST_CASE("a caller's alias without a topic that was never given one fails (TopicAliasInvalid)") {
  Harness h(v5config());
  h.connect(false, broker_max(4));
  const Completion c = settled(h, with_alias(h, "", 1, QoS::AtLeastOnce));
  CHECK(c.error == RequestError::TopicAliasInvalid);
  CHECK(c.message.find("no topic") != std::string::npos);
  CHECK(h.s.output().empty());
  CHECK(h.s.stats().inflight_publishes == 0);
}

TEST_CASE("a caller's alias takes its number out of the automatic pool for the connection") {
  Harness h(aliases(0, 2));
  h.connect(false, broker_max(5));
  const std::string a = long_topic('a'), b = long_topic('b'), m = long_topic('m');
  h.pub(a, QoS::AtMostOnce);                  // automatic alias 1
  h.s.submit(with_alias(h, m, 1), h.now);    // the caller takes 1
  h.pub(a, QoS::AtMostOnce);                  // a lost alias 1: gets 2, with its topic
  h.pub(b, QoS::AtMostOnce);                  // only 2 is left: b replaces a
  h.s.submit(with_alias(h, m, 1), h.now);    // still the caller's
  auto out = h.take();
  REQUIRE(out.size() == 5);
  CHECK(pub_of(out, 0).properties.topic_alias == std::optional<uint16_t>(1));
  CHECK(pub_of(out, 1).topic == m);
  CHECK(pub_of(out, 2).topic == a);
  CHECK(pub_of(out, 2).properties.topic_alias == std::optional<uint16_t>(2));
  CHECK(pub_of(out, 3).topic == b);
  CHECK(pub_of(out, 3).properties.topic_alias == std::optional<uint16_t>(2));
  CHECK(pub_of(out, 4).topic.empty());
  CHECK(pub_of(out, 4).properties.topic_alias == std::optional<uint16_t>(1));
}

TEST_CASE("publishes held until CONNACK are aliased against that connection's broker maximum") {
  Harness h(aliases(0, 4));
  Request held = with_alias(h, "held/topic", 3);  // not connected yet: held
  auto t = held.completion;
  h.s.submit(std::move(held), h.now);
  h.pub(kLong, QoS::AtLeastOnce);
  auto sent = h.connect(false, broker_max(2));
  // The caller's alias 3 is above this broker's 2: failed; the other aliased.
  REQUIRE(t->done());
  CHECK(t->result().error == RequestError::TopicAliasInvalid);
  REQUIRE(sent.size() == 1);
  CHECK(pub_of(sent, 0).topic == kLong);
  CHECK(pub_of(sent, 0).properties.topic_alias == std::optional<uint16_t>(1));
}

// --- the tables and the rewrite ------------------------------------------------

TEST_CASE("OutgoingAliases: the LRU and its hash index agree with a simple model") {
  std::mt19937 rng(12345);
  for (uint16_t limit : {uint16_t{1}, uint16_t{3}, uint16_t{16}, uint16_t{100}}) {
    INFO("limit " << limit);
    OutgoingAliases t;
    t.reset(limit, limit);
    std::vector<std::string> pool;
    for (int i = 0; i < 3 * limit + 2; ++i) pool.push_back("topic/" + std::to_string(i * 7919));
    std::vector<std::pair<std::string, uint16_t>> recent;  // most recent first
    uint16_t unused = 1;
    for (int op = 0; op < 20000; ++op) {
      const std::string& topic = pool[rng() % pool.size()];
      auto it = std::find_if(recent.begin(), recent.end(),
                             [&](const auto& e) { return e.first == topic; });
      uint16_t want_alias;
      bool want_mapped = it != recent.end();
      if (want_mapped) {
        want_alias = it->second;
        recent.erase(it);
      } else if (unused <= limit) {
        want_alias = unused++;
      } else {
        want_alias = recent.back().second;
        recent.pop_back();
      }
      recent.insert(recent.begin(), {topic, want_alias});
      const auto use = t.automatic(topic);
      REQUIRE(use.alias == want_alias);
      REQUIRE(use.mapped == want_mapped);
    }
  }
}

TEST_CASE("publish_layout / write_publish: topic and alias swapped in, the rest kept, lengths re-encoded") {
  // Sizes around the 1- and 2-byte Variable Byte Integer boundaries of the
  // Remaining Length and the Property Length.
  for (size_t payload : {size_t{0}, size_t{20}, size_t{100}, size_t{130}, size_t{16300}}) {
    for (size_t user : {size_t{0}, size_t{110}, size_t{130}}) {
      codec::Publish p;
      p.topic = "some/topic/name";
      p.qos = QoS::AtLeastOnce;
      p.packet_id = 77;
      const std::string body(payload, 'b'), value(user, 'v');
      p.payload = codec::as_bytes(body);
      p.properties.message_expiry_interval = 30;
      if (user) p.properties.user_properties.push_back({"k", value});
      auto r = make_publish_request(p, ProtocolVersion::V5);
      REQUIRE(r.ok());
      const auto l = mqtt::session::detail::publish_layout(r->bytes.span());
      REQUIRE(l);
      for (std::string_view topic : {std::string_view{}, std::string_view("some/topic/name"),
                                     std::string_view(kLong)}) {
        for (uint16_t alias : {uint16_t{0}, uint16_t{300}}) {
          if (topic.empty() && alias == 0) continue;
          INFO("payload " << payload << ", user " << user << ", topic " << topic.size()
                          << ", alias " << alias);
          std::vector<uint8_t> dst(mqtt::session::detail::rewritten_size(*l, topic.size(), alias));
          mqtt::session::detail::write_publish(r->bytes.span(), *l, topic, alias, dst);
          codec::Packet out;
          codec::DecodeOptions opts;
          opts.version = ProtocolVersion::V5;
          const auto d = codec::decode(dst, opts, out);
          REQUIRE(d.status == codec::DecodeStatus::Ok);
          CHECK(d.consumed == dst.size());
          const auto& q = std::get<codec::Publish>(out);
          CHECK(q.topic == topic);
          CHECK(q.properties.topic_alias == (alias ? std::optional<uint16_t>(alias) : std::nullopt));
          CHECK(q.packet_id == 1);  // the request's placeholder
          CHECK(q.qos == QoS::AtLeastOnce);
          CHECK(q.properties.message_expiry_interval == std::optional<uint32_t>(30));
          CHECK(q.properties.user_properties.size() == (user ? 1u : 0u));
          CHECK(codec::as_string(q.payload) == body);
        }
      }
    }
  }
}
