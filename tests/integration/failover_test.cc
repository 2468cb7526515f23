// Broker lists (MqttOptions::brokers): failover between two real mosquitto
// brokers, events that name the broker of each attempt, the backoff between
// rounds (not between the brokers of a round), update_options() changing the
// list, and validation (issue "Transports", section 5).
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "mqtt/client.h"
#include "tests/integration/support/broker.h"
#include "tests/integration/support/events.h"

using namespace itest;

namespace {

std::string at(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

// The broker named by an event: the error's, or the CONNACK's.
std::string broker_of(const mqtt::Event& e) {
  if (e.error()) return e.error()->broker;
  if (e.incoming()) return e.incoming()->broker();
  return "";
}

}  // namespace

TEST_CASE("broker list: the first broker is down, the second takes over; back to the first later",
          "[integration][failover]") {
  Watchdog watchdog("broker list failover", 90s);
  Broker a;
  a.stop();  // its port stays reserved for a.start(); nothing listens there now
  Broker b;
  auto o = client_options("failover", 1);  // port 1: never used with a list
  o.brokers = {{"127.0.0.1", a.port()}, {"127.0.0.1", b.port()}};
  o.backoff.initial = 3000ms;  // large: failing over within a round must not wait for it
  o.backoff.max = 3000ms;
  o.backoff.jitter = 0;
  auto t0 = Clock::now();
  auto [client, conn] = mqtt::Client::create(o, 64);

  std::string seen;
  auto first = conn.next_for(5s);
  REQUIRE(first);
  REQUIRE(first->error());
  CHECK(first->error()->broker == at(a.port()));
  CHECK(first->error()->code == mqtt::ConnectionErrorCode::Io);
  CHECK(first->error()->sys_errno == ECONNREFUSED);
  CHECK(itest::describe(*first).find("[broker " + at(a.port()) + "]") != std::string::npos);
  auto ack = next_until(conn, [](const mqtt::Event& e) { return connack_of(e) != nullptr; }, 5s,
                        &seen);
  REQUIRE(ack);
  INFO(seen);
  CHECK(ack->incoming()->broker() == at(b.port()));
  CHECK(itest::describe(*ack).find("from " + at(b.port())) != std::string::npos);
  CHECK(ms_since(t0) < 2000);  // b right after a failed, no backoff wait in between

  // a comes back, b goes away: the next round starts with b (it worked
  // last), which refuses, then a takes over at once.
  a.start();
  b.stop();
  std::vector<std::string> brokers;  // of each event until the CONNACK
  auto back = next_until(
      conn,
      [&](const mqtt::Event& e) {
        brokers.push_back((e.error() ? "error " : "connack ") + broker_of(e));
        return connack_of(e) != nullptr;
      },
      15s, &seen);
  REQUIRE(back);
  CHECK(back->incoming()->broker() == at(a.port()));
  CHECK(brokers == std::vector<std::string>{"error " + at(b.port()), "error " + at(b.port()),
                                            "connack " + at(a.port())});
  CHECK(client.snapshot().reconnects == 1);

  // It works through a: a QoS 1 round trip.
  auto sub = client.subscribe("failover/t", mqtt::QoS::AtLeastOnce);
  REQUIRE(sub.ok());
  REQUIRE(sub->wait_for(5s));
  REQUIRE(client.publish("failover/t", mqtt::QoS::AtLeastOnce, false, "via a").ok());
  auto got =
      next_until(conn, [](const mqtt::Event& e) { return e.publish() != nullptr; }, 5s, &seen);
  REQUIRE(got);
  CHECK(payload_of(*got->publish()) == "via a");
  REQUIRE(client.disconnect(2s).ok());
  std::optional<mqtt::ConnectionError> end;
  REQUIRE(wait_end(conn, 5s, &end));
  CHECK(end->code == mqtt::ConnectionErrorCode::Disconnected);
  CHECK(end->broker == at(a.port()));
}

TEST_CASE("broker list: the backoff waits between rounds, not between the brokers of a round",
          "[integration][failover]") {
  const uint16_t p1 = pick_free_port(), p2 = pick_free_port();  // nothing listens there
  auto o = client_options("rounds", 1);
  o.brokers = {{"127.0.0.1", p1}, {"127.0.0.1", p2}};
  o.backoff.initial = 1000ms;
  o.backoff.max = 1000ms;
  o.backoff.jitter = 0;
  auto [client, conn] = mqtt::Client::create(o, 64);
  std::vector<std::string> names;
  std::vector<Clock::time_point> times;
  for (int i = 0; i < 6; ++i) {
    auto e = conn.next_for(5s);
    REQUIRE(e);
    REQUIRE(e->error());
    names.push_back(e->error()->broker);
    times.push_back(Clock::now());
  }
  CHECK(names == std::vector<std::string>{at(p1), at(p2), at(p1), at(p2), at(p1), at(p2)});
  auto gap = [&](int i) {
    return std::chrono::duration<double, std::milli>(times[i] - times[i - 1]).count();
  };
  for (int i : {1, 3, 5}) CHECK(gap(i) < 500);   // p2 right after p1
  for (int i : {2, 4}) CHECK(gap(i) >= 980);     // the backoff between rounds
}

TEST_CASE("broker list: a Unix socket in the list, named unix:/path", "[integration][failover]") {
  Broker b;
  auto o = client_options("unix-list", 1);
  o.brokers = {{"", 0, "/tmp/mqtt-no-such-dir/none.sock"}, {"127.0.0.1", b.port()}};
  auto [client, conn] = mqtt::Client::create(o, 64);
  auto first = conn.next_for(5s);
  REQUIRE(first);
  REQUIRE(first->error());
  CHECK(first->error()->broker == "unix:/tmp/mqtt-no-such-dir/none.sock");
  CHECK(first->error()->sys_errno == ENOENT);
  auto ack = wait_connack(conn, 5s);
  REQUIRE(ack);
}

TEST_CASE("broker list: update_options() changes the list for the next attempt",
          "[integration][failover]") {
  Broker b;
  const uint16_t dead = pick_free_port();
  auto o = client_options("relist", 1);
  o.brokers = {{"127.0.0.1", dead}};
  o.backoff.initial = 300ms;
  o.backoff.jitter = 0;
  auto [client, conn] = mqtt::Client::create(o, 64);
  auto first = conn.next_for(5s);
  REQUIRE(first);
  REQUIRE(first->error());
  CHECK(first->error()->broker == at(dead));
  auto o2 = o;
  o2.brokers = {{"localhost-does-not-matter", 0}};
  CHECK_FALSE(client.update_options(o2).ok());  // validated: port 0
  o2.brokers = {{"127.0.0.1", b.port()}, {"127.0.0.1", dead}};
  REQUIRE(client.update_options(o2).ok());
  std::string seen;
  auto ack = next_until(conn, [](const mqtt::Event& e) { return connack_of(e) != nullptr; }, 5s,
                        &seen);
  REQUIRE(ack);
  INFO(seen);
  CHECK(ack->incoming()->broker() == at(b.port()));
}

TEST_CASE("broker list and connection_attempt_delay: validate() names the bad entry",
          "[integration][failover]") {
  struct Case {
    std::vector<mqtt::BrokerAddress> brokers;
    const char* says;
  };
  for (const Case& c : {Case{{{"a", 1883}, {"", 1883}}, "brokers[1] needs a host"},
                        Case{{{"a", 0}}, "brokers[0] (a) needs a port"},
                        Case{{{"a", 1883, "/s.sock"}}, "both a host and a unix_path"},
                        Case{{{"", 0, "/" + std::string(200, 'x')}},
                             "brokers[0].unix_path is longer"}}) {
    auto o = client_options("invalid", 1883);
    o.brokers = c.brokers;
    auto r = mqtt::Client::try_create(o, 4);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == mqtt::CreateError::Code::InvalidOptions);
    INFO(r.error().message);
    CHECK(r.error().message.find(c.says) != std::string::npos);
  }
  auto o = client_options("invalid", 1883);
  o.brokers = {{"", 0, "/run/m.sock"}};
  o.proxy = mqtt::ProxyOptions{mqtt::ProxyOptions::Kind::Socks5, "127.0.0.1", 1080};
  auto r = mqtt::Client::try_create(o, 4);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("proxy") != std::string::npos);
  o.proxy.reset();
  o.websocket = mqtt::WebSocketOptions{};
  r = mqtt::Client::try_create(o, 4);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("websocket") != std::string::npos);
  o = client_options("invalid", 1883);
  o.connection_attempt_delay = -1ms;
  r = mqtt::Client::try_create(o, 4);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("connection_attempt_delay") != std::string::npos);
}
