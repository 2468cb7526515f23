// Checks WireRelay (support/wire_relay.h) against a real mosquitto and our
// client: the ledger records PUBLISH and acks with their packet ids and
// sequence numbers, and delay, rate, pause, cut and reset do what they say.
// No privileges needed.
#include <catch2/catch.hpp>
#include <cerrno>
#include <string>

#include "mqtt/client.h"
#include "tests/integration/support/broker.h"
#include "tests/integration/support/events.h"
#include "tests/integration/support/wire_relay.h"

using namespace itest;
using mqtt::QoS;
using mqtt::codec::PacketType;

namespace {

// A client through the relay, connected, with keep alive 1 s.
struct Through {
  Broker broker;
  WireRelay relay{broker.port()};
  std::pair<mqtt::Client, mqtt::Connection> c;

  Through() : c(mqtt::Client::create(options(relay.port()), 64)) {
    REQUIRE(wait_connack(c.second, 5s));
  }
  static mqtt::MqttOptions options(uint16_t port) {
    auto o = client_options("relay", port);
    o.keep_alive = std::chrono::seconds(1);
    o.ping_timeout = std::chrono::milliseconds(500);
    return o;
  }
  // Publishes at `qos` and waits for its completion; the round trip in ms.
  double round_trip(QoS qos, const std::string& payload) {
    const auto t0 = Clock::now();
    auto tok = c.first.publish_tracked("relay/t", qos, false, payload);
    REQUIRE(tok.ok());
    std::optional<mqtt::Completion> done;
    for (int i = 0; i < 200 && !done; ++i) {
      c.second.next_for(10ms);  // keeps the loop going
      done = tok->wait_for(10ms);
    }
    REQUIRE(done);
    REQUIRE(done->ok());
    return ms_since(t0);
  }
  std::optional<mqtt::ConnectionError> next_error(std::chrono::milliseconds timeout) {
    auto e = next_until(c.second, [](const mqtt::Event& ev) { return ev.error() != nullptr; },
                        timeout);
    if (!e) return std::nullopt;
    return *e->error();
  }
};

}  // namespace

TEST_CASE("wire relay: the ledger records PUBLISH and its acks per packet id",
          "[integration][wire_relay]") {
  Watchdog watchdog("wire relay ledger", 60s);
  Through t;
  t.round_trip(QoS::AtLeastOnce, "41 a");
  t.round_trip(QoS::ExactlyOnce, "42 b");
  const auto ledger = t.relay.ledger();
  std::string text;
  for (const auto& r : ledger) text += to_string(r) + "\n";
  INFO(text);
  REQUIRE(ledger.size() == 6);
  CHECK(ledger[0].type == PacketType::Publish);
  CHECK(ledger[0].dir == WireRecord::Dir::ClientToBroker);
  CHECK(ledger[0].qos == 1);
  CHECK(ledger[0].seq == 41);
  CHECK(ledger[0].topic == "relay/t");
  CHECK(ledger[0].connection == 1);
  CHECK(ledger[1].type == PacketType::PubAck);
  CHECK(ledger[1].dir == WireRecord::Dir::BrokerToClient);
  CHECK(ledger[1].packet_id == ledger[0].packet_id);
  CHECK(ledger[2].seq == 42);
  CHECK(ledger[2].qos == 2);
  CHECK(ledger[3].type == PacketType::PubRec);
  CHECK(ledger[4].type == PacketType::PubRel);
  CHECK(ledger[4].dir == WireRecord::Dir::ClientToBroker);
  CHECK(ledger[5].type == PacketType::PubComp);
  for (size_t i = 3; i < 6; ++i) CHECK(ledger[i].packet_id == ledger[2].packet_id);
}

TEST_CASE("wire relay: delay and rate slow the link down", "[integration][wire_relay]") {
  Watchdog watchdog("wire relay delay and rate", 60s);
  Through t;
  CHECK(t.round_trip(QoS::AtLeastOnce, "1") < 100);
  t.relay.set_delay(150ms);
  CHECK(t.round_trip(QoS::AtLeastOnce, "2") >= 290);  // both ways
  t.relay.set_delay(0ms);
  t.relay.set_rate(20'000);
  const double ms = t.round_trip(QoS::AtLeastOnce, "3 " + std::string(10'000, 'x'));
  CHECK(ms >= 350);  // 10 kB at 20 kB/s, less one burst of 1.5 kB
  t.relay.set_rate(0);
  CHECK(t.round_trip(QoS::AtLeastOnce, "4 " + std::string(10'000, 'x')) < 200);
}

TEST_CASE("wire relay: pause is a black hole the keep alive detects; cut and reset end the "
          "connection with FIN and RST",
          "[integration][wire_relay]") {
  Watchdog watchdog("wire relay pause, cut, reset", 60s);
  Through t;
  t.relay.pause();
  const auto t0 = Clock::now();
  auto e = t.next_error(5s);
  REQUIRE(e);
  CHECK(e->code == mqtt::ConnectionErrorCode::PingTimeout);
  CHECK(ms_since(t0) < 2500);
  t.relay.resume();
  REQUIRE(wait_connack(t.c.second, 5s));

  REQUIRE(eventually([&] { return t.relay.open_connections() >= 1; }, 2s));
  CHECK(t.relay.cut() >= 1);
  e = t.next_error(3s);
  REQUIRE(e);
  CHECK(e->code == mqtt::ConnectionErrorCode::ClosedByBroker);
  REQUIRE(wait_connack(t.c.second, 5s));

  REQUIRE(eventually([&] { return t.relay.open_connections() >= 1; }, 2s));
  CHECK(t.relay.reset() >= 1);
  e = t.next_error(3s);
  REQUIRE(e);
  CHECK(e->code == mqtt::ConnectionErrorCode::Io);
  CHECK(e->sys_errno == ECONNRESET);
  REQUIRE(wait_connack(t.c.second, 5s));
  CHECK(t.relay.accepted() >= 4);
}
