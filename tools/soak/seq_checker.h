// Per-flow delivery check: one publisher numbers its messages 0, 1, 2 ...;
// the subscriber reports each number it receives. Finds duplicates at once
// and, at the end, the numbers that never came (losses). Memory stays small
// while delivery is mostly in order: everything below `low_` arrived, and
// only numbers received above a gap are kept.
#pragma once

#include <cstdint>
#include <mutex>
#include <set>

namespace soak {

class SeqChecker {
 public:
  // Returns true when `seq` had already been received (a duplicate).
  bool add(uint64_t seq) {
    std::lock_guard<std::mutex> lock(mu_);
    if (seq < low_ || above_.count(seq) != 0) {
      ++duplicates_;
      return true;
    }
    ++unique_;
    if (seq == low_) {
      ++low_;
      for (auto it = above_.begin(); it != above_.end() && *it == low_; it = above_.erase(it)) {
        ++low_;
      }
    } else {
      above_.insert(seq);
      // A gap that never fills would make the set grow for ever: past this
      // many numbers above it, count it lost now and move on.
      if (above_.size() > kMaxAbove) {
        const uint64_t next = *above_.begin();
        given_up_ += next - low_;
        low_ = next;
        for (auto it = above_.begin(); it != above_.end() && *it == low_; it = above_.erase(it)) {
          ++low_;
        }
      }
    }
    return false;
  }

  // The lowest number not received yet.
  uint64_t first_missing() const {
    std::lock_guard<std::mutex> l(mu_);
    return low_;
  }
  uint64_t unique() const {
    std::lock_guard<std::mutex> l(mu_);
    return unique_;
  }
  uint64_t duplicates() const {
    std::lock_guard<std::mutex> l(mu_);
    return duplicates_;
  }
  // Numbers below the highest received that have not arrived (yet).
  uint64_t open_gaps() const {
    std::lock_guard<std::mutex> l(mu_);
    if (above_.empty()) return given_up_;
    return given_up_ + (*above_.rbegin() + 1 - low_ - above_.size());
  }

 private:
  static constexpr size_t kMaxAbove = 100'000;
  mutable std::mutex mu_;
  uint64_t low_ = 0;
  std::set<uint64_t> above_;
  uint64_t unique_ = 0;
  uint64_t duplicates_ = 0;
  uint64_t given_up_ = 0;
};

}  // namespace soak
