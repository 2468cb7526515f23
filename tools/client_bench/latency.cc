// What the round-trip scenarios share, whatever the library: the stamp in
// each payload, the receiver's log and the open-loop publisher's schedule.
#include <sys/prctl.h>

#include <algorithm>
#include <cstring>

#include "tools/client_bench/bench_common.h"

namespace bench {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

void stamp(std::string& payload, uint32_t seq, int64_t t_ns) {
  if (payload.size() < kStampBytes) payload.resize(kStampBytes, 'p');
  std::memcpy(payload.data(), &seq, sizeof seq);
  std::memcpy(payload.data() + sizeof seq, &t_ns, sizeof t_ns);
}

long LatencyLog::record(const void* payload, size_t size, Completion& done) {
  const int64_t now = now_ns();
  if (size < kStampBytes) return -1;
  uint32_t seq = 0;
  int64_t t = 0;
  std::memcpy(&seq, payload, sizeof seq);
  std::memcpy(&t, static_cast<const char*>(payload) + sizeof seq, sizeof t);
  if (seq >= ns_.size() || ns_[seq] >= 0) return -1;
  ns_[seq] = std::max<int64_t>(0, now - t);
  done.add();
  return seq;
}

std::vector<double> LatencyLog::microseconds() const {
  std::vector<double> us;
  us.reserve(ns_.size());
  for (int64_t n : ns_)
    if (n >= 0) us.push_back(static_cast<double>(n) / 1000);
  return us;
}

double paced_publish(uint32_t n, double rate, int64_t t0_ns, Clock::time_point deadline,
                     const std::function<bool(uint32_t, int64_t)>& send) {
  // The default timer slack (50 µs) would make every sleep late by up to
  // that much; the lateness counts in the latencies, so keep it small.
  prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
  std::vector<double> lag_us;
  lag_us.reserve(n);
  const Clock::time_point t0{std::chrono::nanoseconds(t0_ns)};
  for (uint32_t i = 0; i < n; ++i) {
    const auto due_offset = std::chrono::nanoseconds(static_cast<int64_t>(i * 1e9 / rate));
    const auto due = t0 + due_offset;
    if (due > deadline) break;
    if (Clock::now() < due) std::this_thread::sleep_until(due);
    const int64_t scheduled = t0_ns + due_offset.count();
    lag_us.push_back(static_cast<double>(now_ns() - scheduled) / 1000);
    if (!send(i, scheduled)) break;
  }
  if (lag_us.empty()) return -1;
  const size_t k = std::min(lag_us.size() - 1, lag_us.size() * 99 / 100);
  std::nth_element(lag_us.begin(), lag_us.begin() + static_cast<long>(k), lag_us.end());
  return lag_us[k];
}

}  // namespace bench
