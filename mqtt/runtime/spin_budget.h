// The adaptive spin of SpinThenBlock, shared by the reactor and the consumer:
// how long to spin before blocking, at most spin_for. A spin that paid (the
// work came while spinning, or soon enough that a longer spin would have
// caught it) doubles it; one that ran out with nothing to do halves it, down
// to nothing. Where work comes further apart than spin_for the thread then
// blocks at once, as with Block, instead of taking CPU (on a small machine,
// the broker's) that the spin does not pay back. One thread only.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "mqtt/session/deadline.h"

namespace mqtt::runtime {

class SpinBudget {
 public:
  // spin_for may be as large as microseconds::max(): saturated.
  explicit SpinBudget(std::chrono::microseconds spin_for = {})
      : max_(mqtt::detail::saturating_cast<std::chrono::nanoseconds>(spin_for)),
        now_(max_) {}

  std::chrono::nanoseconds max() const { return max_; }
  std::chrono::nanoseconds now() const { return now_; }

  // A new limit (the consumer's spin_for comes with each call).
  void limit(std::chrono::microseconds spin_for) {
    const auto m = mqtt::detail::saturating_cast<std::chrono::nanoseconds>(spin_for);
    if (m == max_) return;
    max_ = m;
    now_ = std::min(now_, max_);
  }
  void paid() {
    if (now_ >= max_ / 2) {
      now_ = max_;
    } else {
      now_ = std::min(max_, std::max(now_ * 2, std::chrono::nanoseconds(1000)));
    }
  }
  void wasted() {
    now_ /= 2;
    if (now_ < std::chrono::nanoseconds(1000)) now_ = std::chrono::nanoseconds::zero();
  }

 private:
  std::chrono::nanoseconds max_;
  std::chrono::nanoseconds now_;
};

}  // namespace mqtt::runtime
