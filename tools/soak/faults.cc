#include "tools/soak/faults.h"

#include <csignal>
#include <cstdio>
#include <exception>

namespace soak {

const char* to_string(FaultKind k) {
  switch (k) {
    case FaultKind::RelayPause:
      return "relay_pause";
    case FaultKind::RelayKill:
      return "relay_kill";
    case FaultKind::BrokerRestart:
      return "broker_restart";
    case FaultKind::BrokerKill9:
      return "broker_kill9";
    case FaultKind::ConsumerStall:
      return "consumer_stall";
  }
  return "?";
}

FaultInjector::FaultInjector(itest::Broker& broker, itest::Relay& relay, Workload& workload,
                             uint64_t seed, FaultOptions options,
                             std::function<void(const std::string&)> log)
    : broker_(broker),
      relay_(relay),
      workload_(workload),
      options_(options),
      log_(std::move(log)),
      rng_(seed) {
  next_at_ = Clock::now() + draw(options_.gap_min, options_.gap_max);
}

Clock::duration FaultInjector::draw(std::chrono::milliseconds lo, std::chrono::milliseconds hi) {
  std::uniform_int_distribution<int64_t> d(lo.count(), hi.count());
  return std::chrono::milliseconds(d(rng_));
}

void FaultInjector::tick(Clock::time_point now, Clock::time_point no_new_after) {
  if (active_) {
    if (now >= end_at_) {
      end();
      next_at_ = Clock::now() + draw(options_.gap_min, options_.gap_max);
    }
    return;
  }
  if (broken_ || now < next_at_ || now >= no_new_after) return;
  // Weights: network faults and stalls often, broker restarts less so.
  std::discrete_distribution<int> pick({options_.relay ? 3.0 : 0.0, options_.relay ? 3.0 : 0.0, 2.0,
                                        options_.kill9 ? 1.0 : 0.0, 3.0});
  begin(static_cast<FaultKind>(pick(rng_)), now);
}

void FaultInjector::begin(FaultKind kind, Clock::time_point now) {
  kind_ = kind;
  active_ = true;
  ++total_;
  ++counts_[static_cast<size_t>(kind)];
  char line[160];
  Clock::duration length{};
  switch (kind) {
    case FaultKind::RelayPause:
      length = draw(std::chrono::milliseconds(2000), std::chrono::milliseconds(10000));
      relay_.pause();
      break;
    case FaultKind::RelayKill:
      length = draw(std::chrono::milliseconds(500), std::chrono::milliseconds(3000));
      relay_.kill();
      break;
    case FaultKind::BrokerRestart:
    case FaultKind::BrokerKill9:
      length = draw(std::chrono::milliseconds(500), std::chrono::milliseconds(3000));
      broker_.stop(kind == FaultKind::BrokerKill9 ? SIGKILL : SIGTERM);
      break;
    case FaultKind::ConsumerStall: {
      length = draw(std::chrono::milliseconds(2000), std::chrono::milliseconds(8000));
      std::uniform_int_distribution<size_t> which(0, workload_.connections() - 1);
      const size_t i = which(rng_);
      workload_.stall(i, now + length);
      std::snprintf(line, sizeof line, "fault %llu: consumer_stall conn %zu for %.1f s",
                    static_cast<unsigned long long>(total_), i,
                    std::chrono::duration<double>(length).count());
      end_at_ = now + length;
      log_(line);
      return;
    }
  }
  end_at_ = now + length;
  std::snprintf(line, sizeof line, "fault %llu: %s for %.1f s",
                static_cast<unsigned long long>(total_), to_string(kind),
                std::chrono::duration<double>(length).count());
  log_(line);
}

void FaultInjector::end() {
  if (!active_) return;
  active_ = false;
  // A peer that cannot be started again (its port taken meanwhile) ends the
  // faults, not the run: the clients then cannot reconnect and the verdict
  // says so (drain), with this line in the log.
  try {
    switch (kind_) {
      case FaultKind::RelayPause:
        relay_.resume();
        break;
      case FaultKind::RelayKill:
        relay_.start();
        break;
      case FaultKind::BrokerRestart:
      case FaultKind::BrokerKill9:
        broker_.start();
        break;
      case FaultKind::ConsumerStall:
        return;  // the consumer resumes by itself
    }
  } catch (const std::exception& e) {
    log_(std::string("fault end FAILED: ") + to_string(kind_) + ": " + e.what());
    broken_ = true;
    return;
  }
  log_(std::string("fault end: ") + to_string(kind_));
}

void FaultInjector::finish() {
  if (kind_ == FaultKind::ConsumerStall && active_) {
    for (size_t i = 0; i < workload_.connections(); ++i) workload_.stall(i, Clock::time_point{});
  }
  end();
}

}  // namespace soak
