// Recipe: a persistent subscriber that survives a broker restart. Its
// session (subscription and undelivered QoS 1 messages) lives on the
// broker, so messages published while it was away are delivered when it
// comes back.
//
//   bazel run //examples:persistent_subscriber -- HOST PORT      (or URL [CA_FILE])
//
// Needs a broker that keeps sessions across its restart (mosquitto:
// `persistence true`; it saves them when stopped with SIGTERM). The program
// subscribes, receives messages 1-3, then prints "restart the broker now"
// and waits (up to 60 s) for the connection to drop. While it is away (it
// does not poll its connection, so it does not reconnect yet) another client
// publishes 4-6 to the restarted broker. Then it polls again: it reconnects,
// the broker says the session is still there, and 4-6 arrive. Exit code 0
// when all six arrived and the session was resumed.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "examples/recipe_common.h"
#include "mqtt/client.h"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// A separate, short-lived client publishes messages from..to (QoS 1) and
// returns once the broker has acknowledged each one: from then on they are
// the broker's to deliver, to the subscriber's session too.
bool publish_batch(mqtt::MqttOptions options, const std::string& topic, int from, int to) {
  options.client_id += "-publisher";
  options.set_clean_session(true);
  options.session_expiry_interval_s.reset();
  auto [client, connection] = mqtt::Client::create(options, 16);
  std::vector<mqtt::Token> tokens;
  for (int n = from; n <= to; ++n) {
    auto t = client.publish_tracked(topic, mqtt::QoS::AtLeastOnce, false, std::to_string(n));
    if (t) tokens.push_back(*t);
  }
  // Poll while waiting: the loop only (re)connects while its events are
  // read, e.g. while the broker is still starting again.
  auto all_done = [&] {
    return std::all_of(tokens.begin(), tokens.end(), [](const mqtt::Token& t) { return t.ready(); });
  };
  for (auto deadline = Clock::now() + 30s; !all_done() && Clock::now() < deadline;) {
    if (auto ev = connection.next_for(100ms); ev && ev->error()) {
      std::cout << "publisher: " << *ev << '\n';
    }
  }
  bool ok = tokens.size() == static_cast<size_t>(to - from + 1);
  for (const auto& t : tokens) ok = ok && t.ready() && t.poll()->ok();
  recipes::disconnect_and_drain(client, connection);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string topic = "recipes/persistent/" + std::to_string(::getpid());
  mqtt::MqttOptions options("recipe-persistent-" + std::to_string(::getpid()), "localhost", 1883);
  if (!recipes::apply_broker_args(options, argc, argv)) return 2;
  // A session that outlives the connection: Clean Start 0, and (MQTT 5) a
  // Session Expiry Interval; with 3.1.1, clean_session = false alone.
  options.set_protocol(mqtt::ProtocolVersion::V5);
  options.set_clean_session(false);
  options.session_expiry_interval_s = 300;
  options.backoff.max = 2s;  // come back quickly once the broker is up

  auto [client, connection] = mqtt::Client::create(options, 64);
  auto sub = client.subscribe(topic, mqtt::QoS::AtLeastOnce);
  if (!sub || !sub->wait_for(10s) || !sub->poll()->ok()) {
    std::cerr << "subscribe failed\n";
    return 1;
  }

  std::set<int> received;
  bool resumed = false;
  // Reads events until `count` messages have arrived in all (or `limit`).
  auto receive_until = [&](size_t count, std::chrono::seconds limit) {
    const auto deadline = Clock::now() + limit;
    while (received.size() < count && Clock::now() < deadline) {
      auto ev = connection.next_for(100ms);
      if (!ev) continue;
      if (const auto* p = ev->publish()) {
        const int n = std::atoi(std::string(mqtt::codec::as_string(p->payload)).c_str());
        std::cout << "received message " << n << (p->dup ? " (dup)" : "") << '\n';
        received.insert(n);
      } else if (const auto* in = ev->incoming(); in && in->type() == mqtt::codec::PacketType::ConnAck) {
        resumed = std::get<mqtt::codec::ConnAck>(in->packet()).session_present;
        std::cout << "connected, session present: " << (resumed ? "yes" : "no") << '\n';
      } else if (ev->error() || ev->session_reset()) {
        std::cout << "event: " << *ev << '\n';
      }
    }
  };

  // 1. Live messages.
  if (!publish_batch(options, topic, 1, 3)) std::cerr << "publishing 1-3 failed\n";
  receive_until(3, 10s);

  // 2. The broker restarts: wait for the connection to drop.
  std::cout << "restart the broker now (waiting up to 60 s)" << std::endl;
  bool dropped = false;
  for (auto deadline = Clock::now() + 60s; !dropped && Clock::now() < deadline;) {
    auto ev = connection.next_for(100ms);
    if (ev && ev->error()) {
      std::cout << "connection lost: " << *ev << '\n';
      dropped = true;
    }
  }
  if (!dropped) {
    std::cerr << "the connection did not drop: was the broker restarted?\n";
    return 1;
  }

  // 3. Away: the subscriber does not poll, so it does not reconnect; the
  // broker keeps what is published meanwhile for its session.
  const bool published = publish_batch(options, topic, 4, 6);
  std::cout << "messages 4-6 published while the subscriber was away: "
            << (published ? "acknowledged by the broker" : "FAILED") << '\n';

  // 4. Back: polling again reconnects; the session brings 4-6.
  receive_until(6, 20s);
  recipes::disconnect_and_drain(client, connection);
  std::cout << "received " << received.size() << " of 6 messages, session resumed: "
            << (resumed ? "yes" : "no") << '\n';
  return received == std::set<int>{1, 2, 3, 4, 5, 6} && resumed && published ? 0 : 1;
}
