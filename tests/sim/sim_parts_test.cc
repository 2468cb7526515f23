// The simulator's components on their own: the random stream, topic
// matching, the network pipe, the broker model's packet flows, the checker,
// and that a run is a function of its seed. Then the session defects the
// simulation found, each replayed by hand (docs/simulation.md).
#include <catch2/catch.hpp>

#include <sstream>

#include "mqtt/codec/encoder.h"
#include "mqtt/session/session.h"
#include "tests/sim/broker.h"
#include "tests/sim/network.h"
#include "tests/sim/rng.h"
#include "tests/sim/runner.h"

namespace codec = mqtt::codec;
using namespace sim;

namespace {

const TimePoint T0 = TimePoint{} + std::chrono::hours(1);

std::vector<uint8_t> encode(const codec::Packet& p, mqtt::ProtocolVersion v) {
  std::vector<uint8_t> b(*codec::encoded_size(p, v));
  REQUIRE(codec::encode(p, v, b).ok());
  return b;
}

std::vector<codec::PacketType> types(const std::vector<uint8_t>& bytes, mqtt::ProtocolVersion v) {
  std::vector<codec::PacketType> t;
  codec::DecodeOptions o;
  o.version = v;
  size_t pos = 0;
  while (pos < bytes.size()) {
    codec::Packet p;
    auto r = codec::decode(std::span<const uint8_t>(bytes).subspan(pos), o, p);
    REQUIRE(r.status == codec::DecodeStatus::Ok);
    t.push_back(codec::packet_type(p));
    pos += r.consumed;
  }
  return t;
}

}  // namespace

TEST_CASE("Rng: one seed, one stream") {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) REQUIRE(a.next() == b.next());
  REQUIRE(a.next() != c.next());
  Rng r(7);
  for (int i = 0; i < 1000; ++i) REQUIRE(r.between(3, 5) >= 3);
}

TEST_CASE("topic_matches") {
  CHECK(topic_matches("b/+", "b/1"));
  CHECK(topic_matches("b/#", "b/1"));
  CHECK(topic_matches("b/#", "b"));
  CHECK(topic_matches("b/1", "b/1"));
  CHECK_FALSE(topic_matches("b/1", "b/2"));
  CHECK_FALSE(topic_matches("b/+", "b/1/2"));
  CHECK_FALSE(topic_matches("c/#", "b/1"));
}

TEST_CASE("payload numbers round trip") {
  auto p = make_payload(1234, 40);
  CHECK(p.size() == 40);
  CHECK(payload_number(p) == 1234u);
  CHECK(payload_number(make_payload(7, 1)) == 7u);
  const std::vector<uint8_t> junk{'x'};
  CHECK_FALSE(payload_number(junk));
}

TEST_CASE("Pipe: in order, split, cut at any byte") {
  Rng rng(1);
  Pipe p;
  std::vector<uint8_t> in(100);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<uint8_t>(i);
  p.write(in, T0, std::chrono::milliseconds(50), rng);
  std::vector<uint8_t> out;
  p.deliver(T0 - std::chrono::seconds(1), out);
  CHECK(out.empty());
  p.deliver(T0 + std::chrono::milliseconds(50), out);
  CHECK(out == in);
  CHECK(p.empty());
  p.write(in, T0, std::chrono::milliseconds(50), rng);
  std::vector<uint8_t> cut;
  p.cut(rng, cut);
  CHECK(p.empty());
  CHECK(std::equal(cut.begin(), cut.end(), in.begin()));
}

TEST_CASE("Broker: connect, subscribe, QoS 2 both ways, resume with DUP") {
  for (auto v : {mqtt::ProtocolVersion::V311, mqtt::ProtocolVersion::V5}) {
    SimConfig cfg;
    cfg.session.version = v;
    cfg.p_refuse_sub = 0;
    Checker chk;
    Broker b(cfg, chk, Rng(1), {});
    b.connection_opened(T0);
    codec::Connect c;
    c.protocol_version = v;
    c.client_id = "x";
    c.clean_start = false;
    if (v == mqtt::ProtocolVersion::V5) c.properties.session_expiry_interval = 60;
    REQUIRE(b.receive(encode(c, v), T0));
    CHECK(types(b.take_output(), v) == std::vector{codec::PacketType::ConnAck});
    codec::Subscribe s;
    s.packet_id = 1;
    s.subscriptions.push_back(codec::Subscription{"b/+", mqtt::QoS::ExactlyOnce});
    REQUIRE(b.receive(encode(s, v), T0));
    CHECK(types(b.take_output(), v) == std::vector{codec::PacketType::SubAck});
    b.publish(1, "b/1", mqtt::QoS::ExactlyOnce, 10);
    CHECK(types(b.take_output(), v) == std::vector{codec::PacketType::Publish});
    // The connection breaks: the PUBLISH comes again on resume.
    b.connection_closed();
    b.connection_opened(T0);
    REQUIRE(b.receive(encode(c, v), T0));
    CHECK(types(b.take_output(), v) ==
          std::vector{codec::PacketType::ConnAck, codec::PacketType::Publish});
    CHECK(chk.down.at(1).may_dup);
    // Client -> broker QoS 2: stored once, PUBREC twice for the DUP.
    UpMsg um;
    um.n = 2;
    um.qos = mqtt::QoS::ExactlyOnce;
    um.topic = "c/1";
    chk.up[2] = um;
    const auto payload = make_payload(2, 5);
    codec::Publish p;
    p.topic = "c/1";
    p.qos = mqtt::QoS::ExactlyOnce;
    p.packet_id = 9;
    p.payload = payload;
    chk.client_wrote(2);
    REQUIRE(b.receive(encode(p, v), T0));
    p.dup = true;
    chk.client_wrote(2);  // a resend: DUP expected
    REQUIRE(b.receive(encode(p, v), T0));
    CHECK(types(b.take_output(), v) == std::vector{codec::PacketType::PubRec, codec::PacketType::PubRec});
    CHECK(chk.up[2].stored == 1);
    codec::PubRel rel;
    rel.packet_id = 9;
    REQUIRE(b.receive(encode(rel, v), T0));
    CHECK(types(b.take_output(), v) == std::vector{codec::PacketType::PubComp});
    CHECK_FALSE(b.quiescent());  // the broker's own QoS 2 message is in flight
    INFO((chk.ok() ? std::string() : chk.violations.front()));
    CHECK(chk.ok());
    // A restart without the session loses it.
    b.restart(false);
    CHECK(chk.down.at(1).lost);
    CHECK(b.quiescent());
  }
}

TEST_CASE("a run is a function of its seed") {
  std::ostringstream a, b;
  const RunResult ra = run_seed(3, &a);
  const RunResult rb = run_seed(3, &b);
  CHECK(a.str() == b.str());
  CHECK(ra.ok == rb.ok);
  CHECK(ra.cov.steps == rb.cov.steps);
  CHECK(ra.cov.msgs_up == rb.cov.msgs_up);
}

TEST_CASE("the checker sees a QoS 2 message stored twice in one broker session") {
  Checker chk;
  UpMsg m;
  m.n = 4;
  m.qos = mqtt::QoS::ExactlyOnce;
  m.topic = "c/t";
  chk.up[4] = m;
  chk.broker_stored(4, mqtt::QoS::ExactlyOnce, "c/t", false, 1);
  CHECK(chk.ok());
  chk.broker_stored(4, mqtt::QoS::ExactlyOnce, "c/t", true, 2);  // another broker session
  CHECK(chk.ok());
  chk.broker_stored(4, mqtt::QoS::ExactlyOnce, "c/t", true, 2);
  CHECK_FALSE(chk.ok());
}

TEST_CASE("a run with no faults and no activity settles") {
  SimConfig cfg = SimConfig::from_seed(1);
  cfg.p_drop = cfg.p_stall = cfg.p_restart = 0;
  cfg.p_publish = cfg.p_subscribe = cfg.p_unsubscribe = cfg.p_broker_publish = 0;
  const RunResult r = run_config(cfg);
  INFO(r.failure);
  CHECK(r.ok);
  CHECK(r.cov.connections >= 1);
}

namespace {

struct NullObserver : mqtt::session::SessionObserver {
  int failures = 0;
  void on_incoming(std::span<const uint8_t>, const codec::Packet&) override {}
  void on_outgoing(const mqtt::Outgoing&) override {}
  void on_session_reset(const mqtt::session::ResetInfo&) override {}
  void on_request_failed(const mqtt::session::FailedRequest&) override { ++failures; }
};

// A Session fed broker packets by hand, for the regressions below.
struct Rig {
  mqtt::ProtocolVersion v;
  NullObserver obs;
  mqtt::session::Session s;
  explicit Rig(mqtt::ProtocolVersion version, bool manual_acks = false)
      : v(version), s(config(version, manual_acks), obs) {}
  static mqtt::session::SessionConfig config(mqtt::ProtocolVersion version, bool manual_acks) {
    mqtt::session::SessionConfig sc;
    sc.version = version;
    sc.manual_acks = manual_acks;
    return sc;
  }
  void feed(const codec::Packet& p) { REQUIRE(s.handle_input(encode(p, v), T0).ok()); }
  void connect(bool present) {
    codec::Connect c;
    c.client_id = "x";
    c.clean_start = false;
    s.begin_connection(c, T0, T0 + std::chrono::seconds(5));
    s.consume_output(s.output().size(), T0);
    codec::ConnAck a;
    a.session_present = present;
    feed(a);
  }
  // The broker's QoS 1 message `n` with packet id 1.
  void deliver(uint64_t n, bool dup = false) {
    codec::Publish p;
    p.topic = "b/1";
    p.qos = mqtt::QoS::AtLeastOnce;
    p.packet_id = 1;
    p.dup = dup;
    const auto payload = make_payload(n, 4);
    p.payload = payload;
    feed(p);
  }
  void ack1() { s.submit(mqtt::session::make_ack_request(1, mqtt::QoS::AtLeastOnce), T0); }
  // The packet types written since the last call.
  std::vector<codec::PacketType> written() {
    auto t = types(std::vector<uint8_t>(s.output().begin(), s.output().end()), v);
    s.consume_output(s.output().size(), T0);
    return t;
  }
};

}  // namespace

// Found by the simulation (seed 0x4 before the fix): after a break, the
// PUBREL of a QoS 2 publish is resent; a broker that had released the id
// answers PUBCOMP 0x92, "not an error during recovery" (spec 3.7.2.1).
TEST_CASE("regression: PUBCOMP 0x92 after a resent PUBREL completes the publish") {
  Rig r(mqtt::ProtocolVersion::V5);
  r.connect(false);
  codec::Publish p;
  p.topic = "t";
  p.qos = mqtt::QoS::ExactlyOnce;
  const auto payload = make_payload(1, 4);
  p.payload = payload;
  auto req = mqtt::session::make_publish_request(p, r.v);
  REQUIRE(req.ok());
  auto token = std::make_shared<mqtt::detail::CompletionState>();
  req->completion = token;
  r.s.submit(std::move(*req), T0);
  r.written();
  r.feed(codec::PubRec{1, mqtt::ReasonCode::Success, {}});
  r.s.connection_lost();  // the PUBCOMP is lost with the connection
  r.connect(true);
  CHECK(r.written() == std::vector{codec::PacketType::PubRel});
  r.feed(codec::PubComp{1, mqtt::ReasonCode::PacketIdentifierNotFound, {}});
  REQUIRE(token->done());
  CHECK(token->result().ok());
  CHECK(r.obs.failures == 0);
}

// Found by the simulation (seed 0x7036 before the fix): an Ack for a
// delivery of a session the broker since reset was written on the new
// session; the broker took it for the ack of its next message with that id,
// before the client had received it (lost at the next break).
TEST_CASE("regression: a manual ack from a reset session writes nothing") {
  Rig r(mqtt::ProtocolVersion::V311, /*manual_acks=*/true);
  r.connect(false);
  r.deliver(1);
  r.s.connection_lost();
  r.connect(false);  // the broker lost the session
  r.ack1();
  CHECK(r.written().empty());
  r.deliver(2);  // the new session's message with id 1
  r.ack1();
  CHECK(r.written() == std::vector{codec::PacketType::PubAck});
  r.ack1();  // acked already
  CHECK(r.written().empty());
}

// Found by the simulation (seed 0xe, the user acking every delivery): the
// broker resent a QoS 1 message (DUP) at CONNACK while our held PUBACK for
// it was on its way; the duplicate's ack was a second PUBACK for the id,
// which the broker took for the next message it sent with that id.
TEST_CASE("regression: a QoS 1 duplicate of a message acked on this connection owes no ack") {
  Rig r(mqtt::ProtocolVersion::V311, /*manual_acks=*/true);
  r.connect(false);
  r.deliver(1);
  r.s.connection_lost();
  r.ack1();  // held
  r.connect(true);
  CHECK(r.written() == std::vector{codec::PacketType::PubAck});
  r.deliver(1, /*dup=*/true);  // the broker's resend, sent before it had our PUBACK
  r.ack1();
  CHECK(r.written().empty());
  CHECK(r.s.stats().incoming_unacked == 0);
  // On a later connection the broker resends only what lacks an ack: owed.
  r.s.connection_lost();
  r.connect(true);
  r.deliver(1, /*dup=*/true);
  r.ack1();
  CHECK(r.written() == std::vector{codec::PacketType::PubAck});
}
