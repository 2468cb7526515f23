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
    // In doubles: milliseconds::max() in nanoseconds would overflow int64.
    const double initial = static_cast<double>(config_.initial.count()) * 1e6;
    const double max = static_cast<double>(config_.max.count()) * 1e6;
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
    // Saturate: callers add this to a time point with saturating_add.
    if (!(d < 9.0e18)) return nanoseconds::max();
    return nanoseconds(static_cast<int64_t>(d));
  }

  // A connection ended after being up for `up`: a stable one resets the
  // sequence.
  void connection_lasted(std::chrono::nanoseconds up) {
    // Compared in milliseconds: reset_after = max() must not overflow.
    if (std::chrono::duration_cast<std::chrono::milliseconds>(up) >= config_.reset_after) reset();
  }
  void reset() { attempt_ = 0; }
  uint32_t attempt() const { return attempt_; }

 private:
  Backoff config_;
  std::mt19937_64 rng_;
  uint32_t attempt_ = 0;
};

}  // namespace mqtt::runtime
