// The broker rotation (mqtt/runtime/broker_list.h): list order, failover
// within a round, the backoff between rounds, restarting from the broker that
// worked, list changes, and insertion for MQTT 5 server redirection.
#include <catch2/catch.hpp>

#include "mqtt/runtime/broker_list.h"

using mqtt::BrokerAddress;
using mqtt::runtime::BrokerRotation;

namespace {

const BrokerAddress A{"a", 1883}, B{"b", 1884}, C{"c", 1885};

std::string name(const BrokerAddress& b) { return mqtt::to_string(b); }

}  // namespace

TEST_CASE("brokers: the options' list, or their single host:port / unix_path") {
  mqtt::MqttOptions o("id", "single.example", 1999);
  CHECK(mqtt::runtime::brokers_of(o) == std::vector<BrokerAddress>{{"single.example", 1999, ""}});
  o.unix_path = "/run/m.sock";
  CHECK(name(mqtt::runtime::brokers_of(o).at(0)) == "unix:/run/m.sock");
  o.brokers = {A, B};
  CHECK(mqtt::runtime::brokers_of(o) == std::vector<BrokerAddress>{A, B});
}

TEST_CASE("brokers: names in events") {
  CHECK(name({"broker.example", 1883}) == "broker.example:1883");
  CHECK(name({"::1", 8883}) == "[::1]:8883");
  CHECK(name({"", 0, "@abstract"}) == "unix:@abstract");
}

TEST_CASE("brokers: failed attempts go round the list; the backoff waits between rounds") {
  BrokerRotation r({A, B, C});
  std::string order;
  std::string waits;  // '.' = at once, 'W' = backoff wait, before each next attempt
  for (int i = 0; i < 7; ++i) {
    order += r.begin_attempt().host;
    r.attempt_failed();
    waits += r.continue_round() ? '.' : 'W';
  }
  CHECK(order == "abcabca");
  CHECK(waits == "..W..W.");
}

TEST_CASE("brokers: after a drop the next round starts with the broker that worked") {
  BrokerRotation r({A, B, C});
  CHECK(r.begin_attempt() == A);
  r.attempt_failed();
  CHECK(r.continue_round());
  CHECK(r.begin_attempt() == B);
  r.connected();  // CONNACK from b; later the connection drops
  CHECK_FALSE(r.continue_round());  // the backoff applies after a drop
  CHECK(r.begin_attempt() == B);
  r.attempt_failed();
  CHECK(r.continue_round());
  CHECK(r.begin_attempt() == C);
  r.attempt_failed();
  CHECK(r.continue_round());
  CHECK(r.begin_attempt() == A);  // wraps around
  r.attempt_failed();
  CHECK_FALSE(r.continue_round());  // b, c, a all failed: a whole round
  CHECK(r.current() == A);
}

TEST_CASE("brokers: one broker is a round of one (the backoff after every failure)") {
  BrokerRotation r({A});
  for (int i = 0; i < 3; ++i) {
    CHECK(r.begin_attempt() == A);
    r.attempt_failed();
    CHECK_FALSE(r.continue_round());
  }
}

TEST_CASE("brokers: update_options keeps the position for the same list, restarts for a new one") {
  BrokerRotation r({A, B});
  r.begin_attempt();
  r.attempt_failed();
  r.configure({A, B});  // unchanged (e.g. only credentials changed)
  CHECK(r.begin_attempt() == B);
  r.connected();
  r.configure({C, A});
  CHECK_FALSE(r.continue_round());
  CHECK(r.begin_attempt() == C);
  r.configure({});  // ignored (validate() refuses it anyway)
  CHECK(r.begin_attempt() == C);
}

TEST_CASE("brokers: insert_front (MQTT 5 redirection) sends the next attempt there") {
  BrokerRotation r({A, B});
  CHECK(r.begin_attempt() == A);
  r.connected();
  // Redirected while connected to a: before or after the failure is counted,
  // the next attempt goes to c.
  r.insert_front(C);
  r.attempt_failed();
  CHECK_FALSE(r.continue_round());  // a redirection starts a new round
  CHECK(r.begin_attempt() == C);
  CHECK(r.list() == std::vector<BrokerAddress>{C, A, B});
  r.attempt_failed();
  CHECK(r.continue_round());
  CHECK(r.begin_attempt() == A);
  // An entry already in the list moves to the front instead of doubling.
  r.attempt_failed();
  r.insert_front(B);
  CHECK(r.begin_attempt() == B);
  CHECK(r.list() == std::vector<BrokerAddress>{B, C, A});
  // It stays while the options' list stays the same, and goes when they
  // change it.
  r.configure({A, B});
  CHECK(r.list() == std::vector<BrokerAddress>{B, C, A});
  r.configure({B, A});
  CHECK(r.begin_attempt() == B);
  CHECK(r.list() == std::vector<BrokerAddress>{B, A});
}

TEST_CASE("parse_server_reference: host[:port], IPv6 in brackets, the first of a list",
          "[broker_list][redirect]") {
  using mqtt::runtime::parse_server_reference;
  auto a = parse_server_reference("broker2.example:1884", 1883);
  REQUIRE(a);
  CHECK(a->host == "broker2.example");
  CHECK(a->port == 1884);
  auto b = parse_server_reference("broker3.example", 8883);  // the current port
  REQUIRE(b);
  CHECK(b->port == 8883);
  auto c = parse_server_reference("[::1]:2000 other:1", 1883);  // the first one
  REQUIRE(c);
  CHECK(c->host == "::1");
  CHECK(c->port == 2000);
  auto d = parse_server_reference("  10.0.0.7  ", 1883);
  REQUIRE(d);
  CHECK(d->host == "10.0.0.7");
  for (const char* bad : {"", "   ", "h:", "h:0", "h:65536", "h:x", "::1", "[::1", "[]:1",
                          "[::1]x", "mqtt://h/x"}) {
    INFO(bad);
    CHECK_FALSE(parse_server_reference(bad, 1883));
  }
}
