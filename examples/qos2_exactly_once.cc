// Recipe: QoS 2, exactly once. Every message carries a sequence number; the
// subscriber counts how often each one arrives, and the publisher waits for
// each message's token, which completes on PUBCOMP (the end of the
// four-step handshake).
//
//   bazel run //examples:qos2_exactly_once -- HOST PORT      (or URL [CA_FILE])
//
// Exit code 0 when all 100 messages were acknowledged (PUBCOMP) and each
// sequence number was delivered exactly once, in order.
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "examples/recipe_common.h"
#include "mqtt/client.h"

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  constexpr int kMessages = 100;
  const std::string topic = "recipes/qos2/" + std::to_string(::getpid());
  mqtt::MqttOptions options("recipe-qos2-" + std::to_string(::getpid()), "localhost", 1883);
  if (!recipes::apply_broker_args(options, argc, argv)) return 2;
  // MQTT 5: the client keeps within the broker's Receive Maximum. (With
  // 3.1.1, keep max_inflight at or below the broker's in-flight limit:
  // mosquitto drops QoS 2 messages beyond it.)
  options.set_protocol(mqtt::ProtocolVersion::V5);

  auto [client, connection] = mqtt::Client::create(options, 128);
  auto sub = client.subscribe(topic, mqtt::QoS::ExactlyOnce);
  if (!sub || !sub->wait_for(10s) || !sub->poll()->ok()) {
    std::cerr << "subscribe failed\n";
    return 1;
  }

  std::vector<mqtt::Token> tokens;
  for (int seq = 0; seq < kMessages; ++seq) {
    auto t = client.publish_tracked(topic, mqtt::QoS::ExactlyOnce, false, std::to_string(seq));
    if (!t) {
      std::cerr << "publish: " << t.error().message << '\n';
      return 1;
    }
    tokens.push_back(*t);
  }

  // The subscriber's side: count deliveries per sequence number, until all
  // arrived and then a little longer, to catch any duplicate.
  std::vector<int> deliveries(kMessages, 0);
  int received = 0, out_of_order = 0, last = -1;
  auto read_until = [&](std::chrono::steady_clock::time_point until, bool stop_when_all) {
    while (std::chrono::steady_clock::now() < until && !(stop_when_all && received >= kMessages)) {
      auto ev = connection.next_for(50ms);
      if (!ev) continue;
      if (ev->error() || ev->request_failed()) std::cout << "event: " << *ev << '\n';
      const auto* p = ev->publish();
      if (!p) continue;
      const int seq = std::atoi(std::string(mqtt::codec::as_string(p->payload)).c_str());
      if (seq < 0 || seq >= kMessages) continue;
      ++deliveries[seq];
      ++received;
      if (seq < last) ++out_of_order;
      last = seq;
    }
  };
  const auto now = std::chrono::steady_clock::now;
  read_until(now() + 20s, true);
  read_until(now() + 500ms, false);

  // The publisher's side: every token completed with PUBCOMP.
  int completed = 0;
  for (const auto& t : tokens) {
    if (auto c = t.wait_for(5s); c && c->ok()) ++completed;
  }
  if (!recipes::disconnect_and_drain(client, connection)) std::cerr << "disconnect failed\n";

  int once = 0, distinct = 0;
  for (int n : deliveries) {
    once += n == 1;
    distinct += n > 0;
  }
  std::cout << "publisher: " << completed << " of " << kMessages << " completed (PUBCOMP)\n"
            << "subscriber: " << once << " of " << kMessages << " delivered exactly once, "
            << kMessages - distinct << " missing, " << received - distinct << " duplicates, " << out_of_order << " out of order\n";
  return completed == kMessages && once == kMessages && received == kMessages && out_of_order == 0
             ? 0
             : 1;
}
