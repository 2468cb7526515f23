#include "tests/session/harness.h"

using namespace session_test;

TEST_CASE("resume: unacknowledged PUBLISHes (DUP) and PUBRELs resent in original order") {
  for (auto cfg : {SessionConfig{}, v5config()}) {
    Harness h(cfg);
    h.connect();
    auto a = h.pub("a", QoS::AtLeastOnce);
    auto b = h.pub("b", QoS::ExactlyOnce);
    auto c = h.pub("c", QoS::ExactlyOnce);
    auto d = h.pub("d", QoS::AtLeastOnce);
    auto sent = h.take();
    REQUIRE(sent.size() == 4);
    const uint16_t id_b = sent[1]->as<codec::Publish>().packet_id;
    // b got PUBREC: its PUBREL is now the last packet sent for it.
    h.feed_ok(codec::PubRec{id_b, ReasonCode::Success, {}});
    h.take();
    h.s.connection_lost();

    // A control request submitted while disconnected is held.
    auto sub = h.subscribe({"x"});
    auto st = sub.completion;
    h.s.submit(std::move(sub), h.now);
    CHECK(h.s.stats().pending_control == 1);

    auto resent = h.connect(/*session_present=*/true);
    REQUIRE(types(resent) == std::vector<PacketType>{PacketType::Publish, PacketType::Publish,
                                                     PacketType::Publish, PacketType::PubRel,
                                                     PacketType::Subscribe});
    CHECK(resent[0]->as<codec::Publish>().topic == "a");
    CHECK(resent[1]->as<codec::Publish>().topic == "c");
    CHECK(resent[2]->as<codec::Publish>().topic == "d");
    for (int i = 0; i < 3; ++i) CHECK(resent[i]->as<codec::Publish>().dup);
    CHECK(resent[0]->as<codec::Publish>().packet_id == sent[0]->as<codec::Publish>().packet_id);
    CHECK(resent[3]->as<codec::PubRel>().packet_id == id_b);
    CHECK(h.obs.resets.empty());
    CHECK(h.s.stats().session_present);
    CHECK(h.s.stats().pending_control == 0);
    CHECK_FALSE(a->done());
    h.feed_ok(codec::PubComp{id_b, ReasonCode::Success, {}});
    REQUIRE(b->done());
    CHECK(b->result().ok());
  }
}

TEST_CASE("session reset: in-flight tokens fail with SessionReset and counts are reported") {
  Harness h;
  h.connect();
  auto a = h.pub("a", QoS::AtLeastOnce);
  auto b = h.pub("b", QoS::ExactlyOnce);
  auto c = h.pub("c", QoS::ExactlyOnce);
  auto sent = h.take();
  h.feed_ok(codec::PubRec{sent[1]->as<codec::Publish>().packet_id, ReasonCode::Success, {}});
  codec::Publish in;
  in.topic = "in";
  in.qos = QoS::ExactlyOnce;
  in.packet_id = 9;
  h.feed_ok(in);
  h.take();
  CHECK(h.s.stats().incoming_qos2_pending == 1);
  // A SUBSCRIBE written but never acknowledged.
  auto sub = h.subscribe({"s"});
  auto st = sub.completion;
  h.s.submit(std::move(sub), h.now);
  const uint16_t sub_id = h.take().at(0)->as<codec::Subscribe>().packet_id;
  h.s.connection_lost();

  auto after = h.connect(/*session_present=*/false);
  REQUIRE(h.obs.resets.size() == 1);
  CHECK(h.obs.resets[0] == std::pair<uint32_t, uint32_t>{2, 1});
  for (auto& t : {a, b, c}) {
    REQUIRE(t->done());
    CHECK(t->result().error == RequestError::SessionReset);
  }
  CHECK(h.s.stats().inflight_publishes == 0);
  CHECK(h.s.stats().incoming_qos2_pending == 0);
  // The unacknowledged SUBSCRIBE is resent with its id.
  REQUIRE(types(after) == std::vector<PacketType>{PacketType::Subscribe});
  CHECK(after[0]->as<codec::Subscribe>().packet_id == sub_id);
  CHECK_FALSE(st->done());
}

TEST_CASE("auto-resubscribe after a session reset") {
  SessionConfig cfg = v5config();
  cfg.auto_resubscribe = true;
  Harness h(cfg);
  h.connect();
  auto sub = h.subscribe({"a/+", "b/#", "c"}, QoS::ExactlyOnce);
  h.s.submit(std::move(sub), h.now);
  auto sent = h.take();
  codec::SubAck ack;
  ack.packet_id = sent.at(0)->as<codec::Subscribe>().packet_id;
  ack.reason_codes = {ReasonCode::GrantedQoS2, ReasonCode::GrantedQoS1,
                      ReasonCode::NotAuthorized};
  h.feed_ok(ack);
  auto un = h.unsubscribe({"b/#"});
  h.s.submit(std::move(un), h.now);
  sent = h.take();
  codec::UnsubAck uack;
  uack.packet_id = sent.at(0)->as<codec::Unsubscribe>().packet_id;
  uack.reason_codes = {ReasonCode::Success};
  h.feed_ok(uack);
  h.s.connection_lost();

  // Resumed session: no resubscribe.
  CHECK(h.connect(true).empty());
  h.s.connection_lost();
  // Lost session: one SUBSCRIBE per granted filter still subscribed.
  auto after = h.connect(false);
  REQUIRE(types(after) == std::vector<PacketType>{PacketType::Subscribe});
  const auto& s = after[0]->as<codec::Subscribe>();
  REQUIRE(s.subscriptions.size() == 1);
  CHECK(s.subscriptions[0].filter == "a/+");
  CHECK(s.subscriptions[0].qos == QoS::ExactlyOnce);
  codec::SubAck rack;
  rack.packet_id = s.packet_id;
  rack.reason_codes = {ReasonCode::GrantedQoS2};
  h.feed_ok(rack);
  CHECK(h.s.stats().unknown_acks == 0);
}

TEST_CASE("held control requests go out after CONNACK in submission order") {
  Harness h;
  h.s.submit(h.subscribe({"one"}), h.now);
  h.s.submit(h.unsubscribe({"two"}), h.now);
  h.s.submit(h.subscribe({"three"}), h.now);
  auto q1 = h.pub("p", QoS::AtLeastOnce);  // held publish (not connected)
  CHECK(h.s.stats().pending_control == 3);
  auto after = h.connect();
  REQUIRE(types(after) == std::vector<PacketType>{PacketType::Subscribe, PacketType::Unsubscribe,
                                                  PacketType::Subscribe, PacketType::Publish});
  CHECK(after[0]->as<codec::Subscribe>().subscriptions[0].filter == "one");
  CHECK(after[2]->as<codec::Subscribe>().subscriptions[0].filter == "three");
  CHECK_FALSE(after[3]->as<codec::Publish>().dup);
}

TEST_CASE("reconfigure keeps in-flight state; version or window changes are refused") {
  Harness h;
  h.connect();
  auto t = h.pub("a/b", QoS::AtLeastOnce, "kept");
  auto sent = h.take();
  REQUIRE(sent.size() == 1);
  const uint16_t id = sent[0]->as<codec::Publish>().packet_id;
  h.s.connection_lost();

  SessionConfig changed = h.cfg;
  changed.keep_alive = 7s;
  changed.manual_acks = true;
  REQUIRE(h.s.reconfigure(changed));

  SessionConfig other_version = changed;
  other_version.version = ProtocolVersion::V5;
  CHECK_FALSE(h.s.reconfigure(other_version));
  SessionConfig other_window = changed;
  other_window.max_inflight = 5;
  CHECK_FALSE(h.s.reconfigure(other_window));

  // The next CONNECT carries the new keep alive; the resumed session resends
  // the message that was in flight, and its token completes on PUBACK.
  h.s.begin_connection(h.connect_packet(), h.now, h.now + 10s);
  auto c = h.take();
  REQUIRE(c.size() == 1);
  CHECK(c[0]->as<codec::Connect>().keep_alive == 7);
  codec::ConnAck ack;
  ack.session_present = true;
  h.feed_ok(ack);
  auto resent = h.take();
  REQUIRE(resent.size() == 1);
  CHECK(resent[0]->as<codec::Publish>().dup);
  CHECK(resent[0]->as<codec::Publish>().packet_id == id);
  codec::PubAck puback;
  puback.packet_id = id;
  h.feed_ok(puback);
  REQUIRE(t->done());
  CHECK(t->result().ok());
}

TEST_CASE("resume with a smaller Receive Maximum: the oldest resent now, the rest as acks free "
          "room [MQTT-4.4.0-1] [MQTT-3.3.4-7]") {
  Harness h(v5config());
  h.connect();
  std::vector<std::shared_ptr<mqtt::detail::CompletionState>> tokens;
  for (const char* t : {"a", "b", "c", "d", "e"}) tokens.push_back(h.pub(t, QoS::AtLeastOnce));
  auto sent = h.take();
  REQUIRE(sent.size() == 5);
  h.s.connection_lost();
  codec::Properties props;
  props.receive_maximum = 2;
  auto resent = h.connect(/*session_present=*/true, props);
  REQUIRE(resent.size() == 2);  // not all five at once
  CHECK(resent[0]->as<codec::Publish>().topic == "a");
  CHECK(resent[1]->as<codec::Publish>().topic == "b");
  // A new publish waits behind the resends.
  auto f = h.pub("f", QoS::AtLeastOnce);
  CHECK(h.take().empty());
  // Each ack lets the next resend out, in the original order, then f.
  std::vector<std::string> order;
  for (int i = 0; i < 5; ++i) {
    const uint16_t id = (i < 2 ? resent[i] : sent[i])->as<codec::Publish>().packet_id;
    h.feed_ok(codec::PubAck{id, ReasonCode::Success, {}});
    for (const auto& p : h.take()) {
      const auto& pub = p->as<codec::Publish>();
      order.push_back(std::string(pub.topic) + (pub.dup ? "+dup" : ""));
    }
  }
  CHECK(order == std::vector<std::string>{"c+dup", "d+dup", "e+dup", "f"});
  for (auto& t : tokens) CHECK(t->done());
  CHECK_FALSE(f->done());
}

TEST_CASE("resume with a smaller Receive Maximum: a PUBREL is never held back [MQTT-3.3.4-8]") {
  Harness h(v5config());
  h.connect();
  auto a = h.pub("a", QoS::AtLeastOnce);
  auto b = h.pub("b", QoS::AtLeastOnce);
  auto c = h.pub("c", QoS::ExactlyOnce);
  auto sent = h.take();
  REQUIRE(sent.size() == 3);
  const uint16_t id_c = sent[2]->as<codec::Publish>().packet_id;
  h.feed_ok(codec::PubRec{id_c, ReasonCode::Success, {}});
  (void)h.take();  // its PUBREL
  h.s.connection_lost();
  codec::Properties props;
  props.receive_maximum = 1;
  auto resent = h.connect(/*session_present=*/true, props);
  // a (the oldest PUBLISH) and c's PUBREL; b waits for room.
  REQUIRE(types(resent) == std::vector<PacketType>{PacketType::Publish, PacketType::PubRel});
  CHECK(resent[0]->as<codec::Publish>().topic == "a");
  CHECK(resent[1]->as<codec::PubRel>().packet_id == id_c);
}
