// Client throughput, side by side: this library, libmosquitto and Paho C
// (async), against the same broker in the same run, interleaved so that noise
// on this shared machine hits all three alike. Reports the median of --runs.
//
//   client_bench --port P [--host H] [--messages N] [--payload B] [--runs R]
//                [--scenario qos1_publish|qos0_echo|all] [--library NAME] [--json]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tools/client_bench/bench_common.h"

namespace {

struct Library {
  const char* name;
  bench::RunResult (*run)(const bench::RunConfig&);
};

const Library kLibraries[] = {
    {"ours", bench::run_ours},
    {"libmosquitto", bench::run_mosquitto},
    {"paho-async", bench::run_paho},
};

const char* scenario_name(bench::Scenario s) {
  return s == bench::Scenario::Qos1Publish ? "qos1_publish" : "qos0_echo";
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

int usage() {
  std::fprintf(stderr,
               "usage: client_bench --port P [--host H] [--messages N] [--payload B] [--runs R]\n"
               "                    [--scenario qos1_publish|qos0_echo|all] [--library ours|libmosquitto|paho-async]\n"
               "                    [--json]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  bench::RunConfig base;
  int runs = 5;
  bool json = false;
  std::vector<bench::Scenario> scenarios = {bench::Scenario::Qos1Publish, bench::Scenario::Qos0Echo};
  bool have_port = false;
  std::string only;  // --library NAME: run just that one
  for (int i = 1; i < argc; ++i) {
    auto arg = [&](const char* name) { return std::strcmp(argv[i], name) == 0 && i + 1 < argc; };
    if (arg("--host")) base.host = argv[++i];
    else if (arg("--port")) base.port = static_cast<uint16_t>(std::atoi(argv[++i])), have_port = true;
    else if (arg("--messages")) base.messages = static_cast<uint32_t>(std::atol(argv[++i]));
    else if (arg("--payload")) base.payload = static_cast<uint32_t>(std::atol(argv[++i]));
    else if (arg("--runs")) runs = std::max(1, std::atoi(argv[++i]));
    else if (arg("--library")) only = argv[++i];
    else if (arg("--scenario")) {
      std::string s = argv[++i];
      if (s == "qos1_publish") scenarios = {bench::Scenario::Qos1Publish};
      else if (s == "qos0_echo") scenarios = {bench::Scenario::Qos0Echo};
      else if (s != "all") return usage();
    } else if (std::strcmp(argv[i], "--json") == 0) json = true;
    else return usage();
  }
  if (!have_port) return usage();

  int failures = 0;
  for (auto scenario : scenarios) {
    std::vector<std::vector<double>> rates(std::size(kLibraries));
    std::vector<std::vector<double>> allocs(std::size(kLibraries));
    for (int run = 0; run < runs; ++run) {
      for (size_t l = 0; l < std::size(kLibraries); ++l) {
        if (!only.empty() && only != kLibraries[l].name) continue;
        bench::RunConfig c = base;
        c.scenario = scenario;
        c.topic = std::string("bench/") + kLibraries[l].name + "/" + scenario_name(scenario) + "/" +
                  std::to_string(run);
        auto r = kLibraries[l].run(c);
        if (!r.ok) {
          ++failures;
          std::fprintf(stderr, "%s %s run %d: %s (%u of %u)\n", kLibraries[l].name,
                       scenario_name(scenario), run, r.error.c_str(), r.completed, c.messages);
          continue;
        }
        rates[l].push_back(r.completed / r.seconds);
        if (r.allocations_per_message >= 0) allocs[l].push_back(r.allocations_per_message);
      }
    }
    const double ours = median(rates[0]);
    if (!json) {
      std::printf("\n%s: %u messages of %u B, median of %d runs\n", scenario_name(scenario),
                  base.messages, base.payload, runs);
      std::printf("  %-14s %14s %14s %14s %10s %12s\n", "library", "median msg/s", "min msg/s",
                  "max msg/s", "vs ours", "allocs/msg");
    }
    for (size_t l = 0; l < std::size(kLibraries); ++l) {
      const auto& v = rates[l];
      double med = median(v);
      double lo = v.empty() ? 0 : *std::min_element(v.begin(), v.end());
      double hi = v.empty() ? 0 : *std::max_element(v.begin(), v.end());
      double ratio = med > 0 ? ours / med : 0;
      const double apm = allocs[l].empty() ? -1 : median(allocs[l]);
      if (json) {
        std::printf(
            "{\"scenario\":\"%s\",\"library\":\"%s\",\"messages\":%u,\"payload\":%u,\"runs_ok\":%zu,"
            "\"median_msgs_per_s\":%.0f,\"min_msgs_per_s\":%.0f,\"max_msgs_per_s\":%.0f,"
            "\"ours_over_this\":%.3f,\"allocations_per_message\":%.2f}\n",
            scenario_name(scenario), kLibraries[l].name, base.messages, base.payload, v.size(), med, lo,
            hi, ratio, apm);
      } else {
        char a[32] = "n/a";
        if (apm >= 0) std::snprintf(a, sizeof a, "%.2f", apm);
        std::printf("  %-14s %14.0f %14.0f %14.0f %9.2fx %12s\n", kLibraries[l].name, med, lo, hi, ratio,
                    a);
      }
    }
  }
  return failures ? 1 : 0;
}
