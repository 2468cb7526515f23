// The cost per message of the session store (docs/session-store.md): N QoS 1
// (or 2) publishes through a broker, with the store off and at each
// Durability, timed until every publish is completed and (with a store)
// stored. Also times a bare 4 KiB write + fdatasync in the store folder:
// the disk's price of one durable batch.
//
//   mosquitto -p 18830 &   # any broker on 127.0.0.1
//   bazel run -c opt //tools:store_bench -- --port 18830 --count 20000 --dir /var/tmp/sb
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "mqtt/client.h"
#include "mqtt/session_store.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Args {
  uint16_t port = 1883;
  int count = 20000;
  int qos = 1;
  int inflight = 100;
  int payload = 64;
  std::string dir = "/var/tmp/mqtt-store-bench";
};

double fsync_us(const std::string& dir, int rounds) {
  const std::string path = dir + "/fsync-probe";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  std::vector<char> block(4096, 'x');
  const auto t0 = Clock::now();
  for (int i = 0; i < rounds; ++i) {
    if (::write(fd, block.data(), block.size()) < 0 || ::fdatasync(fd) != 0) break;
  }
  const double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / rounds;
  ::close(fd);
  ::unlink(path.c_str());
  return us;
}

// One run: returns the elapsed seconds, or nullopt on a failure (printed).
std::optional<double> run(const Args& a, std::optional<mqtt::Durability> d) {
  mqtt::MqttOptions o("store-bench-" + std::to_string(::getpid()) + "-" +
                          (d ? std::string(mqtt::to_string(*d)) : std::string("off")),
                      "127.0.0.1", a.port);
  o.clean_session = false;
  o.max_inflight = static_cast<uint16_t>(a.inflight);
  if (d) {
    auto s = mqtt::FileSessionStore::open(a.dir, *d);
    if (!s.ok()) {
      std::fprintf(stderr, "store: %s\n", s.error().message.c_str());
      return std::nullopt;
    }
    o.session_store = *s;
  }
  auto created = mqtt::Client::try_create(o, 4096);
  if (!created.ok()) {
    std::fprintf(stderr, "create: %s\n", created.error().message.c_str());
    return std::nullopt;
  }
  auto& [client, conn] = created.value();
  std::thread consumer([&c = conn] {
    for (int i = 0; i < 100'000'000 && !c.ended(); ++i) (void)c.next_for(50ms);
  });
  const std::string payload(static_cast<size_t>(a.payload), 'p');
  std::vector<mqtt::Token> tokens;
  tokens.reserve(static_cast<size_t>(a.count));
  const auto t0 = Clock::now();
  bool ok = true;
  for (int i = 0; i < a.count && ok; ++i) {
    auto t = client.publish_tracked("bench/store", static_cast<mqtt::QoS>(a.qos), false, payload);
    if (!t.ok()) ok = false;
    else tokens.push_back(*t);
  }
  for (auto& t : tokens) {
    auto c = t.wait_for(60s);
    if (!c || !c->ok()) ok = false;
    if (d && t.wait_stored(60s) != mqtt::RequestError::None) ok = false;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  auto dt = client.disconnect_tracked(5s);
  if (dt.ok()) (void)dt->wait_for(10s);
  consumer.join();
  if (!ok) {
    std::fprintf(stderr, "a publish failed or timed out\n");
    return std::nullopt;
  }
  return secs;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--port") a.port = static_cast<uint16_t>(std::atoi(v));
    else if (k == "--count") a.count = std::atoi(v);
    else if (k == "--qos") a.qos = std::atoi(v);
    else if (k == "--inflight") a.inflight = std::atoi(v);
    else if (k == "--payload") a.payload = std::atoi(v);
    else if (k == "--dir") a.dir = v;
    else {
      std::fprintf(stderr,
                   "usage: store_bench --port P [--count N] [--qos 1|2] [--inflight W] "
                   "[--payload BYTES] [--dir D]\n");
      return 2;
    }
  }
  if (auto s = mqtt::FileSessionStore::open(a.dir, mqtt::Durability::None); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.error().message.c_str());
    return 1;
  }
  std::printf("QoS %d, %d messages of %d bytes, window %d, store in %s\n", a.qos, a.count,
              a.payload, a.inflight, a.dir.c_str());
  std::printf("fdatasync of a 4 KiB append: %.1f us\n", fsync_us(a.dir, 200));
  std::printf("%-12s %12s %12s %14s\n", "store", "msg/s", "us/msg", "extra us/msg");
  double base = 0;
  const std::optional<mqtt::Durability> modes[] = {std::nullopt, mqtt::Durability::None,
                                                   mqtt::Durability::PerBatch,
                                                   mqtt::Durability::PerMessage};
  for (const auto& d : modes) {
    auto secs = run(a, d);
    if (!secs) return 1;
    const double us = *secs * 1e6 / a.count;
    if (!d) base = us;
    std::printf("%-12s %12.0f %12.2f %14.2f\n",
                d ? std::string(mqtt::to_string(*d)).c_str() : "off", a.count / *secs, us,
                us - base);
  }
  return 0;
}
