// MQTT 5 message and session properties end to end against mosquitto 2.0.11
// (issue "MQTT 5 complete", section 6): Message Expiry on outgoing messages
// and its remaining value on incoming ones, Session Expiry Interval changed
// at DISCONNECT, Will Delay Interval, and the request/response properties.
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <utility>

#include "mqtt/client.h"
#include "mqtt/request_response.h"
#include "tests/integration/support/broker.h"
#include "tests/integration/support/events.h"
#include "tests/integration/support/scripted_broker.h"
#include "mqtt/codec/decoder.h"

using namespace itest;
using mqtt::QoS;

namespace {

std::optional<mqtt::Event> next_publish(mqtt::Connection& c, std::chrono::milliseconds timeout,
                                        std::string* seen) {
  return next_until(c, [](const mqtt::Event& e) { return e.publish() != nullptr; }, timeout, seen);
}

void subscribe(mqtt::Client& c, const std::string& filter) {
  auto t = c.subscribe(filter, QoS::AtLeastOnce);
  REQUIRE(t.ok());
  REQUIRE(t->wait_for(10s));
}

}  // namespace

TEST_CASE("mqtt5: Message Expiry: the remaining interval arrives; an expired message does not",
          "[integration][mqtt5][expiry]") {
  Watchdog watchdog("message expiry", 60s);
  Broker broker;
  auto po = client_options("exp-pub", broker.port(), mqtt::ProtocolVersion::V5);
  auto [pub, pub_conn] = mqtt::Client::create(po, 16);
  REQUIRE(wait_connack(pub_conn, 10s));
  mqtt::Properties long_lived;
  long_lived.message_expiry_interval = 60;
  mqtt::Properties short_lived;
  short_lived.message_expiry_interval = 1;
  for (auto [topic, props] : {std::pair{"exp/long", &long_lived}, std::pair{"exp/short", &short_lived}}) {
    auto t = pub.publish_tracked(topic, QoS::AtLeastOnce, /*retain=*/true, "kept", *props);
    REQUIRE(t.ok());
    auto r = t->wait_for(10s);
    REQUIRE(r);
    REQUIRE(r->ok());
  }
  std::this_thread::sleep_for(2100ms);  // exp/short has expired at the broker

  auto so = client_options("exp-sub", broker.port(), mqtt::ProtocolVersion::V5);
  auto [sub, conn] = mqtt::Client::create(so, 16);
  REQUIRE(wait_connack(conn, 10s));
  subscribe(sub, "exp/#");
  std::string seen;
  auto got = next_publish(conn, 5s, &seen);
  REQUIRE(got);
  const auto& p = *got->publish();
  CHECK(topic_of(p) == "exp/long");
  REQUIRE(p.properties.message_expiry_interval);
  CHECK(*p.properties.message_expiry_interval <= 58);  // what is left of 60 s
  CHECK(*p.properties.message_expiry_interval >= 50);
  CHECK_FALSE(next_publish(conn, 500ms, &seen));  // exp/short is gone
  INFO(seen);
}

TEST_CASE("mqtt5: Session Expiry Interval set to 0 at DISCONNECT ends the session; kept "
          "otherwise",
          "[integration][mqtt5][session-expiry]") {
  Watchdog watchdog("session expiry at disconnect", 60s);
  Broker broker;
  for (bool end_session : {false, true}) {
    INFO("end_session " << end_session);
    auto o = client_options(end_session ? "sx-end" : "sx-keep", broker.port(),
                            mqtt::ProtocolVersion::V5);
    o.clean_session = true;
    o.session_expiry_interval_s = 300;
    {
      auto [c, conn] = mqtt::Client::create(o, 16);
      REQUIRE(wait_connack(conn, 10s));
      mqtt::codec::Disconnect d;
      if (end_session) d.properties.session_expiry_interval = 0;
      REQUIRE(c.disconnect(2s, d).ok());
      std::optional<mqtt::ConnectionError> end;
      REQUIRE(wait_end(conn, 10s, &end));
    }
    o.clean_session = false;
    auto [c, conn] = mqtt::Client::create(o, 16);
    auto ack = wait_connack(conn, 10s);
    REQUIRE(ack);
    CHECK(ack->session_present == !end_session);
    REQUIRE(c.disconnect(2s).ok());
  }
}

TEST_CASE("mqtt5: Will Delay Interval: the Will is published after the delay",
          "[integration][mqtt5][will-delay]") {
  Watchdog watchdog("will delay", 60s);
  Broker broker;
  auto wo = client_options("will-watch", broker.port(), mqtt::ProtocolVersion::V5);
  auto [watch, watch_conn] = mqtt::Client::create(wo, 16);
  REQUIRE(wait_connack(watch_conn, 10s));
  subscribe(watch, "wd/will");

  auto o = client_options("will-delay", broker.port(), mqtt::ProtocolVersion::V5);
  o.session_expiry_interval_s = 30;  // a Will Delay only matters while the session lives
  mqtt::LastWill w;
  w.topic = "wd/will";
  w.payload = "gone";
  w.delay_interval_s = 2;
  o.last_will = w;
  auto [c, conn] = mqtt::Client::create(o, 16);
  REQUIRE(wait_connack(conn, 10s));
  mqtt::codec::Disconnect d;
  d.reason_code = mqtt::ReasonCode::DisconnectWithWillMessage;  // 0x04: publish the Will
  const auto t0 = Clock::now();
  REQUIRE(c.disconnect(2s, d).ok());
  std::string seen;
  auto will = next_publish(watch_conn, 10s, &seen);
  INFO(seen);
  REQUIRE(will);
  CHECK(payload_of(*will->publish()) == "gone");
  CHECK(ms_since(t0) >= 1900);  // not before the 2 s delay
}

TEST_CASE("mqtt5: request/response properties travel end to end",
          "[integration][mqtt5][request-response]") {
  Watchdog watchdog("request response", 60s);
  Broker broker;
  auto so = client_options("rr-server", broker.port(), mqtt::ProtocolVersion::V5);
  auto [server, server_conn] = mqtt::Client::create(so, 16);
  REQUIRE(wait_connack(server_conn, 10s));
  subscribe(server, "rr/requests");
  auto co = client_options("rr-client", broker.port(), mqtt::ProtocolVersion::V5);
  co.request_response_information = true;
  auto [client, conn] = mqtt::Client::create(co, 16);
  REQUIRE(wait_connack(conn, 10s));
  subscribe(client, "rr/replies/1");
  REQUIRE(client.publish("rr/requests", QoS::AtLeastOnce, false, "question",
                         mqtt::request_properties("rr/replies/1", mqtt::codec::as_bytes("c-42")))
              .ok());
  std::string seen;
  auto req = next_publish(server_conn, 10s, &seen);
  REQUIRE(req);
  REQUIRE(mqtt::reply_topic(*req->publish()));
  CHECK(*mqtt::reply_topic(*req->publish()) == "rr/replies/1");
  REQUIRE(server.publish(*mqtt::reply_topic(*req->publish()), QoS::AtLeastOnce, false, "answer",
                         mqtt::reply_properties(*req->publish()))
              .ok());
  auto reply = next_publish(conn, 10s, &seen);
  INFO(seen);
  REQUIRE(reply);
  CHECK(payload_of(*reply->publish()) == "answer");
  CHECK(mqtt::correlation_of(*reply->publish()) == "c-42");
}

TEST_CASE("mqtt5: request_response_information asks for Response Information in CONNECT",
          "[integration][mqtt5][request-response]") {
  ScriptedBroker sb;
  auto o = client_options("rr-info", sb.port(), mqtt::ProtocolVersion::V5);
  o.request_response_information = true;
  auto [c, conn] = mqtt::Client::create(o, 8);
  auto peer = sb.accept(5s);
  REQUIRE(peer);
  auto connect = peer->expect_connect(5s);
  REQUIRE(connect);
  mqtt::codec::Packet packet;
  mqtt::codec::DecodeOptions opts;
  opts.version = mqtt::ProtocolVersion::V5;
  REQUIRE(mqtt::codec::decode(*connect, opts, packet).status == mqtt::codec::DecodeStatus::Ok);
  const auto& cp = std::get<mqtt::codec::Connect>(packet);
  CHECK(cp.properties.request_response_information == std::optional<uint8_t>(1));
}
