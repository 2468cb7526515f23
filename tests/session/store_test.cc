// The session's side of the session store (docs/session-store.md): the
// records it reports, the PUBREL held until the PUBREC record is stored
// (rule 1), the PUBREC held until the incoming QoS 2 id is stored (rule 2),
// and restore() of a stored session. Fake clock, no I/O.
#include "tests/session/harness.h"

using namespace session_test;
using T = StoreEvent::Type;

namespace {

SessionConfig store_config(ProtocolVersion v = ProtocolVersion::V311) {
  SessionConfig c;
  c.version = v;
  c.store = true;
  return c;
}

std::vector<T> record_types(const Recorder& r) {
  std::vector<T> t;
  for (const auto& s : r.store) t.push_back(s.type);
  return t;
}

codec::Publish incoming(uint16_t id, QoS qos = QoS::ExactlyOnce, bool dup = false) {
  codec::Publish p;
  p.topic = "in";
  p.qos = qos;
  p.packet_id = id;
  p.dup = dup;
  p.payload = codec::as_bytes(std::string_view("m"));
  return p;
}

}  // namespace

TEST_CASE("store off: no records, PUBREL and PUBREC at once") {
  Harness h;
  h.connect();
  h.pub("a", QoS::ExactlyOnce);
  auto sent = h.take();
  const uint16_t id = sent[0]->as<codec::Publish>().packet_id;
  h.feed_ok(codec::PubRec{id, ReasonCode::Success, {}});
  h.feed_ok(incoming(7));
  CHECK(types(h.take()) == std::vector<PacketType>{PacketType::PubRel, PacketType::PubRec});
  CHECK(h.obs.store.empty());
  CHECK(h.s.store_seq() == 0);
}

TEST_CASE("store: records in order, numbered from 1, with the PUBLISH bytes") {
  for (auto v : {ProtocolVersion::V311, ProtocolVersion::V5}) {
    Harness h(store_config(v));
    h.connect();
    auto a = h.pub("a", QoS::AtLeastOnce, "one");
    Request untracked = h.publish("b", QoS::ExactlyOnce);
    untracked.completion.reset();
    h.s.submit(std::move(untracked), h.now);
    auto sent = h.take();
    REQUIRE(sent.size() == 2);
    const uint16_t ida = sent[0]->as<codec::Publish>().packet_id;
    const uint16_t idb = sent[1]->as<codec::Publish>().packet_id;
    // The Clear of the first CONNACK (a new session), then the publishes.
    REQUIRE(record_types(h.obs) == std::vector<T>{T::Clear, T::Publish, T::Publish});
    CHECK(h.obs.store[1].packet_id == ida);
    CHECK(h.obs.store[1].bytes == sent[0]->raw);  // what a restart resends
    CHECK(h.obs.store[1].tracked);
    CHECK_FALSE(h.obs.store[2].tracked);
    for (size_t i = 0; i < h.obs.store.size(); ++i) CHECK(h.obs.store[i].seq == i + 1);
    h.feed_ok(codec::PubAck{ida, ReasonCode::Success, {}});
    h.feed_ok(codec::PubRec{idb, ReasonCode::Success, {}});
    CHECK(record_types(h.obs) ==
          std::vector<T>{T::Clear, T::Publish, T::Publish, T::PublishDone, T::PubRecReceived});
    CHECK(a->done());  // completion does not wait for the store
  }
}

TEST_CASE("store rule 1: PUBREL only once the PUBREC record is stored") {
  Harness h(store_config());
  h.connect();
  auto t = h.pub("a", QoS::ExactlyOnce);
  const uint16_t id = h.take()[0]->as<codec::Publish>().packet_id;
  h.feed_ok(codec::PubRec{id, ReasonCode::Success, {}});
  CHECK(h.take().empty());  // held
  const uint64_t rec = h.obs.store.back().seq;
  REQUIRE(h.obs.store.back().type == T::PubRecReceived);
  h.s.store_confirmed(rec - 1);  // the PUBLISH record only
  CHECK(h.take().empty());
  // A PUBREC resent by the broker meanwhile does not release it either.
  h.feed_ok(codec::PubRec{id, ReasonCode::Success, {}});
  CHECK(h.take().empty());
  h.s.store_confirmed(rec);
  auto out = h.take();
  REQUIRE(types(out) == std::vector<PacketType>{PacketType::PubRel});
  CHECK(out[0]->as<codec::PubRel>().packet_id == id);
  h.s.store_confirmed(rec);  // again: nothing more
  CHECK(h.take().empty());
  h.feed_ok(codec::PubComp{id, ReasonCode::Success, {}});
  CHECK(t->done());
  CHECK(h.obs.store.back().type == T::PublishDone);
}

TEST_CASE("store rule 1: confirmed while disconnected, the PUBREL goes out on resume") {
  Harness h(store_config());
  h.connect();
  h.pub("a", QoS::ExactlyOnce);
  const uint16_t id = h.take()[0]->as<codec::Publish>().packet_id;
  h.feed_ok(codec::PubRec{id, ReasonCode::Success, {}});
  const uint64_t rec = h.obs.store.back().seq;
  h.s.connection_lost();
  // Resumed before the record is stored: neither PUBLISH (the broker has
  // it) nor PUBREL yet.
  auto resent = h.connect(true);
  CHECK(resent.empty());
  h.s.connection_lost();
  h.s.store_confirmed(rec);
  CHECK(h.s.output().empty());  // not connected: nothing written
  resent = h.connect(true);
  REQUIRE(types(resent) == std::vector<PacketType>{PacketType::PubRel});
  CHECK(resent[0]->as<codec::PubRel>().packet_id == id);
}

TEST_CASE("store rule 2: PUBREC only once the incoming QoS 2 id is stored") {
  Harness h(store_config());
  h.connect();
  h.feed_ok(incoming(7));
  CHECK(h.obs.incoming.back() == PacketType::Publish);  // delivered at once
  CHECK(h.take().empty());                              // PUBREC held
  REQUIRE(h.obs.store.back().type == T::IncomingQos2);
  CHECK(h.obs.store.back().packet_id == 7);
  const uint64_t rec = h.obs.store.back().seq;
  // The broker resends before our PUBREC: not delivered again, not answered yet.
  const size_t delivered = h.obs.incoming.size();
  h.feed_ok(incoming(7, QoS::ExactlyOnce, true));
  CHECK(h.obs.incoming.size() == delivered);
  CHECK(h.take().empty());
  h.s.store_confirmed(rec);
  auto out = h.take();
  REQUIRE(types(out) == std::vector<PacketType>{PacketType::PubRec});
  CHECK(out[0]->as<codec::PubRec>().packet_id == 7);
  h.feed_ok(codec::PubRel{7, ReasonCode::Success, {}});
  CHECK(h.take().empty());  // rule 3: PUBCOMP once the release is stored
  REQUIRE(h.obs.store.back().type == T::IncomingReleased);
  h.s.store_confirmed(h.obs.store.back().seq);
  CHECK(types(h.take()) == std::vector<PacketType>{PacketType::PubComp});
}

TEST_CASE("store rule 3: a PUBREL resent before the release is stored waits too") {
  Harness h(store_config(ProtocolVersion::V5));
  h.connect();
  h.feed_ok(incoming(7));
  h.s.store_confirmed(h.obs.store.back().seq);
  REQUIRE(types(h.take()) == std::vector<PacketType>{PacketType::PubRec});
  h.feed_ok(codec::PubRel{7, ReasonCode::Success, {}});
  const uint64_t rel = h.obs.store.back().seq;
  h.s.connection_lost();
  h.connect(true);
  // Not answered with 0x92 (the broker would free the id while a restart
  // could still find it stored).
  h.feed_ok(codec::PubRel{7, ReasonCode::Success, {}});
  CHECK(h.take().empty());
  h.s.store_confirmed(rel);
  auto out = h.take();
  REQUIRE(types(out) == std::vector<PacketType>{PacketType::PubComp});
  CHECK(out[0]->as<codec::PubComp>().reason_code == ReasonCode::Success);
  // Stored: an unknown id again, answered at once.
  h.feed_ok(codec::PubRel{7, ReasonCode::Success, {}});
  out = h.take();
  REQUIRE(types(out) == std::vector<PacketType>{PacketType::PubComp});
  CHECK(out[0]->as<codec::PubComp>().reason_code == ReasonCode::PacketIdentifierNotFound);
}

TEST_CASE("store rule 2 with manual acks: the ack's PUBREC waits for the record") {
  SessionConfig c = store_config();
  c.manual_acks = true;
  Harness h(c);
  h.connect();
  h.feed_ok(incoming(9));
  const uint64_t rec = h.obs.store.back().seq;
  h.s.submit(make_ack_request(9, QoS::ExactlyOnce), h.now);
  CHECK(h.take().empty());
  h.s.store_confirmed(rec);
  CHECK(types(h.take()) == std::vector<PacketType>{PacketType::PubRec});
  // Stored before the ack: the ack writes it.
  h.feed_ok(incoming(10));
  h.s.store_confirmed(h.obs.store.back().seq);
  CHECK(h.take().empty());
  h.s.submit(make_ack_request(10, QoS::ExactlyOnce), h.now);
  CHECK(types(h.take()) == std::vector<PacketType>{PacketType::PubRec});
}

TEST_CASE("restore: a CONNACK with session present resends the stored state") {
  for (auto v : {ProtocolVersion::V311, ProtocolVersion::V5}) {
    // A first process publishes and "dies" with a QoS 1 and a QoS 2 in flight.
    Harness first(store_config(v));
    first.connect();
    first.pub("q1", QoS::AtLeastOnce, "p1");
    first.pub("q2", QoS::ExactlyOnce, "p2");
    first.pub("q2b", QoS::ExactlyOnce, "p3");
    auto sent = first.take();
    const uint16_t id3 = sent[2]->as<codec::Publish>().packet_id;
    first.feed_ok(codec::PubRec{id3, ReasonCode::Success, {}});

    RestoredState st;
    st.outgoing.push_back({sent[0]->as<codec::Publish>().packet_id, QoS::AtLeastOnce, false,
                           sent[0]->raw, v});
    st.outgoing.push_back({sent[1]->as<codec::Publish>().packet_id, QoS::ExactlyOnce, false,
                           sent[1]->raw, v});
    st.outgoing.push_back({id3, QoS::ExactlyOnce, true, {}, v});
    st.incoming_qos2 = {42};
    st.assigned_client_id = "assigned-1";

    Harness h(store_config(v));
    REQUIRE(h.s.restore(st).empty());
    CHECK(h.s.stats().inflight_publishes == 3);
    h.s.begin_connection(h.connect_packet(""), h.now, h.now + 10s);
    auto c = h.take();
    REQUIRE(c.size() == 1);
    CHECK(c[0]->as<codec::Connect>().client_id == "assigned-1");
    codec::ConnAck ack;
    ack.session_present = true;
    h.feed_ok(ack);
    auto resent = h.take();
    REQUIRE(types(resent) == std::vector<PacketType>{PacketType::Publish, PacketType::Publish,
                                                     PacketType::PubRel});
    CHECK(resent[0]->as<codec::Publish>().dup);
    CHECK(resent[0]->as<codec::Publish>().topic == "q1");
    CHECK(resent[1]->as<codec::Publish>().packet_id == sent[1]->as<codec::Publish>().packet_id);
    CHECK(resent[2]->as<codec::PubRel>().packet_id == id3);
    // The stored incoming id: its resent PUBLISH is answered, not delivered.
    const size_t delivered = h.obs.incoming.size();
    h.feed_ok(incoming(42, QoS::ExactlyOnce, true));
    CHECK(h.obs.incoming.size() == delivered);
    CHECK(types(h.take()) == std::vector<PacketType>{PacketType::PubRec});
    // Restored publishes complete as usual and are recorded done.
    h.feed_ok(codec::PubAck{resent[0]->as<codec::Publish>().packet_id, ReasonCode::Success, {}});
    CHECK(h.obs.store.back().type == T::PublishDone);
    CHECK(h.obs.failures.empty());
    CHECK(h.obs.resets.empty());
  }
}

TEST_CASE("restore: a CONNACK without session present drops and reports it") {
  Harness h(store_config());
  RestoredState st;
  auto p = h.publish("gone", QoS::AtLeastOnce);
  // An encoded PUBLISH with an id (what the store holds).
  std::vector<uint8_t> bytes(p.bytes.span().begin(), p.bytes.span().end());
  bytes[p.packet_id_offset + 1] = 5;
  st.outgoing.push_back({5, QoS::AtLeastOnce, false, bytes});
  st.incoming_qos2 = {3};
  REQUIRE(h.s.restore(st).empty());
  auto after = h.connect(false);
  CHECK(after.empty());
  REQUIRE(h.obs.reset_infos.size() == 1);
  CHECK(h.obs.reset_infos[0].dropped_publishes == 1);
  REQUIRE(h.obs.failures.size() == 1);
  CHECK(h.obs.failures[0].reason == RequestError::SessionReset);
  CHECK(h.obs.failures[0].topic == "gone");
  CHECK(h.obs.failures[0].packet_id == 5);
  CHECK(h.obs.store.back().type == T::Clear);
  CHECK(h.s.stats().incoming_qos2_pending == 0);
}

TEST_CASE("restore: refused for ids outside the window, duplicates, or after connecting") {
  SessionConfig c = store_config();
  c.max_inflight = 10;
  {
    Harness h(c);
    RestoredState st;
    st.outgoing.push_back({11, QoS::ExactlyOnce, true, {}});
    CHECK_FALSE(h.s.restore(st).empty());
    CHECK(h.s.stats().inflight_publishes == 0);
  }
  {
    Harness h(c);
    RestoredState st;
    st.outgoing.push_back({2, QoS::ExactlyOnce, true, {}});
    st.outgoing.push_back({2, QoS::ExactlyOnce, true, {}});
    CHECK_FALSE(h.s.restore(st).empty());
    CHECK(h.s.stats().inflight_publishes == 0);
  }
  {
    Harness h(c);
    h.connect();
    CHECK_FALSE(h.s.restore(RestoredState{}).empty());
  }
  {
    // A PUBLISH stored by an MQTT 3.1.1 session, restored into an MQTT 5 one.
    SessionConfig c5 = store_config(ProtocolVersion::V5);
    Harness h(c5);
    Harness old(store_config());
    auto p = old.publish("t", QoS::AtLeastOnce);
    std::vector<uint8_t> bytes(p.bytes.span().begin(), p.bytes.span().end());
    RestoredState st;
    st.outgoing.push_back({1, QoS::AtLeastOnce, false, bytes, ProtocolVersion::V311});
    const std::string why = h.s.restore(st);
    CHECK(why.find("MQTT 3.1.1") != std::string::npos);
    CHECK(h.s.stats().inflight_publishes == 0);
  }
}

TEST_CASE("store: a broker-assigned client id is recorded") {
  Harness h(store_config(ProtocolVersion::V5));
  codec::Properties props;
  props.assigned_client_identifier = "given-by-broker";
  h.connect(false, props);
  const auto& rec = h.obs.store;
  auto it = std::find_if(rec.begin(), rec.end(), [](const auto& r) { return r.type == T::ClientId; });
  REQUIRE(it != rec.end());
  CHECK(std::string(it->bytes.begin(), it->bytes.end()) == "given-by-broker");
}
