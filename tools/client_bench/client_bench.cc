// Client throughput and CPU cost, side by side: this library, libmosquitto
// and Paho C (async), against the same broker in the same run, over each
// transport given, interleaved so that noise on this shared machine hits all
// alike. Reports the median of --runs.
//
//   client_bench (--port P | --url URL...) [--host H] [--ca-file F]
//                [--broker-pid PID] [--bridge-pid TRANSPORT=PID]...
//                [--messages N] [--payload B] [--runs R]
//                [--scenario NAME|mosquitto|fake|all] [--library NAME] [--json]
//
// Scenarios: qos1_publish and qos0_echo against the broker given by --port or
// --url (mosquitto from tools/bench_clients.sh); fake_publish_qos0, _qos1 and
// _qos2 against a fake broker that this binary starts as a child
// process on 127.0.0.1:0 (fake_broker.cc), over TCP only, which needs no
// --port/--url. Default: all five (only the fake ones without a URL).
//
// Each --url adds a transport, named by its scheme: mqtt:// (tcp), mqtts://
// (tls), ws:// and wss://; --port P is short for --url mqtt://H:P. TLS trusts
// only --ca-file. A library without a transport (libmosquitto and Paho have no
// WebSocket client) is left out of its rows. With --broker-pid and
// --bridge-pid, the CPU time those processes spent during each timed part is
// reported per message beside the client's own.
//
// Every row also shows context switches per message of the bench process
// (all threads) and, for each repetition, its msg/s and client CPU relative
// to libmosquitto's in the same repetition (median of those ratios). A run
// that did not deliver every message (for the fake broker: counted at the
// broker) is INCOMPLETE: listed under the table and kept out of the medians.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "mqtt/url.h"
#include "tools/client_bench/bench_common.h"

namespace {

using bench::Transport;

struct Library {
  const char* name;
  bench::RunResult (*run)(const bench::RunConfig&);
  bool websocket;  // has a WebSocket client
};

const Library kLibraries[] = {
    {"ours", bench::run_ours, true},
    {"libmosquitto", bench::run_mosquitto, false},
    {"paho-async", bench::run_paho, false},
};

bool supports(const Library& l, Transport t) {
  return l.websocket || (t != Transport::Ws && t != Transport::Wss);
}

const char* scenario_name(bench::Scenario s) {
  switch (s) {
    case bench::Scenario::Qos1Publish: return "qos1_publish";
    case bench::Scenario::Qos0Echo: return "qos0_echo";
    case bench::Scenario::FakePublishQos0: return "fake_publish_qos0";
    case bench::Scenario::FakePublishQos1: return "fake_publish_qos1";
    case bench::Scenario::FakePublishQos2: return "fake_publish_qos2";
  }
  return "?";
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

int usage() {
  std::fprintf(stderr,
               "usage: client_bench (--port P | --url URL...) [--host H] [--ca-file F]\n"
               "                    [--broker-pid PID] [--bridge-pid ws|wss=PID]...\n"
               "                    [--messages N] [--payload B] [--runs R]\n"
               "                    [--scenario S] [--library ours|libmosquitto|paho-async] [--json]\n"
               "URL: mqtt://H:P (tcp), mqtts://H:P (tls), ws://H:P/PATH, wss://H:P/PATH\n"
               "S: qos1_publish, qos0_echo, fake_publish_qos0, fake_publish_qos1, fake_publish_qos2,\n"
               "   mosquitto (the first two), fake (the last three) or all (default); the fake ones\n"
               "   need no URL\n");
  return 2;
}

// One row of the table: a library over a transport.
struct Row {
  const Library* library;
  const bench::RunConfig* endpoint;
  std::vector<double> rates, allocs, client_us, broker_us, bridge_us, switches;
  // By repetition, < 0 when that run was incomplete: for the ratios to
  // libmosquitto in the same repetition.
  std::vector<double> rate_by_run, cpu_by_run;
  std::vector<std::string> incomplete;  // one line per incomplete run
};

// Median of a per-message cost in µs; < 0 when never measured.
double median_or_none(const std::vector<double>& v) { return v.empty() ? -1 : median(v); }

std::string cell(double v, const char* format) {
  if (v < 0) return "n/a";
  char b[32];
  std::snprintf(b, sizeof b, format, v);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  // The fake broker's child process (see bench::FakeBroker::start).
  if (argc == 4 && std::strcmp(argv[1], "--fake-broker") == 0)
    return bench::fake_broker_main(static_cast<pid_t>(std::atol(argv[2])), std::atoi(argv[3]));
  bench::RunConfig base;
  int runs = 5;
  bool json = false;
  const std::vector<bench::Scenario> broker_scenarios = {bench::Scenario::Qos1Publish, bench::Scenario::Qos0Echo};
  const std::vector<bench::Scenario> fake_scenarios = {
      bench::Scenario::FakePublishQos0, bench::Scenario::FakePublishQos1, bench::Scenario::FakePublishQos2};
  std::vector<bench::Scenario> scenarios;  // empty: the default
  std::vector<std::string> urls;
  int port = -1;
  pid_t bridge_pids[4] = {0, 0, 0, 0};  // by Transport
  std::string only;  // --library NAME: run just that one
  for (int i = 1; i < argc; ++i) {
    auto arg = [&](const char* name) { return std::strcmp(argv[i], name) == 0 && i + 1 < argc; };
    if (arg("--host")) base.host = argv[++i];
    else if (arg("--port")) port = std::atoi(argv[++i]);
    else if (arg("--url")) urls.push_back(argv[++i]);
    else if (arg("--ca-file")) base.ca_file = argv[++i];
    else if (arg("--broker-pid")) base.broker_pid = static_cast<pid_t>(std::atol(argv[++i]));
    else if (arg("--bridge-pid")) {
      std::string s = argv[++i];
      auto eq = s.find('=');
      std::string t = s.substr(0, eq);
      if (eq == std::string::npos || (t != "ws" && t != "wss")) return usage();
      bridge_pids[static_cast<int>(t == "ws" ? Transport::Ws : Transport::Wss)] =
          static_cast<pid_t>(std::atol(s.c_str() + eq + 1));
    } else if (arg("--messages")) base.messages = static_cast<uint32_t>(std::atol(argv[++i]));
    else if (arg("--payload")) base.payload = static_cast<uint32_t>(std::atol(argv[++i]));
    else if (arg("--runs")) runs = std::max(1, std::atoi(argv[++i]));
    else if (arg("--library")) only = argv[++i];
    else if (arg("--scenario")) {
      std::string s = argv[++i];
      if (s == "qos1_publish") scenarios = {bench::Scenario::Qos1Publish};
      else if (s == "qos0_echo") scenarios = {bench::Scenario::Qos0Echo};
      else if (s == "fake_publish_qos0") scenarios = {bench::Scenario::FakePublishQos0};
      else if (s == "fake_publish_qos1") scenarios = {bench::Scenario::FakePublishQos1};
      else if (s == "fake_publish_qos2") scenarios = {bench::Scenario::FakePublishQos2};
      else if (s == "mosquitto") scenarios = broker_scenarios;
      else if (s == "fake") scenarios = fake_scenarios;
      else if (s == "all") scenarios = {};
      else return usage();
    } else if (std::strcmp(argv[i], "--json") == 0) json = true;
    else return usage();
  }
  if (port > 0 && port < 65536) urls.insert(urls.begin(), "mqtt://" + base.host + ":" + std::to_string(port));
  if (scenarios.empty()) {
    if (!urls.empty()) scenarios = broker_scenarios;
    scenarios.insert(scenarios.end(), fake_scenarios.begin(), fake_scenarios.end());
  }
  const bool need_broker = std::any_of(scenarios.begin(), scenarios.end(), [](auto s) { return !bench::is_fake(s); });
  const bool need_fake = std::any_of(scenarios.begin(), scenarios.end(), [](auto s) { return bench::is_fake(s); });
  if (urls.empty() && need_broker) return usage();

  // One endpoint per transport, in the order given.
  std::vector<bench::RunConfig> endpoints;
  for (const auto& url : urls) {
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

  // The fake broker: a child process, so its CPU is not the client's.
  bench::FakeBroker fake;
  std::vector<bench::RunConfig> fake_endpoints;
  if (need_fake) {
    std::string error;
    // Longer than every run could take (each row's timeout, plus connecting
    // and disconnecting), at most a day; it also ends with this process.
    const long worst = static_cast<long>(scenarios.size()) * 12 * runs * (base.timeout.count() + 10) + 60;
    const int lifetime = static_cast<int>(std::min(worst, 24L * 3600));
    if (!fake.start(lifetime, error)) {
      std::fprintf(stderr, "client_bench: %s\n", error.c_str());
      return 1;
    }
    bench::RunConfig e = base;
    e.transport = Transport::Tcp;
    e.host = "127.0.0.1";
    e.port = fake.port();
    e.url = "mqtt://127.0.0.1:" + std::to_string(fake.port());
    e.broker_pid = fake.pid();
    e.bridge_pid = 0;
    fake_endpoints.push_back(e);
    if (!json)
      std::fprintf(stderr, "fake broker (pid %d) listening on 127.0.0.1:%u\n", static_cast<int>(fake.pid()),
                   static_cast<unsigned>(fake.port()));
  }

  int failures = 0;
  for (auto scenario : scenarios) {
    const bool is_fake = bench::is_fake(scenario);
    std::vector<Row> rows;
    for (const auto& e : is_fake ? fake_endpoints : endpoints)
      for (const auto& l : kLibraries)
        if (supports(l, e.transport) && (only.empty() || only == l.name)) {
          rows.push_back({&l, &e, {}, {}, {}, {}, {}, {}, {}, {}, {}});
          rows.back().rate_by_run.assign(runs, -1);
          rows.back().cpu_by_run.assign(runs, -1);
        }
    for (int run = 0; run < runs; ++run) {
      for (auto& row : rows) {
        bench::RunConfig c = *row.endpoint;
        c.scenario = scenario;
        c.topic = std::string("bench/") + row.library->name + "/" + bench::transport_name(c.transport) + "/" +
                  scenario_name(scenario) + "/" + std::to_string(run);
        auto r = row.library->run(c);
        if (is_fake) {
          // Delivery counted where it arrives: the broker reports each
          // connection's PUBLISH count when it closes (+1: the QoS 0 fence).
          const long expected = c.messages + (scenario == bench::Scenario::FakePublishQos0 ? 1 : 0);
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
          std::snprintf(line, sizeof line, "INCOMPLETE %s %s %s run %d: %u of %u (%s)", row.library->name,
                        bench::transport_name(c.transport), scenario_name(scenario), run, r.completed, c.messages,
                        r.error.c_str());
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

    if (!json) {
      std::printf("\n%s: %u messages of %u B, median of %d runs\n", scenario_name(scenario), base.messages,
                  base.payload, runs);
      std::printf("  %-13s %-5s %5s %12s %17s %8s %8s %8s %8s %8s %8s %8s %10s\n", "library", "via", "runs",
                  "median msg/s", "min..max msg/s", "vs ours", "vs mosq", "client", "vs mosq", "broker", "bridge",
                  "ctx sw", "allocs/msg");
      std::printf("  %-13s %-5s %5s %12s %17s %8s %8s %8s %8s %8s %8s %8s\n", "", "", "ok", "", "", "msg/s",
                  "msg/s", "us/msg", "cpu", "us/msg", "us/msg", "/msg");
    }
    for (const auto& row : rows) {
      const auto& v = row.rates;
      const Transport t = row.endpoint->transport;
      const double med = median(v);
      const double lo = v.empty() ? 0 : *std::min_element(v.begin(), v.end());
      const double hi = v.empty() ? 0 : *std::max_element(v.begin(), v.end());
      const double ours = rate(find("ours", t));
      const double ours_tcp = rate(find("ours", Transport::Tcp));
      const double ratio = med > 0 ? ours / med : 0;
      const double apm = median_or_none(row.allocs);
      const double client = median_or_none(row.client_us);
      const double broker = median_or_none(row.broker_us);
      const double bridge = median_or_none(row.bridge_us);
      const double switches = median_or_none(row.switches);
      const double rate_vs_mosq = vs_mosquitto(row, &Row::rate_by_run);
      const double cpu_vs_mosq = vs_mosquitto(row, &Row::cpu_by_run);
      if (json) {
        std::printf(
            "{\"scenario\":\"%s\",\"library\":\"%s\",\"transport\":\"%s\",\"messages\":%u,\"payload\":%u,"
            "\"runs_ok\":%zu,\"median_msgs_per_s\":%.0f,\"min_msgs_per_s\":%.0f,\"max_msgs_per_s\":%.0f,"
            "\"ours_over_this\":%.3f,\"this_over_ours_tcp\":%.3f,\"allocations_per_message\":%.2f,"
            "\"client_cpu_us_per_message\":%.3f,\"broker_cpu_us_per_message\":%.3f,"
            "\"bridge_cpu_us_per_message\":%.3f,\"runs_incomplete\":%zu,\"context_switches_per_message\":%.4f,"
            "\"this_over_libmosquitto_same_run\":%.3f,\"cpu_this_over_libmosquitto_same_run\":%.3f}\n",
            scenario_name(scenario), row.library->name, bench::transport_name(t), base.messages, base.payload,
            v.size(), med, lo, hi, ratio, ours_tcp > 0 ? med / ours_tcp : 0, apm, client, broker, bridge,
            row.incomplete.size(), switches, rate_vs_mosq, cpu_vs_mosq);
      } else {
        char span[32];
        std::snprintf(span, sizeof span, "%.0f..%.0f", lo, hi);
        char ok_runs[16];
        std::snprintf(ok_runs, sizeof ok_runs, "%zu/%d", v.size(), runs);
        if (v.empty()) std::snprintf(span, sizeof span, "n/a");
        std::printf("  %-13s %-5s %5s %12s %17s %8s %8s %8s %8s %8s %8s %8s %10s\n", row.library->name,
                    bench::transport_name(t), ok_runs, cell(v.empty() ? -1 : med, "%.0f").c_str(), span,
                    cell(ratio > 0 ? ratio : -1, "%.2fx").c_str(),
                    cell(rate_vs_mosq, "%.2fx").c_str(), cell(client, "%.2f").c_str(),
                    cell(cpu_vs_mosq, "%.2fx").c_str(), cell(broker, "%.2f").c_str(), cell(bridge, "%.2f").c_str(),
                    cell(switches, "%.3f").c_str(), cell(apm, "%.2f").c_str());
      }
    }
    if (json) continue;
    for (const auto& row : rows)
      for (const auto& line : row.incomplete) std::printf("  %s: not in the medians\n", line.c_str());

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
  }
  return failures ? 1 : 0;
}
