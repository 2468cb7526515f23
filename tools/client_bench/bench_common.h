// Shared shape of one benchmark run, whatever the client library.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace bench {

enum class Scenario {
  Qos1Publish,  // publish N QoS 1 messages, until every PUBACK is in
  Qos0Echo,     // subscribe, publish N QoS 0 messages to ourselves, until all came back
  Qos0Publish,  // N QoS 0 messages, then one QoS 1 "fence": until its PUBACK
  Qos2Publish,  // N QoS 2 messages, window 100: until every PUBCOMP is in
  // Round trips through the broker: subscribe to our own topic, publish QoS 0,
  // latency = receive time - send time (latency.cc).
  RttClosed,     // the next message is sent when the previous one came back
  RttOpen1k,     // open loop, message i due at t0 + i / 1,000 s, measured from then
  RttOpen10k,    // the same at 10,000 messages/s
  // Against the fake broker (fake_broker.cc), which routes nothing: the
  // client's publishing path alone.
  FakePublishQos0,  // N QoS 0 messages, then one QoS 1 "fence": until its PUBACK
  FakePublishQos1,  // N QoS 1 messages, window 100: until every PUBACK is in
  FakePublishQos2,  // N QoS 2 messages, window 100: until every PUBCOMP is in
};

inline bool is_fake(Scenario s) {
  return s == Scenario::FakePublishQos0 || s == Scenario::FakePublishQos1 || s == Scenario::FakePublishQos2;
}

inline bool is_latency(Scenario s) {
  return s == Scenario::RttClosed || s == Scenario::RttOpen1k || s == Scenario::RttOpen10k;
}

// Messages per second of an open-loop scenario; 0 for the others.
inline double open_loop_rate(Scenario s) {
  return s == Scenario::RttOpen1k ? 1000 : s == Scenario::RttOpen10k ? 10000 : 0;
}

// Publish scenarios: the QoS of the N counted messages (0 for the echo and
// the round trips), and whether a QoS 1 fence follows them.
inline int publish_qos(Scenario s) {
  switch (s) {
    case Scenario::Qos1Publish:
    case Scenario::FakePublishQos1: return 1;
    case Scenario::Qos2Publish:
    case Scenario::FakePublishQos2: return 2;
    default: return 0;
  }
}
inline bool uses_fence(Scenario s) { return s == Scenario::Qos0Publish || s == Scenario::FakePublishQos0; }

// How the client reaches the broker. Ws and Wss go through a WebSocket-to-TCP
// bridge in front of the broker (tests/peers/ws_peer.js), so their rows
// include the bridge's hop.
enum class Transport { Tcp, Tls, Ws, Wss };

inline const char* transport_name(Transport t) {
  switch (t) {
    case Transport::Tcp: return "tcp";
    case Transport::Tls: return "tls";
    case Transport::Ws: return "ws";
    case Transport::Wss: return "wss";
  }
  return "?";
}

struct RunConfig {
  Transport transport = Transport::Tcp;
  std::string url;  // mqtt://, mqtts://, ws:// or wss:// (our client takes it whole)
  std::string host = "127.0.0.1";
  uint16_t port = 1883;
  std::string ca_file;  // TLS (tls, wss): the only trust anchor
  Scenario scenario = Scenario::Qos1Publish;
  uint32_t messages = 50000;
  uint32_t payload = 64;
  std::string topic;  // unique per library and run
  std::chrono::seconds timeout{60};
  // Other processes whose CPU time over the timed part is reported beside
  // the client's (0 = none): the broker, and the WebSocket bridge.
  pid_t broker_pid = 0;
  pid_t bridge_pid = 0;
  // Ours only: SpinThenBlock for the reactor and the consumer
  // (MqttOptions::reactor_wait, consumer_wait), spinning for spin_for.
  bool spin = false;
  std::chrono::microseconds spin_for{50};
  // libmosquitto, closed loop: the next message is sent from an application
  // thread woken by the message callback, not from the callback itself.
  bool reply_from_app_thread = false;
};

struct RunResult {
  bool ok = false;
  uint32_t completed = 0;  // acks or messages received
  double seconds = 0;
  std::string error;
  // C++ heap allocations per completed message during the timed part; < 0
  // when not measured (C libraries allocate with malloc).
  double allocations_per_message = -1;
  // CPU time (user + system) over the timed part: this process (every
  // thread of the client under test, nothing else runs then), the broker and
  // the bridge; < 0 when not measured.
  double client_cpu_seconds = -1;
  double broker_cpu_seconds = -1;
  double bridge_cpu_seconds = -1;
  // Voluntary + involuntary context switches of this process (all threads,
  // getrusage(RUSAGE_SELF)) over the timed part; < 0 when not measured.
  double context_switches = -1;
  // Round-trip scenarios: one latency per message that came back, in
  // microseconds, in no particular order; and the 99th percentile of how late
  // the open-loop publisher sent a message after its scheduled time (< 0:
  // not measured; the latencies include it).
  std::vector<double> latency_us;
  double send_lag_p99_us = -1;
  // --syscalls: system calls of this process (all threads) over the timed
  // part, by name, and how they were counted ("perf" or "strace"); empty
  // when not counted.
  std::map<std::string, double> syscalls;
  std::string syscall_counter;
};

// Process-wide count of operator new calls (alloc_counter.cc).
uint64_t allocations();

// --syscalls: counts this process's system calls between start() and
// stop() (syscalls.cc), with `perf stat -e 'syscalls:sys_enter_*' -p PID`
// attached for the run (counting enabled and disabled through its control
// FIFO), or, when perf cannot, `strace -c -f -p PID`.
class SyscallCounter {
 public:
  SyscallCounter() = default;
  SyscallCounter(const SyscallCounter&) = delete;
  SyscallCounter& operator=(const SyscallCounter&) = delete;
  ~SyscallCounter();
  // Attaches the counter and enables it; false (and a note on stderr) when
  // neither perf nor strace works.
  bool start();
  // Disables it and fills r.syscalls and r.syscall_counter.
  void stop(RunResult& r);

 private:
  void kill_tool();
  pid_t tool_ = 0;
  bool perf_ = true;
  int ctl_fd_ = -1, ack_fd_ = -1;
  std::string dir_, out_;
};

// Starts `args` (argv[0] found on PATH) with stdin from /dev/null and stdout
// and stderr into `log` (appended to, or truncated first); 0 when it could
// not start.
pid_t spawn_logged(const std::vector<std::string>& args, const std::string& log, bool append);

// Turns --syscalls on for every CpuMeter (set once, before the runs).
void count_syscalls(bool on);

// CPU time of this process and of the peers in a RunConfig, sampled at the
// start of the timed part and again at its end (cpu_meter.cc): getrusage()
// for this process, /proc/PID/task/*/schedstat (nanoseconds) for the peers.
// With count_syscalls(true) it also counts system calls over that span.
class CpuMeter {
 public:
  explicit CpuMeter(const RunConfig& c);
  void start();
  void stop(RunResult& r) const;

 private:
  pid_t broker_, bridge_;
  double self0_ = 0, broker0_ = -1, bridge0_ = -1;
  long switches0_ = 0;
  mutable SyscallCounter syscalls_;
  bool counting_ = false;
};

// The fake broker, a child process: this binary started again with
// `--fake-broker PARENT_PID LIFETIME_S`, which calls fake_broker_main().
int fake_broker_main(pid_t parent, int lifetime_seconds);

class FakeBroker {
 public:
  FakeBroker() = default;
  FakeBroker(const FakeBroker&) = delete;
  FakeBroker& operator=(const FakeBroker&) = delete;
  ~FakeBroker();  // stop()
  // Spawns it on 127.0.0.1:0 and waits (5 s at most) for its port.
  bool start(int lifetime_seconds, std::string& error);
  // SIGTERM by pid, then SIGKILL after 2 s.
  void stop();
  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  // PUBLISH packets the broker received on connections that published to
  // `topic`, reported when they closed; -1 if not reported within `timeout`.
  long published(const std::string& topic, std::chrono::milliseconds timeout);

 private:
  bool read_some(std::chrono::steady_clock::time_point deadline);
  pid_t pid_ = 0;
  int out_fd_ = -1;
  uint16_t port_ = 0;
  std::string lines_;
  std::map<std::string, long> counts_;
};

RunResult run_ours(const RunConfig& c);
RunResult run_mosquitto(const RunConfig& c);
RunResult run_paho(const RunConfig& c);
// The round-trip scenarios (is_latency()), called by the run_* above.
RunResult run_ours_latency(const RunConfig& c);
RunResult run_mosquitto_latency(const RunConfig& c);
RunResult run_paho_latency(const RunConfig& c);

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Completed messages, counted by a C library's callback thread, for a
// measuring thread that sleeps (costing no CPU in the timed part) until all
// are in, a failure, or fewer than a window's worth are outstanding. Only the
// last message, a failure, and acks while someone waits for the window take
// the lock.
class Completion {
 public:
  explicit Completion(uint32_t target) : target_(target) {}

  void add() {
    if (count_.fetch_add(1) + 1 == target_ || window_waiter_.load()) wake();
  }
  void fail() {
    failed_ = true;
    wake();
  }
  uint32_t count() const { return count_.load(); }
  bool failed() const { return failed_.load(); }

  void wait_all(Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_until(lock, deadline, [&] { return count_.load() >= target_ || failed_.load(); });
  }
  // Until fewer than `window` of the `sent` messages are outstanding.
  void wait_window(uint32_t sent, uint32_t window, Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    window_waiter_ = true;
    cv_.wait_until(lock, deadline, [&] { return sent - count_.load() < window || failed_.load(); });
    window_waiter_ = false;
  }

 private:
  void wake() {
    std::lock_guard<std::mutex> lock(mutex_);
    cv_.notify_all();
  }

  const uint32_t target_;
  std::atomic<uint32_t> count_{0};
  std::atomic<bool> failed_{false};
  std::atomic<bool> window_waiter_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
};

// Polls until `flag` is set, `done` failed or the deadline passes (for
// connecting and subscribing, outside the timed part).
inline void wait_for_flag(const std::atomic<bool>& flag, const Completion& done,
                          Clock::time_point deadline) {
  while (!flag.load() && !done.failed() && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
}

// ---- round trips (latency.cc) ----

// Every round-trip payload starts with the message's sequence number (4
// bytes) and the steady_clock time, in nanoseconds, from which its latency
// counts (8 bytes): the send time in the closed loop, the scheduled send time
// in the open loop. The rest is filler. kStampBytes is the smallest payload.
constexpr uint32_t kStampBytes = 12;
int64_t now_ns();
void stamp(std::string& payload, uint32_t seq, int64_t t_ns);

// Latencies recorded by the receiving thread, one slot per sequence number
// (duplicates and strangers ignored); the count is published through
// `done` (Completion::add per new message).
class LatencyLog {
 public:
  explicit LatencyLog(uint32_t n) : ns_(n, -1) {}
  // The payload of a message that came back; returns its sequence number,
  // or -1 when it was not one of ours (or a duplicate).
  long record(const void* payload, size_t size, Completion& done);
  // Latencies in µs of the messages that came back (call once the receiver
  // is quiet).
  std::vector<double> microseconds() const;

 private:
  std::vector<int64_t> ns_;
};

// The open-loop publisher: sends message i at t0 + i / rate (sleeping until
// then, with a 1 µs timer slack), stamped with that scheduled time, however
// late it is (no coordinated omission); stops after `n`, at `deadline`, or
// when `send` returns false. Returns the 99th percentile of how late each
// send started, in µs.
double paced_publish(uint32_t n, double rate, int64_t t0_ns, Clock::time_point deadline,
                     const std::function<bool(uint32_t seq, int64_t scheduled_ns)>& send);

// How long a round-trip run may take: the open loop's schedule plus 5 s; for
// the closed loop 10 s plus 1 ms per round trip (a lost QoS 0 message stops a
// closed loop until then), at most the run's timeout.
inline Clock::time_point latency_deadline(const RunConfig& c) {
  const double rate = open_loop_rate(c.scenario);
  if (rate <= 0)
    return Clock::now() + std::min<std::chrono::milliseconds>(c.timeout, std::chrono::milliseconds(10000 + c.messages));
  return Clock::now() + std::chrono::milliseconds(static_cast<long>(c.messages / rate * 1000) + 5000);
}

}  // namespace bench
