// The publisher of session_store_test, run as a separate process so that
// the test can kill -9 it: publishes "<run>:<n>" for n in [from, to) at one
// QoS with a FileSessionStore, and prints "S <run> <n>" (one write per line)
// once each publish's token says it is stored. Then waits for every
// completion, disconnects (which also drains what a killed run left and
// this run restored) and prints "DONE".
//
//   session_store_child PORT DIR CLIENT_ID QOS RUN FROM TO DURABILITY(0..2) VERSION(4|5)
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "mqtt/client.h"
#include "mqtt/session_store.h"

namespace {

void say(const std::string& line) {
  const std::string s = line + "\n";
  ssize_t n = ::write(1, s.data(), s.size());
  (void)n;
}

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "session_store_child: %s\n", why.c_str());
  std::_Exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  if (argc != 10) die("usage: PORT DIR CLIENT_ID QOS RUN FROM TO DURABILITY VERSION");
  const auto port = static_cast<uint16_t>(std::atoi(argv[1]));
  const std::string dir = argv[2];
  const std::string client_id = argv[3];
  const auto qos = static_cast<mqtt::QoS>(std::atoi(argv[4]));
  const std::string run = argv[5];
  const int from = std::atoi(argv[6]);
  const int to = std::atoi(argv[7]);
  const auto durability = static_cast<mqtt::Durability>(std::atoi(argv[8]));
  const bool v5 = std::atoi(argv[9]) == 5;

  auto store = mqtt::FileSessionStore::open(dir, durability);
  if (!store.ok()) die("store: " + store.error().message);
  mqtt::MqttOptions o(client_id, "127.0.0.1", port);
  o.clean_session = false;
  if (v5) {
    o.protocol = mqtt::ProtocolVersion::V5;
    o.session_expiry_interval_s = 3600;
  }
  o.keep_alive = std::chrono::seconds(5);
  o.max_inflight = 20;
  o.backoff.initial = 50ms;
  o.backoff.max = 500ms;
  o.session_store = *store;
  auto created = mqtt::Client::try_create(o, 256);
  if (!created.ok()) die("create: " + created.error().message);
  auto& [client, connection] = created.value();

  std::atomic<bool> stop{false};
  std::thread consumer([&, &connection = connection] {
    // Keeps the loop going (reconnects advance only while polled).
    for (int i = 0; i < 10'000'000 && !stop.load(); ++i) {
      auto e = connection.next_for(50ms);
      if (!e && connection.ended()) return;
      if (e && e->request_failed()) std::fprintf(stderr, "%s\n", mqtt::to_string(*e).c_str());
    }
  });

  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<int, mqtt::Token>> pending;
  bool all_queued = false;
  std::thread printer([&] {
    for (;;) {
      std::pair<int, mqtt::Token> next;
      {
        std::unique_lock<std::mutex> lock(mu);
        if (!cv.wait_for(lock, 60s, [&] { return all_queued || !pending.empty(); })) {
          die("nothing to print for 60 s");
        }
        if (pending.empty()) return;
        next = pending.front();
        pending.pop_front();
      }
      auto r = next.second.wait_stored(60s);
      if (!r) die("publish " + std::to_string(next.first) + " not stored within 60 s");
      if (*r != mqtt::RequestError::None) {
        die("publish " + std::to_string(next.first) + " not stored: " +
            std::string(mqtt::to_string(*r)));
      }
      say("S " + run + " " + std::to_string(next.first));
    }
  });

  std::vector<mqtt::Token> tokens;
  const std::string topic = "store/q" + std::to_string(static_cast<int>(qos));
  for (int n = from; n < to; ++n) {
    auto t = client.publish_tracked(topic, qos, false, run + ":" + std::to_string(n));
    if (!t.ok()) die("publish: " + t.error().message);
    tokens.push_back(*t);
    {
      std::lock_guard<std::mutex> lock(mu);
      pending.emplace_back(n, *t);
    }
    cv.notify_one();
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    all_queued = true;
  }
  cv.notify_one();
  printer.join();
  for (auto& t : tokens) {
    auto c = t.wait_for(60s);
    if (!c) die("a publish did not complete within 60 s");
    if (!c->ok()) die("a publish failed: " + std::string(mqtt::to_string(c->error)));
  }
  // Drains the in-flight messages, restored ones included, before DISCONNECT.
  auto d = client.disconnect_tracked(30s);
  if (!d.ok()) die("disconnect: " + d.error().message);
  auto done = d->wait_for(40s);
  if (!done || !done->ok()) die("disconnect did not drain");
  stop = true;
  consumer.join();
  say("DONE");
  return 0;
}
