// Token buckets on outgoing PUBLISH messages/s and bytes/s (options
// rate_limit). A publish may go when both buckets hold its cost (a message
// larger than the byte burst goes when that bucket is full, leaving it in
// debt). Time is passed in: tests use a fake clock.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>

#include "mqtt/options.h"

namespace mqtt::runtime {

class TokenBucket {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  TokenBucket() = default;
  TokenBucket(double rate, double burst, TimePoint now)
      : rate_(rate), burst_(burst > 0 ? burst : rate), tokens_(burst_), last_(now) {}

  bool enabled() const { return rate_ > 0; }
  void refill(TimePoint now) {
    if (!enabled() || now <= last_) return;
    const double dt = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + dt * rate_);
    last_ = now;
  }
  // Tokens needed before `cost` may be taken.
  double need(double cost) const { return std::min(cost, burst_); }
  bool can_take(double cost) const { return !enabled() || tokens_ >= need(cost); }
  void take(double cost) {
    if (enabled()) tokens_ -= cost;
  }
  TimePoint ready_at(double cost, TimePoint now) const {
    if (!enabled() || tokens_ >= need(cost)) return now;
    const double secs = (need(cost) - tokens_) / rate_;
    return now + std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::duration<double>(secs)) +
           std::chrono::nanoseconds(1);
  }
  double tokens() const { return tokens_; }

 private:
  double rate_ = 0;
  double burst_ = 0;
  double tokens_ = 0;
  TimePoint last_{};
};

class RateLimiter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  RateLimiter() = default;
  RateLimiter(const RateLimit& cfg, TimePoint now)
      : messages_(cfg.messages_per_second, cfg.burst_messages, now),
        bytes_(cfg.bytes_per_second, cfg.burst_bytes, now) {}

  bool enabled() const { return messages_.enabled() || bytes_.enabled(); }

  // Takes the tokens for one publish of `bytes` if both buckets allow it now.
  bool try_acquire(size_t bytes, TimePoint now) {
    if (!enabled()) return true;
    messages_.refill(now);
    bytes_.refill(now);
    const double b = static_cast<double>(bytes);
    if (!messages_.can_take(1) || !bytes_.can_take(b)) return false;
    messages_.take(1);
    bytes_.take(b);
    return true;
  }
  // Earliest time try_acquire(bytes) can succeed.
  TimePoint ready_at(size_t bytes, TimePoint now) {
    if (!enabled()) return now;
    messages_.refill(now);
    bytes_.refill(now);
    return std::max(messages_.ready_at(1, now), bytes_.ready_at(static_cast<double>(bytes), now));
  }

 private:
  TokenBucket messages_;
  TokenBucket bytes_;
};

}  // namespace mqtt::runtime
