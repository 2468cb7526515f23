#include <mosquitto.h>

#include <atomic>
#include <string>
#include <thread>

#include "tools/client_bench/bench_common.h"

namespace bench {
namespace {

struct State {
  std::atomic<bool> connected{false};
  std::atomic<bool> subscribed{false};
  std::atomic<uint32_t> completed{0};
};

void wait_until(const std::atomic<bool>& flag, Clock::time_point deadline) {
  while (!flag.load() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::microseconds(200));
}

}  // namespace

RunResult run_mosquitto(const RunConfig& c) {
  RunResult r;
  mosquitto_lib_init();
  State st;
  const std::string id = "bench-mosq-" + c.topic;
  mosquitto* m = mosquitto_new(id.c_str(), true, &st);
  if (!m) return r.error = "mosquitto_new failed", r;
  mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_max_inflight_messages_set(m, 100);  // the same window as ours
  mosquitto_connect_callback_set(m, [](mosquitto*, void* p, int rc) {
    if (rc == 0) static_cast<State*>(p)->connected = true;
  });
  mosquitto_subscribe_callback_set(m, [](mosquitto*, void* p, int, int, const int*) {
    static_cast<State*>(p)->subscribed = true;
  });
  mosquitto_publish_callback_set(m, [](mosquitto*, void* p, int) {
    static_cast<State*>(p)->completed.fetch_add(1, std::memory_order_relaxed);
  });
  mosquitto_message_callback_set(m, [](mosquitto*, void* p, const mosquitto_message*) {
    static_cast<State*>(p)->completed.fetch_add(1, std::memory_order_relaxed);
  });
  const auto deadline = Clock::now() + c.timeout;
  if (mosquitto_connect(m, c.host.c_str(), c.port, 30) != MOSQ_ERR_SUCCESS ||
      mosquitto_loop_start(m) != MOSQ_ERR_SUCCESS) {
    mosquitto_destroy(m);
    return r.error = "connect failed", r;
  }
  wait_until(st.connected, deadline);
  const bool echo = c.scenario == Scenario::Qos0Echo;
  if (echo) {
    mosquitto_subscribe(m, nullptr, c.topic.c_str(), 0);
    wait_until(st.subscribed, deadline);
  }
  const std::string payload(c.payload, 'p');
  const int qos = echo ? 0 : 1;
  // In the echo run the publish callback also fires (QoS 0 "sent"): count
  // only messages then.
  if (echo) mosquitto_publish_callback_set(m, nullptr);
  const auto t0 = Clock::now();
  for (uint32_t i = 0; i < c.messages; ++i) {
    mosquitto_publish(m, nullptr, c.topic.c_str(), static_cast<int>(payload.size()), payload.data(), qos,
                      false);
  }
  while (st.completed.load() < c.messages && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  r.seconds = seconds_since(t0);
  r.completed = st.completed.load();
  r.ok = r.completed == c.messages;
  if (!r.ok) r.error = "timed out";
  mosquitto_disconnect(m);
  mosquitto_loop_stop(m, false);
  mosquitto_destroy(m);
  return r;
}

}  // namespace bench
