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
  o.websocket->origin = "https://dashboard.example";
  o.clean_session = true;
  auto [c, conn] = mqtt::Client::create(o, 64);
  Received got;
  Pump pump(conn, got.handler());
  REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.connacks >= 1; }, 10s));
  CHECK(peer.log_count("authorization=Bearer one") == 1);
  CHECK(peer.log_count("origin=https://dashboard.example") == 1);
  CHECK(peer.log_count("sec-websocket-protocol=mqtt") == 1);
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
  WsPeer peer(WsPeerOptions::bridge_to(broker.port()));
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
  WsPeer peer(WsPeerOptions::bridge_to(broker.port(), certs));
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
  {
    // The loudly named opt-out: the same untrusted certificate is accepted.
    auto o = ws_options("wss-unverified", peer.url(), mqtt::ProtocolVersion::V5);
    o.tls->ca_file = certs + "/other.crt";
    o.tls->verify_peer = false;
    auto [c, conn] = mqtt::Client::create(o, 8);
    std::string seen;
    const bool acked = wait_connack(conn, 10s, &seen).has_value();
    INFO(seen);
    REQUIRE(acked);
    REQUIRE(c.disconnect(2s).ok());
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

TEST_CASE("wss: client certificate, ALPN, SNI (none for an IP, an override), TLS session "
          "resumption on reconnect; no client certificate is a clear Tls error",
          "[integration][transport][ws][tls]") {
  Watchdog watchdog("wss options", 90s);
  const std::string certs = make_test_certs();
  Broker broker;
  WsPeerOptions po = WsPeerOptions::bridge_to(broker.port(), certs);
  po.client_ca_file = certs + "/ca.crt";
  po.alpn = "mqtt,http/1.1";
  WsPeer peer(po);
  auto base = ws_options("wss-opts", peer.url("127.0.0.1"), mqtt::ProtocolVersion::V5);
  base.tls->ca_file = certs + "/ca.crt";
  {
    auto o = base;
    o.tls->cert_file = certs + "/client.crt";
    o.tls->key_file = certs + "/client.key";
    o.tls->alpn = {"mqtt"};
    auto [c, conn] = mqtt::Client::create(o, 64);
    Received got;
    Pump pump(conn, got.handler());
    REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.connacks >= 1; }, 10s));
    round_trip(c, pump, got, "wsso/a", "hello");
    // An IP literal: no SNI (RFC 6066); our certificate; ALPN "mqtt".
    CHECK(peer.log_count("tls servername=- alpn=mqtt resumed=false client=test-client") == 1);
    // A reconnect (the bridge drops us when mosquitto restarts) resumes the
    // TLS session.
    broker.restart();
    REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.connacks >= 2; }, 20s));
    INFO(peer.log());
    CHECK(peer.log_count("alpn=mqtt resumed=true") == 1);
    REQUIRE(c.disconnect(2s).ok());
    REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.ended; }, 10s));
  }
  {
    // SNI override; the certificate is still checked against 127.0.0.1.
    auto o = base;
    o.tls->cert_file = certs + "/client.crt";
    o.tls->key_file = certs + "/client.key";
    o.tls->sni = "localhost";
    o.tls->session_resumption = false;
    auto [c, conn] = mqtt::Client::create(o, 64);
    std::string seen;
    REQUIRE(wait_connack(conn, 10s, &seen));
    INFO(peer.log());
    CHECK(peer.log_count("tls servername=localhost alpn=http/1.1 resumed=false") == 1);
    REQUIRE(c.disconnect(2s).ok());
  }
  {
    auto o = base;  // no client certificate
    auto [c, conn] = mqtt::Client::create(o, 8);
    auto e = conn.next_for(10s);
    REQUIRE(e);
    REQUIRE(e->error());
    INFO(e->error()->message);
    CHECK(e->error()->code == mqtt::ConnectionErrorCode::Tls);
    CHECK_THAT(e->error()->message, Catch::Contains("certificate"));
  }
}

TEST_CASE("ws: a host name resolved off the reactor (every address tried) and tiny WebSocket "
          "messages: packets span many messages",
          "[integration][transport][ws]") {
  Watchdog watchdog("ws tiny messages", 60s);
  WsPeer peer;  // listens on 127.0.0.1 only: "localhost" may resolve to ::1 first
  auto o = ws_options("ws-tiny", peer.url("localhost"));
  o.websocket->max_message = 100;
  auto [c, conn] = mqtt::Client::create(o, 64);
  Received got;
  Pump pump(conn, got.handler());
  REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.connacks >= 1; }, 10s));
  std::string payload(20000, 'a');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  round_trip(c, pump, got, "ws/tiny", payload);
  REQUIRE(c.disconnect(2s).ok());
  REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.ended; }, 10s));
}

TEST_CASE("ws: a server that selects no subprotocol is accepted (RFC 6455 4.1)",
          "[integration][transport][ws]") {
  // Only a subprotocol we did not offer fails a handshake; none is allowed,
  // and some WebSocket fronts of MQTT brokers answer so.
  WsPeerOptions po;
  po.subprotocol = "";  // never selects one
  WsPeer peer(po);
  auto o = ws_options("ws-no-subprotocol", peer.url());
  auto [c, conn] = mqtt::Client::create(o, 8);
  std::string seen;
  REQUIRE(wait_connack(conn, 10s, &seen));
  CHECK(peer.log_count("open /mqtt protocol=-") == 1);
  REQUIRE(c.disconnect(2s).ok());
}

TEST_CASE("ws: a text frame from the server closes the connection [MQTT-6.0.0-1]",
          "[integration][transport][ws]") {
  WsPeerOptions po;
  po.mode = WsPeer::Mode::text;
  WsPeer peer(po);
  auto o = ws_options("ws-text", peer.url());
  auto [c, conn] = mqtt::Client::create(o, 8);
  std::string seen;
  auto e = next_until(conn, [](const mqtt::Event& ev) { return ev.error() != nullptr; }, 10s, &seen);
  INFO(seen);
  REQUIRE(e);
  CHECK(e->error()->code == mqtt::ConnectionErrorCode::WebSocket);
  CHECK_THAT(e->error()->message, Catch::Contains("text frame"));
}
