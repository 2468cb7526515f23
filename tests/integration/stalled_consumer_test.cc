// 7. A consumer that stops calling next() does not make the client buffer
// without bound: the reactor stops reading the socket (reading_paused) and
// TCP flow control holds the rest in the broker. 100,000 messages of 100
// bytes are pushed by a separate process (mosquitto_pub -l), so the RSS
// measured here is the subscriber's. Then the consumer resumes and receives
// them. Runs under ThreadSanitizer too.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <thread>

#include "mqtt/client.h"
#include "tests/integration/support/broker.h"
#include "tests/integration/support/events.h"
#include "tests/integration/support/process.h"
#include "tests/integration/support/rss.h"

using namespace itest;
using mqtt::QoS;

namespace {

// `count` lines of 100 bytes each (the newline is not part of the message):
// an 8-digit sequence number and padding.
std::string make_lines(int count) {
  std::string dir = make_temp_dir("lines");
  std::string path = dir + "/lines.txt";
  std::string text;
  text.reserve(static_cast<size_t>(count) * 101);
  char buf[16];
  for (int i = 0; i < count; ++i) {
    std::snprintf(buf, sizeof buf, "%08d", i);
    text += buf;
    text.append(92, 'x');
    text += '\n';
  }
  write_file(path, text);
  return path;
}

// Runs mosquitto_pub -l (one message per stdin line) to the end.
void push(uint16_t port, const std::string& topic, const std::string& lines, int qos) {
  std::string dir = make_temp_dir("pusher");
  Process p(Process::Spec({require_binary("mosquitto_pub"), "-h", "127.0.0.1", "-p",
                           std::to_string(port), "-t", topic, "-q", std::to_string(qos), "-l"})
                .in(lines)
                .out_err(dir + "/out"));
  bool done = p.wait_exit(120s);
  INFO("mosquitto_pub output: " << read_file(dir + "/out"));
  REQUIRE(done);
  p.stop();
  REQUIRE(p.status());
  CHECK(WIFEXITED(*p.status()));
  CHECK(WEXITSTATUS(*p.status()) == 0);
}

struct Drain {
  int received = 0;
  int out_of_order = 0;
  int bad_size = 0;
  int errors = 0;
  std::string first_error;
};

// Resumes consuming: reads until `expected` messages arrived (bounded).
Drain drain(mqtt::Connection& conn, int expected, std::chrono::milliseconds timeout) {
  Drain d;
  auto deadline = Clock::now() + timeout;
  for (int n = 0; n < expected * 2 + 1000 && d.received < expected && Clock::now() < deadline; ++n) {
    auto ev = conn.next_for(std::chrono::milliseconds(500));
    if (!ev) {
      if (conn.ended()) break;
      continue;
    }
    if (const auto* e = ev->error()) {
      if (d.errors++ == 0) d.first_error = mqtt::describe(*e);
      continue;
    }
    const auto* p = ev->publish();
    if (!p) continue;
    std::string payload = payload_of(*p);
    if (payload.size() != 100) ++d.bad_size;
    if (payload.substr(0, 8) != [&] {
          char buf[16];
          std::snprintf(buf, sizeof buf, "%08d", d.received);
          return std::string(buf);
        }())
      ++d.out_of_order;
    ++d.received;
  }
  return d;
}

}  // namespace

TEST_CASE("stalled consumer: memory stays flat, reading pauses, then resumes", "[integration]") {
  constexpr int kMessages = 100'000;
  Watchdog watchdog("stalled consumer test", under_tsan() ? 400s : 200s);
  BrokerOptions bo;
  bo.max_queued_messages = 0;  // the broker keeps every message for the slow subscriber
  bo.max_inflight_messages = 0;
  Broker broker(bo);
  std::string lines = make_lines(kMessages);

  const size_t capacity = 64;
  auto [sub, conn] = mqtt::Client::create(client_options("stalled", broker.port()), capacity);
  std::string seen;
  REQUIRE(wait_connack(conn, 10s, &seen));
  REQUIRE(sub.subscribe("flood", QoS::AtMostOnce).ok());
  REQUIRE(next_until(conn, [](const mqtt::Event& e) { return suback_of(e) != nullptr; }, 10s, &seen));

  // The consumer stops here. Baseline after the connection is up.
  std::this_thread::sleep_for(200ms);
  int64_t before_kb = rss_kb();
  auto t0 = Clock::now();
  push(broker.port(), "flood", lines, 0);
  double push_ms = ms_since(t0);
  // Let the broker push what TCP takes and the reactor fill the event queue.
  std::this_thread::sleep_for(2s);
  int64_t after_kb = rss_kb();
  auto snap = sub.snapshot();
  std::printf("[stalled-consumer] %d x 100-byte QoS 0 pushed in %.0f ms; RSS before %lld kB, "
              "after %lld kB (growth %lld kB); reading_paused=%d queued_events=%zu (capacity "
              "%zu)\n",
              kMessages, push_ms, static_cast<long long>(before_kb),
              static_cast<long long>(after_kb), static_cast<long long>(after_kb - before_kb),
              snap.reading_paused ? 1 : 0, snap.queued_events, capacity);
  CHECK(snap.reading_paused);
  CHECK(snap.queued_events <= capacity);
  CHECK(snap.state == mqtt::Snapshot::State::Connected);
  CHECK(after_kb - before_kb < 20 * 1024);

  // The consumer resumes: every message arrives, in order.
  auto t1 = Clock::now();
  Drain d = drain(conn, kMessages, under_tsan() ? 300s : 120s);
  double drain_ms = ms_since(t1);
  std::printf("[stalled-consumer] resumed: %d of %d received in %.0f ms, out of order %d, "
              "errors %d %s; RSS now %lld kB\n",
              d.received, kMessages, drain_ms, d.out_of_order, d.errors, d.first_error.c_str(),
              static_cast<long long>(rss_kb()));
  CHECK(d.received == kMessages);
  CHECK(d.out_of_order == 0);
  CHECK(d.bad_size == 0);
  CHECK(d.errors == 0);
  CHECK(eventually([&] { return !sub.snapshot().reading_paused; }, 1000ms));
}

TEST_CASE("a stall longer than the keepalive is not a dead link", "[integration]") {
  constexpr int kMessages = 20'000;
  Watchdog watchdog("stall vs keepalive test", 200s);
  BrokerOptions bo;
  bo.max_queued_messages = 0;
  bo.max_inflight_messages = 0;
  Broker broker(bo);
  std::string lines = make_lines(kMessages);

  auto o = client_options("stall-ka", broker.port());
  o.keep_alive = std::chrono::seconds(1);
  o.ping_timeout = std::chrono::milliseconds(1000);
  auto [sub, conn] = mqtt::Client::create(o, 16);
  std::string seen;
  REQUIRE(wait_connack(conn, 10s, &seen));
  REQUIRE(sub.subscribe("flood", QoS::AtMostOnce).ok());
  REQUIRE(next_until(conn, [](const mqtt::Event& e) { return suback_of(e) != nullptr; }, 10s, &seen));

  push(broker.port(), "flood", lines, 0);
  // Stalled for 4 keepalive periods (plus the push).
  std::this_thread::sleep_for(4s);
  CHECK(sub.snapshot().reading_paused);

  Drain d = drain(conn, kMessages, 120s);
  std::printf("[stall-keepalive] %d of %d received after a 4 s stall with keep_alive 1 s; "
              "errors %d %s\n",
              d.received, kMessages, d.errors, d.first_error.c_str());
  INFO("first error: " << d.first_error);
  CHECK(d.errors == 0);
  CHECK(d.received == kMessages);
  CHECK(d.out_of_order == 0);
}
