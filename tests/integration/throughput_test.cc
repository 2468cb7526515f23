// 2. 100,000 QoS 1 messages from 4 threads sharing one Client (copied to each
// thread) all arrive exactly once, and in per-thread order, at a subscriber.
// Runs under ThreadSanitizer too (concurrent publishers).
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "mqtt/client.h"
#include "tests/integration/support/broker.h"
#include "tests/integration/support/events.h"

using namespace itest;
using mqtt::QoS;

namespace {

constexpr uint32_t kThreads = 4;
constexpr uint32_t kPerThread = 25'000;
constexpr uint32_t kTotal = kThreads * kPerThread;

// 16 bytes: thread id, sequence number, and a fixed tail to check integrity.
std::string encode(uint32_t thread, uint32_t seq) {
  std::string s(16, '\0');
  std::memcpy(&s[0], &thread, 4);
  std::memcpy(&s[4], &seq, 4);
  std::memcpy(&s[8], "MQTTLOAD", 8);
  return s;
}

struct Checker {
  std::mutex mu;
  std::vector<uint32_t> next_seq = std::vector<uint32_t>(kThreads, 0);
  uint64_t received = 0;
  uint64_t duplicates_or_reordered = 0;  // seq below the expected one
  uint64_t gaps = 0;                     // seq above the expected one
  uint64_t malformed = 0;
  uint64_t wrong_topic = 0;
  std::vector<std::string> first_problems;

  void on(const mqtt::codec::Publish& p) {
    std::lock_guard<std::mutex> lock(mu);
    ++received;
    std::string payload = payload_of(p);
    uint32_t t = 0, seq = 0;
    if (payload.size() != 16 || payload.compare(8, 8, "MQTTLOAD") != 0) {
      ++malformed;
      return;
    }
    std::memcpy(&t, &payload[0], 4);
    std::memcpy(&seq, &payload[4], 4);
    if (t >= kThreads) {
      ++malformed;
      return;
    }
    if (topic_of(p) != "load/" + std::to_string(t)) ++wrong_topic;
    if (seq == next_seq[t]) {
      ++next_seq[t];
      return;
    }
    if (first_problems.size() < 10)
      first_problems.push_back("thread " + std::to_string(t) + ": got seq " + std::to_string(seq) +
                               ", expected " + std::to_string(next_seq[t]));
    if (seq < next_seq[t]) {
      ++duplicates_or_reordered;
    } else {
      ++gaps;
      next_seq[t] = seq + 1;
    }
  }
};

}  // namespace

TEST_CASE("100k QoS 1 messages from 4 threads arrive exactly once and in order",
          "[integration]") {
  const auto deadline_s = under_tsan() ? 300s : 120s;
  Watchdog watchdog("100k QoS 1 test", deadline_s + 60s);

  BrokerOptions bo;
  bo.max_inflight_messages = 0;
  bo.max_queued_messages = 0;
  Broker broker(bo);

  auto sub_pair = mqtt::Client::create(client_options("load-sub", broker.port()), 1024);
  mqtt::Client& sub = sub_pair.first;
  mqtt::Connection& subconn = sub_pair.second;
  std::string seen;
  REQUIRE(wait_connack(subconn, 10s, &seen));
  auto subtok = sub.subscribe("load/#", QoS::AtLeastOnce);
  REQUIRE(subtok.ok());
  REQUIRE(next_until(subconn, [](const mqtt::Event& e) { return suback_of(e) != nullptr; }, 10s, &seen));

  Checker checker;
  Pump subpump(subconn, [&](const mqtt::Event& e) {
    if (const auto* p = e.publish()) checker.on(*p);
  });

  auto pub_pair = mqtt::Client::create(client_options("load-pub", broker.port()), 1024);
  std::optional<mqtt::Client> pub(std::move(pub_pair.first));
  mqtt::Connection& pubconn = pub_pair.second;
  Pump pubpump(pubconn);
  REQUIRE(pubpump.wait_until([](const Pump::Stats& s) { return s.connacks >= 1; }, 10s));

  auto start = Clock::now();
  std::atomic<uint64_t> publish_errors{0};
  std::atomic<uint32_t> finished{0};
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([client = *pub, t, &publish_errors, &finished]() mutable {
      std::string topic = "load/" + std::to_string(t);
      for (uint32_t seq = 0; seq < kPerThread; ++seq) {
        if (!client.publish(topic, QoS::AtLeastOnce, false, encode(t, seq)).ok()) {
          ++publish_errors;
          break;
        }
      }
      ++finished;
    });
  }
  for (auto& th : threads) th.join();  // publish() blocks at most until the watchdog
  double publish_ms = ms_since(start);

  bool all = subpump.wait_for([&] {
    std::lock_guard<std::mutex> lock(checker.mu);
    return checker.received >= kTotal;
  }, std::chrono::duration_cast<std::chrono::milliseconds>(deadline_s - (Clock::now() - start)));
  double total_ms = ms_since(start);
  // A short quiet period to catch duplicates that come late.
  std::this_thread::sleep_for(300ms);

  // Pump state first: never take a pump's lock while holding checker.mu.
  const std::string publog = pubpump.log_text(), sublog = subpump.log_text();
  const Pump::Stats pubstats = pubpump.stats(), substats = subpump.stats();
  std::lock_guard<std::mutex> lock(checker.mu);
  std::printf("[throughput] %u QoS 1 messages from %u threads: publish calls done in %.0f ms, "
              "all received in %.0f ms (%.0f msg/s end to end); received=%llu dup/reordered=%llu "
              "gaps=%llu malformed=%llu\n",
              kTotal, kThreads, publish_ms, total_ms, kTotal / (total_ms / 1000.0),
              static_cast<unsigned long long>(checker.received),
              static_cast<unsigned long long>(checker.duplicates_or_reordered),
              static_cast<unsigned long long>(checker.gaps),
              static_cast<unsigned long long>(checker.malformed));
  std::string problems;
  for (const auto& p : checker.first_problems) problems += p + "\n";
  INFO("first ordering problems:\n" << problems);
  INFO("publisher events:\n" << publog);
  INFO("subscriber events:\n" << sublog);
  CHECK(publish_errors == 0);
  CHECK(all);
  CHECK(checker.received == kTotal);
  CHECK(checker.duplicates_or_reordered == 0);
  CHECK(checker.gaps == 0);
  CHECK(checker.malformed == 0);
  CHECK(checker.wrong_topic == 0);
  for (uint32_t t = 0; t < kThreads; ++t) CHECK(checker.next_seq[t] == kPerThread);
  CHECK(pubstats.errors.empty());
  CHECK(substats.errors.empty());
  CHECK(pubstats.connacks == 1);
  CHECK(pub->snapshot().inflight_publishes == 0);
}
