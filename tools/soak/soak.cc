// soak: a realistic mixed load against a private mosquitto for a given time,
// with faults injected at random times drawn from a seed; reports throughput,
// end-to-end latency, this process's RSS, descriptors and threads over time,
// and ends with a verdict (exit code 1 when a criterion fails, 2 when the
// setup fails). Not a CI test: see docs/soak.md.
//
//   soak [--duration 30m] [--seed N] [--rate MSG_PER_S] [--interval 10s]
//        [--warmup 5m] [--json] [--connections 6] [--kill9] [--no-faults]
//        [--no-relay] [--fault-gap 10s-40s]
//
// Durations take a unit: 90s, 3m, 1h (a bare number is seconds).
//
// Verdict (W = warm-up, L = the window, min(10 min, duration / 3); without
// --warmup, W = min(5 min, duration / 6): 5 and 10 min for 30 min):
//   memory   max RSS over [D - L, D] <= 1.1 x max RSS over [W, W + L]
//            (1 s samples of this process's VmRSS; mosquitto is a child
//            process and reported apart);
//   fds, threads
//            "connected": all clients connected and subscribed, before any
//            publisher thread starts (minute 0) == all clients connected
//            again after the load, the publishers joined and everything
//            delivered (end, before teardown);
//            "idle": before the first client was created == after every
//            client, connection and reactor was destroyed;
//   delivery no QoS 1/2 message lost, no QoS 2 duplicate, everything
//            delivered within the drain time, a clean teardown.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/support/broker.h"
#include "tests/integration/support/relay.h"
#include "tools/soak/faults.h"
#include "tools/soak/proc_stats.h"
#include "tools/soak/report.h"
#include "tools/soak/workload.h"

namespace soak {
namespace {

using std::chrono::milliseconds;

struct Args {
  milliseconds duration{30 * 60 * 1000};
  uint64_t seed = 1;
  double rate = 1500;
  milliseconds interval{10000};
  milliseconds warmup{-1};  // -1: scaled from the duration
  bool json = false;
  size_t connections = 6;
  bool kill9 = false;
  bool faults = true;
  bool relay = true;
  milliseconds gap_min{10000};
  milliseconds gap_max{40000};
};

bool parse_duration(const char* s, milliseconds& out) {
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (end == s || v < 0) return false;
  double scale = 1000;
  if (std::strcmp(end, "ms") == 0)
    scale = 1;
  else if (std::strcmp(end, "m") == 0)
    scale = 60'000;
  else if (std::strcmp(end, "h") == 0)
    scale = 3'600'000;
  else if (*end != '\0' && std::strcmp(end, "s") != 0)
    return false;
  out = milliseconds(static_cast<int64_t>(v * scale));
  return true;
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "soak: %s\nusage: soak [--duration 30m] [--seed N] [--rate MSG_PER_S] "
               "[--interval 10s] [--warmup 5m] [--json] [--connections N] [--kill9] "
               "[--no-faults] [--no-relay] [--fault-gap MIN-MAX]\n",
               why);
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto val = [&]() -> const char* {
      if (i + 1 >= argc) usage(("missing value for " + k).c_str());
      return argv[++i];
    };
    if (k == "--duration") {
      if (!parse_duration(val(), a.duration)) usage("bad --duration");
    } else if (k == "--interval") {
      if (!parse_duration(val(), a.interval)) usage("bad --interval");
    } else if (k == "--warmup") {
      if (!parse_duration(val(), a.warmup)) usage("bad --warmup");
    } else if (k == "--seed")
      a.seed = std::strtoull(val(), nullptr, 10);
    else if (k == "--rate")
      a.rate = std::strtod(val(), nullptr);
    else if (k == "--connections")
      a.connections = std::strtoul(val(), nullptr, 10);
    else if (k == "--json")
      a.json = true;
    else if (k == "--kill9")
      a.kill9 = true;
    else if (k == "--no-faults")
      a.faults = false;
    else if (k == "--no-relay")
      a.relay = false;
    else if (k == "--fault-gap") {
      const std::string v = val();
      const auto dash = v.find('-');
      if (dash == std::string::npos || !parse_duration(v.substr(0, dash).c_str(), a.gap_min) ||
          !parse_duration(v.substr(dash + 1).c_str(), a.gap_max) || a.gap_max < a.gap_min)
        usage("bad --fault-gap (e.g. 10s-40s)");
    } else if (k == "--help" || k == "-h")
      usage("help");
    else
      usage(("unknown argument " + k).c_str());
  }
  if (a.rate <= 0 || a.connections < 2 || a.connections > 64)
    usage("--rate > 0, --connections 2..64");
  if (a.interval < milliseconds(1000)) usage("--interval at least 1s");
  if (a.duration < milliseconds(30000)) usage("--duration at least 30s");
  return a;
}

// Ends the process if the run overruns its bound (a hang in the library:
// a join or a loop that never ends). Started before the first measurement
// and stopped after the last, so both counts of threads include it.
class HangGuard {
 public:
  explicit HangGuard(milliseconds limit)
      : thread_([this, limit] {
          std::unique_lock<std::mutex> lock(mu_);
          if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
            std::fprintf(stderr, "soak: HANG: the run did not finish within %lld s; aborting\n",
                         static_cast<long long>(limit.count() / 1000));
            std::fflush(stderr);
            std::_Exit(3);
          }
        }) {}
  ~HangGuard() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

void say(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

struct RssSample {
  double t_s;
  int64_t kb;
};

int64_t max_rss_in(const std::vector<RssSample>& s, double from, double to) {
  int64_t m = -1;
  for (const auto& x : s) {
    if (x.t_s >= from && x.t_s <= to) m = std::max(m, x.kb);
  }
  return m;
}

int run(const Args& args) {
  const double d_s = seconds(args.duration);
  const double window_s = std::min(600.0, d_s / 3);
  const double warmup_s =
      args.warmup.count() >= 0 ? seconds(args.warmup) : std::min(300.0, d_s / 6);
  const milliseconds drain_timeout{60000};
  HangGuard guard(args.duration + milliseconds(5 * 60 * 1000));

  itest::BrokerOptions bo;
  bo.persistence = true;
  bo.autosave_every_change = args.kill9;
  bo.max_inflight_messages = 0;  // no broker-side drops of QoS 2 (test-peers.md)
  bo.max_queued_messages = 0;    // a stalled consumer's messages are queued, not dropped
  bo.extra_lines = {"set_tcp_nodelay true"};
  itest::Broker broker(bo);
  itest::Relay relay(broker.port());
  say("soak: mosquitto pid " + std::to_string(broker.pid()) + " port " +
      std::to_string(broker.port()) + " (" + broker.dir() + "), relay port " +
      std::to_string(relay.port()));

  int64_t heap_connected_start = 0, heap_connected_end = 0;
  std::vector<Row> minutes;
  std::vector<RssSample> rss;
  rss.reserve(static_cast<size_t>(d_s) + 16);
  minutes.reserve(std::max<size_t>(static_cast<size_t>(d_s / 60), 32) + 4);
  // After the tool's own bookkeeping is allocated, so that the heap figures
  // before and after the clients compare the clients alone.
  const ProcStats idle_before = read_proc_stats();
  const int64_t heap_idle_before = heap_in_use_kb();
  std::vector<std::string> failures;
  ProcStats connected_start, connected_end;
  Totals final_totals;
  std::vector<Workload::FlowResult> flows;
  std::map<std::string, uint64_t> errors;
  uint64_t fault_total = 0;
  std::array<uint64_t, kFaultKinds> fault_counts{};
  LatencyHistogram all_latency;
  {
    WorkloadOptions wo;
    wo.port = args.relay ? relay.port() : broker.port();
    wo.connections = args.connections;
    wo.shared_reactor = args.connections / 2;
    wo.rate = args.rate;
    wo.seed = args.seed;
    Workload w(wo);
    say("soak: " + std::to_string(args.connections) + " connections, " +
        std::to_string(static_cast<int>(args.rate)) + " msg/s in all, seed " +
        std::to_string(args.seed) + ", duration " + std::to_string(static_cast<int>(d_s)) +
        " s, warm-up " + std::to_string(static_cast<int>(warmup_s)) + " s, window " +
        std::to_string(static_cast<int>(window_s)) + " s\n" + w.describe_connections());
    if (auto err = w.connect_all(milliseconds(30000)); !err.empty()) {
      say("soak: SETUP FAILED: " + err);
      return 2;
    }
    connected_start = read_proc_stats();
    heap_connected_start = heap_in_use_kb();
    FaultOptions fo;
    fo.kill9 = args.kill9;
    fo.relay = args.relay;
    fo.gap_min = args.gap_min;
    fo.gap_max = args.gap_max;
    const auto start = Clock::now();
    FaultInjector faults(broker, relay, w, args.seed, fo, [&](const std::string& l) {
      say("t=" + std::to_string(static_cast<int>(seconds(Clock::now() - start))) + "s " + l);
    });
    w.start_publishing();
    const auto end = start + args.duration;
    // The last faults end before the end: the final minute shows recovery.
    const auto no_new_faults =
        end - std::min<Clock::duration>(args.duration / 10, milliseconds(30000));
    Totals prev = w.totals(), minute_prev = prev;
    LatencyHistogram minute_latency;
    int64_t interval_rss_max = 0, minute_rss_max = 0;
    auto next_sample = start + milliseconds(1000);
    auto next_report = start + args.interval;
    double last_report_s = 0, last_minute_s = 0;
    // Table rows: a minute each, or for short runs about 1/30 of the run
    // (whole intervals).
    const double interval_s = seconds(args.interval);
    const double table_span_s =
        std::max(interval_s, std::min(60.0, interval_s * std::floor(d_s / 30 / interval_s)));
    // Bounded by the duration: one pass per 100 ms at most.
    for (int64_t pass = 0; pass < args.duration.count() / 10 + 100; ++pass) {
      const auto now = std::min(Clock::now(), end);
      const bool last = now >= end;  // the final report covers the last span
      if (args.faults && !last) faults.tick(now, no_new_faults);
      if (now >= next_sample) {
        next_sample += milliseconds(1000);
        const int64_t kb = read_proc_stats().rss_kb;
        rss.push_back({seconds(now - start), kb});
        interval_rss_max = std::max(interval_rss_max, kb);
        minute_rss_max = std::max(minute_rss_max, kb);
      }
      if (now >= next_report || last) {
        next_report += args.interval;
        const Totals t = w.totals();
        const LatencyHistogram h = w.take_latency();
        const ProcStats self = read_proc_stats();
        Row r;
        r.t_s = seconds(now - start);
        r.span_s = r.t_s - last_report_s;
        last_report_s = r.t_s;
        fill_rates(r, prev, t, h);
        r.rss_kb_max = interval_rss_max;
        r.heap_kb = heap_in_use_kb();
        r.broker_rss_kb = read_proc_stats(broker.pid()).rss_kb;
        r.fds = self.fds;
        r.threads = self.threads;
        r.faults = faults.total();
        std::printf("%s\n", args.json ? json_line(r).c_str() : readable_line(r).c_str());
        std::fflush(stdout);
        if (args.json) say(readable_line(r));
        prev = t;
        interval_rss_max = 0;
        minute_latency.merge(h);
        all_latency.merge(h);
        if (r.t_s - last_minute_s >= table_span_s - 0.5 || last) {  // a row of the table
          Row m = r;
          m.span_s = r.t_s - last_minute_s;
          last_minute_s = r.t_s;
          fill_rates(m, minute_prev, t, minute_latency);
          m.rss_kb_max = minute_rss_max;
          minutes.push_back(m);
          minute_prev = t;
          minute_latency.clear();
          minute_rss_max = 0;
        }
      }
      if (last) break;
      std::this_thread::sleep_for(milliseconds(100));
    }
    faults.finish();
    if (faults.broken())
      failures.push_back("faults: a relay or broker could not be started again (see the log)");
    fault_total = faults.total();
    fault_counts = faults.by_kind();
    w.stop_publishing();
    say("soak: load stopped after " +
        std::to_string(static_cast<int>(seconds(Clock::now() - start))) + " s; draining (at most " +
        std::to_string(drain_timeout.count() / 1000) + " s)");
    const auto drain_start = Clock::now();
    if (!w.wait_drained(drain_timeout)) {
      failures.push_back(
          "drain: not every QoS 1/2 message arrived, or not every client was "
          "connected and idle, within " +
          std::to_string(drain_timeout.count() / 1000) + " s");
    }
    say("soak: drained in " + std::to_string(seconds(Clock::now() - drain_start)).substr(0, 5) +
        " s");
    all_latency.merge(w.take_latency());
    connected_end = read_proc_stats();
    heap_connected_end = heap_in_use_kb();
    final_totals = w.totals();
    flows = w.flow_results();
    if (auto err = w.teardown(milliseconds(20000)); !err.empty())
      failures.push_back("teardown: " + err);
    errors = w.errors_by_kind();
  }
  const ProcStats idle_after = read_proc_stats();
  const int64_t heap_idle_after = heap_in_use_kb();

  // --- verdict ---
  std::printf("\n## Table\n\n%s\n", markdown_table(minutes).c_str());
  const int64_t rss_a = max_rss_in(rss, warmup_s, warmup_s + window_s);
  const int64_t rss_b = max_rss_in(rss, d_s - window_s, d_s);
  std::printf(
      "## Verdict (seed %llu, %.0f s, %llu faults:", static_cast<unsigned long long>(args.seed),
      d_s, static_cast<unsigned long long>(fault_total));
  for (size_t k = 0; k < kFaultKinds; ++k)
    std::printf(" %s %llu", to_string(static_cast<FaultKind>(k)),
                static_cast<unsigned long long>(fault_counts[k]));
  std::printf(")\n\n");
  const bool rss_ok =
      rss_a > 0 && rss_b > 0 && static_cast<double>(rss_b) <= 1.1 * static_cast<double>(rss_a);
  std::printf(
      "- memory: max RSS %.0f-%.0f s = %lld kB, max RSS %.0f-%.0f s = %lld kB, ratio %.3f "
      "(limit 1.1): %s\n",
      warmup_s, warmup_s + window_s, static_cast<long long>(rss_a), d_s - window_s, d_s,
      static_cast<long long>(rss_b),
      rss_a > 0 ? static_cast<double>(rss_b) / static_cast<double>(rss_a) : 0.0,
      rss_ok ? "PASS" : "FAIL");
  if (!rss_ok) failures.push_back("memory: RSS grew beyond 1.1x");
  // Not a criterion: tells memory kept for reuse from memory lost for good.
  std::printf(
      "- heap in use (malloc): %lld kB before the clients, %lld kB all connected at the "
      "start, %lld kB all connected at the end, %lld kB after destroying them\n",
      static_cast<long long>(heap_idle_before), static_cast<long long>(heap_connected_start),
      static_cast<long long>(heap_connected_end), static_cast<long long>(heap_idle_after));
  auto same = [&](const char* what, int64_t a, int64_t b, const char* when) {
    const bool ok = a == b && a >= 0;
    std::printf("- %s %s: %lld at start, %lld at end: %s\n", what, when, static_cast<long long>(a),
                static_cast<long long>(b), ok ? "PASS" : "FAIL");
    if (!ok) failures.push_back(std::string(what) + " " + when + " differ");
  };
  same("fds", connected_start.fds, connected_end.fds, "(all connected, no publisher threads)");
  same("threads", connected_start.threads, connected_end.threads,
       "(all connected, no publisher threads)");
  same("fds", idle_before.fds, idle_after.fds, "(no client: before creating, after destroying)");
  same("threads", idle_before.threads, idle_after.threads,
       "(no client: before creating, after destroying)");
  uint64_t lost12 = 0, dup2 = 0;
  for (const auto& f : flows) {
    std::printf("- %s QoS %d: published %llu, received %llu%s, %llu duplicates, %llu lost",
                f.topic.c_str(), f.qos, static_cast<unsigned long long>(f.published),
                static_cast<unsigned long long>(f.received_unique), f.qos > 0 ? " distinct" : "",
                static_cast<unsigned long long>(f.duplicates),
                static_cast<unsigned long long>(f.lost()));
    if (f.lost() > 0 && f.qos > 0)
      std::printf(" (the first: seq %llu)", static_cast<unsigned long long>(f.first_missing));
    std::printf("\n");
    if (f.qos > 0) lost12 += f.lost();
    if (f.qos == 2) dup2 += f.duplicates;
  }
  // With kill -9 mosquitto itself can lose or repeat messages (design brief):
  // reported, but not held against the client.
  if (lost12 > 0)
    (args.kill9 ? std::printf("- note: %llu QoS 1/2 losses with --kill9 (may be the broker's)\n",
                              static_cast<unsigned long long>(lost12))
                : (failures.push_back("QoS 1/2 losses: " + std::to_string(lost12)), 0));
  if (final_totals.resent_after_pubrel > 0)
    failures.push_back("the client resent a QoS 2 PUBLISH after its PUBREL " +
                       std::to_string(final_totals.resent_after_pubrel) + " times");
  else
    std::printf("- QoS 2 publishers' wire: no PUBLISH resent after its PUBREL: PASS\n");
  // A duplicate the broker sent as a resend of a message it had already
  // released (it sent PUBREL, we answered PUBCOMP): the client rightly takes
  // the PUBLISH for a new message. Reported, not held against the client.
  const uint64_t by_broker = std::min<uint64_t>(dup2, final_totals.broker_resent_after_pubrel);
  if (by_broker > 0)
    std::printf(
        "- note: %llu QoS 2 duplicates were resent by the broker with DUP after it had "
        "sent PUBREL for that packet id and we had answered PUBCOMP (the broker's)\n",
        static_cast<unsigned long long>(by_broker));
  if (dup2 > by_broker) {
    const auto ours = std::to_string(dup2 - by_broker);
    if (args.kill9)
      std::printf("- note: %s QoS 2 duplicates with --kill9 (may be the broker's)\n", ours.c_str());
    else
      failures.push_back("QoS 2 duplicates: " + ours);
  }
  std::printf(
      "- latency over the whole run: p50 %.2f ms, p99 %.2f ms, p99.9 %.1f ms (%llu samples)\n",
      static_cast<double>(all_latency.percentile(0.5)) / 1000,
      static_cast<double>(all_latency.percentile(0.99)) / 1000,
      static_cast<double>(all_latency.percentile(0.999)) / 1000,
      static_cast<unsigned long long>(all_latency.count()));
  std::printf("- reconnects %llu, connection errors %llu, backpressure (QueueFull) %llu\n",
              static_cast<unsigned long long>(final_totals.reconnects),
              static_cast<unsigned long long>(final_totals.connection_errors),
              static_cast<unsigned long long>(final_totals.backpressure));
  std::printf("- errors by kind:");
  for (const auto& [k, n] : errors)
    std::printf(" %s=%llu", k.c_str(), static_cast<unsigned long long>(n));
  std::printf("\n");
  for (const auto& f : failures) std::printf("- FAIL: %s\n", f.c_str());
  std::printf("\nsoak: %s\n", failures.empty() ? "PASS" : "FAIL");
  std::fflush(stdout);
  return failures.empty() ? 0 : 1;
}

}  // namespace
}  // namespace soak

// As in tests/catch_main.cc (this binary has its own main): gcc 12 cannot
// see moodycamel ReaderWriterQueue's TSan annotations, so its fences look
// like races. Only under -fsanitize=thread.
#if defined(__SANITIZE_THREAD__)
extern "C" const char* __tsan_default_suppressions() {
  return "race:moodycamel::ReaderWriterQueue\n"
         "race:moodycamel::BlockingReaderWriterQueue\n";
}
#endif

int main(int argc, char** argv) {
  const auto args = soak::parse(argc, argv);
  try {
    return soak::run(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "soak: SETUP FAILED: %s\n", e.what());
    return 2;
  }
}
