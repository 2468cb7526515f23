#include <catch2/catch.hpp>
#include <atomic>
#include <chrono>
#include <map>
#include <thread>
#include <vector>

#include "mqtt/runtime/lane.h"

using mqtt::runtime::Lane;
using mqtt::runtime::PushResult;
using mqtt::runtime::Waker;
using namespace std::chrono_literals;

namespace {
struct Item {
  int producer = -1;
  int seq = -1;
};
}  // namespace

TEST_CASE("lane: bound respected, try_push fails with Full and leaves the item") {
  auto waker = std::make_shared<Waker>();
  Lane<Item> lane(3, waker);
  for (int i = 0; i < 3; ++i) {
    Item it{0, i};
    REQUIRE(lane.try_push(it) == PushResult::Ok);
  }
  CHECK(lane.size() == 3);
  Item extra{0, 99};
  CHECK(lane.try_push(extra) == PushResult::Full);
  CHECK(extra.seq == 99);
  Item out;
  REQUIRE(lane.try_pop(out));
  CHECK(out.seq == 0);
  CHECK(lane.try_push(extra) == PushResult::Ok);
  CHECK(lane.size() == 3);
}

TEST_CASE("lane: blocking push waits while full and resumes after a pop") {
  Lane<Item> lane(1, nullptr);
  Item a{0, 0};
  REQUIRE(lane.push(a) == PushResult::Ok);
  std::atomic<bool> done{false};
  std::atomic<bool> ok{false};
  std::thread t([&] {
    Item b{0, 1};
    ok = lane.push(b) == PushResult::Ok;  // no Catch assertions off the main thread
    done = true;
  });
  std::this_thread::sleep_for(50ms);
  CHECK_FALSE(done.load());
  Item out;
  REQUIRE(lane.try_pop(out));
  t.join();
  CHECK(done.load());
  CHECK(ok.load());
  REQUIRE(lane.try_pop(out));
  CHECK(out.seq == 1);
}

TEST_CASE("lane: a blocked producer is woken once the lane is down to half, not per pop") {
  Lane<Item> lane(8, nullptr);
  for (int i = 0; i < 8; ++i) {
    Item it{0, i};
    REQUIRE(lane.try_push(it) == PushResult::Ok);
  }
  std::atomic<int> pushed{0};
  std::thread t([&] {
    for (int i = 8; i < 12; ++i) {
      Item b{1, i};
      if (lane.push(b) != PushResult::Ok) return;  // no Catch assertions off the main thread
      ++pushed;
    }
  });
  std::this_thread::sleep_for(50ms);  // the producer is blocked in push()
  CHECK(pushed.load() == 0);
  Item out;
  for (int i = 0; i < 3; ++i) REQUIRE(lane.try_pop(out));  // 5 left: more than half
  std::this_thread::sleep_for(50ms);
  CHECK(pushed.load() == 0);  // the 3 freed slots are held back
  REQUIRE(lane.try_pop(out));  // 4 left: half; the 4 slots go back at once
  for (int i = 0; i < 200 && pushed.load() < 4; ++i) std::this_thread::sleep_for(5ms);
  t.join();
  CHECK(pushed.load() == 4);
  CHECK(lane.size() == 8);
  int next[2] = {4, 8};  // order kept per producer
  for (int i = 0; i < 8; ++i) {
    REQUIRE(lane.try_pop(out));
    REQUIRE((out.producer == 0 || out.producer == 1));
    CHECK(out.seq == next[out.producer]++);
  }
  CHECK(next[0] == 8);
  CHECK(next[1] == 12);
}

TEST_CASE("lane: close wakes blocked producers and abandons queued items") {
  int abandoned = 0;
  Lane<Item> lane(1, nullptr, [&](Item&) { ++abandoned; });
  Item a{0, 0};
  REQUIRE(lane.push(a) == PushResult::Ok);
  PushResult r = PushResult::Ok;
  std::thread t([&] {
    Item b{0, 1};
    r = lane.push(b);
  });
  std::this_thread::sleep_for(30ms);
  lane.close();
  t.join();
  CHECK(r == PushResult::Closed);
  CHECK(abandoned == 1);
  Item c{0, 2};
  CHECK(lane.try_push(c) == PushResult::Closed);
  CHECK(lane.size() == 0);
}

TEST_CASE("lane: the waker is signalled only while the consumer sleeps") {
  auto waker = std::make_shared<Waker>();
  Lane<Item> lane(100, waker);
  for (int i = 0; i < 10; ++i) {
    Item it{0, i};
    REQUIRE(lane.try_push(it) == PushResult::Ok);
  }
  CHECK(waker->wakes() == 0);
  waker->set_sleeping(true);
  for (int i = 0; i < 10; ++i) {
    Item it{0, i};
    REQUIRE(lane.try_push(it) == PushResult::Ok);
  }
  CHECK(waker->wakes() == 1);  // one write, not one per request
}

TEST_CASE("lane: multi-producer stress keeps per-producer FIFO and the bound") {
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 20000;
  constexpr size_t kCap = 64;
  auto waker = std::make_shared<Waker>();
  Lane<Item> lane(kCap, waker);
  std::atomic<int> push_failures{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        Item it{p, i};
        if (i % 2 == 0) {
          if (lane.push(it) != PushResult::Ok) ++push_failures;
        } else {
          while (lane.try_push(it) != PushResult::Ok) std::this_thread::yield();
        }
      }
    });
  }
  std::vector<int> next(kProducers, 0);
  int total = 0;
  size_t max_size = 0;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (total < kProducers * kPerProducer && std::chrono::steady_clock::now() < deadline) {
    max_size = std::max(max_size, lane.size());
    Item out;
    if (!lane.try_pop(out)) continue;
    REQUIRE(out.seq == next[out.producer]);
    ++next[out.producer];
    ++total;
  }
  for (auto& t : producers) t.join();
  CHECK(total == kProducers * kPerProducer);
  CHECK(push_failures == 0);
  CHECK(max_size <= kCap);
}
