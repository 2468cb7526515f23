// Faults at random times, all drawn from one seed so that a run can be
// repeated: one at a time, each followed by a quiet gap.
//   relay_pause     the relay (socat) gets SIGSTOP for 2-10 s: a black hole,
//                   which keep alive (5 s + 2.5 s) detects when it is long;
//   relay_kill      the relay is killed (every connection cut) and started
//                   again 0.5-3 s later;
//   broker_restart  mosquitto gets SIGTERM (it saves its persistent state)
//                   and starts again 0.5-3 s later on the same port;
//   broker_kill9    (only with --kill9) the same with SIGKILL: mosquitto may
//                   then lose or repeat messages itself (see the design
//                   brief), so losses are reported but not the client's;
//   consumer_stall  one consumer thread stops calling next() for 2-8 s.
// Runs on the main thread only: peers are spawned from there (their
// parent-death signal belongs to the spawning thread).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <random>
#include <string>

#include "tests/integration/support/broker.h"
#include "tests/integration/support/relay.h"
#include "tools/soak/workload.h"

namespace soak {

enum class FaultKind : uint8_t { RelayPause, RelayKill, BrokerRestart, BrokerKill9, ConsumerStall };
constexpr size_t kFaultKinds = 5;
const char* to_string(FaultKind k);

struct FaultOptions {
  bool kill9 = false;
  bool relay = true;                         // false: the clients connect directly, no relay faults
  std::chrono::milliseconds gap_min{10000};  // quiet time between two faults
  std::chrono::milliseconds gap_max{40000};
};

class FaultInjector {
 public:
  // `log` receives one line per action (start and end of each fault).
  FaultInjector(itest::Broker& broker, itest::Relay& relay, Workload& workload, uint64_t seed,
                FaultOptions options, std::function<void(const std::string&)> log);

  // Starts or ends a fault when one is due. No fault starts at or after
  // `no_new_after`.
  void tick(Clock::time_point now, Clock::time_point no_new_after);
  // Ends the fault in progress, if any (peers running, consumer reading).
  void finish();

  uint64_t total() const { return total_; }
  // A relay or broker could not be started again after its fault.
  bool broken() const { return broken_; }
  const std::array<uint64_t, kFaultKinds>& by_kind() const { return counts_; }

 private:
  void begin(FaultKind kind, Clock::time_point now);
  void end();
  Clock::duration draw(std::chrono::milliseconds lo, std::chrono::milliseconds hi);

  itest::Broker& broker_;
  itest::Relay& relay_;
  Workload& workload_;
  FaultOptions options_;
  std::function<void(const std::string&)> log_;
  std::mt19937_64 rng_;
  bool active_ = false;
  bool broken_ = false;  // a peer could not be restarted: no more faults
  FaultKind kind_ = FaultKind::RelayPause;
  Clock::time_point end_at_{};
  Clock::time_point next_at_{};
  uint64_t total_ = 0;
  std::array<uint64_t, kFaultKinds> counts_{};
};

}  // namespace soak
