// MQTT 5 subscription features end to end against mosquitto 2.0.11 (issue
// "MQTT 5 complete", section 5): shared subscriptions, No Local, Retain As
// Published, Retain Handling, and Subscription Identifiers surfaced on
// incoming messages so a consumer can route by them.
#include <catch2/catch.hpp>
#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "mqtt/client.h"
#include "tests/integration/support/broker.h"
#include "tests/integration/support/events.h"

using namespace itest;
using mqtt::QoS;

namespace {

struct Seen {
  std::string topic, payload;
  bool retain = false;
  std::vector<uint32_t> subscription_ids;
};

// A v5 client whose incoming publishes are recorded by the pump thread.
struct Subscriber {
  explicit Subscriber(const std::string& id, uint16_t port)
      : pair(mqtt::Client::create(client_options(id, port, mqtt::ProtocolVersion::V5), 256)),
        pump(pair.second, [this](const mqtt::Event& e) {
          if (const auto* p = e.publish()) {
            std::lock_guard<std::mutex> lock(mu);
            seen.push_back({topic_of(*p), payload_of(*p), p->retain,
                            p->properties.subscription_identifiers});
          }
        }) {
    REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.connacks >= 1; }, 10s));
  }
  mqtt::Client& client() { return pair.first; }
  void subscribe(mqtt::SubscribeFilter f, const mqtt::Properties& props = {}) {
    const mqtt::SubscribeFilter one[] = {f};
    auto t = client().subscribe_many(one, props);
    REQUIRE(t.ok());
    auto r = t->wait_for(10s);
    REQUIRE(r);
    REQUIRE(r->ok());
  }
  std::vector<Seen> take() {
    std::lock_guard<std::mutex> lock(mu);
    return seen;
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu);
    return seen.size();
  }
  std::pair<mqtt::Client, mqtt::Connection> pair;
  std::mutex mu;
  std::vector<Seen> seen;
  Pump pump;
};

void publish(mqtt::Client& c, const std::string& topic, const std::string& payload,
             bool retain = false) {
  auto t = c.publish_tracked(topic, QoS::AtLeastOnce, retain, payload);
  REQUIRE(t.ok());
  auto r = t->wait_for(10s);
  REQUIRE(r);
  REQUIRE(r->ok());
}

}  // namespace

TEST_CASE("mqtt5: a shared subscription delivers each message to one member of the group",
          "[integration][mqtt5][shared]") {
  Watchdog watchdog("shared subscriptions", 60s);
  Broker broker;
  Subscriber a("share-a", broker.port()), b("share-b", broker.port());
  a.subscribe({"$share/g/jobs/#", QoS::AtLeastOnce});
  b.subscribe({"$share/g/jobs/#", QoS::AtLeastOnce});
  Subscriber pub("share-pub", broker.port());
  constexpr int kMessages = 40;
  for (int i = 0; i < kMessages; ++i) publish(pub.client(), "jobs/" + std::to_string(i), "x");
  REQUIRE(a.pump.wait_for([&] { return a.count() + b.count() >= kMessages; }, 10s));
  std::map<std::string, int> times;
  for (auto* s : {&a, &b})
    for (const auto& m : s->take()) ++times[m.topic];
  CHECK(times.size() == kMessages);
  for (const auto& [topic, n] : times) {
    INFO(topic);
    CHECK(n == 1);  // exactly one member got it
  }
  CHECK(a.count() > 0);  // mosquitto spreads them over the group
  CHECK(b.count() > 0);
}

TEST_CASE("mqtt5: No Local keeps our own messages from coming back; others' still arrive",
          "[integration][mqtt5][no-local]") {
  Watchdog watchdog("no local", 60s);
  Broker broker;
  Subscriber me("nolocal-me", broker.port()), other("nolocal-other", broker.port());
  mqtt::SubscribeFilter f{"nl/t", QoS::AtLeastOnce};
  f.no_local = true;
  me.subscribe(f);
  publish(me.client(), "nl/t", "mine");
  publish(other.client(), "nl/t", "theirs");
  REQUIRE(me.pump.wait_for([&] { return me.count() >= 1; }, 10s));
  me.pump.wait_for([] { return false; }, 300ms);  // would "mine" still come?
  const auto got = me.take();
  REQUIRE(got.size() == 1);
  CHECK(got[0].payload == "theirs");
}

TEST_CASE("mqtt5: Retain As Published and Retain Handling 0, 1 and 2",
          "[integration][mqtt5][retain]") {
  Watchdog watchdog("retain options", 60s);
  Broker broker;
  Subscriber pub("rap-pub", broker.port());
  publish(pub.client(), "ret/t", "kept", /*retain=*/true);

  // Retain Handling 0: the retained message at every subscribe.
  Subscriber s0("rh0", broker.port());
  s0.subscribe({"ret/t", QoS::AtLeastOnce});
  REQUIRE(s0.pump.wait_for([&] { return s0.count() >= 1; }, 10s));
  s0.subscribe({"ret/t", QoS::AtLeastOnce});  // again: sent again
  REQUIRE(s0.pump.wait_for([&] { return s0.count() >= 2; }, 10s));
  CHECK(s0.take()[0].retain);

  // Retain Handling 1: only when the subscription is new.
  Subscriber s1("rh1", broker.port());
  mqtt::SubscribeFilter f1{"ret/t", QoS::AtLeastOnce};
  f1.retain_handling = mqtt::RetainHandling::SendAtSubscribeIfNew;
  s1.subscribe(f1);
  REQUIRE(s1.pump.wait_for([&] { return s1.count() >= 1; }, 10s));
  s1.subscribe(f1);
  s1.pump.wait_for([] { return false; }, 300ms);
  CHECK(s1.count() == 1);

  // Retain Handling 2: never; Retain As Published keeps the flag on live
  // messages (without it the broker clears it).
  Subscriber s2("rh2", broker.port());
  mqtt::SubscribeFilter f2{"ret/t", QoS::AtLeastOnce};
  f2.retain_handling = mqtt::RetainHandling::DoNotSend;
  f2.retain_as_published = true;
  s2.subscribe(f2);
  Subscriber plain("rap-off", broker.port());
  mqtt::SubscribeFilter fp{"ret/t", QoS::AtLeastOnce};
  fp.retain_handling = mqtt::RetainHandling::DoNotSend;
  plain.subscribe(fp);
  s2.pump.wait_for([] { return false; }, 300ms);
  CHECK(s2.count() == 0);
  publish(pub.client(), "ret/t", "live", /*retain=*/true);
  REQUIRE(s2.pump.wait_for([&] { return s2.count() >= 1 && plain.count() >= 1; }, 10s));
  CHECK(s2.take()[0].payload == "live");
  CHECK(s2.take()[0].retain);         // as published
  CHECK_FALSE(plain.take()[0].retain);  // [MQTT-3.3.1-13]: cleared without RAP
}

TEST_CASE("mqtt5: Subscription Identifiers come back on the messages they matched",
          "[integration][mqtt5][subscription-id]") {
  Watchdog watchdog("subscription identifiers", 60s);
  Broker broker;
  Subscriber s("subid", broker.port());
  mqtt::Properties p7;
  p7.subscription_identifiers = {7};
  s.subscribe({"sid/#", QoS::AtLeastOnce}, p7);
  mqtt::Properties p9;
  p9.subscription_identifiers = {9};
  s.subscribe({"sid/b", QoS::AtLeastOnce}, p9);
  Subscriber pub("subid-pub", broker.port());
  publish(pub.client(), "sid/a", "a");
  publish(pub.client(), "sid/b", "b");
  // sid/a matches only 7; sid/b matches both (one message carrying 7 and 9,
  // or one message per subscription: both are allowed, [MQTT-3.3.4-3..5]).
  REQUIRE(s.pump.wait_for([&] { return s.count() >= 2; }, 10s));
  s.pump.wait_for([] { return false; }, 300ms);
  std::map<std::string, std::vector<uint32_t>> ids;
  for (const auto& m : s.take())
    ids[m.payload].insert(ids[m.payload].end(), m.subscription_ids.begin(),
                          m.subscription_ids.end());
  CHECK(ids["a"] == std::vector<uint32_t>{7});
  std::sort(ids["b"].begin(), ids["b"].end());
  CHECK(ids["b"] == std::vector<uint32_t>{7, 9});
}
