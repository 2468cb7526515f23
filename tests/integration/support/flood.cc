#include "tests/integration/support/flood.h"

#include <stdexcept>

#include "tests/integration/support/events.h"

namespace itest {

Flood::Flood(uint16_t port, std::string topic, std::chrono::seconds max_life) {
  auto [c, conn] = mqtt::Client::create(client_options("flood", port), 1024);
  client_.emplace(std::move(c));
  conn_.emplace(std::move(conn));
  if (!wait_connack(*conn_, std::chrono::seconds(10))) {
    throw std::runtime_error("flood: no CONNACK from 127.0.0.1:" + std::to_string(port));
  }
  const auto end = Clock::now() + max_life;
  publisher_ = std::thread([this, topic = std::move(topic), end] {
    // Bounded in count and time; a full lane just waits a little.
    for (uint64_t i = 0; i < 100'000'000 && !stop_.load() && Clock::now() < end; ++i) {
      if (client_->try_publish(topic, mqtt::QoS::AtMostOnce, false, "f").ok()) {
        published_.fetch_add(1);
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
  });
  drainer_ = std::thread([this, end] {
    for (int i = 0; i < 100'000'000 && !stop_.load() && Clock::now() < end; ++i) {
      (void)conn_->next_for(std::chrono::milliseconds(50));
    }
  });
}

Flood::~Flood() {
  stop_.store(true);
  if (publisher_.joinable()) publisher_.join();
  if (drainer_.joinable()) drainer_.join();
}

}  // namespace itest
