#include <catch2/catch.hpp>
#include <chrono>

#include "mqtt/runtime/backoff.h"

using mqtt::Backoff;
using mqtt::runtime::BackoffPolicy;
using namespace std::chrono_literals;

TEST_CASE("backoff: exponential, capped, without jitter") {
  Backoff b;
  b.initial = 100ms;
  b.max = 1000ms;
  b.multiplier = 2.0;
  b.jitter = 0;
  BackoffPolicy p(b, 1);
  CHECK(p.next_delay() == 100ms);
  CHECK(p.next_delay() == 200ms);
  CHECK(p.next_delay() == 400ms);
  CHECK(p.next_delay() == 800ms);
  CHECK(p.next_delay() == 1000ms);
  CHECK(p.next_delay() == 1000ms);
  p.reset();
  CHECK(p.next_delay() == 100ms);
}

TEST_CASE("backoff: jitter stays within bounds and is deterministic per seed") {
  Backoff b;
  b.initial = 1000ms;
  b.max = 1000ms;
  b.jitter = 0.2;
  BackoffPolicy p1(b, 42), p2(b, 42), p3(b, 43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    auto d1 = p1.next_delay();
    auto d2 = p2.next_delay();
    auto d3 = p3.next_delay();
    CHECK(d1 == d2);
    CHECK(d1 >= 800ms);
    CHECK(d1 <= 1200ms);
    differs = differs || d1 != d3;
  }
  CHECK(differs);
}

TEST_CASE("backoff: reset after a connection that stayed up long enough") {
  Backoff b;
  b.initial = 10ms;
  b.jitter = 0;
  b.reset_after = 5s;
  BackoffPolicy p(b, 7);
  p.next_delay();
  p.next_delay();
  CHECK(p.attempt() == 2);
  p.connection_lasted(1s);
  CHECK(p.next_delay() == 40ms);
  p.connection_lasted(5s);
  CHECK(p.next_delay() == 10ms);
}
