// A consumer that dispatches incoming messages to handlers by topic filter.
// Handlers run on the consumer's own thread: the library never calls user
// code on its I/O thread.
//
//   dispatch_by_filter [host] [port]
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mqtt/client.h"
#include "mqtt/codec/topic.h"

namespace {

using Handler = std::function<void(const mqtt::codec::Publish&)>;

class Dispatcher {
 public:
  void on(std::string filter, Handler h) { routes_.emplace_back(std::move(filter), std::move(h)); }
  // Calls every handler whose filter matches; returns how many did.
  int dispatch(const mqtt::codec::Publish& p) const {
    int n = 0;
    for (const auto& [filter, handler] : routes_) {
      if (mqtt::codec::topic_matches(filter, p.topic)) {
        handler(p);
        ++n;
      }
    }
    return n;
  }
  std::vector<mqtt::SubscribeFilter> filters(mqtt::QoS qos) const {
    std::vector<mqtt::SubscribeFilter> out;
    for (const auto& r : routes_) out.push_back({.filter = r.first, .qos = qos});
    return out;
  }

 private:
  std::vector<std::pair<std::string, Handler>> routes_;
};

}  // namespace

int main(int argc, char** argv) {
  const std::string host = argc > 1 ? argv[1] : "localhost";
  const auto port = static_cast<uint16_t>(argc > 2 ? std::atoi(argv[2]) : 1883);

  int temperatures = 0, alarms = 0;
  Dispatcher d;
  d.on("sensors/+/temperature", [&](const mqtt::codec::Publish& p) {
    ++temperatures;
    std::cout << "temperature from " << p.topic << ": " << mqtt::codec::as_string(p.payload)
              << '\n';
  });
  d.on("alarms/#", [&](const mqtt::codec::Publish& p) {
    ++alarms;
    std::cout << "ALARM " << p.topic << ": " << mqtt::codec::as_string(p.payload) << '\n';
  });

  auto [client, connection] = mqtt::Client::create(mqtt::MqttOptions("dispatch-example", host, port), 64);
  auto filters = d.filters(mqtt::QoS::AtLeastOnce);
  auto sub = client.subscribe_many(filters);
  if (!sub) {
    std::cerr << "subscribe: " << sub.error().message << '\n';
    return 1;
  }
  if (auto c = sub->wait_for(std::chrono::seconds(10)); !c || !c->ok()) {
    std::cerr << "subscription not acknowledged\n";
    return 1;
  }
  // Publish a few messages to ourselves; one matches no route.
  (void)client.publish("sensors/kitchen/temperature", mqtt::QoS::AtLeastOnce, false, "21.5");
  (void)client.publish("sensors/cellar/temperature", mqtt::QoS::AtLeastOnce, false, "12.0");
  (void)client.publish("alarms/fire/kitchen", mqtt::QoS::AtLeastOnce, false, "smoke");
  (void)client.publish("sensors/kitchen/humidity", mqtt::QoS::AtLeastOnce, false, "40");

  int received = 0;
  while (received < 3) {
    auto ev = connection.next_for(std::chrono::seconds(10));
    if (!ev) break;
    if (const auto* p = ev->publish()) {
      if (d.dispatch(*p) > 0) ++received;
    } else if (const auto* e = ev->error(); e && e->terminal) {
      break;
    }
  }
  (void)client.disconnect();
  while (connection.next_for(std::chrono::seconds(5))) {
  }
  std::cout << temperatures << " temperatures, " << alarms << " alarms\n";
  return temperatures == 2 && alarms == 1 ? 0 : 1;
}
