// MQTT 5 server redirection (issue "MQTT 5 complete", section 3): a Server
// Reference on a refusing CONNACK (0x9C Use another server) or a DISCONNECT
// (0x9D Server moved) is reported in the error event and, with
// follow_server_redirects, the next attempt goes to the referenced server
// ahead of the broker list. A scripted broker redirects to a real mosquitto.
#include <catch2/catch.hpp>
#include <string>

#include "mqtt/client.h"
#include "tests/integration/support/broker.h"
#include "tests/integration/support/events.h"
#include "tests/integration/support/scripted_broker.h"

using namespace itest;

namespace {

mqtt::MqttOptions v5_options(const std::string& id, uint16_t port) {
  auto o = client_options(id, port, mqtt::ProtocolVersion::V5);
  o.backoff.initial = 50ms;
  o.backoff.max = 200ms;
  return o;
}

}  // namespace

TEST_CASE("redirect: CONNACK 0x9C with a Server Reference is followed to mosquitto",
          "[integration][redirect]") {
  Watchdog watchdog("redirect on CONNACK", 30s);
  Broker broker;
  ScriptedBroker sb;
  auto o = v5_options("redirect-connack", sb.port());
  o.follow_server_redirects = true;
  auto [c, conn] = mqtt::Client::create(o, 16);
  auto peer = sb.accept(5s);
  REQUIRE(peer);
  REQUIRE(peer->expect_connect(5s));
  ConnAckProps props;
  props.server_reference = "127.0.0.1:" + std::to_string(broker.port());
  REQUIRE(peer->send(connack_v5(false, 0x9C, props)));
  std::string seen;
  auto e = next_until(conn, [](const mqtt::Event& ev) { return ev.error() != nullptr; }, 5s,
                      &seen);
  INFO(seen);
  REQUIRE(e);
  CHECK(e->error()->code == mqtt::ConnectionErrorCode::ConnectionRefused);
  CHECK(e->error()->reason_code == mqtt::ReasonCode::UseAnotherServer);
  CHECK(e->error()->server_reference == *props.server_reference);
  CHECK_THAT(e->error()->message, Catch::Contains("following the Server Reference"));
  CHECK_FALSE(e->error()->terminal);
  auto ack = next_until(conn, [](const mqtt::Event& ev) { return connack_of(ev) != nullptr; }, 5s,
                        &seen);
  INFO(seen);
  REQUIRE(ack);
  CHECK(ack->incoming()->broker() == "127.0.0.1:" + std::to_string(broker.port()));
  REQUIRE(c.disconnect(2s).ok());
}

TEST_CASE("redirect: DISCONNECT 0x9D while connected is followed; without the option the "
          "reference is only reported",
          "[integration][redirect]") {
  Watchdog watchdog("redirect on DISCONNECT", 30s);
  Broker broker;
  const std::string target = "localhost:" + std::to_string(broker.port());
  {
    ScriptedBroker sb;
    auto o = v5_options("redirect-disconnect", sb.port());
    o.follow_server_redirects = true;
    auto [c, conn] = mqtt::Client::create(o, 16);
    auto peer = sb.accept(5s);
    REQUIRE(peer);
    REQUIRE(peer->expect_connect(5s));
    REQUIRE(peer->send(connack_v5(false, 0)));
    std::string seen;
    REQUIRE(next_until(conn, [](const mqtt::Event& ev) { return connack_of(ev) != nullptr; }, 5s,
                       &seen));
    REQUIRE(peer->send(disconnect_v5(0x9D, target)));
    auto e = next_until(conn, [](const mqtt::Event& ev) { return ev.error() != nullptr; }, 5s,
                        &seen);
    REQUIRE(e);
    CHECK(e->error()->code == mqtt::ConnectionErrorCode::DisconnectedByBroker);
    CHECK(e->error()->reason_code == mqtt::ReasonCode::ServerMoved);
    CHECK(e->error()->server_reference == target);
    auto ack = next_until(conn, [](const mqtt::Event& ev) { return connack_of(ev) != nullptr; },
                          5s, &seen);
    INFO(seen);
    REQUIRE(ack);
    CHECK(ack->incoming()->broker() == target);
    REQUIRE(c.disconnect(2s).ok());
  }
  {
    ScriptedBroker sb;
    auto o = v5_options("redirect-off", sb.port());  // follow_server_redirects = false
    auto [c, conn] = mqtt::Client::create(o, 16);
    auto peer = sb.accept(5s);
    REQUIRE(peer);
    REQUIRE(peer->expect_connect(5s));
    ConnAckProps props;
    props.server_reference = target;
    REQUIRE(peer->send(connack_v5(false, 0x9C, props)));
    std::string seen;
    auto e = next_until(conn, [](const mqtt::Event& ev) { return ev.error() != nullptr; }, 5s,
                        &seen);
    REQUIRE(e);
    CHECK(e->error()->server_reference == target);
    CHECK_THAT(describe(*e), Catch::Contains("[server reference " + target + "]"));
    // The next attempt (once the consumer polls again) comes back here, not
    // to the referenced server.
    (void)conn.next_for(300ms);
    auto again = sb.accept(5s);
    REQUIRE(again);
    CHECK(again->expect_connect(5s));
  }
}
