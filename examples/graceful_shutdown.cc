// Recipe: graceful shutdown that drains. A producer publishes QoS 1 messages
// as fast as the client takes them; on SIGINT or SIGTERM (or after 5 s) the
// program stops producing and calls disconnect(), which sends every publish
// already queued, waits for each one's PUBACK, and only then sends
// DISCONNECT. The loop ends with a Disconnected event.
//
//   bazel run //examples:graceful_shutdown -- HOST PORT      (or URL [CA_FILE])
//   (then Ctrl-C, or wait 5 s)
//
// Exit code 0 when every accepted publish was acknowledged, none failed, and
// the Disconnected event came last.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <string>
#include <thread>

#include "examples/recipe_common.h"
#include "mqtt/client.h"

using namespace std::chrono_literals;

namespace {
volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_signal(int sig) { g_signal = sig; }
}  // namespace

int main(int argc, char** argv) {
  mqtt::MqttOptions options("recipe-shutdown-" + std::to_string(::getpid()), "localhost", 1883);
  if (!recipes::apply_broker_args(options, argc, argv)) return 2;
  options.set_inflight(10);  // a small window, so that there is a queue to drain
  const std::string topic = "recipes/shutdown/" + std::to_string(::getpid());
  auto [client, connection] = mqtt::Client::create(options, 256);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  // The producer: publish() blocks while the lane is full, which is the
  // backpressure that keeps it at the network's pace. It also calls
  // disconnect(): disconnect() is ordered after the publishes of the thread
  // that calls it (another thread's may be overtaken and then fail).
  std::atomic<bool> producing{true};
  std::atomic<uint64_t> accepted{0};
  std::thread producer([&, client]() mutable {
    for (uint64_t n = 0; producing.load(); ++n) {
      if (!client.publish(topic, mqtt::QoS::AtLeastOnce, false, std::to_string(n))) break;
      accepted.fetch_add(1);
    }
    const auto s = client.snapshot();
    std::cout << "stopping: " << accepted.load() << " publishes accepted, " << s.queued_publishes
              << " still queued, " << s.inflight_publishes << " in flight" << std::endl;
    // Drain for at most 10 s: what is left then fails visibly.
    (void)client.disconnect(10s);
  });
  std::cout << "publishing; stop with Ctrl-C (SIGINT) or SIGTERM" << std::endl;

  // The consumer keeps reading events all along: an unread event queue
  // would stop the reactor from reading PUBACKs.
  uint64_t acked = 0, failed = 0;
  bool disconnected_last = false;
  const auto stop_at = std::chrono::steady_clock::now() + 5s;
  const auto give_up = stop_at + 20s;
  bool stopping = false;
  while (!connection.ended() && std::chrono::steady_clock::now() < give_up) {
    if (!stopping && (g_signal != 0 || std::chrono::steady_clock::now() > stop_at)) {
      stopping = true;
      std::cout << "stop requested (" << (g_signal != 0 ? "signal" : "5 s passed") << ")"
                << std::endl;
      producing = false;
    }
    auto ev = connection.next_for(100ms);
    if (!ev) continue;
    disconnected_last = false;
    if (const auto* in = ev->incoming(); in && in->type() == mqtt::codec::PacketType::PubAck) {
      ++acked;
    } else if (const auto* f = ev->request_failed()) {
      failed += f->count;
      std::cout << "failed: " << *ev << '\n';
    } else if (const auto* e = ev->error()) {
      std::cout << "event: " << *ev << '\n';
      disconnected_last = e->code == mqtt::ConnectionErrorCode::Disconnected;
    }
  }
  producing = false;
  producer.join();
  std::cout << "acknowledged " << acked << " of " << accepted.load() << " publishes, " << failed
            << " failed, " << (disconnected_last ? "then Disconnected" : "no Disconnected at the end")
            << '\n';
  return acked == accepted.load() && failed == 0 && disconnected_last && acked > 0 ? 0 : 1;
}
