// many_conns: N clients on K shared reactors against one broker.
//
// Measures, in one process:
//   - time to connect all N (last CONNACK) and to have them subscribed
//     (last SUBACK), each client to a topic of its own;
//   - client memory per idle connection: (RSS once all are subscribed and
//     quiet - RSS before the first connection) / N;
//   - CPU of the reactor threads while every connection is idle;
//   - one message published to each client's topic (by one more client, on a
//     reactor of its own) and delivered: time until the last arrived, and the
//     reactor threads' CPU meanwhile;
//   - the broker's RSS and CPU too when given its pid (--broker-pid).
// Events are read on this (main) thread: one epoll over every connection's
// event_fd(). Every wait is bounded by --timeout.
//
//   many_conns --port P [--host H] [--connections N] [--reactors K]
//              [--capacity C] [--qos 0|1] [--keepalive S] [--idle S]
//              [--window W] [--timeout S] [--broker-pid PID] [--json]
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mqtt/client.h"

// Bytes held by every connection's read buffer in this process (a
// diagnostic of the runtime, mqtt/runtime/driver.h). Weak: an older runtime
// without it still links, and the figure is then left out.
namespace mqtt::runtime {
size_t read_buffer_bytes_total() __attribute__((weak));
}

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  size_t connections = 10000;
  size_t reactors = 1;
  size_t capacity = 16;
  int qos = 1;
  int keepalive_s = 60;
  double idle_s = 3;
  size_t window = 1000;  // connections started but not yet subscribed
  double timeout_s = 120;
  int broker_pid = 0;
  bool json = false;
  // Read events by sweeping every connection with try_next() instead of an
  // epoll over their event_fd()s: one descriptor per connection instead of
  // two (on by itself when the open-file limit allows one but not two).
  bool sweep = false;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "many_conns: %s\n"
               "usage: many_conns --port P [--host H] [--connections N] [--reactors K]\n"
               "       [--capacity C] [--qos 0|1] [--keepalive S] [--idle S] [--window W]\n"
               "       [--timeout S] [--broker-pid PID] [--sweep] [--json]\n",
               why);
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value for " + k).c_str());
      return argv[++i];
    };
    auto num = [&](double lo, double hi) {
      const std::string v = val();
      char* end = nullptr;
      const double d = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != 0 || d < lo || d > hi) usage(("bad value for " + k).c_str());
      return d;
    };
    if (k == "--host") a.host = val();
    else if (k == "--port") a.port = static_cast<uint16_t>(num(1, 65535));
    else if (k == "--connections") a.connections = static_cast<size_t>(num(1, 1e6));
    else if (k == "--reactors") a.reactors = static_cast<size_t>(num(1, 64));
    else if (k == "--capacity") a.capacity = static_cast<size_t>(num(1, mqtt::Client::kMaxCapacity));
    else if (k == "--qos") a.qos = static_cast<int>(num(0, 1));
    else if (k == "--keepalive") a.keepalive_s = static_cast<int>(num(0, 65535));
    else if (k == "--idle") a.idle_s = num(0, 3600);
    else if (k == "--window") a.window = static_cast<size_t>(num(1, 1e6));
    else if (k == "--timeout") a.timeout_s = num(1, 86400);
    else if (k == "--broker-pid") a.broker_pid = static_cast<int>(num(1, 1e9));
    else if (k == "--json") a.json = true;
    else if (k == "--sweep") a.sweep = true;
    else usage(("unknown option " + k).c_str());
  }
  if (a.port == 0) usage("--port is required");
  return a;
}

// --- /proc readings ---

int64_t rss_kb(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/status");
  std::string line;
  for (int i = 0; i < 200 && std::getline(in, line); ++i) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

// utime + stime of a process, in seconds (clock ticks).
double proc_cpu_s(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  std::getline(in, s);
  const auto close = s.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(s.substr(close + 2));
  std::string f;
  unsigned long long ut = 0, st = 0;
  for (int field = 3; field <= 15 && rest >> f; ++field) {
    if (field == 14) ut = std::stoull(f);
    if (field == 15) st = std::stoull(f);
  }
  return static_cast<double>(ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU time (ns, from schedstat) of this process's threads whose name starts
// with `prefix`.
uint64_t threads_cpu_ns(const std::string& prefix) {
  uint64_t total = 0;
  DIR* d = opendir("/proc/self/task");
  if (!d) return 0;
  int guard = 0;
  while (dirent* e = readdir(d)) {
    if (++guard > 100000) break;
    if (e->d_name[0] == '.') continue;
    const std::string base = std::string("/proc/self/task/") + e->d_name;
    std::ifstream c(base + "/comm");
    std::string comm;
    std::getline(c, comm);
    if (comm.rfind(prefix, 0) != 0) continue;
    std::ifstream s(base + "/schedstat");
    uint64_t run = 0;
    if (s >> run) total += run;
  }
  closedir(d);
  return total;
}

double process_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Soft limit up to what N connections need (a socket and an event_fd each);
// the hard limit too when that is short and we may (root).
struct FdLimit {
  rlim_t soft = 0, hard = 0;
  bool raised_hard = false;
};
FdLimit raise_nofile(rlim_t want) {
  FdLimit r;
  rlimit l{};
  getrlimit(RLIMIT_NOFILE, &l);
  if (l.rlim_max != RLIM_INFINITY && l.rlim_max < want) {
    rlimit h = {want, want};
    if (setrlimit(RLIMIT_NOFILE, &h) == 0) r.raised_hard = true;
    getrlimit(RLIMIT_NOFILE, &l);
  }
  if (l.rlim_cur < l.rlim_max) {
    l.rlim_cur = l.rlim_max;
    setrlimit(RLIMIT_NOFILE, &l);
    getrlimit(RLIMIT_NOFILE, &l);
  }
  r.soft = l.rlim_cur;
  r.hard = l.rlim_max;
  return r;
}

double secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    o += c;
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Args a = parse(argc, argv);
  // Descriptors: a socket per connection, plus its event queue's eventfd
  // when events are read through event_fd() (created on the first call),
  // plus a few for the reactors, the publisher, this epoll and stdio.
  constexpr size_t kReserve = 32;
  const FdLimit fds = raise_nofile(static_cast<rlim_t>(2 * a.connections + kReserve));
  if (!a.sweep && fds.soft != RLIM_INFINITY && 2 * a.connections + kReserve > fds.soft &&
      a.connections + kReserve <= fds.soft) {
    a.sweep = true;
    std::fprintf(stderr,
                 "many_conns: the open-file limit (soft %llu, hard %llu) allows one descriptor "
                 "per connection, not two: reading events with --sweep\n",
                 static_cast<unsigned long long>(fds.soft), static_cast<unsigned long long>(fds.hard));
  }
  const size_t per = a.sweep ? 1 : 2;
  size_t N = a.connections;
  if (fds.soft != RLIM_INFINITY && per * N + kReserve > fds.soft) {
    N = fds.soft > kReserve ? (fds.soft - kReserve) / per : 1;
    std::fprintf(stderr,
                 "many_conns: the open-file limit (soft %llu, hard %llu) allows %zu connections of "
                 "the %zu asked for (%zu descriptors each): running %zu\n",
                 static_cast<unsigned long long>(fds.soft), static_cast<unsigned long long>(fds.hard),
                 N, a.connections, per, N);
  }
  const auto hard_deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                std::chrono::duration<double>(a.timeout_s));
  const std::string bpid = std::to_string(a.broker_pid);

  std::vector<std::shared_ptr<mqtt::Reactor>> reactors;
  for (size_t k = 0; k < a.reactors; ++k) {
    mqtt::Reactor::Options ro;
    ro.thread_name = "mc-reactor-" + std::to_string(k);
    reactors.push_back(mqtt::Reactor::create(ro));
  }
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    std::perror("epoll_create1");
    return 1;
  }

  std::vector<std::optional<mqtt::Client>> clients(N);
  std::vector<std::optional<mqtt::Connection>> conns(N);
  std::vector<uint8_t> connacked(N), subacked(N), received(N), ended(N);
  std::vector<std::string> topics(N);
  const std::string run_tag = std::to_string(getpid());
  for (size_t i = 0; i < N; ++i) topics[i] = "mc/" + run_tag + "/" + std::to_string(i);
  size_t n_connack = 0, n_suback = 0, n_received = 0, n_errors = 0, n_ended = 0,
         n_create_failed = 0, n_stray = 0;
  std::string first_error;
  Clock::time_point t_last_connack{}, t_last_suback{}, t_last_received{};

  // The publisher: one more client on a reactor of its own.
  const uint32_t kPublisher = static_cast<uint32_t>(N);
  std::optional<mqtt::Client> pub;
  std::optional<mqtt::Connection> pub_conn;
  bool pub_connected = false;
  size_t pub_acked = 0;

  auto handle = [&](uint32_t i, const mqtt::Event& ev) {
    const auto now = Clock::now();
    if (const auto* in = ev.incoming()) {
      using T = mqtt::codec::PacketType;
      if (i == kPublisher) {
        if (in->type() == T::ConnAck) pub_connected = true;
        if (in->type() == T::PubAck) ++pub_acked;
        return;
      }
      if (in->type() == T::ConnAck && !connacked[i]) {
        connacked[i] = 1;
        ++n_connack;
        t_last_connack = now;
      } else if (in->type() == T::SubAck && !subacked[i]) {
        const auto* s = std::get_if<mqtt::codec::SubAck>(&in->packet());
        if (s && !s->reason_codes.empty() && mqtt::is_failure(s->reason_codes[0])) {
          ++n_errors;
          if (first_error.empty()) first_error = "subscription refused";
        }
        subacked[i] = 1;
        ++n_suback;
        t_last_suback = now;
      } else if (const auto* p = in->publish()) {
        if (p->topic == topics[i] && !received[i]) {
          received[i] = 1;
          ++n_received;
          t_last_received = now;
        } else {
          ++n_stray;
        }
      }
    } else if (const auto* e = ev.error()) {
      if (e->terminal) {
        if (i != kPublisher && !ended[i]) {
          ended[i] = 1;
          ++n_ended;
        }
        if (e->code == mqtt::ConnectionErrorCode::Disconnected) return;
      }
      ++n_errors;
      if (first_error.empty()) first_error = mqtt::describe(*e);
    } else if (ev.request_failed()) {
      ++n_errors;
      if (first_error.empty()) first_error = "request failed: " + ev.request_failed()->message;
    }
  };
  epoll_event evs[256];
  // Waits up to `ms` for events and takes every event that is waiting.
  auto pump = [&](int ms) {
    if (a.sweep) {
      // Every connection once; a pause only when none had an event.
      bool any = false;
      for (size_t i = 0; i <= conns.size(); ++i) {
        mqtt::Connection* c = i == conns.size() ? (pub_conn ? &*pub_conn : nullptr)
                                                : (conns[i] ? &*conns[i] : nullptr);
        if (c == nullptr) continue;
        const uint32_t id = i == conns.size() ? kPublisher : static_cast<uint32_t>(i);
        for (int guard = 0; guard < 100000; ++guard) {
          auto ev = c->try_next();
          if (!ev) break;
          any = true;
          handle(id, *ev);
        }
      }
      if (!any) std::this_thread::sleep_for(std::chrono::milliseconds(std::min(ms, 1)));
      return;
    }
    const int n = epoll_wait(ep, evs, 256, ms);
    for (int k = 0; k < n; ++k) {
      const uint32_t i = evs[k].data.u32;
      mqtt::Connection& c = i == kPublisher ? *pub_conn : *conns[i];
      for (int guard = 0; guard < 100000; ++guard) {
        auto ev = c.try_next();
        if (!ev) break;
        handle(i, *ev);
      }
    }
  };
  auto add_fd = [&](int fd, uint32_t i) {
    if (a.sweep) return true;  // no event_fd(): no descriptor for it
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u32 = i;
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) == 0;
  };

  // Let the reactor threads start before the baseline.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const int64_t rss0 = rss_kb("self");
  const int64_t brss0 = a.broker_pid ? rss_kb(bpid) : -1;
  const double bcpu0 = a.broker_pid ? proc_cpu_s(a.broker_pid) : 0;
  const uint64_t rcpu0 = threads_cpu_ns("mc-reactor");

  // --- connect and subscribe ---
  const auto qos = a.qos == 1 ? mqtt::QoS::AtLeastOnce : mqtt::QoS::AtMostOnce;
  const auto t0 = Clock::now();
  size_t created = 0;
  while (n_suback + n_create_failed < N && Clock::now() < hard_deadline) {
    while (created < N && created - n_suback - n_create_failed < a.window) {
      const size_t i = created++;
      mqtt::MqttOptions o("mc-" + run_tag + "-" + std::to_string(i), a.host, a.port);
      o.keep_alive = std::chrono::seconds(a.keepalive_s);
      auto made = mqtt::Client::try_create(o, a.capacity, reactors[i % reactors.size()]);
      if (!made) {
        ++n_create_failed;
        if (first_error.empty()) first_error = "create: " + made.error().message;
        continue;
      }
      clients[i].emplace(std::move(made.value().first));
      conns[i].emplace(std::move(made.value().second));
      (void)clients[i]->try_subscribe(topics[i], qos);
      if (!a.sweep && !add_fd(conns[i]->event_fd(), static_cast<uint32_t>(i))) {
        ++n_create_failed;
        if (first_error.empty()) first_error = std::string("epoll_ctl: ") + std::strerror(errno);
      }
    }
    pump(10);
  }
  const auto t_connected_all = t_last_connack;
  const auto t_subscribed_all = t_last_suback;
  const bool all_subscribed = n_suback == N;
  const double bcpu1 = a.broker_pid ? proc_cpu_s(a.broker_pid) : 0;
  const uint64_t rcpu1 = threads_cpu_ns("mc-reactor");

  // --- idle ---
  const auto settle_until = Clock::now() + std::chrono::milliseconds(500);
  while (Clock::now() < settle_until) pump(50);
  const int64_t rss1 = rss_kb("self");
  const int64_t brss1 = a.broker_pid ? rss_kb(bpid) : -1;
  const size_t rbuf_idle = mqtt::runtime::read_buffer_bytes_total
                               ? mqtt::runtime::read_buffer_bytes_total()
                               : 0;
  const uint64_t icpu0 = threads_cpu_ns("mc-reactor");
  const double ipcpu0 = process_cpu_s();
  const auto idle_start = Clock::now();
  const auto idle_until = idle_start + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(a.idle_s));
  while (Clock::now() < idle_until && Clock::now() < hard_deadline) pump(50);
  const double idle_wall = secs(Clock::now() - idle_start);
  const double idle_reactor_cpu = static_cast<double>(threads_cpu_ns("mc-reactor") - icpu0) / 1e9;
  const double idle_process_cpu = process_cpu_s() - ipcpu0;

  // --- one message to each ---
  {
    mqtt::MqttOptions o("mc-" + run_tag + "-pub", a.host, a.port);
    o.reactor_thread_name = "mc-publisher";
    o.keep_alive = std::chrono::seconds(a.keepalive_s);
    auto made = mqtt::Client::try_create(o, 4096);
    if (made) {
      pub.emplace(std::move(made.value().first));
      pub_conn.emplace(std::move(made.value().second));
      if (!a.sweep) add_fd(pub_conn->event_fd(), kPublisher);
    } else if (first_error.empty()) {
      first_error = "publisher: " + made.error().message;
    }
  }
  while (pub && !pub_connected && Clock::now() < hard_deadline) pump(10);
  const uint64_t dcpu0 = threads_cpu_ns("mc-reactor");
  const double bcpu2 = a.broker_pid ? proc_cpu_s(a.broker_pid) : 0;
  const auto t_pub = Clock::now();
  size_t published = 0;
  while (pub && n_received < n_suback && Clock::now() < hard_deadline) {
    for (int burst = 0; burst < 256 && published < N; ++burst) {
      if (!subacked[published]) {
        ++published;
        continue;
      }
      if (!pub->try_publish(topics[published], qos, false, "hello")) break;
      ++published;
    }
    pump(published < N ? 0 : 10);
  }
  const auto t_delivered = t_last_received;
  const double deliver_reactor_cpu = static_cast<double>(threads_cpu_ns("mc-reactor") - dcpu0) / 1e9;
  const double bcpu3 = a.broker_pid ? proc_cpu_s(a.broker_pid) : 0;
  const int64_t rss2 = rss_kb("self");
  const size_t rbuf_after = mqtt::runtime::read_buffer_bytes_total
                                ? mqtt::runtime::read_buffer_bytes_total()
                                : 0;

  // --- teardown: disconnect every client, bounded ---
  const auto t_down = Clock::now();
  for (size_t i = 0; i < N; ++i) {
    if (clients[i]) (void)clients[i]->try_disconnect(std::chrono::seconds(2));
  }
  if (pub) (void)pub->try_disconnect(std::chrono::seconds(2));
  const auto down_deadline = std::min(hard_deadline, Clock::now() + std::chrono::seconds(30));
  const size_t live = N - n_create_failed;
  while (n_ended < live && Clock::now() < down_deadline) pump(10);
  const double down_s = secs(Clock::now() - t_down);
  const size_t ended_clean = n_ended;
  clients.clear();
  conns.clear();
  pub.reset();
  pub_conn.reset();
  reactors.clear();
  close(ep);

  // --- report ---
  const double connect_s = n_connack ? secs(t_connected_all - t0) : -1;
  const double subscribe_s = n_suback ? secs(t_subscribed_all - t0) : -1;
  const double deliver_s = n_received ? secs(t_delivered - t_pub) : -1;
  const double per_conn_b =
      N ? static_cast<double>(rss1 - rss0) * 1024.0 / static_cast<double>(N) : 0;
  const double broker_per_conn_b =
      a.broker_pid && N ? static_cast<double>(brss1 - brss0) * 1024.0 / static_cast<double>(N) : -1;
  // Capped by the descriptor limit: not the run that was asked for.
  const bool ok = all_subscribed && n_received == N && n_errors == 0 && n_create_failed == 0 &&
                  N == a.connections;
  if (a.json) {
    std::printf(
        "{\"tool\":\"many_conns\",\"ok\":%s,\"connections_asked\":%zu,\"connections\":%zu,\"reactors\":%zu,\"sweep\":%s,"
        "\"capacity\":%zu,\"qos\":%d,\"keepalive_s\":%d,\"event_size\":%zu,"
        "\"nofile_soft\":%llu,\"nofile_hard\":%llu,\"connacked\":%zu,\"subscribed\":%zu,"
        "\"create_failed\":%zu,\"connect_all_s\":%.3f,\"subscribe_all_s\":%.3f,"
        "\"connect_reactor_cpu_s\":%.3f,\"rss_before_kb\":%" PRId64 ",\"rss_idle_kb\":%" PRId64
        ",\"rss_after_delivery_kb\":%" PRId64 ",\"bytes_per_idle_connection\":%.0f,"
        "\"read_buffer_bytes_idle\":%zu,\"read_buffer_bytes_after_delivery\":%zu,"
        "\"idle_s\":%.2f,\"idle_reactor_cpu_s\":%.4f,\"idle_process_cpu_s\":%.4f,"
        "\"published\":%zu,\"received\":%zu,\"stray\":%zu,\"deliver_all_s\":%.3f,"
        "\"deliver_reactor_cpu_s\":%.3f,\"publisher_acks\":%zu,\"disconnected\":%zu,"
        "\"disconnect_all_s\":%.3f,\"errors\":%zu,\"first_error\":\"%s\","
        "\"broker_rss_before_kb\":%" PRId64 ",\"broker_rss_idle_kb\":%" PRId64
        ",\"broker_bytes_per_connection\":%.0f,\"broker_connect_cpu_s\":%.2f,"
        "\"broker_deliver_cpu_s\":%.2f}\n",
        ok ? "true" : "false", a.connections, N, a.reactors, a.sweep ? "true" : "false", a.capacity, a.qos, a.keepalive_s,
        sizeof(mqtt::Event), static_cast<unsigned long long>(fds.soft),
        static_cast<unsigned long long>(fds.hard), n_connack, n_suback, n_create_failed,
        connect_s, subscribe_s, static_cast<double>(rcpu1 - rcpu0) / 1e9, rss0, rss1, rss2,
        per_conn_b, rbuf_idle, rbuf_after, idle_wall, idle_reactor_cpu, idle_process_cpu,
        published, n_received, n_stray, deliver_s, deliver_reactor_cpu, pub_acked, ended_clean,
        down_s, n_errors, json_escape(first_error).c_str(), brss0, brss1, broker_per_conn_b,
        bcpu1 - bcpu0, bcpu3 - bcpu2);
  } else {
    std::printf("many_conns: %zu connections on %zu reactor thread(s), capacity %zu, QoS %d, keepalive %d s; "
                "events read %s\n",
                N, a.reactors, a.capacity, a.qos, a.keepalive_s,
                a.sweep ? "by sweeping try_next() (no event_fd)" : "through an epoll over event_fd()s");
    std::printf("  open-file limit   soft %llu, hard %llu%s (needs 1 per connection, 2 when events are read through event_fd)\n",
                static_cast<unsigned long long>(fds.soft), static_cast<unsigned long long>(fds.hard),
                fds.raised_hard ? " (hard limit raised)" : "");
    std::printf("  connect           %zu/%zu CONNACK in %.3f s; %zu SUBACK in %.3f s (window %zu); reactor CPU %.3f s\n",
                n_connack, N, connect_s, n_suback, subscribe_s, a.window,
                static_cast<double>(rcpu1 - rcpu0) / 1e9);
    std::printf("  memory            RSS %" PRId64 " -> %" PRId64 " KiB: %.0f bytes per idle connection"
                " (sizeof(Event) %zu, event ring %zu bytes at capacity %zu)\n",
                rss0, rss1, per_conn_b, sizeof(mqtt::Event), sizeof(mqtt::Event) * a.capacity,
                a.capacity);
    if (mqtt::runtime::read_buffer_bytes_total) {
      std::printf("  read buffers      %zu bytes idle (%.0f per connection), %zu after delivery\n",
                  rbuf_idle, N ? static_cast<double>(rbuf_idle) / static_cast<double>(N) : 0.0,
                  rbuf_after);
    }
    std::printf("  idle              %.2f s: reactor CPU %.4f s (%.2f%%), process CPU %.4f s\n",
                idle_wall, idle_reactor_cpu, idle_wall > 0 ? 100 * idle_reactor_cpu / idle_wall : 0,
                idle_process_cpu);
    std::printf("  delivery          %zu published, %zu/%zu received in %.3f s (%.0f msg/s); reactor CPU %.3f s (%.1f us/msg)%s\n",
                published, n_received, N, deliver_s, deliver_s > 0 ? static_cast<double>(n_received) / deliver_s : 0,
                deliver_reactor_cpu, n_received ? 1e6 * deliver_reactor_cpu / static_cast<double>(n_received) : 0,
                n_stray ? " (stray messages!)" : "");
    std::printf("  RSS after delivery %" PRId64 " KiB\n", rss2);
    std::printf("  disconnect        %zu/%zu ended in %.3f s\n", ended_clean, live, down_s);
    if (a.broker_pid) {
      std::printf("  broker            RSS %" PRId64 " -> %" PRId64 " KiB (%.0f bytes per connection); CPU %.2f s connecting, %.2f s delivering\n",
                  brss0, brss1, broker_per_conn_b, bcpu1 - bcpu0, bcpu3 - bcpu2);
    }
    std::printf("  errors            %zu%s%s\n", n_errors, first_error.empty() ? "" : ": ",
                first_error.c_str());
    std::printf("  result            %s\n",
                ok                       ? "OK"
                : N != a.connections     ? "INCOMPLETE (fewer connections than asked: open-file limit)"
                                         : "INCOMPLETE");
  }
  return ok ? 0 : 1;
}
