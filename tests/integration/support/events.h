// Helpers to read a Connection's events with bounded waits.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "mqtt/client.h"
#include "mqtt/event.h"

namespace itest {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string describe(const mqtt::Event& e);
const mqtt::codec::ConnAck* connack_of(const mqtt::Event& e);
const mqtt::codec::SubAck* suback_of(const mqtt::Event& e);
std::string payload_of(const mqtt::codec::Publish& p);
std::string topic_of(const mqtt::codec::Publish& p);
double ms_since(Clock::time_point t);

// A unique client id for this process.
std::string unique_id(const std::string& prefix);

// Options for a test client on 127.0.0.1:port: unique client id, short
// connect timeout and reconnect backoff.
mqtt::MqttOptions client_options(const std::string& prefix, uint16_t port,
                                 mqtt::ProtocolVersion version = mqtt::ProtocolVersion::V311);

// The last resort against a library call that blocks forever (a blocking
// publish(), a join): unless disarmed within `limit`, prints `what` and ends
// the test process with exit code 1 (its peers die with it: pdeathsig).
class Watchdog {
 public:
  Watchdog(std::string what, std::chrono::seconds limit);
  ~Watchdog();  // disarms
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool disarmed_ = false;
  std::thread thread_;
};

// Polls `pred` every 5 ms for at most `timeout`. True once it holds.
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (int i = 0; i < 1'000'000; ++i) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

// Joins a thread when leaving the scope, also when an assertion throws
// (std::thread would terminate the process instead).
class JoinGuard {
 public:
  explicit JoinGuard(std::thread& t) : t_(t) {}
  ~JoinGuard() {
    if (t_.joinable()) t_.join();
  }
  JoinGuard(const JoinGuard&) = delete;
  JoinGuard& operator=(const JoinGuard&) = delete;

 private:
  std::thread& t_;
};

// The sanitizer this binary was built with, to widen timing slack.
bool under_tsan();
bool under_asan();

// Reads events on the calling thread until `pred` accepts one; bounded by
// `timeout` and `max_events`. Returns that event, or std::nullopt on timeout,
// on the end of the connection, or after max_events. Every event read is
// described, one per line, in *seen when given (publishes summarized).
std::optional<mqtt::Event> next_until(mqtt::Connection& c,
                                      const std::function<bool(const mqtt::Event&)>& pred,
                                      std::chrono::milliseconds timeout,
                                      std::string* seen = nullptr,
                                      size_t max_events = 10'000'000);

// Reads until a CONNACK with Success; nullopt (details in *seen) otherwise.
// The copy's string and byte properties are views into an event that is
// gone when this returns: read only its plain fields (reason code, session
// present, numbers); for the rest keep the event (next_until + connack_of).
std::optional<mqtt::codec::ConnAck> wait_connack(mqtt::Connection& c,
                                                 std::chrono::milliseconds timeout,
                                                 std::string* seen = nullptr);

// Reads until the connection ends: the final error and then std::nullopt
// from next(). `final_error` gets the last ConnectionError seen.
bool wait_end(mqtt::Connection& c, std::chrono::milliseconds timeout,
              std::optional<mqtt::ConnectionError>* final_error, std::string* seen = nullptr);

// Drains a Connection on a thread of its own (the connection's consumer), so
// that it keeps reconnecting, and records what matters. Polls with
// next_for(50 ms) and stops on stop(), at the end of the connection, or
// after max_life.
class Pump {
 public:
  using Handler = std::function<void(const mqtt::Event&)>;
  struct Stats {
    size_t events = 0;
    size_t publishes = 0;
    size_t connacks = 0;                // successful CONNACKs
    std::vector<bool> session_present;  // one per successful CONNACK
    std::vector<mqtt::ConnectionError> errors;
    std::vector<Clock::time_point> error_times;
    std::vector<mqtt::SessionReset> resets;
    std::vector<std::string> log;  // every event but incoming PUBLISH/PUBACK..., capped
    bool ended = false;            // next() reported the end
  };

  // `on_event` runs on the pump thread for every event, before the stats
  // are updated.
  explicit Pump(mqtt::Connection& c, Handler on_event = nullptr,
                std::chrono::seconds max_life = 600s);
  ~Pump();
  Pump(const Pump&) = delete;
  Pump& operator=(const Pump&) = delete;

  void stop();
  Stats stats() const;
  // Waits at most `timeout` until pred(stats) holds (checked on every event
  // and every 50 ms). True when it did.
  bool wait_until(const std::function<bool(const Stats&)>& pred, std::chrono::milliseconds timeout);
  // As wait_until, for a predicate over the test's own state: it runs
  // WITHOUT the pump's lock held (so it may take the test's locks that the
  // event handler takes too, with no lock-order inversion).
  bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout);
  std::string log_text() const;

 private:
  void run(std::chrono::seconds max_life);

  mqtt::Connection& c_;
  Handler on_event_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Stats stats_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace itest
