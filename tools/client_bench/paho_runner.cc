#include <MQTTAsync.h>

#include <atomic>
#include <string>
#include <thread>

#include "tools/client_bench/bench_common.h"

namespace bench {
namespace {

struct State {
  std::atomic<bool> connected{false};
  std::atomic<bool> subscribed{false};
  std::atomic<bool> failed{false};
  std::atomic<uint32_t> completed{0};
  bool echo = false;
};

void wait_until(const std::atomic<bool>& flag, const std::atomic<bool>& failed,
                Clock::time_point deadline) {
  while (!flag.load() && !failed.load() && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
}

}  // namespace

RunResult run_paho(const RunConfig& c) {
  RunResult r;
  State st;
  st.echo = c.scenario == Scenario::Qos0Echo;
  MQTTAsync client;
  const std::string uri = "tcp://" + c.host + ":" + std::to_string(c.port);
  const std::string id = "bench-paho-" + c.topic;
  MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
  co.maxBufferedMessages = static_cast<int>(c.messages) + 10;
  if (MQTTAsync_createWithOptions(&client, uri.c_str(), id.c_str(), MQTTCLIENT_PERSISTENCE_NONE,
                                  nullptr, &co) != MQTTASYNC_SUCCESS)
    return r.error = "create failed", r;
  MQTTAsync_setCallbacks(
      client, &st, nullptr,
      [](void* p, char* topic, int, MQTTAsync_message* msg) -> int {
        static_cast<State*>(p)->completed.fetch_add(1, std::memory_order_relaxed);
        MQTTAsync_freeMessage(&msg);
        MQTTAsync_free(topic);
        return 1;
      },
      [](void* p, MQTTAsync_token) {
        auto* s = static_cast<State*>(p);
        if (!s->echo) s->completed.fetch_add(1, std::memory_order_relaxed);
      });
  MQTTAsync_connectOptions opts = MQTTAsync_connectOptions_initializer;
  opts.keepAliveInterval = 30;
  opts.cleansession = 1;
  opts.maxInflight = 100;
  opts.context = &st;
  opts.onSuccess = [](void* p, MQTTAsync_successData*) { static_cast<State*>(p)->connected = true; };
  opts.onFailure = [](void* p, MQTTAsync_failureData*) { static_cast<State*>(p)->failed = true; };
  const auto deadline = Clock::now() + c.timeout;
  if (MQTTAsync_connect(client, &opts) != MQTTASYNC_SUCCESS) {
    MQTTAsync_destroy(&client);
    return r.error = "connect failed", r;
  }
  wait_until(st.connected, st.failed, deadline);
  if (st.echo) {
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.context = &st;
    ro.onSuccess = [](void* p, MQTTAsync_successData*) { static_cast<State*>(p)->subscribed = true; };
    MQTTAsync_subscribe(client, c.topic.c_str(), 0, &ro);
    wait_until(st.subscribed, st.failed, deadline);
  }
  std::string payload(c.payload, 'p');
  const auto t0 = Clock::now();
  for (uint32_t i = 0; i < c.messages && Clock::now() < deadline;) {
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    msg.payload = payload.data();
    msg.payloadlen = static_cast<int>(payload.size());
    msg.qos = st.echo ? 0 : 1;
    int rc = MQTTAsync_sendMessage(client, c.topic.c_str(), &msg, nullptr);
    if (rc == MQTTASYNC_SUCCESS) {
      ++i;
    } else if (rc == MQTTASYNC_MAX_MESSAGES_INFLIGHT) {
      // The window is full: wait for acks without hammering Paho's locks.
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    } else {
      r.error = "sendMessage failed: " + std::to_string(rc);
      break;
    }
  }
  while (st.completed.load() < c.messages && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  r.seconds = seconds_since(t0);
  r.completed = st.completed.load();
  r.ok = r.completed == c.messages;
  if (!r.ok && r.error.empty()) r.error = "timed out";
  MQTTAsync_disconnectOptions dopts = MQTTAsync_disconnectOptions_initializer;
  dopts.timeout = 1000;
  MQTTAsync_disconnect(client, &dopts);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  MQTTAsync_destroy(&client);
  return r;
}

}  // namespace bench
