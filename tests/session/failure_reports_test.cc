// Requests without a token that fail after they were accepted are reported
// to the observer (RequestFailed events in the runtime), and every dropped
// session is reported (issue cases 4 and 5).
#include "tests/session/harness.h"

using namespace session_test;

namespace {

Request untracked(Harness& h, std::string_view topic, QoS qos, std::string_view payload = "x",
                  bool retain = false) {
  Request r = h.publish(topic, qos, payload, retain);
  r.completion.reset();
  return r;
}

}  // namespace

TEST_CASE("case 4: untracked publish over the broker's Maximum Packet Size is reported, not sent") {
  Harness h(v5config());
  codec::Properties props;
  props.maximum_packet_size = 200;
  h.connect(false, props);
  h.s.submit(untracked(h, "big/topic", QoS::AtLeastOnce, std::string(500, 'x')), h.now);
  CHECK(h.take().empty());  // nothing sent
  REQUIRE(h.obs.failures.size() == 1);
  const auto& f = h.obs.failures[0];
  CHECK(f.kind == Request::Kind::Publish);
  CHECK(f.reason == RequestError::PacketTooLarge);
  CHECK(f.topic == "big/topic");
  CHECK(f.qos == QoS::AtLeastOnce);
  CHECK(f.packet_id == 0);
  CHECK(f.message.find("200") != std::string::npos);
}

TEST_CASE("case 4: Maximum QoS and Retain Available refusals are reported for untracked publishes") {
  Harness h(v5config());
  codec::Properties props;
  props.maximum_qos = 0;
  props.retain_available = 0;
  h.connect(false, props);
  h.s.submit(untracked(h, "q", QoS::AtLeastOnce), h.now);
  h.s.submit(untracked(h, "r", QoS::AtMostOnce, "x", /*retain=*/true), h.now);
  CHECK(h.take().empty());
  REQUIRE(h.obs.failures.size() == 2);
  CHECK(h.obs.failures[0].reason == RequestError::QoSNotSupported);
  CHECK(h.obs.failures[0].topic == "q");
  CHECK(h.obs.failures[1].reason == RequestError::RetainNotSupported);
  CHECK(h.obs.failures[1].topic == "r");
}

TEST_CASE("case 4: a tracked failure goes to its token only") {
  Harness h(v5config());
  codec::Properties props;
  props.maximum_packet_size = 50;
  h.connect(false, props);
  auto t = h.pub("t", QoS::AtLeastOnce, std::string(100, 'x'));
  REQUIRE(t->done());
  CHECK(t->result().error == RequestError::PacketTooLarge);
  CHECK(h.obs.failures.empty());
}

TEST_CASE("untracked publish refused by the broker (PUBACK >= 0x80) is reported") {
  Harness h(v5config());
  h.connect();
  h.s.submit(untracked(h, "deny", QoS::AtLeastOnce), h.now);
  auto out = h.take();
  REQUIRE(out.size() == 1);
  const uint16_t id = out[0]->as<codec::Publish>().packet_id;
  codec::PubAck ack;
  ack.packet_id = id;
  ack.reason_code = ReasonCode::NotAuthorized;
  h.feed_ok(ack);
  REQUIRE(h.obs.failures.size() == 1);
  CHECK(h.obs.failures[0].reason == RequestError::Rejected);
  CHECK(h.obs.failures[0].topic == "deny");
  CHECK(h.obs.failures[0].packet_id == id);
}

TEST_CASE("untracked QoS 0 not yet written when the connection drops is reported with its topic") {
  Harness h;
  h.connect();
  h.s.submit(untracked(h, "a/first", QoS::AtMostOnce), h.now);
  h.s.submit(untracked(h, "a/second", QoS::AtMostOnce), h.now);
  // Half of the first packet went out, nothing of the second.
  h.s.consume_output(3, h.now);
  h.s.connection_lost();
  REQUIRE(h.obs.failures.size() == 2);
  CHECK(h.obs.failures[0].reason == RequestError::ConnectionClosed);
  CHECK(h.obs.failures[0].topic.empty());  // partly written: its topic bytes are gone
  CHECK(h.obs.failures[1].topic == "a/second");
}

TEST_CASE("untracked QoS 0 fully written is not reported when the connection drops") {
  Harness h;
  h.connect();
  h.s.submit(untracked(h, "ok", QoS::AtMostOnce), h.now);
  h.take();
  h.s.connection_lost();
  CHECK(h.obs.failures.empty());
}

TEST_CASE("session reset: untracked in-flight publishes are reported with topic and packet id") {
  Harness h;
  h.connect();
  h.s.submit(untracked(h, "lost/1", QoS::AtLeastOnce), h.now);
  h.s.submit(untracked(h, "lost/2", QoS::ExactlyOnce), h.now);
  auto sent = h.take();
  REQUIRE(sent.size() == 2);
  h.s.connection_lost();
  h.connect(/*session_present=*/false);
  REQUIRE(h.obs.reset_infos.size() == 1);
  CHECK(h.obs.reset_infos[0].dropped_publishes == 2);
  REQUIRE(h.obs.failures.size() == 2);
  CHECK(h.obs.failures[0].reason == RequestError::SessionReset);
  CHECK(h.obs.failures[0].topic == "lost/1");
  CHECK(h.obs.failures[0].packet_id == sent[0]->as<codec::Publish>().packet_id);
  CHECK(h.obs.failures[1].topic == "lost/2");
  CHECK(h.obs.failures[1].qos == QoS::ExactlyOnce);
}

TEST_CASE("case 5: session lost with nothing in flight still reports SessionReset (subscriptions lost)") {
  Harness h;
  h.connect();
  CHECK(h.obs.reset_infos.empty());  // a first CONNACK without a session is the normal start
  auto sub = h.subscribe({"a/#"});
  auto tok = sub.completion;
  h.s.submit(std::move(sub), h.now);
  auto out = h.take();
  REQUIRE(out.size() == 1);
  codec::SubAck ack;
  ack.packet_id = out[0]->as<codec::Subscribe>().packet_id;
  ack.reason_codes = {ReasonCode::GrantedQoS1};
  h.feed_ok(ack);
  REQUIRE(tok->done());
  h.s.connection_lost();
  h.connect(/*session_present=*/false);
  REQUIRE(h.obs.reset_infos.size() == 1);
  CHECK(h.obs.reset_infos[0].dropped_publishes == 0);
  CHECK(h.obs.reset_infos[0].dropped_pubrels == 0);
  CHECK(h.obs.reset_infos[0].subscriptions_lost);
  CHECK(h.obs.reset_infos[0].resubscribing == 0);
  // A resumed session reports nothing.
  h.s.connection_lost();
  h.connect(/*session_present=*/true);
  CHECK(h.obs.reset_infos.size() == 1);
}

TEST_CASE("case 5: with auto_resubscribe the reset says how many filters are sent again") {
  SessionConfig c;
  c.auto_resubscribe = true;
  Harness h(c);
  h.connect();
  auto sub = h.subscribe({"a/#", "b"});
  h.s.submit(std::move(sub), h.now);
  auto out = h.take();
  codec::SubAck ack;
  ack.packet_id = out[0]->as<codec::Subscribe>().packet_id;
  ack.reason_codes = {ReasonCode::GrantedQoS1, ReasonCode::GrantedQoS1};
  h.feed_ok(ack);
  h.s.connection_lost();
  auto after = h.connect(false);
  REQUIRE(h.obs.reset_infos.size() == 1);
  CHECK(h.obs.reset_infos[0].subscriptions_lost);
  CHECK(h.obs.reset_infos[0].resubscribing == 2);
  CHECK(types(after) == std::vector<PacketType>{PacketType::Subscribe, PacketType::Subscribe});
}

TEST_CASE("session reset drops held manual acks and reports them") {
  SessionConfig c;
  c.manual_acks = true;
  Harness h(c);
  h.connect();
  h.s.connection_lost();
  h.s.submit(make_ack_request(9, QoS::AtLeastOnce), h.now);  // held: not connected
  h.connect(false);
  REQUIRE(h.obs.failures.size() == 1);
  CHECK(h.obs.failures[0].kind == Request::Kind::Ack);
  CHECK(h.obs.failures[0].packet_id == 9);
  CHECK(h.obs.failures[0].reason == RequestError::SessionReset);
}

TEST_CASE("disconnect drain expiry reports untracked in-flight publishes") {
  Harness h;
  h.connect();
  h.s.submit(untracked(h, "slow", QoS::AtLeastOnce), h.now);
  h.take();
  auto d = make_disconnect_request(codec::Disconnect{}, h.v());
  REQUIRE(d.ok());
  h.s.submit(std::move(*d), h.now, h.now + 1s);
  CHECK(h.take().empty());  // waiting for the PUBACK
  h.now += 1s;
  REQUIRE(h.s.handle_timeout(h.now).ok());
  auto out = h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0]->type() == PacketType::Disconnect);
  CHECK_FALSE(h.s.disconnect_drained());
  REQUIRE(h.obs.failures.size() == 1);
  CHECK(h.obs.failures[0].reason == RequestError::ConnectionClosed);
  CHECK(h.obs.failures[0].topic == "slow");
}

TEST_CASE("a complete drain is reported as drained") {
  Harness h;
  h.connect();
  auto d = make_disconnect_request(codec::Disconnect{}, h.v());
  REQUIRE(d.ok());
  h.s.submit(std::move(*d), h.now, h.now + 1s);
  CHECK(types(h.take()) == std::vector<PacketType>{PacketType::Disconnect});
  CHECK(h.s.disconnect_drained());
}
