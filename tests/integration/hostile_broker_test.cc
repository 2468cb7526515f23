// Regression tests for the hardening cases: brokers that never ack, never
// read, flood, announce limits, forget sessions or break the protocol. Most
// use the scripted broker (support/scripted_broker.h), which sends exactly
// the bytes a case needs; cases 4d and 13 use a real mosquitto.
//
// Every wait is bounded, and a Watchdog ends the process if a library call
// blocks forever. Time bounds get extra slack under sanitizers. Measured
// numbers are printed ("[caseN] ...") so they show in the test log.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <map>
#include <string>
#include <thread>

#include "mqtt/client.h"
#include "mqtt/event.h"
#include "mqtt/options.h"
#include "mqtt/token.h"
#include "tests/integration/support/broker.h"
#include "tests/integration/support/events.h"
#include "tests/integration/support/relay.h"
#include "tests/integration/support/rss.h"
#include "tests/integration/support/scripted_broker.h"

using namespace itest;
using mqtt::ConnectionErrorCode;
using mqtt::QoS;
using mqtt::RequestError;
using mqtt::RequestFailed;
using std::chrono::milliseconds;

namespace {

// Extra time allowed under sanitizers (TSan is the slowest).
milliseconds sanitizer_slack() {
  if (under_tsan()) return 2000ms;
  if (under_asan()) return 1000ms;
  return 0ms;
}

// RSS bounds: unchecked under ASan (its quarantine keeps freed memory);
// under TSan RSS also counts the shadow (4 bytes per byte the program
// touches), so the bound is scaled by 5 there.
bool rss_checked() { return !under_asan(); }
int64_t rss_scale() { return under_tsan() ? 5 : 1; }

std::chrono::seconds watchdog_limit() { return under_tsan() ? 180s : 90s; }

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// The client's end of a loopback TCP connection as the kernel sees it
// (/proc/net/tcp of this network namespace): state and queued bytes.
struct KernelSocket {
  bool found = false;
  int state = 0;          // 1 ESTABLISHED, 4 FIN_WAIT1, 5 FIN_WAIT2, 7 CLOSE, ...
  uint64_t tx_queue = 0;  // written by the client, not acknowledged by the peer
  uint64_t rx_queue = 0;  // received by the kernel, not read by the client yet
};

// The socket at the far end of `peer_fd` (a connected IPv4 socket).
KernelSocket far_end_of(int peer_fd) {
  KernelSocket k;
  sockaddr_in local{}, remote{};
  socklen_t len = sizeof local;
  if (::getsockname(peer_fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) return k;
  len = sizeof remote;
  if (::getpeername(peer_fd, reinterpret_cast<sockaddr*>(&remote), &len) != 0) return k;
  // The far end's local address is our remote one, and the other way round.
  const unsigned want_local = ntohs(remote.sin_port), want_remote = ntohs(local.sin_port);
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  for (int i = 0; i < 100000 && std::getline(in, line); ++i) {
    std::istringstream f(line);
    std::string sl, la, ra, st, queues;
    f >> sl >> la >> ra >> st >> queues;
    const auto port_of = [](const std::string& a) {
      const auto c = a.find(':');
      return c == std::string::npos ? 0u : static_cast<unsigned>(std::stoul(a.substr(c + 1), nullptr, 16));
    };
    if (port_of(la) != want_local || port_of(ra) != want_remote) continue;
    const auto c = queues.find(':');
    if (c == std::string::npos) continue;
    k.found = true;
    k.state = static_cast<int>(std::stoul(st, nullptr, 16));
    k.tx_queue = std::stoull(queues.substr(0, c), nullptr, 16);
    k.rx_queue = std::stoull(queues.substr(c + 1), nullptr, 16);
    break;
  }
  return k;
}

// Accepts the client's connection and reads its CONNECT (REQUIREs both).
std::unique_ptr<ScriptedPeer> accept_connect(ScriptedBroker& sb, Bytes* connect = nullptr,
                                             milliseconds timeout = 5000ms) {
  auto peer = sb.accept(timeout);
  REQUIRE(peer != nullptr);  // the client did not connect to the scripted broker
  std::string why;
  auto c = peer->expect_connect(timeout, &why);
  INFO("scripted broker: " << why);
  REQUIRE(c);
  if (connect) *connect = *c;
  return peer;
}

// What the consumer saw until the loop's terminal error.
struct EndReport {
  std::optional<mqtt::ConnectionError> terminal;  // the first terminal error
  double terminal_ms = -1;                        // since t0
  std::vector<mqtt::ConnectionError> errors;      // every error, terminal included
  uint64_t failed_total = 0;                      // sum of RequestFailed counts
  uint64_t failed_events = 0;
  std::map<RequestError, uint64_t> failed_by_reason;
  bool all_failed_are_publish = true;
  size_t publishes = 0;  // incoming PUBLISH events
  std::string log;
};

// Reads events (next_for in short slices) until a terminal error or
// `timeout` past t0. Keeps reading a little longer after it to be sure the
// loop ended (ended() then true).
EndReport read_until_terminal(mqtt::Connection& conn, Clock::time_point t0,
                              milliseconds timeout) {
  EndReport r;
  auto deadline = t0 + timeout;
  for (int i = 0; i < 10'000'000 && Clock::now() < deadline; ++i) {
    auto ev = conn.next_for(std::min<Clock::duration>(50ms, deadline - Clock::now()));
    if (!ev) {
      if (conn.ended()) break;
      continue;
    }
    if (r.log.size() < 20000 && !ev->publish()) r.log += describe(*ev) + "\n";
    if (ev->publish()) ++r.publishes;
    if (const auto* f = ev->request_failed()) {
      r.failed_total += f->count;
      ++r.failed_events;
      r.failed_by_reason[f->reason] += f->count;
      if (f->kind != RequestFailed::Kind::Publish) r.all_failed_are_publish = false;
    }
    if (const auto* e = ev->error()) {
      r.errors.push_back(*e);
      if (e->terminal && !r.terminal) {
        r.terminal = *e;
        r.terminal_ms = ms_since(t0);
        break;
      }
    }
  }
  // RequestFailed events that might follow the terminal error (they should
  // not: the terminal error is the last event) are still counted.
  for (int i = 0; i < 1000 && r.terminal; ++i) {
    auto ev = conn.next_for(10ms);
    if (!ev) break;
    r.log += "(after the terminal error) " + describe(*ev) + "\n";
    if (const auto* f = ev->request_failed()) {
      r.failed_total += f->count;
      r.failed_by_reason[f->reason] += f->count;
    }
  }
  return r;
}

std::string reasons(const EndReport& r) {
  std::string s;
  for (auto [reason, n] : r.failed_by_reason)
    s += std::string(mqtt::to_string(reason)) + "=" + std::to_string(n) + " ";
  return s;
}

}  // namespace

// ---------------------------------------------------------------- case 1

TEST_CASE("[case1] disconnect(d) ends within d when the in-flight window is full",
          "[integration][hardening][case1]") {
  const int keep_alive_s = GENERATE(0, 5);
  Watchdog watchdog("case 1 (window full, keep_alive " + std::to_string(keep_alive_s) + " s)",
                    watchdog_limit());
  ScriptedBroker sb;
  auto o = client_options("case1", sb.port());
  o.max_inflight = 2;
  o.keep_alive = std::chrono::seconds(keep_alive_s);
  const size_t capacity = 4;
  auto pair = mqtt::Client::create(o, capacity);
  mqtt::Client& client = pair.first;
  mqtt::Connection& conn = pair.second;

  auto peer = accept_connect(sb);
  REQUIRE(peer->send(connack_v311(false, 0)));
  std::string seen;
  REQUIRE(wait_connack(conn, 5s, &seen));

  // The broker never acks: one tracked publish, then untracked QoS 1 until
  // the window (2) is full and the lane (4) too.
  auto tracked = client.publish_tracked("c1/tracked", QoS::AtLeastOnce, false, "tracked");
  REQUIRE(tracked.ok());
  uint64_t untracked = 0;
  bool window_full = false, lane_full = false;
  auto fill_deadline = Clock::now() + 5s;
  for (int i = 0; i < 10000 && Clock::now() < fill_deadline && !lane_full; ++i) {
    auto r = client.try_publish("c1/untracked", QoS::AtLeastOnce, false, "u" + std::to_string(i));
    if (r.ok()) {
      ++untracked;
      continue;
    }
    INFO("try_publish: " << r.error().message);
    REQUIRE(r.error().code == mqtt::ClientError::Code::QueueFull);
    // QueueFull counts once the window is full too (the reactor took what it could).
    if (!window_full) window_full = client.snapshot().inflight_publishes >= 2;
    if (window_full) lane_full = true;
    else std::this_thread::sleep_for(5ms);
  }
  auto snap = client.snapshot();
  INFO("snapshot: inflight " << snap.inflight_publishes << ", queued " << snap.queued_publishes
                             << "; untracked accepted " << untracked);
  REQUIRE(lane_full);
  CHECK(snap.inflight_publishes == 2);

  auto t0 = Clock::now();
  auto r = client.disconnect(500ms);
  double return_ms = ms_since(t0);
  CHECK(r.ok());
  CHECK(return_ms <= 500);

  const auto bound = 700ms + sanitizer_slack();  // 500 ms drain + 200 ms
  EndReport end = read_until_terminal(conn, t0, bound + 5s);
  std::printf("[case1] window full, keep_alive %d s: disconnect(500ms) returned in %.1f ms; "
              "terminal %s after %.0f ms (bound %lld ms); %llu RequestFailed in %llu events "
              "(%s) for %llu untracked publishes\n",
              keep_alive_s, return_ms,
              end.terminal ? std::string(mqtt::to_string(end.terminal->code)).c_str() : "none",
              end.terminal_ms, static_cast<long long>(bound.count()),
              static_cast<unsigned long long>(end.failed_total),
              static_cast<unsigned long long>(end.failed_events), reasons(end).c_str(),
              static_cast<unsigned long long>(untracked));
  INFO("events after disconnect():\n" << end.log);
  REQUIRE(end.terminal);  // else: no terminal error within bound + 5 s
  CHECK(end.terminal->code == ConnectionErrorCode::Disconnected);
  CHECK(end.terminal_ms <= static_cast<double>(bound.count()));
  // The drain waits for acks that never come: not much before its deadline.
  CHECK(end.terminal_ms >= 400);
  CHECK(end.failed_total == untracked);
  CHECK(end.failed_by_reason[RequestError::ConnectionClosed] == untracked);
  CHECK(end.all_failed_are_publish);
  CHECK(conn.ended());

  auto done = tracked.value().wait_for(1s);
  REQUIRE(done);  // the tracked publish's token did not complete
  CHECK(done->error == RequestError::ConnectionClosed);

  // The broker gets DISCONNECT after the two in-flight PUBLISHes.
  std::vector<Bytes> before;
  auto disc = peer->read_until_type(14, 2s, &before);
  std::string types;
  for (const auto& p : before) types += describe_packet(p) + " ";
  INFO("scripted broker received before DISCONNECT: " << types);
  CHECK(disc);
  if (disc) CHECK(disconnect_reason(*disc) == std::optional<uint8_t>(0));
}

TEST_CASE("[case1] disconnect(d) ends within d when the broker stops reading",
          "[integration][hardening][case1]") {
  Watchdog watchdog("case 1 (broker stops reading)", watchdog_limit());
  ScriptedBroker sb(/*rcvbuf=*/4096);
  auto o = client_options("case1-noread", sb.port());
  const size_t capacity = 8;
  auto pair = mqtt::Client::create(o, capacity);
  mqtt::Client& client = pair.first;
  mqtt::Connection& conn = pair.second;

  auto peer = accept_connect(sb);
  REQUIRE(peer->send(connack_v311(false, 0)));
  peer->stop_reading();
  std::string seen;
  REQUIRE(wait_connack(conn, 5s, &seen));

  // QoS 0, 64 KiB each, until the socket backs up: the lane stays full for
  // 300 ms. At most 64 MiB and 15 s.
  const std::string payload(64 * 1024, 'p');
  uint64_t accepted_bytes = 0, accepted = 0;
  bool backed_up = false;
  bool full = false;  // the lane is full since full_since
  Clock::time_point full_since = Clock::now();
  auto deadline = Clock::now() + 15s;
  for (int i = 0; i < 100000 && Clock::now() < deadline && accepted_bytes < (64ull << 20); ++i) {
    auto r = client.try_publish("c1/big", QoS::AtMostOnce, false, payload);
    if (r.ok()) {
      accepted_bytes += payload.size();
      ++accepted;
      full = false;
      continue;
    }
    REQUIRE(r.error().code == mqtt::ClientError::Code::QueueFull);
    if (!full) {
      full = true;
      full_since = Clock::now();
    }
    if (Clock::now() - full_since >= 300ms) {
      backed_up = true;
      break;
    }
    std::this_thread::sleep_for(2ms);
  }
  auto snap = client.snapshot();
  std::printf("[case1] broker not reading: %llu x 64 KiB QoS 0 accepted (%.1f MiB) before the "
              "lane stayed full; queued %zu\n",
              static_cast<unsigned long long>(accepted), accepted_bytes / 1048576.0,
              snap.queued_publishes);
  INFO("accepted " << accepted_bytes << " bytes; the client kept taking publishes although the "
                   "broker reads nothing");
  REQUIRE(backed_up);

  auto t0 = Clock::now();
  auto r = client.disconnect(500ms);
  double return_ms = ms_since(t0);
  CHECK(r.ok());
  CHECK(return_ms <= 500);
  const auto bound = 700ms + sanitizer_slack();
  EndReport end = read_until_terminal(conn, t0, bound + 5s);
  std::printf("[case1] broker not reading: disconnect(500ms) returned in %.1f ms; terminal %s "
              "after %.0f ms (bound %lld ms); %llu RequestFailed (%s), %zu were queued\n",
              return_ms,
              end.terminal ? std::string(mqtt::to_string(end.terminal->code)).c_str() : "none",
              end.terminal_ms, static_cast<long long>(bound.count()),
              static_cast<unsigned long long>(end.failed_total), reasons(end).c_str(),
              snap.queued_publishes);
  INFO("events after disconnect():\n" << end.log);
  REQUIRE(end.terminal);
  CHECK(end.terminal->code == ConnectionErrorCode::Disconnected);
  CHECK(end.terminal_ms <= static_cast<double>(bound.count()));
  // What was still in the lane could not be written: reported, not lost.
  CHECK(end.failed_total >= snap.queued_publishes);
  CHECK(end.failed_by_reason[RequestError::ConnectionClosed] == end.failed_total);
}

TEST_CASE("[case1] disconnect(d) ends within d while waiting for CONNACK",
          "[integration][hardening][case1]") {
  Watchdog watchdog("case 1 (no CONNACK)", watchdog_limit());
  ScriptedBroker sb;
  auto o = client_options("case1-noconnack", sb.port());
  o.connect_timeout = 10s;
  auto pair = mqtt::Client::create(o, 4);
  mqtt::Client& client = pair.first;
  mqtt::Connection& conn = pair.second;
  auto peer = accept_connect(sb);  // never answers

  auto t0 = Clock::now();
  auto r = client.disconnect(300ms);
  double return_ms = ms_since(t0);
  CHECK(r.ok());
  CHECK(return_ms <= 300);
  const auto bound = 500ms + sanitizer_slack();
  EndReport end = read_until_terminal(conn, t0, bound + 5s);
  std::printf("[case1] no CONNACK: disconnect(300ms) returned in %.1f ms; terminal %s after "
              "%.0f ms (bound %lld ms)\n",
              return_ms,
              end.terminal ? std::string(mqtt::to_string(end.terminal->code)).c_str() : "none",
              end.terminal_ms, static_cast<long long>(bound.count()));
  INFO("events after disconnect():\n" << end.log);
  REQUIRE(end.terminal);
  CHECK(end.terminal->code == ConnectionErrorCode::Disconnected);
  CHECK(end.terminal_ms <= static_cast<double>(bound.count()));
  CHECK(peer->wait_closed(2s));
}

// ---------------------------------------------------------------- case 3

TEST_CASE("[case3] a QoS 1 flood from a broker that never reads ends in PingTimeout with "
          "bounded memory",
          "[integration][hardening][case3]") {
  Watchdog watchdog("case 3 (QoS 1 flood, broker never reads)", watchdog_limit());
  // Small receive buffer and MSS: the client's PUBACKs back up after ~85 KB
  // in the kernel (with loopback's 64 KiB MSS Linux would take ~2.8 MB,
  // more than 300 MB of flood produces in PUBACKs).
  ScriptedBroker sb(/*rcvbuf=*/4096, /*mss=*/1024);
  auto o = client_options("case3", sb.port());
  o.keep_alive = 2s;
  const auto ping_timeout = o.effective_ping_timeout();
  auto pair = mqtt::Client::create(o, 64);
  mqtt::Client& client = pair.first;
  mqtt::Connection& conn = pair.second;
  Pump pump(conn);

  auto peer = accept_connect(sb);
  REQUIRE(peer->send(connack_v311(false, 0)));
  peer->stop_reading();
  REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.connacks >= 1; }, 5s));
  std::this_thread::sleep_for(100ms);
  const int64_t rss_before = rss_kb();

  // 1 KiB QoS 1 PUBLISHes with packet ids 1..65535, never reading the
  // PUBACKs: at most 1 GiB or 20 s (40 s under TSan). The client was seen to
  // take 170-300 MB (4-14 s under TSan) before it stopped reading.
  const std::string payload(1024, 'q');
  const uint64_t max_flood = 1ull << 30;
  const auto max_time = under_tsan() ? 40s : 20s;
  const auto t0 = Clock::now();
  peer->flood(
      [&](uint64_t n) {
        return publish_v311("c3/flood", payload, 1, static_cast<uint16_t>(n % 65535 + 1));
      },
      max_flood, max_time);

  // Bound, counted from the client's last packet received (options.h: a dead
  // link is detected within keep_alive + effective_ping_timeout() of it):
  // when the flood stopped making progress, because the client stopped
  // reading (its output of PUBACKs nobody reads reached the high-water mark).
  // The session pings when nothing was WRITTEN for keep_alive, so the client
  // may also end the connection while it still reads the flood (seen under
  // TSan): then the gap is <= 0. Counted from the flood's start there is no
  // fixed bound: how long the kernel keeps taking the client's small PUBACK
  // writes varies (printed, not checked).
  const auto slack = 1000ms + sanitizer_slack();
  const auto bound = std::chrono::duration_cast<milliseconds>(o.keep_alive) + ping_timeout + slack;
  int64_t rss_peak = rss_before;
  bool got_error = false;
  // The client's state once the flood has made no progress for 300 ms.
  std::optional<mqtt::Snapshot> at_stall;
  KernelSocket client_socket_at_stall;
  size_t publishes_at_stall = 0;
  for (int i = 0; i < 100000 && Clock::now() - t0 < max_time + bound; ++i) {
    if (pump.wait_until([](const Pump::Stats& s) { return !s.errors.empty(); }, 20ms)) {
      got_error = true;
      break;
    }
    rss_peak = std::max(rss_peak, rss_kb());
    if (!at_stall && Clock::now() - peer->flood_last_progress() >= 300ms) {
      at_stall = client.snapshot();
      client_socket_at_stall = far_end_of(peer->fd());
      publishes_at_stall = pump.stats().publishes;
    }
  }
  rss_peak = std::max(rss_peak, rss_kb());
  auto stats = pump.stats();
  // The flood ends when the client closes the socket (RST: unread data).
  // When the client had read everything, its FIN waits behind its unsent
  // PUBACKs and the flood never hears of it: then the kernel's view of the
  // client's socket tells whether it was closed.
  KernelSocket client_socket_after;
  for (int i = 0; i < 500 && peer->flooding(); ++i) {
    client_socket_after = far_end_of(peer->fd());
    if (got_error && (!client_socket_after.found || client_socket_after.state != 1)) break;
    std::this_thread::sleep_for(10ms);
  }
  const double flood_end_ms = peer->flooding() ? -1 : ms_since(t0);
  const auto stalled_at = peer->flood_last_progress();
  const double stall_ms = ms_between(t0, stalled_at);
  const double error_ms = got_error ? ms_between(t0, stats.error_times[0]) : -1;
  const double after_stall_ms =
      got_error ? std::max(0.0, ms_between(stalled_at, stats.error_times[0])) : -1;
  const uint64_t flooded = peer->flood_bytes_sent();
  const int64_t growth = rss_peak - rss_before;
  // 2 x 512 KiB (the output high-water mark, and as much again for the read
  // buffer and the overshoot) plus 4 MiB allocator slack.
  const int64_t rss_bound_kb = (2 * 512 + 4 * 1024) * rss_scale();
  std::printf("[case3] flood: %llu bytes in %llu packets (ended: %s); the client stopped taking "
              "it %.0f ms after the start, %zu incoming PUBLISH events; first error %s %.0f ms "
              "after the start, %.0f ms after the client stopped taking the flood (bound %lld "
              "ms = keep_alive 2000 + ping_timeout %lld + slack %lld); RSS before %lld kB, peak "
              "%lld kB, growth %lld kB (bound %lld kB%s)\n",
              static_cast<unsigned long long>(flooded),
              static_cast<unsigned long long>(peer->flood_packets_sent()),
              peer->flood_end_reason().c_str(), stall_ms, stats.publishes,
              got_error ? std::string(mqtt::to_string(stats.errors[0].code)).c_str() : "none",
              error_ms, after_stall_ms, static_cast<long long>(bound.count()),
              static_cast<long long>(ping_timeout.count()), static_cast<long long>(slack.count()),
              static_cast<long long>(rss_before), static_cast<long long>(rss_peak),
              static_cast<long long>(growth), static_cast<long long>(rss_bound_kb),
              under_asan()   ? ", not checked under ASan: its quarantine keeps freed memory"
              : under_tsan() ? ", x5 for TSan's shadow memory"
                             : "");
  if (got_error)
    std::printf("[case3] the flood's socket failed %s\n",
                flood_end_ms < 0 ? "not at all within 5 s of the error (the client kept it open)"
                                 : (std::to_string(static_cast<long>(flood_end_ms - error_ms)) +
                                    " ms after the error")
                                       .c_str());
  if (at_stall)
    std::printf("[case3] client when the flood stalled: state %s, reading_paused %d, "
                "queued_events %zu, inflight %u, %zu PUBLISH events delivered; its socket "
                "(kernel): %s, %llu bytes unread, %llu bytes written not acknowledged\n",
                std::string(mqtt::to_string(at_stall->state)).c_str(),
                at_stall->reading_paused ? 1 : 0, at_stall->queued_events,
                at_stall->inflight_publishes, publishes_at_stall,
                client_socket_at_stall.found ? "found" : "not found",
                static_cast<unsigned long long>(client_socket_at_stall.rx_queue),
                static_cast<unsigned long long>(client_socket_at_stall.tx_queue));
  const bool flood_failed = peer->flood_end_reason().rfind("error", 0) == 0;
  if (!flood_failed)
    std::printf("[case3] the flood did not fail; the client's socket (kernel) after the error: "
                "%s, state %d\n",
                client_socket_after.found ? "found" : "gone", client_socket_after.state);
  INFO("events:\n" << pump.log_text());
  REQUIRE(got_error);  // no error at all until the flood ended + bound
  CHECK(stats.errors[0].code == ConnectionErrorCode::PingTimeout);
  // The client ended the connection before the flood ran out of bytes or
  // time: the flood's writes failed (RST: the client left bytes unread), or
  // the kernel shows the client's socket closed (its FIN queued).
  INFO("flood ended: " << peer->flood_end_reason());
  CHECK((flood_failed || !client_socket_after.found || client_socket_after.state != 1));
  CHECK(flooded < max_flood);
  CHECK(after_stall_ms <= static_cast<double>(bound.count()));
  // When the client stopped reading well before the error, the reason must
  // be its output: 512 KiB of 4-byte PUBACKs not written yet, i.e. at least
  // 131,072 publishes taken (more: the kernel holds some written ones). A
  // consumer pause (the Pump drains) would suspend the ping timeout instead.
  // Unless the client had read all its socket held: then TCP itself stalled
  // the flood (seen about once in 20 runs: the peer's 4 KiB receive buffer
  // drops the client's PUBACK segments, and with them the window updates
  // that would let the flood go on), and nothing was left for it to read.
  const bool client_left_bytes_unread =
      !client_socket_at_stall.found || client_socket_at_stall.rx_queue > 0;
  if (after_stall_ms > 500 && client_left_bytes_unread) {
    INFO("the client stopped reading " << after_stall_ms << " ms before the error, after "
                                       << stats.publishes << " publishes");
    CHECK(stats.publishes >= 131072);
  }
  if (rss_checked()) CHECK(growth <= rss_bound_kb);
  pump.stop();
}

// ---------------------------------------------------------------- case 4

namespace {

// A v5 client against a scripted broker whose CONNACK carries `props`;
// publishes `qos`/`retain` with `payload` on "t", then a QoS 0 marker on
// "marker". The publish must be accepted, then fail with `expected` as a
// RequestFailed event, and the broker must receive the marker but no
// PUBLISH on "t".
void limit_case(const char* name, const ConnAckProps& props, QoS qos, bool retain,
                const std::string& payload, RequestError expected) {
  Watchdog watchdog(std::string("case 4 ") + name, watchdog_limit());
  ScriptedBroker sb;
  auto o = client_options("case4", sb.port(), mqtt::ProtocolVersion::V5);
  auto pair = mqtt::Client::create(o, 16);
  mqtt::Client& client = pair.first;
  mqtt::Connection& conn = pair.second;
  Bytes connect;
  auto peer = accept_connect(sb, &connect);
  REQUIRE(connect_info(connect)->protocol_level == 5);
  REQUIRE(peer->send(connack_v5(false, 0, props)));
  std::string seen;
  REQUIRE(wait_connack(conn, 5s, &seen));

  auto r = client.publish("t", qos, retain, payload);
  INFO("publish: " << (r.ok() ? "ok" : r.error().message));
  CHECK(r.ok());
  REQUIRE(client.publish("marker", QoS::AtMostOnce, false, "m").ok());

  auto ev = next_until(conn, [](const mqtt::Event& e) { return e.request_failed() || e.error(); },
                       3s, &seen);
  INFO("events:\n" << seen);
  std::printf("[case4] %s: %s\n", name, ev ? describe(*ev).c_str() : "no event within 3 s");
  REQUIRE(ev);
  const RequestFailed* f = ev->request_failed();
  REQUIRE(f);  // else: a connection error came first
  CHECK(f->kind == RequestFailed::Kind::Publish);
  CHECK(f->reason == expected);
  CHECK(f->topic == "t");
  CHECK(f->qos == qos);
  CHECK(f->count == 1);

  std::vector<Bytes> before;
  auto marker = peer->read_until_type(3, 3s, &before);
  REQUIRE(marker);
  CHECK(publish_topic(*marker) == std::optional<std::string>("marker"));
  for (const auto& p : before) CHECK(packet_type(p) != 3);
}

}  // namespace

TEST_CASE("[case4a] an untracked publish above the broker's Maximum Packet Size is reported",
          "[integration][hardening][case4]") {
  ConnAckProps props;
  props.maximum_packet_size = 200;
  limit_case("a (Maximum Packet Size 200)", props, QoS::AtLeastOnce, false, std::string(500, 'x'),
             RequestError::PacketTooLarge);
}

TEST_CASE("[case4b] an untracked publish above the broker's Maximum QoS is reported",
          "[integration][hardening][case4]") {
  ConnAckProps props;
  props.maximum_qos = 0;
  limit_case("b (Maximum QoS 0)", props, QoS::AtLeastOnce, false, "small",
             RequestError::QoSNotSupported);
}

TEST_CASE("[case4c] an untracked retained publish without Retain Available is reported",
          "[integration][hardening][case4]") {
  ConnAckProps props;
  props.retain_available = 0;
  limit_case("c (Retain Available 0)", props, QoS::AtMostOnce, true, "small",
             RequestError::RetainNotSupported);
}

TEST_CASE("[case4d] an untracked publish above mosquitto's max_packet_size is reported",
          "[integration][hardening][case4]") {
  Watchdog watchdog("case 4d (mosquitto max_packet_size)", watchdog_limit());
  BrokerOptions bo;
  bo.extra_lines = {"max_packet_size 200"};
  Broker broker(bo);
  auto o = client_options("case4d", broker.port(), mqtt::ProtocolVersion::V5);
  auto pair = mqtt::Client::create(o, 16);
  mqtt::Client& client = pair.first;
  mqtt::Connection& conn = pair.second;
  std::string seen;
  REQUIRE(wait_connack(conn, 10s, &seen));
  REQUIRE(client.subscribe("t", QoS::AtMostOnce).ok());
  REQUIRE(next_until(conn, [](const mqtt::Event& e) { return suback_of(e) != nullptr; }, 5s,
                     &seen));

  auto r = client.publish("t", QoS::AtLeastOnce, false, std::string(500, 'x'));
  INFO("publish: " << (r.ok() ? "ok" : r.error().message));
  CHECK(r.ok());
  REQUIRE(client.publish("t", QoS::AtMostOnce, false, "marker").ok());

  std::optional<RequestFailed> failed;
  bool marker = false;
  size_t big = 0, errors = 0;
  next_until(
      conn,
      [&](const mqtt::Event& e) {
        if (const auto* f = e.request_failed()) failed = *f;
        if (const auto* p = e.publish()) {
          if (payload_of(*p) == "marker") marker = true;
          if (p->payload.size() >= 500) ++big;
        }
        if (e.error()) ++errors;
        return (failed && marker) || e.error();
      },
      5s, &seen);
  INFO("events:\n" << seen << "\nbroker log:\n" << broker.log());
  std::printf("[case4] d (mosquitto max_packet_size 200): RequestFailed %s; marker %s; "
              "connection errors %zu\n",
              failed ? (std::string(mqtt::to_string(failed->reason)) + " topic " + failed->topic)
                           .c_str()
                     : "none",
              marker ? "received" : "missing", errors);
  REQUIRE(failed);
  CHECK(failed->kind == RequestFailed::Kind::Publish);
  CHECK(failed->reason == RequestError::PacketTooLarge);
  CHECK(failed->topic == "t");
  CHECK(failed->qos == QoS::AtLeastOnce);
  CHECK(marker);
  CHECK(big == 0);
  CHECK(errors == 0);  // mosquitto did not have to drop the connection
}

TEST_CASE("[case4e] a flood of publishes over a broker limit costs bounded memory and every "
          "one is reported",
          "[integration][hardening][case4]") {
  constexpr uint64_t kCount = 50'000;
  Watchdog watchdog("case 4e (flood over the limit)", watchdog_limit());
  ScriptedBroker sb;
  auto o = client_options("case4e", sb.port(), mqtt::ProtocolVersion::V5);
  const size_t capacity = 64;
  auto pair = mqtt::Client::create(o, capacity);
  mqtt::Client& client = pair.first;
  mqtt::Connection& conn = pair.second;
  auto peer = accept_connect(sb);
  ConnAckProps props;
  props.maximum_packet_size = 200;
  REQUIRE(peer->send(connack_v5(false, 0, props)));
  std::string seen;
  REQUIRE(wait_connack(conn, 5s, &seen));
  std::this_thread::sleep_for(100ms);
  const int64_t rss_before = rss_kb();

  // The consumer does not read while 50,000 oversized publishes go in.
  const std::string payload(500, 'x');
  uint64_t accepted = 0, queue_full = 0;
  auto t0 = Clock::now();
  const auto limit = under_tsan() ? 60s : 20s;
  for (uint64_t i = 0; i < kCount * 100 && accepted < kCount && Clock::now() - t0 < limit; ++i) {
    auto r = client.try_publish("t", QoS::AtLeastOnce, false, payload);
    if (r.ok()) {
      ++accepted;
      continue;
    }
    INFO("try_publish: " << r.error().message);
    REQUIRE(r.error().code == mqtt::ClientError::Code::QueueFull);
    ++queue_full;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  const double publish_ms = ms_since(t0);
  std::this_thread::sleep_for(200ms);
  const int64_t rss_after = rss_kb();
  const int64_t growth = rss_after - rss_before;
  // 50,000 x 500 bytes would be 24 MiB.
  const int64_t rss_bound_kb = 8 * 1024 * rss_scale();

  // Now the consumer reads: the failures, coalesced.
  uint64_t failed = 0, events = 0, other = 0, wrong = 0;
  std::string first_wrong;
  auto t1 = Clock::now();
  for (int i = 0; i < 1'000'000 && failed < kCount && Clock::now() - t1 < 10s; ++i) {
    auto ev = conn.next_for(200ms);
    if (!ev) {
      if (conn.ended()) break;
      continue;
    }
    if (const auto* f = ev->request_failed()) {
      ++events;
      failed += f->count;
      if (f->reason != RequestError::PacketTooLarge || f->kind != RequestFailed::Kind::Publish) {
        if (wrong++ == 0) first_wrong = describe(*ev);
      }
    } else {
      ++other;
      if (seen.size() < 5000) seen += describe(*ev) + "\n";
    }
  }
  // None of them reached the broker.
  size_t publishes_at_broker = 0;
  for (int i = 0; i < 100; ++i) {
    auto p = peer->read_packet(50ms);
    if (!p) break;
    if (packet_type(*p) == 3) ++publishes_at_broker;
  }
  std::printf("[case4] e: %llu of %llu oversized publishes accepted in %.0f ms (%llu QueueFull "
              "retries) with the consumer not reading; RSS growth %lld kB (bound %lld kB%s); "
              "then %llu failures reported in %llu RequestFailed events, %llu other events, "
              "%zu PUBLISH at the broker\n",
              static_cast<unsigned long long>(accepted), static_cast<unsigned long long>(kCount),
              publish_ms, static_cast<unsigned long long>(queue_full),
              static_cast<long long>(growth), static_cast<long long>(rss_bound_kb),
              under_asan() ? ", not checked under ASan" : under_tsan() ? ", x5 for TSan" : "",
              static_cast<unsigned long long>(failed), static_cast<unsigned long long>(events),
              static_cast<unsigned long long>(other), publishes_at_broker);
  INFO("other events:\n" << seen << "first wrong RequestFailed: " << first_wrong);
  CHECK(accepted == kCount);
  if (rss_checked()) CHECK(growth <= rss_bound_kb);
  CHECK(failed == accepted);
  CHECK(wrong == 0);
  CHECK(events <= accepted);
  CHECK(publishes_at_broker == 0);
}

// ---------------------------------------------------------------- case 5

TEST_CASE("[case5] a broker that forgets the session is reported even with nothing in flight",
          "[integration][hardening][case5]") {
  Watchdog watchdog("case 5 (session lost)", watchdog_limit());
  ScriptedBroker sb;
  auto o = client_options("case5", sb.port());
  o.clean_session = false;
  auto pair = mqtt::Client::create(o, 16);
  mqtt::Client& client = pair.first;
  mqtt::Connection& conn = pair.second;
  Pump pump(conn);

  Bytes connect;
  auto peer = accept_connect(sb, &connect);
  CHECK_FALSE(connect_info(connect)->clean());
  REQUIRE(peer->send(connack_v311(false, 0)));
  REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.connacks >= 1; }, 5s));

  auto token = client.subscribe("c5/a", QoS::AtLeastOnce);
  REQUIRE(token.ok());
  auto sub = peer->read_until_type(8, 3s);
  REQUIRE(sub);
  auto pid = leading_packet_id(*sub);
  REQUIRE(pid);
  REQUIRE(peer->send(suback_v311(*pid, {0x01})));
  auto done = token.value().wait_for(3s);
  REQUIRE(done);
  REQUIRE(done->ok());
  CHECK(pump.stats().resets.empty());  // the first connection resets nothing

  // The broker drops the connection and, on the reconnect, has no session.
  peer->close();
  Bytes connect2;
  auto peer2 = accept_connect(sb, &connect2, 10s);
  CHECK_FALSE(connect_info(connect2)->clean());
  REQUIRE(peer2->send(connack_v311(false, 0)));
  bool reset = pump.wait_until([](const Pump::Stats& s) { return !s.resets.empty(); }, 3s);
  auto stats = pump.stats();
  INFO("events:\n" << pump.log_text());
  std::printf("[case5] SessionReset after the reconnect: %s\n",
              reset ? ("cause " + std::string(mqtt::to_string(stats.resets[0].cause)) +
                       ", subscriptions_lost " + std::to_string(stats.resets[0].subscriptions_lost) +
                       ", dropped_publishes " + std::to_string(stats.resets[0].dropped_publishes))
                          .c_str()
                    : "none within 3 s");
  REQUIRE(reset);
  CHECK(stats.resets.size() == 1);
  CHECK(stats.resets[0].cause == mqtt::SessionReset::Cause::BrokerLostSession);
  CHECK(stats.resets[0].subscriptions_lost);
  CHECK(stats.resets[0].dropped_publishes == 0);
  CHECK(stats.resets[0].dropped_pubrels == 0);
  CHECK(stats.resets[0].resubscribing == 0);  // auto_resubscribe is off
  pump.stop();
}

// ---------------------------------------------------------------- case 7

TEST_CASE("[case7] a PUBLISH with an empty topic and an unknown Topic Alias ends the connection "
          "with 0x94",
          "[integration][hardening][case7]") {
  Watchdog watchdog("case 7 (unknown topic alias)", watchdog_limit());
  ScriptedBroker sb;
  auto o = client_options("case7", sb.port(), mqtt::ProtocolVersion::V5);
  auto pair = mqtt::Client::create(o, 16);
  mqtt::Connection& conn = pair.second;
  auto peer = accept_connect(sb);
  REQUIRE(peer->send(connack_v5(false, 0)));
  REQUIRE(peer->send(publish_v5("", "aliased", 0, 0, uint16_t{1})));

  size_t publishes = 0;
  std::string seen;
  auto ev = next_until(
      conn,
      [&](const mqtt::Event& e) {
        if (e.publish()) ++publishes;
        return e.error() != nullptr;
      },
      3s, &seen);
  std::vector<Bytes> before;
  auto disc = peer->read_until_type(14, 3s, &before);
  std::printf("[case7] consumer: %s, %zu incoming PUBLISH; broker got %s\n",
              ev ? describe(*ev).c_str() : "no error within 3 s", publishes,
              disc ? describe_packet(*disc).c_str() : "no DISCONNECT");
  INFO("events:\n" << seen);
  CHECK(publishes == 0);
  REQUIRE(ev);
  CHECK(ev->error()->code == ConnectionErrorCode::ProtocolViolation);
  REQUIRE(disc);
  CHECK(disconnect_reason(*disc) == std::optional<uint8_t>(0x94));
}

// ---------------------------------------------------------------- case 8

TEST_CASE("[case8] a PUBLISH before CONNACK is a protocol violation and is not delivered",
          "[integration][hardening][case8]") {
  const auto version = GENERATE(mqtt::ProtocolVersion::V311, mqtt::ProtocolVersion::V5);
  const bool v5 = version == mqtt::ProtocolVersion::V5;
  Watchdog watchdog("case 8 (PUBLISH before CONNACK)", watchdog_limit());
  ScriptedBroker sb;
  auto o = client_options("case8", sb.port(), version);
  auto pair = mqtt::Client::create(o, 16);
  mqtt::Connection& conn = pair.second;
  auto peer = accept_connect(sb);
  REQUIRE(peer->send(v5 ? publish_v5("c8/early", "early", 0, 0) :
                          publish_v311("c8/early", "early", 0, 0)));
  REQUIRE(peer->send(v5 ? connack_v5(false, 0) : connack_v311(false, 0)));

  size_t publishes = 0;
  std::string seen;
  auto ev = next_until(
      conn,
      [&](const mqtt::Event& e) {
        if (e.publish()) ++publishes;
        return e.error() != nullptr;
      },
      3s, &seen);
  std::printf("[case8] %s: consumer got %s after %zu incoming PUBLISH\n",
              v5 ? "MQTT 5" : "MQTT 3.1.1", ev ? describe(*ev).c_str() : "no error within 3 s",
              publishes);
  INFO("events:\n" << seen);
  CHECK(publishes == 0);
  REQUIRE(ev);
  CHECK(ev->error()->code == ConnectionErrorCode::ProtocolViolation);
}

// ---------------------------------------------------------------- case 13

TEST_CASE("[case13] dead-link detection scales with the keep alive",
          "[integration][hardening][case13]") {
  const int keep_alive_s = GENERATE(1, 4);
  Watchdog watchdog("case 13 (black hole, keep_alive " + std::to_string(keep_alive_s) + " s)",
                    watchdog_limit());
  Broker broker;
  Relay relay(broker.port());
  auto o = client_options("case13", relay.port());
  o.keep_alive = std::chrono::seconds(keep_alive_s);
  o.connect_timeout = 2000ms;
  const auto ping_timeout = o.effective_ping_timeout();
  const auto bound = std::chrono::duration_cast<milliseconds>(o.keep_alive) + ping_timeout +
                     500ms + sanitizer_slack();

  auto pair = mqtt::Client::create(o, 64);
  mqtt::Client& client = pair.first;
  std::optional<mqtt::Connection> conn(std::move(pair.second));
  std::optional<Pump> pump(std::in_place, *conn);
  REQUIRE(pump->wait_until([](const Pump::Stats& s) { return s.connacks >= 1; }, 10s));

  // A steady QoS 0 publisher: writes keep succeeding into kernel buffers
  // after the relay stops, so only the keepalive can notice.
  std::atomic<bool> stop{false};
  std::thread publisher([&] {
    for (int i = 0; i < 100000 && !stop; ++i) {
      (void)client.try_publish("c13/data", QoS::AtMostOnce, false, "tick " + std::to_string(i));
      std::this_thread::sleep_for(20ms);
    }
  });
  JoinGuard guard(publisher);
  std::this_thread::sleep_for(2500ms);
  const size_t errors_before = pump->stats().errors.size();

  const auto t0 = Clock::now();
  relay.pause();
  bool detected = pump->wait_until(
      [&](const Pump::Stats& s) { return s.errors.size() > errors_before; }, bound + 5s);
  auto stats = pump->stats();
  stop = true;
  publisher.join();
  relay.resume();

  INFO("events:\n" << pump->log_text());
  CHECK(errors_before == 0);
  REQUIRE(detected);
  const double detection_ms = ms_between(t0, stats.error_times[errors_before]);
  std::printf("[case13] keep_alive %d s, effective ping timeout %lld ms: %s %.0f ms after the "
              "relay stopped (bound %lld ms)\n",
              keep_alive_s, static_cast<long long>(ping_timeout.count()),
              std::string(mqtt::to_string(stats.errors[errors_before].code)).c_str(),
              detection_ms, static_cast<long long>(bound.count()));
  CHECK(stats.errors[errors_before].code == ConnectionErrorCode::PingTimeout);
  CHECK(detection_ms <= static_cast<double>(bound.count()));
  CHECK(detection_ms >= static_cast<double>(ping_timeout.count()) - 50);
  pump.reset();
  conn.reset();
}
