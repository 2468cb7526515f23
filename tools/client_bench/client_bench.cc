// Client throughput, latency and cost, side by side: this library (with the
// default Block wait strategy, and with SpinThenBlock in the round trips),
// libmosquitto and Paho C (async), against the same broker in the same run,
// over each transport given, interleaved so that noise on this shared
// machine hits all alike. Reports the median of --runs; `client_bench --help`
// lists every option.
//
// Scenarios against the broker given by --port or --url (mosquitto from
// tools/bench_clients.sh):
//   qos0_publish, qos1_publish, qos2_publish  publish N messages (QoS 0: then
//       a QoS 1 fence, until its PUBACK; QoS 1/2: window 100, until the last
//       PUBACK/PUBCOMP)
//   qos0_echo      subscribe to our own topic, publish N QoS 0, until all came back
//   rtt_closed     round trips, QoS 0 to our own topic: the next message is sent
//                  when the previous one came back (from the receiving callback
//                  or consumer); latency = receive time - send time
//   rtt_open_1k, rtt_open_10k  open loop at 1,000 and 10,000 messages/s: a
//                  publisher thread sends message i at t0 + i / rate, latency
//                  counted from that scheduled time (no coordinated omission)
// Against a fake broker that this binary starts as a child process on
// 127.0.0.1:0 (fake_broker.cc), over TCP only, needing no --port/--url:
//   fake_publish_qos0, fake_publish_qos1, fake_publish_qos2
//
// Each --url adds a transport, named by its scheme: mqtt:// (tcp), mqtts://
// (tls), ws:// and wss://; --port P is short for --url mqtt://H:P. TLS trusts
// only --ca-file. A library without a transport (libmosquitto and Paho have no
// WebSocket client) is left out of its rows. With --broker-pid and
// --bridge-pid, the CPU time those processes spent during each timed part is
// reported per message beside the client's own.
//
// Every row shows context switches per message of the bench process (all
// threads) and, for each repetition, its msg/s (or latency percentiles) and
// client CPU relative to libmosquitto's in the same repetition (median of
// those ratios). A run that did not deliver every message (for the fake
// broker: counted at the broker) is INCOMPLETE: listed under the table and
// kept out of the medians.
//
// --syscalls counts the process's system calls over each timed part
// (syscalls.cc: perf stat, else strace). --callgrind runs each client
// under `valgrind --tool=callgrind` twice, with two message counts, and
// reports instructions per message from the difference (run_callgrind below).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "mqtt/url.h"
#include "tools/client_bench/bench_common.h"

extern char** environ;

namespace {

using bench::Scenario;
using bench::Transport;

struct Library {
  const char* name;
  bench::RunResult (*run)(const bench::RunConfig&);
  bool websocket;  // has a WebSocket client
  bool spin;       // ours with SpinThenBlock: round trips only unless asked for
  // libmosquitto replying from an application thread (as our consumer
  // does) instead of from its network thread's callback: round trips only
  // unless asked for.
  bool app_thread = false;
  bool latency_only() const { return spin || app_thread; }
};

const Library kLibraries[] = {
    {"ours", bench::run_ours, true, false},
    {"ours-spin", bench::run_ours, true, true},
    {"libmosquitto", bench::run_mosquitto, false, false},
    {"libmosquitto-app", bench::run_mosquitto, false, false, true},
    {"paho-async", bench::run_paho, false, false},
};

bool supports(const Library& l, Transport t) {
  return l.websocket || (t != Transport::Ws && t != Transport::Wss);
}

struct NamedScenario {
  const char* name;
  Scenario scenario;
};

const NamedScenario kScenarios[] = {
    {"qos0_publish", Scenario::Qos0Publish},
    {"qos1_publish", Scenario::Qos1Publish},
    {"qos2_publish", Scenario::Qos2Publish},
    {"qos0_echo", Scenario::Qos0Echo},
    {"rtt_closed", Scenario::RttClosed},
    {"rtt_open_1k", Scenario::RttOpen1k},
    {"rtt_open_10k", Scenario::RttOpen10k},
    {"fake_publish_qos0", Scenario::FakePublishQos0},
    {"fake_publish_qos1", Scenario::FakePublishQos1},
    {"fake_publish_qos2", Scenario::FakePublishQos2},
};

const char* scenario_name(Scenario s) {
  for (const auto& n : kScenarios)
    if (n.scenario == s) return n.name;
  return "?";
}

// A scenario or group name, appended to `out`; false when unknown.
bool add_scenarios(const std::string& name, std::vector<Scenario>& out) {
  for (const auto& n : kScenarios)
    if (name == n.name) return out.push_back(n.scenario), true;
  const std::vector<Scenario> throughput = {Scenario::Qos0Publish, Scenario::Qos1Publish, Scenario::Qos2Publish,
                                            Scenario::Qos0Echo};
  const std::vector<Scenario> latency = {Scenario::RttClosed, Scenario::RttOpen1k, Scenario::RttOpen10k};
  const std::vector<Scenario> fake = {Scenario::FakePublishQos0, Scenario::FakePublishQos1,
                                      Scenario::FakePublishQos2};
  if (name == "mosquitto" || name == "throughput") out.insert(out.end(), throughput.begin(), throughput.end());
  else if (name == "latency") out.insert(out.end(), latency.begin(), latency.end());
  else if (name == "fake") out.insert(out.end(), fake.begin(), fake.end());
  else if (name == "all") {
    for (const auto& n : kScenarios) out.push_back(n.scenario);
  } else {
    return false;
  }
  return true;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);)
    if (!part.empty()) out.push_back(part);
  return out;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// The q-quantile (0..1) of sorted values: the smallest value with at least
// q of them at or below it.
double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return -1;
  const auto k = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(k, 1, sorted.size()) - 1];
}

int usage(bool help = false) {
  std::fprintf(help ? stdout : stderr,
               "usage: client_bench (--port P | --url URL...) [options]\n"
               "  --url URL            mqtt://H:P (tcp), mqtts://H:P (tls), ws://H:P/PATH, wss://H:P/PATH;\n"
               "                       one per transport. --port P = --url mqtt://H:P\n"
               "  --host H             for --port (default 127.0.0.1)\n"
               "  --ca-file F          the only CA trusted over tls and wss\n"
               "  --broker-pid PID     report that process's CPU per message (the broker)\n"
               "  --bridge-pid ws|wss=PID  the same for a WebSocket bridge\n"
               "  --scenario LIST      comma-separated scenarios or groups (default: all with a URL,\n"
               "                       fake without):\n"
               "                         qos0_publish qos1_publish qos2_publish qos0_echo   (group mosquitto)\n"
               "                         rtt_closed rtt_open_1k rtt_open_10k              (group latency)\n"
               "                         fake_publish_qos0 fake_publish_qos1 fake_publish_qos2 (group fake;\n"
               "                         no URL needed) and all\n"
               "  --library LIST       comma-separated: ours (Block), ours-spin (SpinThenBlock reactor and\n"
               "                       consumer), libmosquitto, libmosquitto-app (closed loop answered from\n"
               "                       an application thread, like ours, not from the network thread's\n"
               "                       callback), paho-async. Default: all, with ours-spin and\n"
               "                       libmosquitto-app in the round-trip scenarios only\n"
               "  --messages N         messages per throughput run (default 20000)\n"
               "  --payload LIST       payload sizes in bytes, comma-separated, e.g. 64,1024 (default 64);\n"
               "                       each scenario runs once per size, the round trips with the first one\n"
               "                       only (at least 12 B)\n"
               "  --rtt-messages N     round trips per rtt_closed run (default 2000)\n"
               "  --open-seconds S     length of each open-loop run (default 0.5): S x rate messages\n"
               "  --spin-for US        MqttOptions::spin_for of ours-spin, in µs (default 50)\n"
               "  --runs R             repetitions, clients interleaved in each (default 5)\n"
               "  --timeout S          per run (default 60)\n"
               "  --syscalls           count the process's system calls over each timed part (perf stat\n"
               "                       -e 'syscalls:sys_enter_*', else strace -c -f): per message, top ones\n"
               "  --callgrind          instructions per message under valgrind --tool=callgrind instead of\n"
               "                       timing: each client runs twice, with N1 and N2 messages, and\n"
               "                       Ir/msg = (Ir(N2) - Ir(N1)) / (N2 - N1), all threads of the client\n"
               "                       process (the fake broker is another process). Default scenarios:\n"
               "                       fake_publish_qos0,fake_publish_qos1; libraries: ours,\n"
               "                       libmosquitto, paho-async\n"
               "  --callgrind-messages N1,N2  (default 2000,12000)\n"
               "  --json               JSON lines instead of tables\n"
               "  --help               this text\n");
  return help ? 0 : 2;
}

// One row of a table: a library over a transport.
struct Row {
  const Library* library;
  const bench::RunConfig* endpoint;
  std::vector<double> rates, allocs, client_us, broker_us, bridge_us, switches;
  // Round trips: each complete run's percentiles (µs) and send lag.
  std::vector<double> p50, p99, p999, pmax, lag;
  // --syscalls: per message, total and by name, each complete run.
  std::vector<double> sys_total;
  std::map<std::string, std::vector<double>> sys_by_name;
  std::string sys_counter;
  // By repetition, < 0 when that run was incomplete: for the ratios to
  // libmosquitto in the same repetition.
  std::vector<double> rate_by_run, cpu_by_run, p50_by_run, p99_by_run, p999_by_run;
  std::vector<std::string> incomplete;  // one line per incomplete run
};

// Median of a per-message cost; < 0 when never measured.
double median_or_none(const std::vector<double>& v) { return v.empty() ? -1 : median(v); }

std::string cell(double v, const char* format) {
  if (v < 0) return "n/a";
  char b[48];
  std::snprintf(b, sizeof b, format, v);
  return b;
}

std::string topic_for(const Library& l, Transport t, Scenario s, uint32_t payload, int run, const std::string& tag) {
  return std::string("bench/") + l.name + "/" + bench::transport_name(t) + "/" + scenario_name(s) + "/" +
         std::to_string(payload) + "/" + std::to_string(run) + (tag.empty() ? "" : "/" + tag);
}

// The syscalls of a row, largest first: "total; name n, name n, ..." per
// message (medians), at most `top` names.
std::vector<std::pair<std::string, double>> top_syscalls(const Row& row, size_t top) {
  std::vector<std::pair<std::string, double>> v;
  for (const auto& [name, counts] : row.sys_by_name) v.emplace_back(name, median(counts));
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  if (v.size() > top) v.resize(top);
  return v;
}

struct Options {
  bench::RunConfig base;
  int runs = 5;
  bool json = false;
  bool syscalls = false;
  bool callgrind = false;
  uint32_t callgrind_n1 = 2000, callgrind_n2 = 12000;
  uint32_t rtt_messages = 2000;
  double open_seconds = 0.5;
  std::vector<uint32_t> payloads;
  std::vector<Scenario> scenarios;
  std::vector<std::string> libraries;  // empty: the default set
  std::vector<std::string> urls;
  int fake_port = -1;  // --fake-port: an existing fake broker (callgrind's children)
  std::string tag;     // --tag: appended to every topic
  std::vector<std::string> passthrough;  // endpoint arguments, for callgrind's children
};

bool wanted(const Options& o, const Library& l, Scenario s) {
  if (o.libraries.empty()) return !l.latency_only() || bench::is_latency(s);
  return std::find(o.libraries.begin(), o.libraries.end(), l.name) != o.libraries.end();
}

uint32_t messages_for(const Options& o, Scenario s) {
  const double rate = bench::open_loop_rate(s);
  if (rate > 0) return std::max<uint32_t>(1, static_cast<uint32_t>(rate * o.open_seconds));
  return s == Scenario::RttClosed ? o.rtt_messages : o.base.messages;
}

// ---- callgrind mode ----

// Runs `args` with stdout and stderr into `log`, for at most `seconds`;
// returns the exit status, or -1 (killed, or could not start).
int run_child(const std::vector<std::string>& args, const std::string& log, int seconds) {
  const pid_t pid = bench::spawn_logged(args, log, /*append=*/false);
  if (pid == 0) return -1;
  int status = 0;
  for (int i = 0; i < seconds * 20; ++i) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    ::usleep(50000);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

// Total instructions (Ir) in a callgrind output file: its "totals:" line
// (or "summary:"); -1 when absent.
double callgrind_total(const std::string& path) {
  std::ifstream f(path);
  double summary = -1, totals = -1;
  std::string line;
  for (int i = 0; i < 10000000 && std::getline(f, line); ++i) {
    if (line.rfind("totals:", 0) == 0) totals = std::atof(line.c_str() + 7);
    if (line.rfind("summary:", 0) == 0) summary = std::atof(line.c_str() + 8);
  }
  return totals >= 0 ? totals : summary;
}

std::string tail(const std::string& path, size_t n) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  const std::string all = s.str();
  return all.size() > n ? all.substr(all.size() - n) : all;
}

// Each (scenario, library): this binary again under callgrind, with N1 and
// then N2 messages, one run each, against the same broker (the fake one is
// started here, natively, and shared). Only the client's process runs under
// valgrind; its totals include every thread, setup and teardown, which the
// difference of the two runs cancels.
int run_callgrind(const Options& o) {
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return std::fprintf(stderr, "client_bench: cannot read /proc/self/exe\n"), 1;
  exe[n] = 0;
  char tmpl[] = "/tmp/client_bench_callgrind.XXXXXX";
  if (!::mkdtemp(tmpl)) return std::fprintf(stderr, "client_bench: mkdtemp failed\n"), 1;
  const std::string dir = tmpl;
  std::vector<Scenario> scenarios = o.scenarios;
  if (scenarios.empty()) scenarios = {Scenario::FakePublishQos0, Scenario::FakePublishQos1};
  const bool need_fake = std::any_of(scenarios.begin(), scenarios.end(), [](auto s) { return bench::is_fake(s); });
  const bool need_broker =
      std::any_of(scenarios.begin(), scenarios.end(), [](auto s) { return !bench::is_fake(s); });
  if (need_broker && o.urls.empty()) return usage();
  bench::FakeBroker fake;
  if (need_fake) {
    std::string error;
    if (!fake.start(24 * 3600, error)) return std::fprintf(stderr, "client_bench: %s\n", error.c_str()), 1;
  }
  const uint32_t payload = o.payloads.front();
  int failures = 0;
  if (!o.json)
    std::printf("\ncallgrind: instructions per message = (Ir(%u) - Ir(%u)) / %u, payload %u B, all threads of "
                "the client process\n  %-18s %-16s %14s %14s %12s\n",
                o.callgrind_n2, o.callgrind_n1, o.callgrind_n2 - o.callgrind_n1, payload, "scenario", "library",
                "Ir(N1)", "Ir(N2)", "Ir/msg");
  for (auto scenario : scenarios) {
    double mosq = -1;
    std::vector<std::pair<const Library*, double>> results;
    for (const auto& l : kLibraries) {
      if (o.libraries.empty() ? l.latency_only() : std::find(o.libraries.begin(), o.libraries.end(), l.name) ==
                                                o.libraries.end())
        continue;
      double ir[2] = {-1, -1};
      const uint32_t counts[2] = {o.callgrind_n1, o.callgrind_n2};
      for (int k = 0; k < 2; ++k) {
        const std::string tag = "cg" + std::to_string(counts[k]);
        const std::string out = dir + "/" + l.name + "." + scenario_name(scenario) + "." + tag + ".out";
        const std::string log = dir + "/" + l.name + "." + scenario_name(scenario) + "." + tag + ".log";
        std::vector<std::string> args = {"valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, exe,
                                         "--scenario", scenario_name(scenario), "--library", l.name,
                                         "--messages", std::to_string(counts[k]), "--runs", "1",
                                         "--payload", std::to_string(payload), "--tag", tag,
                                         "--timeout", std::to_string(o.base.timeout.count())};
        if (bench::is_fake(scenario)) {
          args.push_back("--fake-port");
          args.push_back(std::to_string(fake.port()));
        } else {
          args.insert(args.end(), o.passthrough.begin(), o.passthrough.end());
        }
        const int rc = run_child(args, log, static_cast<int>(o.base.timeout.count()) * 3 + 60);
        std::string problem;
        if (rc != 0) problem = "exit status " + std::to_string(rc) + ": " + tail(log, 400);
        if (problem.empty() && bench::is_fake(scenario)) {
          const long expected = counts[k] + (bench::uses_fence(scenario) ? 1 : 0);
          const long got = fake.published(topic_for(l, Transport::Tcp, scenario, payload, 0, tag),
                                          std::chrono::milliseconds(5000));
          if (got != expected)
            problem = "the fake broker received " + std::to_string(got) + " of " + std::to_string(expected);
        }
        if (problem.empty()) ir[k] = callgrind_total(out);
        if (problem.empty() && ir[k] < 0) problem = "no totals in " + out;
        if (!problem.empty()) {
          ++failures;
          std::fprintf(stderr, "INCOMPLETE callgrind %s %s N=%u: %s\n", l.name, scenario_name(scenario), counts[k],
                       problem.c_str());
        }
      }
      const double per = ir[0] >= 0 && ir[1] >= 0 ? (ir[1] - ir[0]) / (o.callgrind_n2 - o.callgrind_n1) : -1;
      if (std::strcmp(l.name, "libmosquitto") == 0) mosq = per;
      results.emplace_back(&l, per);
      if (o.json) {
        std::printf("{\"mode\":\"callgrind\",\"scenario\":\"%s\",\"library\":\"%s\",\"payload\":%u,\"n1\":%u,"
                    "\"n2\":%u,\"ir_n1\":%.0f,\"ir_n2\":%.0f,\"instructions_per_message\":%.1f}\n",
                    scenario_name(scenario), l.name, payload, o.callgrind_n1, o.callgrind_n2, ir[0], ir[1], per);
      } else {
        std::printf("  %-18s %-16s %14s %14s %12s\n", scenario_name(scenario), l.name, cell(ir[0], "%.0f").c_str(),
                    cell(ir[1], "%.0f").c_str(), cell(per, "%.0f").c_str());
      }
      std::fflush(stdout);
    }
    if (!o.json && mosq > 0)
      for (const auto& [l, per] : results)
        if (per > 0) std::printf("    %-16s %.2fx libmosquitto's instructions per message\n", l->name, per / mosq);
  }
  if (!o.json) std::printf("  (callgrind files and logs in %s)\n", dir.c_str());
  return failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  // The fake broker's child process (see bench::FakeBroker::start).
  if (argc == 4 && std::strcmp(argv[1], "--fake-broker") == 0)
    return bench::fake_broker_main(static_cast<pid_t>(std::atol(argv[2])), std::atoi(argv[3]));
  Options o;
  bench::RunConfig& base = o.base;
  base.messages = 20000;
  int port = -1;
  pid_t bridge_pids[4] = {0, 0, 0, 0};  // by Transport
  for (int i = 1; i < argc; ++i) {
    auto arg = [&](const char* name) { return std::strcmp(argv[i], name) == 0 && i + 1 < argc; };
    auto keep = [&](int n) {  // endpoint arguments, repeated to callgrind's children
      for (int k = 0; k < n; ++k) o.passthrough.push_back(argv[i + k]);
    };
    if (arg("--host")) keep(2), base.host = argv[++i];
    else if (arg("--port")) keep(2), port = std::atoi(argv[++i]);
    else if (arg("--url")) keep(2), o.urls.push_back(argv[++i]);
    else if (arg("--ca-file")) keep(2), base.ca_file = argv[++i];
    else if (arg("--broker-pid")) base.broker_pid = static_cast<pid_t>(std::atol(argv[++i]));
    else if (arg("--bridge-pid")) {
      std::string s = argv[++i];
      auto eq = s.find('=');
      std::string t = s.substr(0, eq);
      if (eq == std::string::npos || (t != "ws" && t != "wss")) return usage();
      bridge_pids[static_cast<int>(t == "ws" ? Transport::Ws : Transport::Wss)] =
          static_cast<pid_t>(std::atol(s.c_str() + eq + 1));
    } else if (arg("--messages")) base.messages = static_cast<uint32_t>(std::atol(argv[++i]));
    else if (arg("--payload")) {
      for (const auto& p : split(argv[++i], ',')) {
        const long v = std::atol(p.c_str());
        if (v <= 0 || v > (1 << 20)) return usage();
        o.payloads.push_back(static_cast<uint32_t>(v));
      }
    } else if (arg("--runs")) o.runs = std::max(1, std::atoi(argv[++i]));
    else if (arg("--rtt-messages")) o.rtt_messages = static_cast<uint32_t>(std::max(1L, std::atol(argv[++i])));
    else if (arg("--open-seconds")) o.open_seconds = std::clamp(std::atof(argv[++i]), 0.01, 600.0);
    else if (arg("--spin-for")) base.spin_for = std::chrono::microseconds(std::max(0L, std::atol(argv[++i])));
    else if (arg("--timeout")) base.timeout = std::chrono::seconds(std::clamp(std::atol(argv[++i]), 1L, 3600L));
    else if (arg("--library")) {
      for (const auto& l : split(argv[++i], ',')) {
        if (std::none_of(std::begin(kLibraries), std::end(kLibraries),
                         [&](const Library& k) { return l == k.name; }))
          return usage();
        o.libraries.push_back(l);
      }
    } else if (arg("--scenario")) {
      for (const auto& s : split(argv[++i], ','))
        if (!add_scenarios(s, o.scenarios)) return usage();
    } else if (arg("--callgrind-messages")) {
      auto v = split(argv[++i], ',');
      if (v.size() != 2) return usage();
      o.callgrind_n1 = static_cast<uint32_t>(std::atol(v[0].c_str()));
      o.callgrind_n2 = static_cast<uint32_t>(std::atol(v[1].c_str()));
      if (o.callgrind_n2 <= o.callgrind_n1) return usage();
    } else if (arg("--fake-port")) o.fake_port = std::atoi(argv[++i]);
    else if (arg("--tag")) o.tag = argv[++i];
    else if (std::strcmp(argv[i], "--json") == 0) o.json = true;
    else if (std::strcmp(argv[i], "--syscalls") == 0) o.syscalls = true;
    else if (std::strcmp(argv[i], "--callgrind") == 0) o.callgrind = true;
    else if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) return usage(true);
    else return usage();
  }
  if (o.payloads.empty()) o.payloads.push_back(64);
  const int runs = o.runs;
  const bool json = o.json;
  if (port > 0 && port < 65536) o.urls.insert(o.urls.begin(), "mqtt://" + base.host + ":" + std::to_string(port));
  if (o.callgrind) return run_callgrind(o);
  auto& scenarios = o.scenarios;
  if (scenarios.empty()) add_scenarios(o.urls.empty() ? "fake" : "all", scenarios);
  bench::count_syscalls(o.syscalls);
  const bool need_broker = std::any_of(scenarios.begin(), scenarios.end(), [](auto s) { return !bench::is_fake(s); });
  const bool need_fake = std::any_of(scenarios.begin(), scenarios.end(), [](auto s) { return bench::is_fake(s); });
  if (o.urls.empty() && need_broker) return usage();

  // One endpoint per transport, in the order given.
  std::vector<bench::RunConfig> endpoints;
  for (const auto& url : o.urls) {
    auto u = mqtt::parse_broker_url(url);
    if (!u) {
      std::fprintf(stderr, "client_bench: %s: %s\n", url.c_str(), u.error().c_str());
      return 2;
    }
    using Scheme = mqtt::BrokerUrl::Scheme;
    bench::RunConfig e = base;
    switch (u->scheme) {
      case Scheme::Mqtt: e.transport = Transport::Tcp; break;
      case Scheme::Mqtts: e.transport = Transport::Tls; break;
      case Scheme::Ws: e.transport = Transport::Ws; break;
      case Scheme::Wss: e.transport = Transport::Wss; break;
      case Scheme::Unix:
        std::fprintf(stderr, "client_bench: %s: unix sockets are not benchmarked\n", url.c_str());
        return 2;
    }
    for (const auto& other : endpoints) {
      if (other.transport == e.transport) {
        std::fprintf(stderr, "client_bench: two URLs for %s\n", bench::transport_name(e.transport));
        return 2;
      }
    }
    if ((e.transport == Transport::Tls || e.transport == Transport::Wss) && e.ca_file.empty()) {
      std::fprintf(stderr, "client_bench: %s needs --ca-file\n", url.c_str());
      return 2;
    }
    e.url = url;
    e.host = u->host;
    e.port = u->port;
    e.bridge_pid = bridge_pids[static_cast<int>(e.transport)];
    endpoints.push_back(e);
  }

  // The fake broker: a child process, so its CPU is not the client's (or,
  // with --fake-port, one that callgrind's parent started; it checks the
  // counts then).
  bench::FakeBroker fake;
  std::vector<bench::RunConfig> fake_endpoints;
  if (need_fake) {
    bench::RunConfig e = base;
    e.transport = Transport::Tcp;
    e.host = "127.0.0.1";
    e.bridge_pid = 0;
    e.broker_pid = 0;
    if (o.fake_port > 0) {
      e.port = static_cast<uint16_t>(o.fake_port);
    } else {
      std::string error;
      // Longer than every run could take (each row's timeout, plus connecting
      // and disconnecting), at most a day; it also ends with this process.
      const long worst = static_cast<long>(scenarios.size() * o.payloads.size()) * 12 * runs *
                             (base.timeout.count() + 10) +
                         60;
      const int lifetime = static_cast<int>(std::min(worst, 24L * 3600));
      if (!fake.start(lifetime, error)) {
        std::fprintf(stderr, "client_bench: %s\n", error.c_str());
        return 1;
      }
      e.port = fake.port();
      e.broker_pid = fake.pid();
      if (!json)
        std::fprintf(stderr, "fake broker (pid %d) listening on 127.0.0.1:%u\n", static_cast<int>(fake.pid()),
                     static_cast<unsigned>(fake.port()));
    }
    e.url = "mqtt://127.0.0.1:" + std::to_string(e.port);
    fake_endpoints.push_back(e);
  }

  int failures = 0;
  for (auto scenario : scenarios) {
    for (const uint32_t payload : o.payloads) {
    // Round trips: with the first size only (64 B by default), to keep the
    // default run short.
    if (bench::is_latency(scenario) && payload != o.payloads.front()) continue;
    const bool is_fake = bench::is_fake(scenario);
    const bool latency = bench::is_latency(scenario);
    const uint32_t messages = messages_for(o, scenario);
    std::vector<Row> rows;
    for (const auto& e : is_fake ? fake_endpoints : endpoints)
      for (const auto& l : kLibraries)
        if (supports(l, e.transport) && wanted(o, l, scenario)) {
          Row row{};
          row.library = &l;
          row.endpoint = &e;
          for (auto* v : {&row.rate_by_run, &row.cpu_by_run, &row.p50_by_run, &row.p99_by_run, &row.p999_by_run})
            v->assign(runs, -1);
          rows.push_back(std::move(row));
        }
    for (int run = 0; run < runs; ++run) {
      for (auto& row : rows) {
        bench::RunConfig c = *row.endpoint;
        c.scenario = scenario;
        c.messages = messages;
        c.payload = payload;
        c.spin = row.library->spin;
        c.reply_from_app_thread = row.library->app_thread;
        c.topic = topic_for(*row.library, c.transport, scenario, payload, run, o.tag);
        auto r = row.library->run(c);
        if (is_fake && o.fake_port <= 0) {
          // Delivery counted where it arrives: the broker reports each
          // connection's PUBLISH count when it closes (+1: the QoS 0 fence).
          const long expected = c.messages + (bench::uses_fence(scenario) ? 1 : 0);
          const long got = fake.published(c.topic, std::chrono::milliseconds(3000));
          if (r.ok && got != expected) {
            r.ok = false;
            r.error = got < 0 ? "the fake broker reported no count"
                              : "the fake broker received " + std::to_string(got) + " of " +
                                    std::to_string(expected) + " PUBLISH packets";
            r.completed = static_cast<uint32_t>(std::clamp<long>(got - (expected - c.messages), 0, c.messages));
          }
        }
        if (!r.ok) {
          ++failures;
          char line[512];
          std::snprintf(line, sizeof line, "INCOMPLETE %s %s %s %u B run %d: %u of %u (%s)", row.library->name,
                        bench::transport_name(c.transport), scenario_name(scenario), payload, run, r.completed,
                        c.messages, r.error.c_str());
          row.incomplete.push_back(line);
          std::fprintf(stderr, "%s\n", line);
          continue;
        }
        row.rates.push_back(r.completed / r.seconds);
        row.rate_by_run[run] = r.completed / r.seconds;
        if (r.allocations_per_message >= 0) row.allocs.push_back(r.allocations_per_message);
        const double per = 1e6 / r.completed;
        if (r.client_cpu_seconds >= 0) row.client_us.push_back(r.client_cpu_seconds * per);
        if (r.client_cpu_seconds >= 0) row.cpu_by_run[run] = r.client_cpu_seconds * per;
        if (r.context_switches >= 0) row.switches.push_back(r.context_switches / r.completed);
        if (r.broker_cpu_seconds >= 0) row.broker_us.push_back(r.broker_cpu_seconds * per);
        if (r.bridge_cpu_seconds >= 0) row.bridge_us.push_back(r.bridge_cpu_seconds * per);
        if (latency && !r.latency_us.empty()) {
          std::sort(r.latency_us.begin(), r.latency_us.end());
          row.p50.push_back(row.p50_by_run[run] = quantile(r.latency_us, 0.5));
          row.p99.push_back(row.p99_by_run[run] = quantile(r.latency_us, 0.99));
          row.p999.push_back(row.p999_by_run[run] = quantile(r.latency_us, 0.999));
          row.pmax.push_back(r.latency_us.back());
          if (r.send_lag_p99_us >= 0) row.lag.push_back(r.send_lag_p99_us);
        }
        if (!r.syscall_counter.empty()) {
          double total = 0;
          for (const auto& [name, n] : r.syscalls) total += n;
          row.sys_total.push_back(total / r.completed);
          // Every name seen in any run; a run without it counts 0.
          for (const auto& [name, n] : r.syscalls) {
            auto& v = row.sys_by_name[name];
            v.resize(row.sys_total.size() - 1, 0.0);
            v.push_back(n / r.completed);
          }
          for (auto& [name, v] : row.sys_by_name) v.resize(row.sys_total.size(), 0.0);
          if (row.sys_counter.empty() || row.sys_counter == r.syscall_counter) row.sys_counter = r.syscall_counter;
          else row.sys_counter = "mixed";
        }
      }
    }

    // Medians, and the references for the ratios: ours over the same
    // transport, ours over TCP, and libmosquitto over TLS.
    auto find = [&](const char* library, Transport t) -> const Row* {
      for (const auto& row : rows)
        if (std::strcmp(row.library->name, library) == 0 && row.endpoint->transport == t) return &row;
      return nullptr;
    };
    auto rate = [](const Row* row) { return row ? median(row->rates) : 0.0; };
    auto cpu = [](const Row* row) { return row ? median_or_none(row->client_us) : -1.0; };
    // Median over repetitions of this row's value / libmosquitto's in the
    // same repetition (both complete); < 0 when there is no such pair.
    auto vs_mosquitto = [&](const Row& row, std::vector<double> Row::*by_run) {
      const Row* m = find("libmosquitto", row.endpoint->transport);
      if (!m) return -1.0;
      std::vector<double> ratios;
      for (int run = 0; run < runs; ++run) {
        const double a = (row.*by_run)[run], b = (m->*by_run)[run];
        if (a > 0 && b > 0) ratios.push_back(a / b);
      }
      return median_or_none(ratios);
    };
    // --syscalls, as JSON members or a text line.
    auto syscalls_json = [&](const Row& row) {
      std::string s = ",\"syscall_counter\":\"" + row.sys_counter + "\",\"syscalls_per_message\":" +
                      cell(median_or_none(row.sys_total), "%.3f") + ",\"syscalls_top_per_message\":{";
      bool first = true;
      for (const auto& [name, n] : top_syscalls(row, 8)) {
        s += (first ? "\"" : ",\"") + name + "\":" + cell(n, "%.3f");
        first = false;
      }
      return s + "}";
    };
    auto syscalls_line = [&](const Row& row) {
      if (row.sys_total.empty()) return;
      std::printf("    syscalls/msg (%s) %-10s %s:", row.sys_counter.c_str(), row.library->name,
                  cell(median(row.sys_total), "%.3f").c_str());
      for (const auto& [name, n] : top_syscalls(row, 6)) std::printf(" %s %.3f", name.c_str(), n);
      std::printf("\n");
    };

    if (!json && latency) {
      const double r = bench::open_loop_rate(scenario);
      std::printf("\n%s: %u round trips of %u B%s, latency in us, median of %d runs\n", scenario_name(scenario),
                  messages, std::max(payload, bench::kStampBytes),
                  r > 0 ? (", open loop at " + std::to_string(static_cast<int>(r)) + "/s, from the scheduled time")
                              .c_str()
                        : ", closed loop",
                  runs);
      std::printf("  %-16s %-4s %5s %8s %8s %8s %8s %7s %7s %7s %8s %7s %8s %8s %8s\n", "library", "via", "runs",
                  "p50", "p99", "p99.9", "max", "p50", "p99", "p99.9", "client", "vs mosq", "broker", "ctx sw",
                  "send lag");
      std::printf("  %-16s %-4s %5s %8s %8s %8s %8s %7s %7s %7s %8s %7s %8s %8s %8s\n", "", "", "ok", "us", "us",
                  "us", "us", "vs mosq", "vs mosq", "vs mosq", "us/msg", "cpu", "us/msg", "/msg", "p99 us");
    } else if (!json) {
      std::printf("\n%s: %u messages of %u B, median of %d runs\n", scenario_name(scenario), messages, payload, runs);
      std::printf("  %-16s %-5s %5s %12s %17s %8s %8s %8s %8s %8s %8s %8s %10s\n", "library", "via", "runs",
                  "median msg/s", "min..max msg/s", "vs ours", "vs mosq", "client", "vs mosq", "broker", "bridge",
                  "ctx sw", "allocs/msg");
      std::printf("  %-16s %-5s %5s %12s %17s %8s %8s %8s %8s %8s %8s %8s\n", "", "", "ok", "", "", "msg/s",
                  "msg/s", "us/msg", "cpu", "us/msg", "us/msg", "/msg");
    }
    for (const auto& row : rows) {
      const auto& v = row.rates;
      const Transport t = row.endpoint->transport;
      const double med = median(v);
      const double client = median_or_none(row.client_us);
      const double broker = median_or_none(row.broker_us);
      const double switches = median_or_none(row.switches);
      const double cpu_vs_mosq = vs_mosquitto(row, &Row::cpu_by_run);
      char ok_runs[16];
      std::snprintf(ok_runs, sizeof ok_runs, "%zu/%d", v.size(), runs);
      if (latency) {
        const double p50 = median_or_none(row.p50), p99 = median_or_none(row.p99);
        const double p999 = median_or_none(row.p999), pmax = median_or_none(row.pmax);
        const double lag = median_or_none(row.lag);
        const double r50 = vs_mosquitto(row, &Row::p50_by_run), r99 = vs_mosquitto(row, &Row::p99_by_run);
        const double r999 = vs_mosquitto(row, &Row::p999_by_run);
        if (json) {
          std::printf(
              "{\"scenario\":\"%s\",\"library\":\"%s\",\"transport\":\"%s\",\"messages\":%u,\"payload\":%u,"
              "\"rate_per_s\":%.0f,\"runs_ok\":%zu,\"runs_incomplete\":%zu,\"p50_us\":%.1f,\"p99_us\":%.1f,"
              "\"p999_us\":%.1f,\"max_us\":%.1f,\"p50_over_libmosquitto_same_run\":%.3f,"
              "\"p99_over_libmosquitto_same_run\":%.3f,\"p999_over_libmosquitto_same_run\":%.3f,"
              "\"client_cpu_us_per_message\":%.3f,\"cpu_this_over_libmosquitto_same_run\":%.3f,"
              "\"broker_cpu_us_per_message\":%.3f,\"context_switches_per_message\":%.4f,"
              "\"send_lag_p99_us\":%.1f%s}\n",
              scenario_name(scenario), row.library->name, bench::transport_name(t), messages,
              std::max(payload, bench::kStampBytes), bench::open_loop_rate(scenario), v.size(),
              row.incomplete.size(), p50, p99, p999, pmax, r50, r99, r999, client, cpu_vs_mosq, broker, switches,
              lag, row.sys_total.empty() ? "" : syscalls_json(row).c_str());
        } else {
          std::printf("  %-16s %-4s %5s %8s %8s %8s %8s %7s %7s %7s %8s %7s %8s %8s %8s\n", row.library->name,
                      bench::transport_name(t), ok_runs, cell(p50, "%.0f").c_str(), cell(p99, "%.0f").c_str(),
                      cell(p999, "%.0f").c_str(), cell(pmax, "%.0f").c_str(), cell(r50, "%.2fx").c_str(),
                      cell(r99, "%.2fx").c_str(), cell(r999, "%.2fx").c_str(), cell(client, "%.2f").c_str(),
                      cell(cpu_vs_mosq, "%.2fx").c_str(), cell(broker, "%.2f").c_str(),
                      cell(switches, "%.3f").c_str(), cell(lag, "%.0f").c_str());
          syscalls_line(row);
        }
        continue;
      }
      const double lo = v.empty() ? 0 : *std::min_element(v.begin(), v.end());
      const double hi = v.empty() ? 0 : *std::max_element(v.begin(), v.end());
      const double ours = rate(find("ours", t));
      const double ours_tcp = rate(find("ours", Transport::Tcp));
      const double ratio = med > 0 ? ours / med : 0;
      const double apm = median_or_none(row.allocs);
      const double bridge = median_or_none(row.bridge_us);
      const double rate_vs_mosq = vs_mosquitto(row, &Row::rate_by_run);
      if (json) {
        std::printf(
            "{\"scenario\":\"%s\",\"library\":\"%s\",\"transport\":\"%s\",\"messages\":%u,\"payload\":%u,"
            "\"runs_ok\":%zu,\"median_msgs_per_s\":%.0f,\"min_msgs_per_s\":%.0f,\"max_msgs_per_s\":%.0f,"
            "\"ours_over_this\":%.3f,\"this_over_ours_tcp\":%.3f,\"allocations_per_message\":%.2f,"
            "\"client_cpu_us_per_message\":%.3f,\"broker_cpu_us_per_message\":%.3f,"
            "\"bridge_cpu_us_per_message\":%.3f,\"runs_incomplete\":%zu,\"context_switches_per_message\":%.4f,"
            "\"this_over_libmosquitto_same_run\":%.3f,\"cpu_this_over_libmosquitto_same_run\":%.3f%s}\n",
            scenario_name(scenario), row.library->name, bench::transport_name(t), messages, payload, v.size(), med,
            lo, hi, ratio, ours_tcp > 0 ? med / ours_tcp : 0, apm, client, broker, bridge, row.incomplete.size(),
            switches, rate_vs_mosq, cpu_vs_mosq, row.sys_total.empty() ? "" : syscalls_json(row).c_str());
      } else {
        char span[48];
        std::snprintf(span, sizeof span, "%.0f..%.0f", lo, hi);
        if (v.empty()) std::snprintf(span, sizeof span, "n/a");
        std::printf("  %-16s %-5s %5s %12s %17s %8s %8s %8s %8s %8s %8s %8s %10s\n", row.library->name,
                    bench::transport_name(t), ok_runs, cell(v.empty() ? -1 : med, "%.0f").c_str(), span,
                    cell(ratio > 0 ? ratio : -1, "%.2fx").c_str(),
                    cell(rate_vs_mosq, "%.2fx").c_str(), cell(client, "%.2f").c_str(),
                    cell(cpu_vs_mosq, "%.2fx").c_str(), cell(broker, "%.2f").c_str(), cell(bridge, "%.2f").c_str(),
                    cell(switches, "%.3f").c_str(), cell(apm, "%.2f").c_str());
        syscalls_line(row);
      }
    }
    std::fflush(stdout);
    if (json) continue;
    for (const auto& row : rows)
      for (const auto& line : row.incomplete) std::printf("  %s: not in the medians\n", line.c_str());
    if (latency) continue;

    // The cost of each transport for our client, and ours next to
    // libmosquitto over TLS. msg/s: higher is better; CPU: lower is better.
    const Row* ours_tcp = find("ours", Transport::Tcp);
    bool header = false;
    for (Transport t : {Transport::Tls, Transport::Ws, Transport::Wss}) {
      const Row* row = find("ours", t);
      if (!row || !ours_tcp || rate(ours_tcp) <= 0 || rate(row) <= 0) continue;
      if (!header) std::printf("  ours over each transport, relative to ours over tcp:\n"), header = true;
      std::printf("    %-4s %5.2fx msg/s, %s client CPU per message%s\n", bench::transport_name(t),
                  rate(row) / rate(ours_tcp),
                  cpu(row) > 0 && cpu(ours_tcp) > 0 ? cell(cpu(row) / cpu(ours_tcp), "%.2fx").c_str() : "n/a",
                  t == Transport::Tls ? "" : " (msg/s includes the bridge's hop)");
    }
    const Row* ours_tls = find("ours", Transport::Tls);
    const Row* mosq_tls = find("libmosquitto", Transport::Tls);
    if (ours_tls && mosq_tls && rate(ours_tls) > 0 && rate(mosq_tls) > 0) {
      std::printf("  ours tls relative to libmosquitto tls: %.2fx msg/s, %s client CPU per message\n",
                  rate(ours_tls) / rate(mosq_tls),
                  cpu(ours_tls) > 0 && cpu(mosq_tls) > 0 ? cell(cpu(ours_tls) / cpu(mosq_tls), "%.2fx").c_str()
                                                         : "n/a");
    }
    std::fflush(stdout);
    }
  }
  return failures ? 1 : 0;
}
