#include "tests/session/harness.h"

using namespace session_test;

TEST_CASE("publish request: placeholder id at fixed header + 2 + topic length") {
  for (auto v : {ProtocolVersion::V311, ProtocolVersion::V5}) {
    codec::Publish p;
    p.topic = "a/b";
    p.qos = QoS::AtLeastOnce;
    p.payload = codec::as_bytes("hello");
    auto r = make_publish_request(p, v);
    REQUIRE(r.ok());
    CHECK(r->kind == Request::Kind::Publish);
    CHECK(r->qos == QoS::AtLeastOnce);
    CHECK(r->packet_id_offset == 2 + 2 + 3);
    CHECK(r->bytes[r->packet_id_offset] == 0);
    CHECK(r->bytes[r->packet_id_offset + 1] == 1);
    CHECK(r->completion == nullptr);
  }
  // Two-byte remaining length.
  codec::Publish big;
  big.topic = "t";
  big.qos = QoS::ExactlyOnce;
  std::string payload(300, 'x');
  big.payload = codec::as_bytes(payload);
  auto r = make_publish_request(big, ProtocolVersion::V311);
  REQUIRE(r.ok());
  CHECK(r->packet_id_offset == 3 + 2 + 1);
  CHECK(r->bytes[r->packet_id_offset + 1] == 1);
}

TEST_CASE("QoS 0 publish request has no packet id") {
  codec::Publish p;
  p.topic = "t";
  auto r = make_publish_request(p, ProtocolVersion::V311);
  REQUIRE(r.ok());
  CHECK(r->packet_id_offset == 0);
  CHECK(r->bytes.size() == 2 + 2 + 1);
}

TEST_CASE("subscribe/unsubscribe requests: id right after the fixed header") {
  codec::Subscribe s;
  s.subscriptions.push_back({"a/+", QoS::AtLeastOnce});
  s.subscriptions.push_back({"b/#", QoS::ExactlyOnce});
  auto r = make_subscribe_request(s, ProtocolVersion::V5);
  REQUIRE(r.ok());
  CHECK(r->kind == Request::Kind::Subscribe);
  CHECK(r->filter_count == 2);
  CHECK(r->packet_id_offset == 2);
  CHECK(r->bytes[3] == 1);

  codec::Unsubscribe u;
  u.filters = {"a/+"};
  auto ur = make_unsubscribe_request(u, ProtocolVersion::V311);
  REQUIRE(ur.ok());
  CHECK(ur->kind == Request::Kind::Unsubscribe);
  CHECK(ur->filter_count == 1);
  CHECK(ur->packet_id_offset == 2);
}

TEST_CASE("builders return the codec's error") {
  codec::Publish p;
  p.topic = "a/#";
  auto r = make_publish_request(p, ProtocolVersion::V311);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == codec::CodecError::WildcardInTopicName);

  codec::Subscribe s;
  auto sr = make_subscribe_request(s, ProtocolVersion::V311);
  REQUIRE_FALSE(sr.ok());
  CHECK(sr.error() == codec::CodecError::NoTopicFilters);

  codec::Disconnect d;
  d.reason_code = ReasonCode::DisconnectWithWillMessage;
  auto dr = make_disconnect_request(d, ProtocolVersion::V311);
  CHECK_FALSE(dr.ok());
  auto dr5 = make_disconnect_request(d, ProtocolVersion::V5);
  REQUIRE(dr5.ok());
  CHECK(dr5->kind == Request::Kind::Disconnect);
}

TEST_CASE("publish request: refused when a client must not send it") {
  codec::Publish p;
  p.topic = "t";
  p.qos = QoS::AtLeastOnce;
  // [MQTT-3.3.4-6]: no Subscription Identifier on a client's PUBLISH.
  p.properties.subscription_identifiers = {7};
  auto r = make_publish_request(p, ProtocolVersion::V5);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == codec::CodecError::PropertyNotAllowed);
  p.properties.subscription_identifiers.clear();

  // Spec 3.3.2.3.2: Payload Format Indicator 1 promises well-formed UTF-8.
  const uint8_t bad[] = {0x68, 0xC3, 0x28};
  p.payload = codec::Bytes(bad);
  p.properties.payload_format_indicator = 1;
  auto f = make_publish_request(p, ProtocolVersion::V5);
  REQUIRE_FALSE(f.ok());
  CHECK(f.error() == codec::CodecError::PayloadFormatInvalid);
  p.properties.payload_format_indicator = 0;  // unspecified bytes: fine
  CHECK(make_publish_request(p, ProtocolVersion::V5).ok());
  p.payload = codec::as_bytes("h\xC3\xA9");
  p.properties.payload_format_indicator = 1;
  CHECK(make_publish_request(p, ProtocolVersion::V5).ok());
}

TEST_CASE("disconnect request: only what a client may send (spec 3.14.2)") {
  const auto v5 = ProtocolVersion::V5;
  // Table 3-10: reason codes the server sends.
  for (auto rc : {ReasonCode::SessionTakenOver, ReasonCode::ServerShuttingDown,
                  ReasonCode::UseAnotherServer, ReasonCode::NotAuthorized,
                  ReasonCode::KeepAliveTimeout}) {
    codec::Disconnect d;
    d.reason_code = rc;
    auto r = make_disconnect_request(d, v5);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == codec::CodecError::InvalidReasonCode);
  }
  // The client's own ones.
  for (auto rc : {ReasonCode::NormalDisconnection, ReasonCode::DisconnectWithWillMessage,
                  ReasonCode::ProtocolError, ReasonCode::TopicAliasInvalid,
                  ReasonCode::PayloadFormatInvalid}) {
    codec::Disconnect d;
    d.reason_code = rc;
    CHECK(make_disconnect_request(d, v5).ok());
  }
  // The server sends a Server Reference (spec 3.14.2.2.5).
  codec::Disconnect ref;
  ref.properties.server_reference = "elsewhere";
  auto rr = make_disconnect_request(ref, v5);
  REQUIRE_FALSE(rr.ok());
  CHECK(rr.error() == codec::CodecError::PropertyNotAllowed);

  // Spec 3.14.2.2.2: a non-zero Session Expiry Interval only after a CONNECT
  // with a non-zero one.
  codec::Disconnect sei;
  sei.properties.session_expiry_interval = 300;
  auto zero = make_disconnect_request(sei, v5);  // CONNECT without one
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.error() == codec::CodecError::SessionExpiryWasZero);
  CHECK_FALSE(make_disconnect_request(sei, v5, 0).ok());
  auto kept = make_disconnect_request(sei, v5, 60);
  REQUIRE(kept.ok());
  CHECK(kept->bytes.size() == 9);  // E0 07 00 05 11 00 00 01 2C
  CHECK(kept->bytes[8] == 0x2C);
  sei.properties.session_expiry_interval = 0;  // zero is always allowed
  CHECK(make_disconnect_request(sei, v5, 0).ok());
  // 3.1.1 has no properties at all.
  sei.properties.session_expiry_interval = 300;
  auto v311 = make_disconnect_request(sei, ProtocolVersion::V311, 60);
  REQUIRE_FALSE(v311.ok());
  CHECK(v311.error() == codec::CodecError::PropertiesNotSupported);
}

TEST_CASE("ack request") {
  Request r = make_ack_request(42, QoS::ExactlyOnce);
  CHECK(r.kind == Request::Kind::Ack);
  CHECK(r.packet_id == 42);
  CHECK(r.qos == QoS::ExactlyOnce);
  CHECK(r.bytes.empty());
}

TEST_CASE("vocabulary names") {
  CHECK(to_string(RequestError::SessionReset) == "session reset by the broker");
  CHECK(to_string(Outgoing::Type::PubRel) == "PUBREL");
  CHECK(to_string(ConnectionErrorCode::PingTimeout) == "ping timeout");
  ConnectionError e;
  e.code = ConnectionErrorCode::ConnectionRefused;
  e.reason_code = ReasonCode::NotAuthorized;
  e.message = "CONNACK";
  e.terminal = true;
  const std::string d = describe(e);
  CHECK(d.find("connection refused") != std::string::npos);
  CHECK(d.find("CONNACK") != std::string::npos);
  CHECK(d.find("terminal") != std::string::npos);
}

// Hidden micro benchmark (not run by `bazel test`): instructions per
// make_publish_request, e.g.
//   bazel build -c opt //tests/session:request_test
//   perf stat -e instructions bazel-bin/tests/session/request_test "bench: publish request 5 QoS 1"
// less the instructions of a run that builds nothing ("bench: publish request none"),
// divided by kBenchCount.
namespace {
constexpr int kBenchCount = 200000;
void bench_publish(ProtocolVersion v, QoS qos, int count) {
  static const std::string payload(64, 'x');
  codec::Publish p;
  p.topic = "sensors/a/temp";
  p.qos = qos;
  p.payload = codec::as_bytes(payload);
  size_t sum = 0;
  for (int i = 0; i < count; ++i) {
    auto r = make_publish_request(p, v);
    sum += r->bytes.size();
  }
  CHECK(sum == size_t(count) * (2 + 2 + p.topic.size() + (qos == QoS::AtMostOnce ? 0 : 2) +
                                (v == ProtocolVersion::V5 ? 1 : 0) + payload.size()));
}
}  // namespace

TEST_CASE("bench: publish request none", "[.bench]") {
  bench_publish(ProtocolVersion::V5, QoS::AtLeastOnce, 0);
}
TEST_CASE("bench: publish request 3.1.1 QoS 0", "[.bench]") {
  bench_publish(ProtocolVersion::V311, QoS::AtMostOnce, kBenchCount);
}
TEST_CASE("bench: publish request 3.1.1 QoS 1", "[.bench]") {
  bench_publish(ProtocolVersion::V311, QoS::AtLeastOnce, kBenchCount);
}
TEST_CASE("bench: publish request 5 QoS 0", "[.bench]") {
  bench_publish(ProtocolVersion::V5, QoS::AtMostOnce, kBenchCount);
}
TEST_CASE("bench: publish request 5 QoS 1", "[.bench]") {
  bench_publish(ProtocolVersion::V5, QoS::AtLeastOnce, kBenchCount);
}

// As Client::publish built and queued a request before it took a PublishRef:
// a Publish with a copy of the caller's Properties, then the request moved
// into the queued item.
TEST_CASE("bench: client publish via Publish 5 QoS 1", "[.bench]") {
  static const std::string payload(64, 'x');
  const codec::Properties props;
  size_t sum = 0;
  for (int i = 0; i < kBenchCount; ++i) {
    codec::Publish p;
    p.qos = QoS::AtLeastOnce;
    p.topic = "sensors/a/temp";
    p.payload = codec::as_bytes(payload);
    p.properties = props;
    auto r = make_publish_request(p, ProtocolVersion::V5);
    Request item;
    item = std::move(r.value());
    sum += item.bytes.size();
  }
  CHECK(sum == size_t(kBenchCount) * (2 + 2 + 14 + 2 + 1 + 64));
}

// As Client::publish does now: the caller's parts viewed (PublishRef), the
// request built straight into the queued item.
TEST_CASE("bench: client publish via PublishRef 5 QoS 1", "[.bench]") {
  static const std::string payload(64, 'x');
  const codec::Properties props;
  size_t sum = 0;
  for (int i = 0; i < kBenchCount; ++i) {
    Request item;
    const codec::PublishRef p("sensors/a/temp", QoS::AtLeastOnce, false,
                              codec::as_bytes(payload), props);
    if (make_publish_request(p, ProtocolVersion::V5, item).ok()) sum += item.bytes.size();
  }
  CHECK(sum == size_t(kBenchCount) * (2 + 2 + 14 + 2 + 1 + 64));
}
