#include "tools/soak/report.h"

#include <cstdio>

namespace soak {

void fill_rates(Row& row, const Totals& before, const Totals& after, const LatencyHistogram& h) {
  for (size_t q = 0; q < 3; ++q) {
    row.sent_per_s[q] =
        row.span_s > 0 ? static_cast<double>(after.sent[q] - before.sent[q]) / row.span_s : 0;
    row.recv_per_s[q] =
        row.span_s > 0 ? static_cast<double>(after.received[q] - before.received[q]) / row.span_s
                       : 0;
  }
  row.p50_ms = static_cast<double>(h.percentile(0.50)) / 1000.0;
  row.p99_ms = static_cast<double>(h.percentile(0.99)) / 1000.0;
  row.p999_ms = static_cast<double>(h.percentile(0.999)) / 1000.0;
  row.latency_samples = h.count();
  row.reconnects = after.reconnects;
  row.connection_errors = after.connection_errors;
  row.backpressure = after.backpressure;
  row.qos12_gaps = after.qos12_gaps;
  row.duplicates_qos2 = after.duplicates_qos2;
}

std::string readable_line(const Row& r) {
  char b[512];
  std::snprintf(
      b, sizeof b,
      "t=%6.0fs sent %4.0f/%4.0f/%4.0f recv %4.0f/%4.0f/%4.0f msg/s (QoS 0/1/2)  "
      "lat p50 %.2f p99 %.2f p99.9 %.1f ms  rss %.1f MB (heap %.1f, broker %.1f MB)  fds %lld  "
      "threads %lld  reconnects %llu  faults %llu  conn errors %llu  backpressure %llu  "
      "gaps %llu  qos2 dups %llu",
      r.t_s, r.sent_per_s[0], r.sent_per_s[1], r.sent_per_s[2], r.recv_per_s[0], r.recv_per_s[1],
      r.recv_per_s[2], r.p50_ms, r.p99_ms, r.p999_ms, static_cast<double>(r.rss_kb_max) / 1024.0,
      static_cast<double>(r.heap_kb) / 1024.0, static_cast<double>(r.broker_rss_kb) / 1024.0,
      static_cast<long long>(r.fds), static_cast<long long>(r.threads),
      static_cast<unsigned long long>(r.reconnects), static_cast<unsigned long long>(r.faults),
      static_cast<unsigned long long>(r.connection_errors),
      static_cast<unsigned long long>(r.backpressure),
      static_cast<unsigned long long>(r.qos12_gaps),
      static_cast<unsigned long long>(r.duplicates_qos2));
  return b;
}

std::string json_line(const Row& r) {
  char b[768];
  std::snprintf(b, sizeof b,
                "{\"elapsed_s\":%.1f,\"span_s\":%.1f,\"sent_per_s\":[%.1f,%.1f,%.1f],"
                "\"received_per_s\":[%.1f,%.1f,%.1f],\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,"
                "\"p999\":%.3f,\"samples\":%llu},\"rss_kb\":%lld,\"heap_kb\":%lld,\"broker_rss_"
                "kb\":%lld,\"fds\":%lld,"
                "\"threads\":%lld,\"reconnects\":%llu,\"faults\":%llu,\"connection_errors\":%llu,"
                "\"backpressure\":%llu,\"qos12_gaps\":%llu,\"qos2_duplicates\":%llu}",
                r.t_s, r.span_s, r.sent_per_s[0], r.sent_per_s[1], r.sent_per_s[2], r.recv_per_s[0],
                r.recv_per_s[1], r.recv_per_s[2], r.p50_ms, r.p99_ms, r.p999_ms,
                static_cast<unsigned long long>(r.latency_samples),
                static_cast<long long>(r.rss_kb_max), static_cast<long long>(r.heap_kb),
                static_cast<long long>(r.broker_rss_kb), static_cast<long long>(r.fds),
                static_cast<long long>(r.threads), static_cast<unsigned long long>(r.reconnects),
                static_cast<unsigned long long>(r.faults),
                static_cast<unsigned long long>(r.connection_errors),
                static_cast<unsigned long long>(r.backpressure),
                static_cast<unsigned long long>(r.qos12_gaps),
                static_cast<unsigned long long>(r.duplicates_qos2));
  return b;
}

std::string markdown_table(const std::vector<Row>& rows) {
  std::string out =
      "| t (s) | sent msg/s (QoS 0/1/2) | received msg/s (QoS 0/1/2) | latency p50 / p99 / p99.9 "
      "(ms) | RSS max (MB) | heap (MB) | broker RSS (MB) | fds | threads | reconnects | faults |\n"
      "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& r : rows) {
    char b[400];
    std::snprintf(
        b, sizeof b,
        "| %.0f | %.0f / %.0f / %.0f | %.0f / %.0f / %.0f | %.2f / %.2f / %.1f | %.1f | "
        "%.1f | %.1f | %lld | %lld | %llu | %llu |\n",
        r.t_s, r.sent_per_s[0], r.sent_per_s[1], r.sent_per_s[2], r.recv_per_s[0], r.recv_per_s[1],
        r.recv_per_s[2], r.p50_ms, r.p99_ms, r.p999_ms, static_cast<double>(r.rss_kb_max) / 1024.0,
        static_cast<double>(r.heap_kb) / 1024.0, static_cast<double>(r.broker_rss_kb) / 1024.0,
        static_cast<long long>(r.fds), static_cast<long long>(r.threads),
        static_cast<unsigned long long>(r.reconnects), static_cast<unsigned long long>(r.faults));
    out += b;
  }
  return out;
}

}  // namespace soak
