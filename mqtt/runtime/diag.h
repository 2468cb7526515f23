// The reactor's side of mqtt/diagnostics.h: counter cells (one writer, the
// reactor; any reader) and the bounded log buffer between the reactor and
// the consumer thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "mqtt/diagnostics.h"

namespace mqtt::runtime {

// One writer: a relaxed load and store, no locked read-modify-write.
inline void bump(std::atomic<uint64_t>& a, uint64_t n = 1) {
  a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// Messages and bytes side by side: one address computation per message.
struct FlowCells {
  std::atomic<uint64_t> messages{0};
  std::atomic<uint64_t> bytes{0};
  // QoS comes from the codec (incoming) or a validated request: 0..2.
  void add(uint64_t n) {
    bump(messages);
    bump(bytes, n);
  }
};

struct CounterCells {
  std::array<FlowCells, Counters::kQoS> in{};   // by QoS
  std::array<FlowCells, Counters::kQoS> out{};
  std::array<std::atomic<uint64_t>, Counters::kConnectionErrorCodes> connection_errors{};
  std::array<std::atomic<uint64_t>, Counters::kRequestErrors> requests_failed{};
  std::atomic<uint64_t> reading_paused_ns{0};
  std::atomic<uint64_t> log_records{0};
  std::atomic<uint64_t> log_dropped{0};
};

// Bounded: a full buffer drops the record (counted) instead of waiting. The
// lock is held for a push or a vector swap only, never while the sink runs,
// so the reactor waits at most for one O(1) swap.
class LogBuffer {
 public:
  explicit LogBuffer(size_t capacity) : cap_(capacity) {}

  // Reactor thread.
  void push(LogRecord&& r, CounterCells& cells) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (records_.size() < cap_) {
        records_.push_back(std::move(r));
        bump(cells.log_records);
        pending_.store(true, std::memory_order_release);
        return;
      }
    }
    bump(cells.log_dropped);
  }

  // Consumer thread: everything recorded so far, oldest first, into `out`
  // (cleared first; its capacity goes back to the reactor's side). Takes
  // the lock only when something was pushed since the last take: a record
  // pushed after the exchange sets the flag again for the next call.
  bool take(std::vector<LogRecord>& out) {
    out.clear();
    // A plain load first: no locked instruction per next() while idle.
    if (!pending_.load(std::memory_order_acquire)) return false;
    if (!pending_.exchange(false, std::memory_order_acq_rel)) return false;
    std::lock_guard<std::mutex> l(mu_);
    out.swap(records_);
    return !out.empty();
  }

 private:
  const size_t cap_;
  std::mutex mu_;
  std::vector<LogRecord> records_;  // guarded by mu_
  std::atomic<bool> pending_{false};  // pushed since the last take
};

}  // namespace mqtt::runtime
