#include <catch2/catch.hpp>
#include <chrono>

#include "mqtt/runtime/rate_limiter.h"

using mqtt::RateLimit;
using mqtt::runtime::RateLimiter;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

TEST_CASE("rate limiter: disabled by default") {
  RateLimiter r(RateLimit{}, Clock::time_point{});
  CHECK_FALSE(r.enabled());
  for (int i = 0; i < 1000; ++i) CHECK(r.try_acquire(100000, Clock::time_point{}));
}

TEST_CASE("rate limiter: messages per second with a fake clock") {
  RateLimit cfg;
  cfg.messages_per_second = 10;  // burst defaults to one second's worth
  Clock::time_point t{};
  RateLimiter r(cfg, t);
  for (int i = 0; i < 10; ++i) REQUIRE(r.try_acquire(1, t));
  CHECK_FALSE(r.try_acquire(1, t));
  const auto ready = r.ready_at(1, t);
  CHECK(ready > t);
  CHECK(ready <= t + 101ms);
  CHECK_FALSE(r.try_acquire(1, t + 50ms));
  CHECK(r.try_acquire(1, t + 100ms + 1us));
  // After a long pause only the burst is available.
  t += 10s;
  int n = 0;
  while (r.try_acquire(1, t)) ++n;
  CHECK(n == 10);
}

TEST_CASE("rate limiter: bytes per second, large message goes into debt") {
  RateLimit cfg;
  cfg.bytes_per_second = 1000;
  cfg.burst_bytes = 500;
  Clock::time_point t{};
  RateLimiter r(cfg, t);
  CHECK(r.try_acquire(2000, t));  // bucket full: allowed, leaves -1500
  CHECK_FALSE(r.try_acquire(1, t + 1s));
  CHECK(r.ready_at(1, t + 1s) <= t + 1502ms);
  CHECK(r.ready_at(1, t + 1s) > t + 1500ms);
  CHECK(r.try_acquire(1, t + 1502ms));
}

TEST_CASE("rate limiter: both limits apply") {
  RateLimit cfg;
  cfg.messages_per_second = 100;
  cfg.bytes_per_second = 100;
  cfg.burst_bytes = 100;
  Clock::time_point t{};
  RateLimiter r(cfg, t);
  CHECK(r.try_acquire(60, t));
  CHECK_FALSE(r.try_acquire(60, t));  // bytes exhausted, messages left
  CHECK(r.try_acquire(60, t + 201ms));
}
