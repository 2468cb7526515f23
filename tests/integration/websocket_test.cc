// MQTT over WebSocket (issue "Transports", section 2) against real peers the
// test starts itself: aedes behind the npm `ws` server (MQTT 3.1.1), and a
// WebSocket-to-TCP bridge in front of mosquitto (MQTT 5); ws and wss.
#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <string>

#include "mqtt/client.h"
#include "mqtt/url.h"
#include "tests/integration/support/broker.h"
#include "tests/integration/support/certs.h"
#include "tests/integration/support/events.h"
#include "tests/integration/support/ws_peer.h"

using namespace itest;
using mqtt::QoS;

namespace {

mqtt::MqttOptions ws_options(const std::string& id, const std::string& url,
                             mqtt::ProtocolVersion v = mqtt::ProtocolVersion::V311) {
  auto o = client_options(id, 1, v);
  auto r = mqtt::apply_url(o, url);
  REQUIRE(r.ok());
  REQUIRE(o.websocket);
  return o;
}

// The payloads the pump thread saw, by topic.
struct Received {
  std::mutex mu;
  std::map<std::string, std::string> last;
  Pump::Handler handler() {
    return [this](const mqtt::Event& e) {
      if (const auto* p = e.publish()) {
        std::lock_guard<std::mutex> lock(mu);
        last[std::string(p->topic)] = payload_of(*p);
      }
    };
  }
  std::string get(const std::string& topic) {
    std::lock_guard<std::mutex> lock(mu);
    return last[topic];
  }
};

// Subscribes, then publishes `payload` at QoS 1 and waits for it to come
// back: one message each way through the WebSocket.
void round_trip(mqtt::Client& c, Pump& pump, Received& got, const std::string& topic,
                const std::string& payload) {
  const size_t before = pump.stats().publishes;
  auto sub = c.subscribe(topic, QoS::AtLeastOnce);
  REQUIRE(sub.ok());
  REQUIRE(sub->wait_for(10s));
  auto t = c.publish_tracked(topic, QoS::AtLeastOnce, false, payload);
  REQUIRE(t.ok());
  auto r = t->wait_for(20s);
  REQUIRE(r);
  CHECK(r->ok());
  REQUIRE(pump.wait_until([&](const Pump::Stats& s) { return s.publishes > before; }, 20s));
  CHECK(got.get(topic) == payload);
}

}  // namespace

TEST_CASE("ws: MQTT 3.1.1 to aedes: 1 MiB both ways, headers from update_options, restart",
          "[integration][transport][ws]") {
  Watchdog watchdog("ws to aedes", 90s);
  WsPeer peer;  // aedes on /mqtt
  auto o = ws_options("ws-aedes", peer.url());
  o.max_incoming_packet_size = 2u << 20;
  o.websocket->headers = {{"Authorization", "Bearer one"}};
  o.clean_session = true;
  auto [c, conn] = mqtt::Client::create(o, 64);
  Received got;
  Pump pump(conn, got.handler());
  REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.connacks >= 1; }, 10s));
  CHECK(peer.log_count("authorization=Bearer one") == 1);
  round_trip(c, pump, got, "ws/big", std::string(1u << 20, 'w'));
  round_trip(c, pump, got, "ws/small", "x");

  // New headers apply at the next connection: restart the peer.
  auto o2 = o;
  o2.websocket->headers = {{"Authorization", "Bearer two"}};
  REQUIRE(c.update_options(o2).ok());
  peer.restart();
  REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.connacks >= 2; }, 20s));
  CHECK(peer.log_count("authorization=Bearer two") == 1);
  round_trip(c, pump, got, "ws/after", "after restart");
  REQUIRE(c.disconnect(2s).ok());
  REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.ended; }, 10s));
}

TEST_CASE("ws: MQTT 5 through a WebSocket bridge to mosquitto, and a broker restart",
          "[integration][transport][ws]") {
  Watchdog watchdog("ws bridge", 90s);
  Broker broker;
  WsPeerOptions po;
  po.mode = WsPeer::Mode::bridge;
  po.target_port = broker.port();
  WsPeer peer(po);
  auto o = ws_options("ws-bridge", peer.url(), mqtt::ProtocolVersion::V5);
  o.max_incoming_packet_size = 2u << 20;
  auto [c, conn] = mqtt::Client::create(o, 64);
  Received got;
  Pump pump(conn, got.handler());
  REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.connacks >= 1; }, 10s));
  round_trip(c, pump, got, "wsb/big", std::string(1u << 20, 'b'));
  broker.restart();  // the bridge closes the WebSocket when mosquitto goes
  REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.connacks >= 2; }, 20s));
  round_trip(c, pump, got, "wsb/after", "after restart");
  REQUIRE(c.disconnect(2s).ok());
  REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.ended; }, 10s));
}

TEST_CASE("wss: MQTT 5 over TLS through the bridge, verified by CA; an untrusted CA fails",
          "[integration][transport][ws][tls]") {
  Watchdog watchdog("wss bridge", 90s);
  const std::string certs = make_test_certs();
  Broker broker;
  WsPeerOptions po;
  po.mode = WsPeer::Mode::bridge;
  po.target_port = broker.port();
  po.cert_file = certs + "/server.crt";
  po.key_file = certs + "/server.key";
  WsPeer peer(po);
  {
    // By name (SNI localhost, host name verified) and by IP literal.
    for (const std::string host : {"localhost", "127.0.0.1"}) {
      auto o = ws_options("wss-" + host, peer.url(host), mqtt::ProtocolVersion::V5);
      REQUIRE(o.tls);
      o.tls->ca_file = certs + "/ca.crt";
      o.max_incoming_packet_size = 2u << 20;
      auto [c, conn] = mqtt::Client::create(o, 64);
      Received got;
  Pump pump(conn, got.handler());
      REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.connacks >= 1; }, 10s));
      round_trip(c, pump, got, "wss/big", std::string(1u << 20, 's'));
      REQUIRE(c.disconnect(2s).ok());
      REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.ended; }, 10s));
    }
  }
  {
    auto o = ws_options("wss-untrusted", peer.url(), mqtt::ProtocolVersion::V5);
    o.tls->ca_file = certs + "/other.crt";
    auto [c, conn] = mqtt::Client::create(o, 8);
    auto e = conn.next_for(10s);
    REQUIRE(e);
    REQUIRE(e->error());
    CHECK(e->error()->code == mqtt::ConnectionErrorCode::Tls);
    CHECK_THAT(e->error()->message, Catch::Contains("not trusted"));
  }
}

TEST_CASE("ws: a refused upgrade (wrong path) is an error naming the HTTP status",
          "[integration][transport][ws]") {
  WsPeer peer;  // upgrades /mqtt only
  auto o = ws_options("ws-wrong-path",
                      "ws://127.0.0.1:" + std::to_string(peer.port()) + "/elsewhere");
  auto [c, conn] = mqtt::Client::create(o, 8);
  auto e = conn.next_for(10s);
  REQUIRE(e);
  REQUIRE(e->error());
  CHECK(e->error()->code == mqtt::ConnectionErrorCode::WebSocket);
  CHECK_THAT(e->error()->message, Catch::Contains("HTTP 400"));
  CHECK_THAT(e->error()->message, Catch::Contains("/elsewhere"));
  CHECK_FALSE(e->error()->terminal);
}
