// 4. The Will: when every copy of a Client is gone, the loop ends with
// RequestsDone and closes the connection WITHOUT DISCONNECT, so the broker
// publishes the Will to a real subscriber. After Client::disconnect() there is
// no Will, also while the broker is sending to us.
#include <catch2/catch.hpp>
#include <optional>
#include <thread>

#include "mqtt/client.h"
#include "tests/integration/support/broker.h"
#include "tests/integration/support/events.h"
#include "tests/integration/support/flood.h"

using namespace itest;
using mqtt::QoS;

namespace {

mqtt::MqttOptions with_will(const std::string& prefix, uint16_t port, mqtt::ProtocolVersion v,
                            const std::string& topic) {
  auto o = client_options(prefix, port, v);
  mqtt::LastWill will;
  will.topic = topic;
  will.payload = "gone:" + o.client_id;
  will.qos = QoS::AtLeastOnce;
  if (v == mqtt::ProtocolVersion::V5) {
    will.content_type = "text/plain";
    will.user_properties = {{"why", "test"}};
  }
  o.set_last_will(will);
  return o;
}

}  // namespace

TEST_CASE("Will on drop, no Will after disconnect()", "[integration]") {
  auto version = GENERATE(mqtt::ProtocolVersion::V311, mqtt::ProtocolVersion::V5);
  INFO("MQTT " << (version == mqtt::ProtocolVersion::V5 ? "5" : "3.1.1"));
  Watchdog watchdog("will test", 120s);
  Broker broker;

  // B: the witness, subscribed to the Will topic.
  auto [b, bconn] = mqtt::Client::create(client_options("will-b", broker.port(), version), 16);
  REQUIRE(wait_connack(bconn, 10s));
  auto st = b.subscribe("will/#", QoS::AtLeastOnce);
  REQUIRE(st.ok());
  REQUIRE(st->wait_for(10s));
  REQUIRE(next_until(bconn, [](const mqtt::Event& e) { return suback_of(e) != nullptr; }, 10s));

  SECTION("dropping every Client copy ends with RequestsDone and the Will is published") {
    auto opts = with_will("will-a", broker.port(), version, "will/a");
    auto pair = mqtt::Client::create(opts, 16);
    std::optional<mqtt::Client> a(std::move(pair.first));
    mqtt::Connection aconn = std::move(pair.second);
    std::string seen;
    REQUIRE(wait_connack(aconn, 10s, &seen));
    // A copy used by another thread, gone before the original.
    std::optional<mqtt::Client> copy(*a);
    bool copy_published = false;
    std::thread([c = std::move(copy), &copy_published]() mutable {
      copy_published = c->publish("will/other", QoS::AtMostOnce, false, "from a copy").ok();
      c.reset();
    }).join();
    CHECK(copy_published);
    a.reset();  // the last copy

    std::optional<mqtt::ConnectionError> last;
    bool ended = wait_end(aconn, 10s, &last, &seen);
    INFO("A's events:\n" << seen);
    CHECK(ended);
    REQUIRE(last);
    CHECK(last->code == mqtt::ConnectionErrorCode::RequestsDone);
    CHECK(last->terminal);
    CHECK(aconn.ended());
    CHECK_FALSE(aconn.next_for(200ms));

    std::string bseen;
    auto will = next_until(bconn, [](const mqtt::Event& e) {
      return e.publish() && topic_of(*e.publish()) == "will/a";
    }, 10s, &bseen);
    INFO("B's events:\n" << bseen);
    REQUIRE(will);
    CHECK(payload_of(*will->publish()) == "gone:" + opts.client_id);
    if (version == mqtt::ProtocolVersion::V5) {
      const auto& props = will->publish()->properties;
      CHECK(props.content_type == std::optional<std::string_view>("text/plain"));
      REQUIRE(props.user_properties.size() == 1);
      CHECK(props.user_properties[0].key == "why");
    }
    // The broker saw the socket close, not a DISCONNECT.
    INFO(broker.log());
    CHECK(broker.log_count("Client " + opts.client_id + " closed its connection") == 1);
    CHECK(broker.log_count("Client " + opts.client_id + " disconnected") == 0);
  }

  SECTION("disconnect() sends DISCONNECT: no Will") {
    auto opts = with_will("will-c", broker.port(), version, "will/c");
    auto [c, cconn] = mqtt::Client::create(opts, 16);
    std::string seen;
    REQUIRE(wait_connack(cconn, 10s, &seen));
    REQUIRE(c.disconnect().ok());
    std::optional<mqtt::ConnectionError> last;
    bool ended = wait_end(cconn, 10s, &last, &seen);
    INFO("C's events:\n" << seen);
    CHECK(ended);
    REQUIRE(last);
    CHECK(last->code == mqtt::ConnectionErrorCode::Disconnected);
    CHECK(last->terminal);
    CHECK_FALSE(cconn.next_for(200ms));
    // Requests after the end are refused.
    auto late = c.publish("will/late", QoS::AtMostOnce, false, "x");
    REQUIRE_FALSE(late.ok());
    CHECK(late.error().code == mqtt::ClientError::Code::Closed);

    std::string bseen;
    auto will = next_until(bconn, [](const mqtt::Event& e) { return e.publish() != nullptr; }, 2s, &bseen);
    INFO("B's events:\n" << bseen);
    CHECK_FALSE(will);
    INFO(broker.log());
    CHECK(broker.log_count("Client " + opts.client_id + " disconnected") == 1);
    CHECK(broker.log_count("Client " + opts.client_id + " closed its connection") == 0);
  }
}

TEST_CASE("no Will after disconnect() while the broker is sending to us", "[integration]") {
  // Regression: the socket was closed with the broker's bytes unread, the
  // kernel reset the connection, and mosquitto, failing to write to it,
  // dropped the client before reading the DISCONNECT: it published the Will.
  auto version = GENERATE(mqtt::ProtocolVersion::V311, mqtt::ProtocolVersion::V5);
  INFO("MQTT " << (version == mqtt::ProtocolVersion::V5 ? "5" : "3.1.1"));
  Watchdog watchdog("will under traffic test", 120s);
  Broker broker;
  auto [b, bconn] = mqtt::Client::create(client_options("will-w", broker.port(), version), 16);
  REQUIRE(wait_connack(bconn, 10s));
  auto st = b.subscribe("will/#", QoS::AtLeastOnce);
  REQUIRE(st.ok());
  REQUIRE(st->wait_for(10s));
  Flood flood(broker.port(), "willflood/x");
  constexpr int kRounds = 10;
  for (int round = 0; round < kRounds; ++round) {
    INFO("round " << round);
    auto opts = with_will("will-busy", broker.port(), version, "will/busy");
    auto [a, aconn] = mqtt::Client::create(opts, 64);
    REQUIRE(wait_connack(aconn, 10s));
    auto sub = a.subscribe("willflood/x", QoS::AtMostOnce);
    REQUIRE(sub.ok());
    REQUIRE(sub->wait_for(10s));
    // The flood is reaching us: its bytes are in our socket when we close.
    REQUIRE(next_until(aconn, [](const mqtt::Event& e) { return e.publish() != nullptr; }, 10s));
    REQUIRE(a.disconnect().ok());
    std::optional<mqtt::ConnectionError> last;
    std::string seen;
    CHECK(wait_end(aconn, 10s, &last, &seen));
    REQUIRE(last);
    CHECK(last->code == mqtt::ConnectionErrorCode::Disconnected);
  }
  std::string bseen;
  auto will = next_until(bconn, [](const mqtt::Event& e) { return e.publish() != nullptr; }, 1s, &bseen);
  INFO("witness's events:\n" << bseen);
  CHECK_FALSE(will);
  CHECK(broker.log_count("Broken pipe") == 0);
  CHECK(broker.log_count(" disconnected.") >= kRounds);  // DISCONNECT read every time
}
