// Reconnect delays: initial * multiplier^n capped at max, scaled by a random
// factor in [1 - jitter, 1 + jitter]; starts over after a connection that
// stayed up for reset_after. Deterministic for a given seed.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>

#include "mqtt/options.h"

namespace mqtt::runtime {

class BackoffPolicy {
 public:
  explicit BackoffPolicy(Backoff config, uint64_t seed = std::random_device{}())
      : config_(config), rng_(seed) {}

  void set_config(const Backoff& c) { config_ = c; }
  const Backoff& config() const { return config_; }

  // The delay before the next attempt; each call counts one more failure.
  std::chrono::nanoseconds next_delay() {
    using namespace std::chrono;
    const double initial = static_cast<double>(duration_cast<nanoseconds>(config_.initial).count());
    const double max = static_cast<double>(duration_cast<nanoseconds>(config_.max).count());
    const double mult = config_.multiplier < 1.0 ? 1.0 : config_.multiplier;
    double d = initial * std::pow(mult, static_cast<double>(attempt_));
    if (!(d <= max)) d = max;  // also catches overflow to inf/NaN
    if (d < 0) d = 0;
    const double j = std::clamp(config_.jitter, 0.0, 1.0);
    if (j > 0) {
      std::uniform_real_distribution<double> dist(1.0 - j, 1.0 + j);
      d *= dist(rng_);
    }
    if (attempt_ < 1000) ++attempt_;
    return nanoseconds(static_cast<int64_t>(d));
  }

  // A connection ended after being up for `up`: a stable one resets the
  // sequence.
  void connection_lasted(std::chrono::nanoseconds up) {
    if (up >= config_.reset_after) reset();
  }
  void reset() { attempt_ = 0; }
  uint32_t attempt() const { return attempt_; }

 private:
  Backoff config_;
  std::mt19937_64 rng_;
  uint32_t attempt_ = 0;
};

}  // namespace mqtt::runtime
