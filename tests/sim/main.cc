// The simulator's command line, and the CI test (//tests/sim:sim_test runs it
// without arguments: a fixed seed range sized for the build, under a time
// budget that fails loudly when fewer seeds than required ran).
//
//   sim --seed 0x1234 --verbose        replay one seed with a step trace
//   sim --seeds 1000000 --start 5000   many seeds
//   sim --budget 120 --min-seeds 900   time limit and the seeds that must run in it
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include "tests/sim/runner.h"

extern "C" __attribute__((weak)) void __ubsan_handle_add_overflow();

namespace {

const char* sanitizer() {
#if defined(__SANITIZE_ADDRESS__)
  return "asan";
#elif defined(__SANITIZE_THREAD__)
  return "tsan";
#else
  return __ubsan_handle_add_overflow != nullptr ? "ubsan" : nullptr;
#endif
}

uint64_t parse(const char* s) { return std::strtoull(s, nullptr, 0); }

// The last resort against a seed that hangs (a loop in the session or the
// simulator): the budget is checked between seeds only. A seed takes
// milliseconds; one that runs for kSeedLimit ends the process, naming it.
constexpr std::chrono::seconds kSeedLimit{60};
std::atomic<uint64_t> g_seed{0};
std::atomic<int64_t> g_seed_start{0};  // steady_clock ns; 0: between seeds
std::atomic<bool> g_done{false};

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void watchdog() {
  while (!g_done.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const int64_t start = g_seed_start.load();
    if (start != 0 && now_ns() - start > std::chrono::nanoseconds(kSeedLimit).count()) {
      std::printf("WATCHDOG: seed 0x%" PRIx64 " ran for more than %lld s (a hang?)\n  replay: bazel run //tests/sim:sim -- --seed 0x%" PRIx64 " --verbose\n",
                  g_seed.load(), static_cast<long long>(kSeedLimit.count()), g_seed.load());
      std::fflush(stdout);
      std::_Exit(1);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const char* san = sanitizer();
  // CI: 10,000 seeds under gcc, 1,000 under each sanitizer.
  uint64_t seeds = san ? 1000 : 10000, start = 1;
  uint64_t min_seeds = 0;  // 0: all of them
  double budget_s = 170;   // a hard stop below the 3-minute limit
  bool verbose = false, one = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--seed") {
      start = parse(val());
      seeds = 1;
      one = true;
    } else if (a == "--seeds") {
      seeds = parse(val());
    } else if (a == "--start") {
      start = parse(val());
    } else if (a == "--verbose") {
      verbose = true;
    } else if (a == "--budget") {
      budget_s = std::strtod(val(), nullptr);
    } else if (a == "--min-seeds") {
      min_seeds = parse(val());
    } else {
      std::fprintf(stderr, "usage: sim [--seed S [--verbose]] [--seeds N] [--start S] [--budget SECONDS] [--min-seeds N]\n");
      return 2;
    }
  }
  if (min_seeds == 0 || min_seeds > seeds) min_seeds = seeds;
  const auto t0 = std::chrono::steady_clock::now();
  std::thread dog(watchdog);
  sim::Coverage total;
  uint64_t ran = 0, failed = 0;
  for (uint64_t i = 0; i < seeds; ++i) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!one && elapsed > budget_s) break;
    const uint64_t seed = start + i;
    const sim::SimConfig cfg = sim::SimConfig::from_seed(seed);
    g_seed.store(seed);
    g_seed_start.store(verbose ? 0 : now_ns());  // a trace to a slow terminal may take long
    const sim::RunResult r = sim::run_config(cfg, verbose ? &std::cout : nullptr);
    g_seed_start.store(0);
    ++ran;
    total.add(r.cov);
    if (!r.ok) {
      ++failed;
      std::printf("FAILED seed 0x%" PRIx64 " at step %" PRIu64 ": %s\n  config: %s\n  replay: bazel run //tests/sim:sim -- --seed 0x%" PRIx64 " --verbose\n",
                  seed, r.step, r.failure.c_str(), cfg.describe().c_str(), seed);
      if (failed >= 10) break;
    }
  }
  g_done.store(true);
  dog.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("simulated %" PRIu64 " seeds from 0x%" PRIx64 " in %.1f s (%s build): %" PRIu64 " failed\n%s\n",
              ran, start, secs, san ? san : "plain", failed, total.describe().c_str());
  if (failed) return 1;
  if (ran < min_seeds) {
    std::printf("FAILED: only %" PRIu64 " of the required %" PRIu64 " seeds ran within the %.0f s budget\n", ran,
                min_seeds, budget_s);
    return 1;
  }
  return 0;
}
