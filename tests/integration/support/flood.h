// A client that publishes QoS 0 messages to one topic as fast as the broker
// takes them, on threads of its own, until destroyed: keeps a subscriber's
// socket busy with incoming bytes (e.g. to test a close under traffic).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>

#include "mqtt/client.h"

namespace itest {

class Flood {
 public:
  // Connects to 127.0.0.1:port (throws std::runtime_error when it cannot
  // within 10 s) and starts publishing; stops by itself after max_life.
  Flood(uint16_t port, std::string topic, std::chrono::seconds max_life = std::chrono::seconds(100));
  ~Flood();  // stops and joins
  Flood(const Flood&) = delete;
  Flood& operator=(const Flood&) = delete;

  uint64_t published() const { return published_.load(); }

 private:
  std::optional<mqtt::Client> client_;
  std::optional<mqtt::Connection> conn_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> published_{0};
  std::thread publisher_;
  std::thread drainer_;
};

}  // namespace itest
