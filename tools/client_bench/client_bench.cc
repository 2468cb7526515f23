// Client throughput and CPU cost, side by side: this library, libmosquitto
// and Paho C (async), against the same broker in the same run, over each
// transport given, interleaved so that noise on this shared machine hits all
// alike. Reports the median of --runs.
//
//   client_bench (--port P | --url URL...) [--host H] [--ca-file F]
//                [--broker-pid PID] [--bridge-pid TRANSPORT=PID]...
//                [--messages N] [--payload B] [--runs R]
//                [--scenario qos1_publish|qos0_echo|all] [--library NAME] [--json]
//
// Each --url adds a transport, named by its scheme: mqtt:// (tcp), mqtts://
// (tls), ws:// and wss://; --port P is short for --url mqtt://H:P. TLS trusts
// only --ca-file. A library without a transport (libmosquitto and Paho have no
// WebSocket client) is left out of its rows. With --broker-pid and
// --bridge-pid, the CPU time those processes spent during each timed part is
// reported per message beside the client's own.
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
  return s == bench::Scenario::Qos1Publish ? "qos1_publish" : "qos0_echo";
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
               "                    [--scenario qos1_publish|qos0_echo|all] [--library ours|libmosquitto|paho-async]\n"
               "                    [--json]\n"
               "URL: mqtt://H:P (tcp), mqtts://H:P (tls), ws://H:P/PATH, wss://H:P/PATH\n");
  return 2;
}

// One row of the table: a library over a transport.
struct Row {
  const Library* library;
  const bench::RunConfig* endpoint;
  std::vector<double> rates, allocs, client_us, broker_us, bridge_us;
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
  bench::RunConfig base;
  int runs = 5;
  bool json = false;
  std::vector<bench::Scenario> scenarios = {bench::Scenario::Qos1Publish, bench::Scenario::Qos0Echo};
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
      else if (s != "all") return usage();
    } else if (std::strcmp(argv[i], "--json") == 0) json = true;
    else return usage();
  }
  if (port > 0 && port < 65536) urls.insert(urls.begin(), "mqtt://" + base.host + ":" + std::to_string(port));
  if (urls.empty()) return usage();

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

  int failures = 0;
  for (auto scenario : scenarios) {
    std::vector<Row> rows;
    for (const auto& e : endpoints)
      for (const auto& l : kLibraries)
        if (supports(l, e.transport) && (only.empty() || only == l.name)) rows.push_back({&l, &e, {}, {}, {}, {}, {}});
    for (int run = 0; run < runs; ++run) {
      for (auto& row : rows) {
        bench::RunConfig c = *row.endpoint;
        c.scenario = scenario;
        c.topic = std::string("bench/") + row.library->name + "/" + bench::transport_name(c.transport) + "/" +
                  scenario_name(scenario) + "/" + std::to_string(run);
        auto r = row.library->run(c);
        if (!r.ok) {
          ++failures;
          std::fprintf(stderr, "%s %s %s run %d: %s (%u of %u)\n", row.library->name,
                       bench::transport_name(c.transport), scenario_name(scenario), run, r.error.c_str(),
                       r.completed, c.messages);
          continue;
        }
        row.rates.push_back(r.completed / r.seconds);
        if (r.allocations_per_message >= 0) row.allocs.push_back(r.allocations_per_message);
        const double per = 1e6 / r.completed;
        if (r.client_cpu_seconds >= 0) row.client_us.push_back(r.client_cpu_seconds * per);
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

    if (!json) {
      std::printf("\n%s: %u messages of %u B, median of %d runs\n", scenario_name(scenario), base.messages,
                  base.payload, runs);
      std::printf("  %-13s %-5s %12s %17s %8s %10s %10s %10s %10s\n", "library", "via", "median msg/s",
                  "min..max msg/s", "vs ours", "client", "broker", "bridge", "allocs/msg");
      std::printf("  %-13s %-5s %12s %17s %8s %10s %10s %10s\n", "", "", "", "", "", "us/msg", "us/msg",
                  "us/msg");
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
      if (json) {
        std::printf(
            "{\"scenario\":\"%s\",\"library\":\"%s\",\"transport\":\"%s\",\"messages\":%u,\"payload\":%u,"
            "\"runs_ok\":%zu,\"median_msgs_per_s\":%.0f,\"min_msgs_per_s\":%.0f,\"max_msgs_per_s\":%.0f,"
            "\"ours_over_this\":%.3f,\"this_over_ours_tcp\":%.3f,\"allocations_per_message\":%.2f,"
            "\"client_cpu_us_per_message\":%.3f,\"broker_cpu_us_per_message\":%.3f,"
            "\"bridge_cpu_us_per_message\":%.3f}\n",
            scenario_name(scenario), row.library->name, bench::transport_name(t), base.messages, base.payload,
            v.size(), med, lo, hi, ratio, ours_tcp > 0 ? med / ours_tcp : 0, apm, client, broker, bridge);
      } else {
        char span[32];
        std::snprintf(span, sizeof span, "%.0f..%.0f", lo, hi);
        std::printf("  %-13s %-5s %12.0f %17s %8s %10s %10s %10s %10s\n", row.library->name,
                    bench::transport_name(t), med, span, cell(ratio > 0 ? ratio : -1, "%.2fx").c_str(),
                    cell(client, "%.2f").c_str(),
                    cell(broker, "%.2f").c_str(), cell(bridge, "%.2f").c_str(), cell(apm, "%.2f").c_str());
      }
    }
    if (json) continue;

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
