// Shared shape of one benchmark run, whatever the client library.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace bench {

enum class Scenario {
  Qos1Publish,  // publish N QoS 1 messages, until every PUBACK is in
  Qos0Echo,     // subscribe, publish N QoS 0 messages to ourselves, until all came back
  // Against the fake broker (fake_broker.cc), which routes nothing: the
  // client's publishing path alone.
  FakePublishQos0,  // N QoS 0 messages, then one QoS 1 "fence": until its PUBACK
  FakePublishQos1,  // N QoS 1 messages, window 100: until every PUBACK is in
  FakePublishQos2,  // N QoS 2 messages, window 100: until every PUBCOMP is in
};

inline bool is_fake(Scenario s) {
  return s == Scenario::FakePublishQos0 || s == Scenario::FakePublishQos1 || s == Scenario::FakePublishQos2;
}

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
};

// Process-wide count of operator new calls (alloc_counter.cc).
uint64_t allocations();

// CPU time of this process and of the peers in a RunConfig, sampled at the
// start of the timed part and again at its end (cpu_meter.cc): getrusage()
// for this process, /proc/PID/task/*/schedstat (nanoseconds) for the peers.
class CpuMeter {
 public:
  explicit CpuMeter(const RunConfig& c);
  void start();
  void stop(RunResult& r) const;

 private:
  pid_t broker_, bridge_;
  double self0_ = 0, broker0_ = -1, bridge0_ = -1;
  long switches0_ = 0;
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

}  // namespace bench
