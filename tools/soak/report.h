// The soak run's report: one row per interval (a readable line, and a JSON
// line with --json), one row per minute for the closing table, and the
// verdict on memory, descriptors, threads, losses and duplicates.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tools/soak/latency_histogram.h"
#include "tools/soak/proc_stats.h"
#include "tools/soak/workload.h"

namespace soak {

struct Row {
  double t_s = 0;  // end of the row's span, since the load started
  double span_s = 0;
  std::array<double, 3> sent_per_s{};
  std::array<double, 3> recv_per_s{};
  double p50_ms = 0, p99_ms = 0, p999_ms = 0;
  uint64_t latency_samples = 0;
  int64_t rss_kb_max = 0;  // this process, max over the span's 1 s samples
  int64_t heap_kb = 0;     // malloc in use at the end of the span
  int64_t broker_rss_kb = 0;
  int64_t fds = 0;
  int64_t threads = 0;
  uint64_t reconnects = 0;         // cumulative
  uint64_t faults = 0;             // cumulative
  uint64_t connection_errors = 0;  // cumulative
  uint64_t backpressure = 0;       // cumulative
  uint64_t qos12_gaps = 0;         // at the end of the span
  uint64_t duplicates_qos2 = 0;    // cumulative
};

// Fills the rates and latency of `row` from two totals and the span's samples.
void fill_rates(Row& row, const Totals& before, const Totals& after, const LatencyHistogram& h);

std::string readable_line(const Row& r);
std::string json_line(const Row& r);
std::string markdown_table(const std::vector<Row>& rows);

}  // namespace soak
