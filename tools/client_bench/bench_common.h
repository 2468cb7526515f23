// Shared shape of one benchmark run, whatever the client library.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace bench {

enum class Scenario {
  Qos1Publish,  // publish N QoS 1 messages, until every PUBACK is in
  Qos0Echo,     // subscribe, publish N QoS 0 messages to ourselves, until all came back
};

struct RunConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 1883;
  Scenario scenario = Scenario::Qos1Publish;
  uint32_t messages = 50000;
  uint32_t payload = 64;
  std::string topic;  // unique per library and run
  std::chrono::seconds timeout{60};
};

struct RunResult {
  bool ok = false;
  uint32_t completed = 0;  // acks or messages received
  double seconds = 0;
  std::string error;
  // C++ heap allocations per completed message during the timed part; < 0
  // when not measured (C libraries allocate with malloc).
  double allocations_per_message = -1;
};

// Process-wide count of operator new calls (alloc_counter.cc).
uint64_t allocations();

RunResult run_ours(const RunConfig& c);
RunResult run_mosquitto(const RunConfig& c);
RunResult run_paho(const RunConfig& c);

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace bench
