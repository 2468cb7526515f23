// A fixed-size log-linear latency histogram (microseconds): 16 sub-buckets
// per power of two, so a percentile is within ~6% of the true value. Fixed
// memory, no allocation when recording: a soak run must not grow because of
// its own bookkeeping.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace soak {

class LatencyHistogram {
 public:
  void record(int64_t us) {
    if (us < 0) us = 0;
    ++counts_[index(static_cast<uint64_t>(us))];
    ++total_;
  }
  void merge(const LatencyHistogram& o) {
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
  }
  void clear() { *this = LatencyHistogram(); }
  uint64_t count() const { return total_; }

  // The value (us) below which fraction q (0..1) of the samples lie: the
  // upper edge of the bucket holding that rank. 0 when empty.
  uint64_t percentile(double q) const {
    if (total_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total_));
    if (rank >= total_) rank = total_ - 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen > rank) return upper(i);
    }
    return upper(kBuckets - 1);
  }

 private:
  static constexpr int kSub = 4;  // 2^4 sub-buckets per power of two
  static constexpr size_t kBuckets = 16 + (64 - kSub) * 16;

  static size_t index(uint64_t v) {
    if (v < 16) return static_cast<size_t>(v);
    const int exp = 63 - std::countl_zero(v);  // >= 4
    const uint64_t sub = (v >> (exp - kSub)) & 15;
    return 16 + static_cast<size_t>(exp - kSub) * 16 + static_cast<size_t>(sub);
  }
  static uint64_t upper(size_t i) {
    if (i < 16) return i;
    const int exp = static_cast<int>((i - 16) / 16) + kSub;
    const uint64_t sub = (i - 16) % 16;
    return ((16 + sub + 1) << (exp - kSub)) - 1;
  }

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
};

}  // namespace soak
