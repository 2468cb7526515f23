// 1. QoS 0/1/2 round trips through a real mosquitto, MQTT 3.1.1 and 5, and
// MQTT 5 properties end to end.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "mqtt/client.h"
#include "tests/integration/support/broker.h"
#include "tests/integration/support/events.h"

using namespace itest;
using mqtt::QoS;
using mqtt::ReasonCode;

namespace {

std::string version_name(mqtt::ProtocolVersion v) { return v == mqtt::ProtocolVersion::V5 ? "5" : "3.1.1"; }

// Subscribes and reads the subscriber's events until the SUBACK; returns the
// token's completion.
mqtt::Completion subscribe_and_wait(mqtt::Client& c, mqtt::Connection& conn,
                                    std::span<const mqtt::SubscribeFilter> filters) {
  auto tok = c.subscribe_many(filters);
  REQUIRE(tok.ok());
  std::string seen;
  auto ev = next_until(conn, [](const mqtt::Event& e) { return suback_of(e) != nullptr; }, 10s, &seen);
  INFO("subscriber events:\n" << seen);
  REQUIRE(ev);
  auto done = tok->wait_for(5s);
  REQUIRE(done);
  return *done;
}

}  // namespace

TEST_CASE("QoS 0, 1 and 2 round trips", "[integration]") {
  auto version = GENERATE(mqtt::ProtocolVersion::V311, mqtt::ProtocolVersion::V5);
  INFO("MQTT " << version_name(version));
  Broker broker;

  auto [sub, subconn] = mqtt::Client::create(client_options("rt-sub", broker.port(), version), 16);
  std::string seen;
  REQUIRE(wait_connack(subconn, 10s, &seen));

  const std::vector<std::string> topics = {"rt/q0", "rt/q1", "rt/q2"};
  std::vector<mqtt::SubscribeFilter> filters = {{topics[0], QoS::AtMostOnce},
                                                {topics[1], QoS::AtLeastOnce},
                                                {topics[2], QoS::ExactlyOnce}};
  mqtt::Completion suback = subscribe_and_wait(sub, subconn, filters);
  CHECK(suback.ok());
  CHECK(suback.reason_codes ==
        std::vector<ReasonCode>{ReasonCode::GrantedQoS0, ReasonCode::GrantedQoS1, ReasonCode::GrantedQoS2});

  auto [pub, pubconn] = mqtt::Client::create(client_options("rt-pub", broker.port(), version), 16);
  Pump pubpump(pubconn);
  REQUIRE(pubpump.wait_until([](const Pump::Stats& s) { return s.connacks >= 1; }, 10s));

  std::vector<mqtt::Token> tokens;
  for (int q = 0; q < 3; ++q) {
    std::string payload = "payload-q" + std::to_string(q) + "-v" + version_name(version);
    auto t = pub.publish_tracked(topics[q], static_cast<QoS>(q), false, payload);
    REQUIRE(t.ok());
    tokens.push_back(*t);
  }
  for (int q = 0; q < 3; ++q) {
    INFO("publish token QoS " << q);
    auto done = tokens[q].wait_for(10s);
    REQUIRE(done);
    CHECK(done->ok());
    CHECK(done->reason_codes == std::vector<ReasonCode>{ReasonCode::Success});
  }

  // The subscriber receives each one with its topic, payload and QoS.
  std::vector<int> got(3, 0);
  seen.clear();
  for (int i = 0; i < 3; ++i) {
    auto ev = next_until(subconn, [](const mqtt::Event& e) { return e.publish() != nullptr; }, 10s, &seen);
    INFO("subscriber events:\n" << seen);
    REQUIRE(ev);
    const auto* p = ev->publish();
    std::string topic = topic_of(*p);
    int q = topic == topics[0] ? 0 : topic == topics[1] ? 1 : topic == topics[2] ? 2 : -1;
    INFO("topic " << topic);
    REQUIRE(q >= 0);
    ++got[q];
    CHECK(payload_of(*p) == "payload-q" + std::to_string(q) + "-v" + version_name(version));
    CHECK(p->qos == static_cast<QoS>(q));
    CHECK_FALSE(p->retain);
    if (q > 0) CHECK(p->packet_id != 0);
  }
  CHECK(got == std::vector<int>{1, 1, 1});
  // Nothing more arrives.
  CHECK_FALSE(next_until(subconn, [](const mqtt::Event& e) { return e.publish() != nullptr; }, 500ms));

  CHECK(pubpump.stats().errors.empty());
  CHECK(pub.disconnect().ok());
  CHECK(pubpump.wait_until([](const Pump::Stats& s) { return s.ended; }, 10s));
  REQUIRE_FALSE(pubpump.stats().errors.empty());
  CHECK(pubpump.stats().errors.back().code == mqtt::ConnectionErrorCode::Disconnected);
}

TEST_CASE("MQTT 5 publish properties arrive at the subscriber", "[integration]") {
  Broker broker;
  auto version = mqtt::ProtocolVersion::V5;
  auto [sub, subconn] = mqtt::Client::create(client_options("props-sub", broker.port(), version), 16);
  REQUIRE(wait_connack(subconn, 10s));
  std::vector<mqtt::SubscribeFilter> filters = {{"props/#", QoS::AtLeastOnce}};
  CHECK(subscribe_and_wait(sub, subconn, filters).ok());

  auto [pub, pubconn] = mqtt::Client::create(client_options("props-pub", broker.port(), version), 16);
  Pump pubpump(pubconn);
  REQUIRE(pubpump.wait_until([](const Pump::Stats& s) { return s.connacks >= 1; }, 10s));

  const std::string correlation = "corr-\x01\x02";
  mqtt::Properties props;
  props.content_type = "application/json";
  props.payload_format_indicator = 1;
  props.response_topic = "props/reply";
  props.correlation_data = mqtt::codec::as_bytes(correlation);
  props.message_expiry_interval = 600;
  props.user_properties = {{"trace-id", "abc123"}, {"k", "v1"}, {"k", "v2"}};
  auto tok = pub.publish_tracked("props/data", QoS::AtLeastOnce, false, R"({"x":1})", props);
  REQUIRE(tok.ok());
  auto done = tok->wait_for(10s);
  REQUIRE(done);
  CHECK(done->ok());

  std::string seen;
  auto ev = next_until(subconn, [](const mqtt::Event& e) { return e.publish() != nullptr; }, 10s, &seen);
  INFO("subscriber events:\n" << seen);
  REQUIRE(ev);
  const auto& p = *ev->publish();
  CHECK(topic_of(p) == "props/data");
  CHECK(payload_of(p) == R"({"x":1})");
  CHECK(p.qos == QoS::AtLeastOnce);
  REQUIRE(p.properties.content_type);
  CHECK(*p.properties.content_type == "application/json");
  CHECK(p.properties.payload_format_indicator == std::optional<uint8_t>(1));
  REQUIRE(p.properties.response_topic);
  CHECK(*p.properties.response_topic == "props/reply");
  REQUIRE(p.properties.correlation_data);
  CHECK(mqtt::codec::as_string(*p.properties.correlation_data) == correlation);
  REQUIRE(p.properties.message_expiry_interval);
  CHECK(*p.properties.message_expiry_interval <= 600u);
  CHECK(*p.properties.message_expiry_interval >= 590u);
  REQUIRE(p.properties.user_properties.size() == 3);
  CHECK(p.properties.user_properties[0].key == "trace-id");
  CHECK(p.properties.user_properties[0].value == "abc123");
  CHECK(p.properties.user_properties[1].key == "k");
  CHECK(p.properties.user_properties[1].value == "v1");
  CHECK(p.properties.user_properties[2].key == "k");
  CHECK(p.properties.user_properties[2].value == "v2");
}

TEST_CASE("MQTT 3.1.1 refuses publish properties as an invalid request", "[integration]") {
  Broker broker;
  auto [pub, pubconn] = mqtt::Client::create(client_options("props311", broker.port()), 16);
  REQUIRE(wait_connack(pubconn, 10s));
  mqtt::Properties props;
  props.content_type = "text/plain";
  auto r = pub.publish("props/x", QoS::AtMostOnce, false, "x", props);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == mqtt::ClientError::Code::InvalidRequest);
}
