// One simulated run: the seed's configuration, the session, the broker
// model, the network and the user, stepped on a fake clock. Phases: active
// (user activity, broker publishes, faults), drain (no faults: everything
// must settle), end (graceful disconnect or fail_all: every request must
// have ended). Invariants are checked after every step; the first violation
// ends the run.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "tests/sim/checker.h"
#include "tests/sim/config.h"

namespace sim {

struct RunResult {
  bool ok = true;
  std::string failure;  // the first violation
  uint64_t step = 0;    // when it happened
  Coverage cov;
};

// `trace`: when not null, every event of the run, one per line.
RunResult run_seed(uint64_t seed, std::ostream* trace = nullptr);
// The same with a given configuration (unit tests pick one).
RunResult run_config(const SimConfig& cfg, std::ostream* trace = nullptr);

}  // namespace sim
