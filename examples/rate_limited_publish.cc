// Recipe: rate-limited publishing. options.rate_limit caps outgoing
// PUBLISHes (messages and/or bytes per second, with a burst); the caller
// just publishes, and the client spaces the messages out on the wire.
// publish() returns at once while the request queue has room: the limit
// shows as messages waiting in the queue, then as a blocking publish().
//
//   bazel run //examples:rate_limited_publish -- HOST PORT      (or URL [CA_FILE])
//
// Publishes 60 QoS 1 messages at a limit of 20 per second with a burst of 10
// and measures the rate at which the broker acknowledged them. Exit code 0
// when all were acknowledged and the measured rate beyond the burst is
// within the limit (about 2.5 s).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "examples/recipe_common.h"
#include "mqtt/client.h"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  constexpr int kMessages = 60;
  constexpr double kPerSecond = 20, kBurst = 10;
  mqtt::MqttOptions options("recipe-rate-" + std::to_string(::getpid()), "localhost", 1883);
  if (!recipes::apply_broker_args(options, argc, argv)) return 2;
  options.rate_limit.messages_per_second = kPerSecond;
  options.rate_limit.burst_messages = kBurst;  // sent at once, then kPerSecond
  // (options.rate_limit.bytes_per_second caps bandwidth the same way.)
  auto [client, connection] = mqtt::Client::create(options, 128);

  // Wait for the connection first, so that the clock measures the limit,
  // not the connect.
  if (!recipes::wait_connected(connection)) return 1;

  const auto t0 = Clock::now();
  std::vector<mqtt::Token> tokens;
  for (int i = 0; i < kMessages; ++i) {
    auto t = client.publish_tracked("recipes/rate/" + std::to_string(::getpid()),
                                    mqtt::QoS::AtLeastOnce, false, std::to_string(i));
    if (t) tokens.push_back(*t);
  }
  const double queued_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::cout << "queued " << tokens.size() << " publishes in " << queued_s * 1000 << " ms, "
            << client.snapshot().queued_publishes << " waiting for the rate limit" << std::endl;

  // Read events while waiting, as every consumer must (the PUBACKs are
  // events too); note when the last message was acknowledged.
  int acked = 0;
  for (auto deadline = Clock::now() + 20s; acked < kMessages && Clock::now() < deadline;) {
    (void)connection.next_for(20ms);
    acked = 0;
    for (const auto& t : tokens) acked += t.ready() && t.poll()->ok();
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  // The first kBurst go at once; the rest at most kPerSecond.
  const double rate = (acked - kBurst) / elapsed;
  char line[160];
  std::snprintf(line, sizeof line,
                "%d of %d acknowledged in %.2f s: %.1f msg/s after the burst (limit %.0f/s, burst "
                "%.0f)",
                acked, kMessages, elapsed, rate, kPerSecond, kBurst);
  std::cout << line << '\n';
  recipes::disconnect_and_drain(client, connection);
  const bool within = rate <= kPerSecond * 1.05;  // 5%: the clock's and the wire's jitter
  std::cout << (within ? "within the limit" : "ABOVE the limit") << '\n';
  return acked == kMessages && within ? 0 : 1;
}
