#include <algorithm>
#include <set>

#include "tests/session/harness.h"

using namespace session_test;

namespace {
codec::Publish incoming(QoS qos, uint16_t id, std::string_view topic = "in/t") {
  codec::Publish p;
  p.topic = topic;
  p.qos = qos;
  p.packet_id = id;
  p.payload = codec::as_bytes("data");
  return p;
}
}  // namespace

TEST_CASE("connect and CONNACK (3.1.1 and 5)") {
  for (auto cfg : {SessionConfig{}, v5config()}) {
    cfg.keep_alive = 30s;
    Harness h(cfg);
    CHECK(h.s.state() == SessionState::Disconnected);
    h.s.begin_connection(h.connect_packet("me"), h.now, h.now + 5s);
    CHECK(h.s.state() == SessionState::Connecting);
    CHECK_FALSE(h.s.can_send_publish(QoS::AtMostOnce));
    CHECK(h.s.next_deadline() == h.now + 5s);
    auto sent = h.take();
    REQUIRE(sent.size() == 1);
    const auto& c = sent[0]->as<codec::Connect>();
    CHECK(c.protocol_version == cfg.version);
    CHECK(c.keep_alive == 30);
    CHECK(c.client_id == "me");
    CHECK(h.obs.outgoing.at(0).type == Outgoing::Type::Connect);
    codec::ConnAck ack;
    h.feed_ok(ack);
    CHECK(h.s.connected());
    CHECK(h.s.can_send_publish(QoS::ExactlyOnce));
    CHECK(h.obs.incoming == std::vector<PacketType>{PacketType::ConnAck});
    CHECK(h.s.stats().inflight_window == 100);
    CHECK(h.s.effective_keep_alive() == 30s);
    CHECK(h.s.next_deadline() == h.now + 30s);
  }
}

TEST_CASE("CONNACK refusal: error with reason code and terminal flag") {
  struct Case {
    ProtocolVersion v;
    ReasonCode rc;
    bool terminal;
  };
  for (auto c : {Case{ProtocolVersion::V311, ReasonCode::NotAuthorized, true},
                 Case{ProtocolVersion::V311, ReasonCode::BadUserNameOrPassword, true},
                 Case{ProtocolVersion::V311, ReasonCode::ServerUnavailable, false},
                 Case{ProtocolVersion::V311, ReasonCode::ClientIdentifierNotValid, true},
                 Case{ProtocolVersion::V311, ReasonCode::UnsupportedProtocolVersion, true},
                 Case{ProtocolVersion::V5, ReasonCode::Banned, true},
                 Case{ProtocolVersion::V5, ReasonCode::BadAuthenticationMethod, true},
                 Case{ProtocolVersion::V5, ReasonCode::ServerBusy, false},
                 Case{ProtocolVersion::V5, ReasonCode::QuotaExceeded, false}}) {
    SessionConfig cfg;
    cfg.version = c.v;
    Harness h(cfg);
    h.s.begin_connection(h.connect_packet(), h.now, h.now + 5s);
    h.take();
    codec::ConnAck ack;
    ack.reason_code = c.rc;
    auto r = h.feed(ack);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ConnectionErrorCode::ConnectionRefused);
    CHECK(r.error().reason_code == c.rc);
    CHECK(r.error().terminal == c.terminal);
    CHECK_FALSE(h.s.connected());
  }
}

TEST_CASE("packet before CONNACK is a protocol violation; CONNACK deadline") {
  Harness h;
  h.s.begin_connection(h.connect_packet(), h.now, h.now + 5s);
  h.take();
  auto r = h.feed(codec::PingResp{});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ConnectionErrorCode::ProtocolViolation);

  Harness t;
  t.s.begin_connection(t.connect_packet(), t.now, t.now + 5s);
  CHECK(t.s.handle_timeout(t.now + 4s).ok());
  auto e = t.s.handle_timeout(t.now + 5s);
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().code == ConnectionErrorCode::ConnectTimeout);
}

TEST_CASE("QoS 0 publish completes when its bytes are consumed") {
  Harness h;
  h.connect();
  auto t = h.pub("a", QoS::AtMostOnce);
  auto out = h.s.output();
  REQUIRE(out.size() > 1);
  h.s.consume_output(out.size() - 1, h.now);
  CHECK_FALSE(t->done());
  h.s.consume_output(1, h.now);
  REQUIRE(t->done());
  CHECK(t->result().ok());
  CHECK(t->result().reason_codes == std::vector<ReasonCode>{ReasonCode::Success});
}

TEST_CASE("QoS 1 publish: PUBACK completes, failure code rejects") {
  Harness h(v5config());
  h.connect();
  auto t1 = h.pub("a", QoS::AtLeastOnce);
  auto t2 = h.pub("a", QoS::AtLeastOnce);
  auto sent = h.take();
  REQUIRE(sent.size() == 2);
  const uint16_t id1 = sent[0]->as<codec::Publish>().packet_id;
  const uint16_t id2 = sent[1]->as<codec::Publish>().packet_id;
  CHECK(id1 != id2);
  CHECK(h.s.stats().inflight_publishes == 2);
  h.feed_ok(codec::PubAck{id1, ReasonCode::Success, {}});
  REQUIRE(t1->done());
  CHECK(t1->result().ok());
  h.feed_ok(codec::PubAck{id2, ReasonCode::NotAuthorized, {}});
  REQUIRE(t2->done());
  CHECK(t2->result().error == RequestError::Rejected);
  CHECK(t2->result().reason_codes == std::vector<ReasonCode>{ReasonCode::NotAuthorized});
  CHECK(h.s.stats().inflight_publishes == 0);
}

TEST_CASE("QoS 2 publish: PUBREC -> PUBREL -> PUBCOMP; failing PUBREC sends no PUBREL") {
  Harness h(v5config());
  h.connect();
  auto t = h.pub("a", QoS::ExactlyOnce);
  auto sent = h.take();
  const uint16_t id = sent.at(0)->as<codec::Publish>().packet_id;
  h.feed_ok(codec::PubRec{id, ReasonCode::Success, {}});
  sent = h.take();
  REQUIRE(types(sent) == std::vector<PacketType>{PacketType::PubRel});
  CHECK(sent[0]->as<codec::PubRel>().packet_id == id);
  CHECK_FALSE(t->done());
  h.feed_ok(codec::PubComp{id, ReasonCode::Success, {}});
  REQUIRE(t->done());
  CHECK(t->result().ok());

  auto t2 = h.pub("a", QoS::ExactlyOnce);
  sent = h.take();
  const uint16_t id2 = sent.at(0)->as<codec::Publish>().packet_id;
  h.feed_ok(codec::PubRec{id2, ReasonCode::QuotaExceeded, {}});
  CHECK(h.take().empty());
  REQUIRE(t2->done());
  CHECK(t2->result().error == RequestError::Rejected);
  CHECK(h.s.stats().inflight_publishes == 0);
}

TEST_CASE("unknown acks are ignored and counted; unknown PUBREL still gets PUBCOMP") {
  Harness h(v5config());
  h.connect();
  h.feed_ok(codec::PubAck{77, ReasonCode::Success, {}});
  h.feed_ok(codec::PubComp{78, ReasonCode::Success, {}});
  CHECK(h.take().empty());
  h.feed_ok(codec::PubRec{79, ReasonCode::Success, {}});
  auto sent = h.take();
  REQUIRE(types(sent) == std::vector<PacketType>{PacketType::PubRel});
  CHECK(sent[0]->as<codec::PubRel>().reason_code == ReasonCode::PacketIdentifierNotFound);
  CHECK(h.s.stats().unknown_acks == 3);
  h.feed_ok(codec::PubRel{80, ReasonCode::Success, {}});
  sent = h.take();
  REQUIRE(types(sent) == std::vector<PacketType>{PacketType::PubComp});
  CHECK(sent[0]->as<codec::PubComp>().packet_id == 80);
  CHECK(sent[0]->as<codec::PubComp>().reason_code == ReasonCode::PacketIdentifierNotFound);
  CHECK(h.s.connected());
}

TEST_CASE("incoming QoS 1 and QoS 2 with automatic acks; QoS 2 duplicates not reported") {
  Harness h;
  h.connect();
  h.feed_ok(incoming(QoS::AtLeastOnce, 5));
  auto sent = h.take();
  REQUIRE(types(sent) == std::vector<PacketType>{PacketType::PubAck});
  CHECK(sent[0]->as<codec::PubAck>().packet_id == 5);

  h.obs.incoming.clear();
  h.feed_ok(incoming(QoS::ExactlyOnce, 6));
  CHECK(h.obs.incoming == std::vector<PacketType>{PacketType::Publish});
  sent = h.take();
  REQUIRE(types(sent) == std::vector<PacketType>{PacketType::PubRec});
  CHECK(h.s.stats().incoming_qos2_pending == 1);

  auto dup = incoming(QoS::ExactlyOnce, 6);
  dup.dup = true;
  h.feed_ok(dup);
  CHECK(h.obs.incoming.size() == 1);  // not reported again
  sent = h.take();
  REQUIRE(types(sent) == std::vector<PacketType>{PacketType::PubRec});

  h.feed_ok(codec::PubRel{6, ReasonCode::Success, {}});
  sent = h.take();
  REQUIRE(types(sent) == std::vector<PacketType>{PacketType::PubComp});
  CHECK(sent[0]->as<codec::PubComp>().packet_id == 6);
  CHECK(h.s.stats().incoming_qos2_pending == 0);

  // The same id after PUBREL is a new message.
  h.feed_ok(incoming(QoS::ExactlyOnce, 6));
  CHECK(h.obs.incoming.size() == 3);
}

TEST_CASE("manual acks: acks only on Ack requests") {
  SessionConfig cfg;
  cfg.manual_acks = true;
  Harness h(cfg);
  h.connect();
  h.feed_ok(incoming(QoS::AtLeastOnce, 1));
  h.feed_ok(incoming(QoS::ExactlyOnce, 2));
  CHECK(h.take().empty());
  CHECK(h.s.stats().incoming_unacked == 2);
  h.feed_ok(incoming(QoS::ExactlyOnce, 2));  // duplicate before the user acked: silence
  CHECK(h.take().empty());
  CHECK(h.obs.incoming.size() == 3);  // CONNACK + 2

  h.s.submit(make_ack_request(2, QoS::ExactlyOnce), h.now);
  auto sent = h.take();
  REQUIRE(types(sent) == std::vector<PacketType>{PacketType::PubRec});
  CHECK(sent[0]->as<codec::PubRec>().packet_id == 2);
  h.s.submit(make_ack_request(1, QoS::AtLeastOnce), h.now);
  sent = h.take();
  REQUIRE(types(sent) == std::vector<PacketType>{PacketType::PubAck});
  CHECK(sent[0]->as<codec::PubAck>().packet_id == 1);
  CHECK(h.s.stats().incoming_unacked == 0);
  h.feed_ok(codec::PubRel{2, ReasonCode::Success, {}});
  CHECK(types(h.take()) == std::vector<PacketType>{PacketType::PubComp});
}

TEST_CASE("packet ids: never reuse an id that is still in flight") {
  SessionConfig cfg;
  cfg.max_inflight = 5;
  Harness h(cfg);
  h.connect();
  std::set<uint16_t> busy;
  for (int i = 0; i < 5; ++i) h.pub("a", i % 2 ? QoS::ExactlyOnce : QoS::AtLeastOnce);
  CHECK_FALSE(h.s.can_send_publish(QoS::AtLeastOnce));
  CHECK(h.s.can_send_publish(QoS::AtMostOnce));
  auto sent = h.take();
  REQUIRE(sent.size() == 5);
  std::vector<std::pair<uint16_t, QoS>> ids;
  for (auto& s : sent) {
    const auto& p = s->as<codec::Publish>();
    CHECK(busy.insert(p.packet_id).second);
    ids.emplace_back(p.packet_id, p.qos);
  }
  // Complete out of order: the 4th (QoS 1) and the 2nd (QoS 2, PUBREC only).
  h.feed_ok(codec::PubAck{ids[2].first, ReasonCode::Success, {}});
  busy.erase(ids[2].first);
  h.feed_ok(codec::PubRec{ids[1].first, ReasonCode::Success, {}});  // still busy (PUBREL)
  h.take();
  CHECK(h.s.can_send_publish(QoS::AtLeastOnce));
  h.pub("a", QoS::AtLeastOnce);
  CHECK_FALSE(h.s.can_send_publish(QoS::AtLeastOnce));
  sent = h.take();
  REQUIRE(sent.size() == 1);
  const uint16_t fresh = sent[0]->as<codec::Publish>().packet_id;
  CHECK(busy.count(fresh) == 0);
  CHECK(fresh == ids[2].first);  // the only free id in 1..5
  // Subscribe ids never collide with publish ids.
  h.s.submit(h.subscribe({"x"}), h.now);
  sent = h.take();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0]->as<codec::Subscribe>().packet_id > 5);
  // Many rounds: ids stay unique among the busy ones.
  for (int round = 0; round < 50; ++round) {
    h.feed_ok(codec::PubAck{fresh, ReasonCode::Success, {}});
    h.pub("a", QoS::AtLeastOnce);
    sent = h.take();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0]->as<codec::Publish>().packet_id == fresh);
  }
}

TEST_CASE("window = min(max_inflight, Receive Maximum); control traffic passes a full window") {
  SessionConfig cfg = v5config();
  cfg.max_inflight = 10;
  Harness h(cfg);
  codec::Properties props;
  props.receive_maximum = 3;
  h.connect(false, props);
  CHECK(h.s.stats().inflight_window == 3);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(h.s.can_send_publish(QoS::AtLeastOnce));
    h.pub("a", QoS::AtLeastOnce);
  }
  CHECK_FALSE(h.s.can_send_publish(QoS::AtLeastOnce));
  h.take();
  // Control traffic still goes out at once.
  h.s.submit(h.subscribe({"s/1"}), h.now);
  h.s.submit(h.unsubscribe({"s/2"}), h.now);
  h.feed_ok(incoming(QoS::AtLeastOnce, 9));
  h.feed_ok(incoming(QoS::ExactlyOnce, 10));
  h.feed_ok(codec::PubRel{10, ReasonCode::Success, {}});
  CHECK(h.s.handle_timeout(h.now + 60s).ok());  // keep alive passed: PINGREQ
  auto sent = h.take();
  CHECK(types(sent) == std::vector<PacketType>{PacketType::Subscribe, PacketType::Unsubscribe,
                                               PacketType::PubAck, PacketType::PubRec,
                                               PacketType::PubComp, PacketType::PingReq});
}

TEST_CASE("publish submitted with a full window is held, not lost") {
  SessionConfig cfg;
  cfg.max_inflight = 1;
  Harness h(cfg);
  h.connect();
  h.pub("a", QoS::AtLeastOnce);
  auto t = h.pub("b", QoS::AtLeastOnce);  // caller ignored can_send_publish
  auto sent = h.take();
  REQUIRE(sent.size() == 1);
  h.feed_ok(codec::PubAck{sent[0]->as<codec::Publish>().packet_id, ReasonCode::Success, {}});
  sent = h.take();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0]->as<codec::Publish>().topic == "b");
}

TEST_CASE("SUBACK and UNSUBACK complete their tokens") {
  for (auto cfg : {SessionConfig{}, v5config()}) {
    Harness h(cfg);
    h.connect();
    auto r = h.subscribe({"a", "b"});
    auto t = r.completion;
    h.s.submit(std::move(r), h.now);
    auto sent = h.take();
    const uint16_t id = sent.at(0)->as<codec::Subscribe>().packet_id;
    codec::SubAck ack;
    ack.packet_id = id;
    ack.reason_codes = {ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError};
    h.feed_ok(ack);
    REQUIRE(t->done());
    CHECK(t->result().error == RequestError::Rejected);
    CHECK(t->result().reason_codes == ack.reason_codes);

    auto u = h.unsubscribe({"a"});
    auto ut = u.completion;
    h.s.submit(std::move(u), h.now);
    sent = h.take();
    codec::UnsubAck uack;
    uack.packet_id = sent.at(0)->as<codec::Unsubscribe>().packet_id;
    if (cfg.version == ProtocolVersion::V5) uack.reason_codes = {ReasonCode::Success};
    h.feed_ok(uack);
    REQUIRE(ut->done());
    CHECK(ut->result().ok());
    CHECK(ut->result().reason_codes == std::vector<ReasonCode>{ReasonCode::Success});
  }
}

TEST_CASE("MQTT 5 CONNACK limits: Maximum Packet Size, Maximum QoS, Retain Available") {
  Harness h(v5config());
  codec::Properties props;
  props.maximum_packet_size = 64;
  props.maximum_qos = 1;
  props.retain_available = 0;
  h.connect(false, props);
  CHECK(h.s.broker_max_packet_size() == 64);

  auto big = h.pub("a", QoS::AtMostOnce, std::string(100, 'x'));
  REQUIRE(big->done());
  CHECK(big->result().error == RequestError::PacketTooLarge);
  CHECK(h.s.output().empty());

  auto q2 = h.pub("a", QoS::ExactlyOnce);
  REQUIRE(q2->done());
  CHECK(q2->result().error == RequestError::QoSNotSupported);

  Request r = h.publish("a", QoS::AtLeastOnce, "x", /*retain=*/true);
  auto rt = r.completion;
  h.s.submit(std::move(r), h.now);
  REQUIRE(rt->done());
  CHECK(rt->result().error == RequestError::RetainNotSupported);

  std::vector<std::string> long_filters(3, std::string(40, 'f'));
  auto sub = h.subscribe({long_filters[0], long_filters[1]});
  auto st = sub.completion;
  h.s.submit(std::move(sub), h.now);
  REQUIRE(st->done());
  CHECK(st->result().error == RequestError::PacketTooLarge);
  CHECK(h.s.output().empty());
  CHECK(h.s.stats().inflight_publishes == 0);

  auto ok = h.pub("a", QoS::AtLeastOnce);
  CHECK(h.take().size() == 1);
}

TEST_CASE("MQTT 5 CONNACK: Server Keep Alive and Assigned Client Identifier") {
  SessionConfig cfg = v5config();
  cfg.keep_alive = 60s;
  Harness h(cfg);
  h.s.begin_connection(h.connect_packet(""), h.now, h.now + 5s);
  h.take();
  codec::ConnAck ack;
  ack.properties.server_keep_alive = 20;
  ack.properties.assigned_client_identifier = "auto-123";
  h.feed_ok(ack);
  CHECK(h.s.effective_keep_alive() == 20s);
  CHECK(h.s.assigned_client_id() == "auto-123");
  CHECK(h.s.next_deadline() == h.now + 20s);
  CHECK(h.s.handle_timeout(h.now + 20s).ok());
  CHECK(types(h.take()) == std::vector<PacketType>{PacketType::PingReq});

  h.s.connection_lost();
  h.s.begin_connection(h.connect_packet(""), h.now, h.now + 5s);
  auto sent = h.take();
  CHECK(sent.at(0)->as<codec::Connect>().client_id == "auto-123");
  CHECK(sent.at(0)->as<codec::Connect>().properties.maximum_packet_size == 1024u * 1024u);
}

TEST_CASE("disconnect waits for in-flight QoS 1/2, then DISCONNECT and Closed") {
  Harness h;
  h.connect();
  h.pub("a", QoS::AtLeastOnce);
  auto sent = h.take();
  const uint16_t id = sent.at(0)->as<codec::Publish>().packet_id;
  auto d = make_disconnect_request({}, ProtocolVersion::V311);
  REQUIRE(d.ok());
  d->completion = token();
  auto dt = d->completion;
  h.s.submit(std::move(*d), h.now, h.now + 5s);
  CHECK(h.s.state() == SessionState::Disconnecting);
  CHECK_FALSE(h.s.can_send_publish(QoS::AtMostOnce));
  CHECK(h.take().empty());
  auto late = h.pub("b", QoS::AtMostOnce);
  REQUIRE(late->done());
  CHECK(late->result().error == RequestError::ConnectionClosed);
  CHECK(h.s.next_deadline() <= h.now + 5s);
  h.feed_ok(codec::PubAck{id, ReasonCode::Success, {}});
  CHECK(types(h.take()) == std::vector<PacketType>{PacketType::Disconnect});
  CHECK(h.s.state() == SessionState::Closed);
  REQUIRE(dt->done());
  CHECK(dt->result().ok());
}

TEST_CASE("disconnect at the deadline fails what is still in flight") {
  Harness h;
  h.connect();
  auto t = h.pub("a", QoS::ExactlyOnce);
  h.take();
  auto d = make_disconnect_request({}, ProtocolVersion::V311);
  h.s.submit(std::move(*d), h.now, h.now + 5s);
  CHECK(h.s.next_deadline() == h.now + 5s);
  CHECK(h.s.handle_timeout(h.now + 4s).ok());
  CHECK(h.take().empty());
  CHECK(h.s.handle_timeout(h.now + 5s).ok());
  CHECK(types(h.take()) == std::vector<PacketType>{PacketType::Disconnect});
  CHECK(h.s.state() == SessionState::Closed);
  REQUIRE(t->done());
  CHECK(t->result().error == RequestError::ConnectionClosed);
}

TEST_CASE("DISCONNECT from the broker (MQTT 5)") {
  Harness h(v5config());
  h.connect();
  codec::Disconnect d;
  d.reason_code = ReasonCode::SessionTakenOver;
  auto r = h.feed(d);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ConnectionErrorCode::DisconnectedByBroker);
  CHECK(r.error().reason_code == ReasonCode::SessionTakenOver);
}

TEST_CASE("unexpected packets from a broker are protocol violations") {
  Harness h;
  h.connect();
  auto r = h.feed(codec::PingReq{});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ConnectionErrorCode::ProtocolViolation);
  Harness h2;
  h2.connect();
  auto r2 = h2.feed(codec::ConnAck{});
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.error().code == ConnectionErrorCode::ProtocolViolation);
}

TEST_CASE("malformed input and oversized packets") {
  Harness h;
  h.connect();
  const uint8_t bad[] = {0xD0, 0x00, 0x40, 0x02, 0x00, 0x00};  // PINGRESP, PUBACK with id 0
  auto r = h.s.handle_input(bad, h.now);
  REQUIRE_FALSE(r.ok());
  // Well-formed bytes that break a rule: a Protocol Error (codec::reason_for).
  CHECK(r.error().code == ConnectionErrorCode::ProtocolViolation);
  CHECK(r.error().codec_error == codec::CodecError::ZeroPacketIdentifier);
  CHECK(r.error().message.find("offset") != std::string::npos);

  SessionConfig cfg;
  cfg.max_incoming_packet_size = 64;
  Harness big(cfg);
  big.connect();
  std::string payload(100, 'p');
  codec::Publish p = incoming(QoS::AtMostOnce, 0);
  p.payload = codec::as_bytes(payload);
  auto e = big.feed(p);
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().code == ConnectionErrorCode::PacketTooLarge);
  CHECK(e.error().codec_error == codec::CodecError::PacketTooLarge);
}

TEST_CASE("partial input, byte by byte") {
  Harness h;
  h.s.begin_connection(h.connect_packet(), h.now, h.now + 5s);
  h.take();
  std::vector<uint8_t> stream = h.encode(codec::ConnAck{});
  for (auto pkt : {h.encode(incoming(QoS::AtLeastOnce, 3)), h.encode(incoming(QoS::ExactlyOnce, 4)),
                   h.encode(codec::PubRel{4, ReasonCode::Success, {}})}) {
    stream.insert(stream.end(), pkt.begin(), pkt.end());
  }
  std::vector<uint8_t> pending;
  for (uint8_t b : stream) {
    pending.push_back(b);
    auto r = h.s.handle_input(pending, h.now);
    REQUIRE(r.ok());
    pending.erase(pending.begin(), pending.begin() + static_cast<long>(*r));
  }
  CHECK(pending.empty());
  CHECK(h.s.connected());
  CHECK(h.obs.incoming == std::vector<PacketType>{PacketType::ConnAck, PacketType::Publish,
                                                  PacketType::Publish, PacketType::PubRel});
  CHECK(types(h.take()) ==
        std::vector<PacketType>{PacketType::PubAck, PacketType::PubRec, PacketType::PubComp});
}

TEST_CASE("excess incoming QoS 2 over our Receive Maximum is tolerated and counted") {
  Harness h(v5config());
  codec::Connect c = h.connect_packet();
  c.properties.receive_maximum = 2;
  h.s.begin_connection(c, h.now, h.now + 5s);
  h.take();
  h.feed_ok(codec::ConnAck{true, ReasonCode::Success, {}});
  for (uint16_t id = 1; id <= 5; ++id) h.feed_ok(incoming(QoS::ExactlyOnce, id));
  CHECK(h.s.connected());
  CHECK(h.s.stats().excess_incoming_qos2 == 3);
  CHECK(h.s.stats().incoming_qos2_pending == 5);
  CHECK(h.take().size() == 5);  // five PUBRECs
  for (uint16_t id = 1; id <= 5; ++id) h.feed_ok(codec::PubRel{id, ReasonCode::Success, {}});
  CHECK(h.take().size() == 5);
  CHECK(h.s.stats().incoming_qos2_pending == 0);
}

TEST_CASE("connection_lost fails unwritten QoS 0; fail_all fails every token") {
  Harness h;
  h.connect();
  auto q0 = h.pub("a", QoS::AtMostOnce);
  auto q1 = h.pub("a", QoS::AtLeastOnce);
  h.s.connection_lost();
  CHECK(h.s.state() == SessionState::Disconnected);
  CHECK(h.s.output().empty());
  REQUIRE(q0->done());
  CHECK(q0->result().error == RequestError::ConnectionClosed);
  CHECK_FALSE(q1->done());
  CHECK(h.s.stats().inflight_publishes == 1);

  auto sub = h.subscribe({"x"});
  auto st = sub.completion;
  h.s.submit(std::move(sub), h.now);
  CHECK(h.s.stats().pending_control == 1);
  h.s.fail_all(RequestError::ConnectionClosed, "requests done");
  REQUIRE(q1->done());
  CHECK(q1->result().error == RequestError::ConnectionClosed);
  REQUIRE(st->done());
  CHECK(st->result().message == "requests done");
  CHECK(h.s.state() == SessionState::Closed);
}

TEST_CASE("observer sees every outgoing packet with id and dup") {
  Harness h;
  h.connect();
  h.obs.outgoing.clear();
  h.pub("a", QoS::AtLeastOnce);
  REQUIRE(h.obs.outgoing.size() == 1);
  CHECK(h.obs.outgoing[0].type == Outgoing::Type::Publish);
  CHECK(h.obs.outgoing[0].packet_id != 0);
  CHECK_FALSE(h.obs.outgoing[0].dup);
}

TEST_CASE("MQTT 5 acks: Reason String and User Properties reach the completion, on success "
          "and on refusal") {
  Harness h(v5config());
  h.connect();
  auto t1 = h.pub("a", QoS::AtLeastOnce);
  auto t2 = h.pub("a", QoS::AtLeastOnce);
  auto sent = h.take();
  REQUIRE(sent.size() == 2);
  codec::Properties ok_props;
  ok_props.reason_string = "stored";
  ok_props.user_properties = {{"shard", "7"}};
  h.feed_ok(codec::PubAck{sent[0]->as<codec::Publish>().packet_id, ReasonCode::Success, ok_props});
  REQUIRE(t1->done());
  CHECK(t1->result().ok());
  CHECK(t1->result().reason_string == "stored");
  REQUIRE(t1->result().user_properties.size() == 1);
  CHECK(t1->result().user_properties[0] == std::pair<std::string, std::string>{"shard", "7"});
  codec::Properties no_props;
  no_props.reason_string = "quota exceeded for tenant";
  h.feed_ok(codec::PubAck{sent[1]->as<codec::Publish>().packet_id, ReasonCode::QuotaExceeded,
                          no_props});
  REQUIRE(t2->done());
  CHECK(t2->result().error == RequestError::Rejected);
  CHECK(t2->result().reason_string == "quota exceeded for tenant");
}

TEST_CASE("MQTT 5 DISCONNECT from the broker: Reason String, User Properties and Server "
          "Reference in the error") {
  Harness h(v5config());
  h.connect();
  codec::Disconnect d;
  d.reason_code = ReasonCode::ServerMoved;
  d.properties.reason_string = "moving to node 2";
  d.properties.server_reference = "node2.example:1883";
  d.properties.user_properties = {{"region", "eu"}};
  auto r = h.feed(d);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ConnectionErrorCode::DisconnectedByBroker);
  CHECK(r.error().reason_code == ReasonCode::ServerMoved);
  CHECK(r.error().reason_string == "moving to node 2");
  CHECK(r.error().server_reference == "node2.example:1883");
  REQUIRE(r.error().user_properties.size() == 1);
  CHECK(r.error().user_properties[0].second == "eu");
}

TEST_CASE("MQTT 5 CONNACK availability: wildcard, shared and Subscription Identifier "
          "subscriptions the broker does not support fail locally (FeatureNotSupported)") {
  codec::Properties props;
  props.wildcard_subscription_available = 0;
  props.shared_subscription_available = 0;
  props.subscription_identifiers_available = 0;
  Harness h(v5config());
  h.connect(false, props);
  Request wild = h.subscribe({"a/+"});
  auto t_wild = wild.completion;
  h.s.submit(std::move(wild), h.now);
  Request shared = h.subscribe({"$share/g/a"});
  auto t_shared = shared.completion;
  h.s.submit(std::move(shared), h.now);
  codec::Subscribe with_id;
  with_id.subscriptions.push_back(codec::Subscription{"a/b", QoS::AtLeastOnce});
  with_id.properties.subscription_identifiers = {5};
  auto r = make_subscribe_request(with_id, ProtocolVersion::V5);
  REQUIRE(r.ok());  // untracked: reported as a failure event
  h.s.submit(std::move(*r), h.now);
  Request plain = h.subscribe({"a/b"});
  auto t_plain = plain.completion;
  h.s.submit(std::move(plain), h.now);

  REQUIRE(t_wild->done());
  CHECK(t_wild->result().error == RequestError::FeatureNotSupported);
  CHECK(t_wild->result().message.find("Wildcard Subscription Available = 0") != std::string::npos);
  REQUIRE(t_shared->done());
  CHECK(t_shared->result().error == RequestError::FeatureNotSupported);
  CHECK(t_shared->result().message.find("Shared Subscription") != std::string::npos);
  REQUIRE(h.obs.failures.size() == 1);
  CHECK(h.obs.failures[0].reason == RequestError::FeatureNotSupported);
  // Only the plain one went out.
  auto sent = h.take();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0]->type() == PacketType::Subscribe);
  CHECK_FALSE(t_plain->done());
}

TEST_CASE("MQTT 5 incoming Subscription Identifiers: one never subscribed with is a Protocol "
          "Error in a session this client started, delivered and counted in one it resumed") {
  auto sub_with_id = [](Harness& h, uint32_t id) {
    codec::Subscribe s;
    s.subscriptions.push_back(codec::Subscription{"a/#", QoS::AtMostOnce});
    s.properties.subscription_identifiers = {id};
    auto r = make_subscribe_request(s, ProtocolVersion::V5);
    REQUIRE(r.ok());
    h.s.submit(std::move(*r), h.now);
  };
  auto publish_with_ids = [](std::vector<uint32_t> ids) {
    codec::Publish p;
    p.topic = "a/b";
    p.payload = codec::as_bytes("x");
    p.properties.subscription_identifiers = std::move(ids);
    return p;
  };
  {
    Harness h(v5config());
    h.connect(/*session_present=*/false);  // our own session
    sub_with_id(h, 3);
    (void)h.take();
    h.feed_ok(publish_with_ids({3}));
    CHECK(h.obs.incoming_topics.size() == 1);
    auto r = h.feed(publish_with_ids({3, 4}));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ConnectionErrorCode::ProtocolViolation);
    CHECK(r.error().message.find("Subscription Identifier 4") != std::string::npos);
    CHECK(h.obs.incoming_topics.size() == 1);  // nothing delivered
  }
  {
    Harness h(v5config());
    h.connect(/*session_present=*/true);  // a session it did not start
    h.feed_ok(publish_with_ids({9}));
    CHECK(h.obs.incoming_topics.size() == 1);
    CHECK(h.s.stats().unknown_subscription_ids == 1);
  }
}

TEST_CASE("CONNACK with Session Present 1 after Clean Start closes the connection "
          "[MQTT-3.2.2-4]") {
  for (auto cfg : {SessionConfig{}, v5config()}) {
    Harness h(cfg);
    codec::Connect c = h.connect_packet();
    c.clean_start = true;
    h.s.begin_connection(c, h.now, h.now + 10s);
    (void)h.take();
    codec::ConnAck ack;
    ack.session_present = true;
    auto r = h.feed(ack);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ConnectionErrorCode::ProtocolViolation);
    CHECK(r.error().message.find("Session Present") != std::string::npos);
  }
}

TEST_CASE("a DISCONNECT above the broker's Maximum Packet Size goes without its Reason String "
          "and User Properties [MQTT-3.14.2-3] [MQTT-3.14.2-4]") {
  codec::Properties limits;
  limits.maximum_packet_size = 32;
  Harness h(v5config());
  h.connect(false, limits);
  codec::Disconnect d;
  d.reason_code = ReasonCode::DisconnectWithWillMessage;
  d.properties.reason_string = "a reason string far longer than thirty-two bytes";
  d.properties.user_properties = {{"k", "v"}};
  auto r = make_disconnect_request(d, ProtocolVersion::V5, 0);
  REQUIRE(r.ok());
  h.s.submit(std::move(*r), h.now);
  auto sent = h.take();
  REQUIRE(sent.size() == 1);
  const auto& out = sent[0]->as<codec::Disconnect>();
  CHECK(out.reason_code == ReasonCode::DisconnectWithWillMessage);  // kept
  CHECK_FALSE(out.properties.reason_string);
  CHECK(out.properties.user_properties.empty());
  CHECK(sent[0]->raw.size() <= 32);
}
