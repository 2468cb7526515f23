#include <MQTTAsync.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>

#include "tools/client_bench/bench_common.h"

namespace bench {
namespace {

constexpr uint32_t kWindow = 100;  // the same in-flight window as ours

struct State {
  explicit State(uint32_t target) : done(target) {}
  std::atomic<bool> connected{false};
  std::atomic<bool> subscribed{false};
  bool echo = false;
  bool qos0 = false;  // delivery callbacks do not count
  Completion done;
};

}  // namespace

RunResult run_paho(const RunConfig& c) {
  RunResult r;
  if (c.transport != Transport::Tcp && c.transport != Transport::Tls)
    return r.error = "Paho C has no WebSocket client in this build", r;
  if (is_latency(c.scenario)) return run_paho_latency(c);
  const bool tls = c.transport == Transport::Tls;
  // qos0_publish, fake_publish_qos0: N QoS 0 messages, then one QoS 1 fence
  // whose onSuccess (at its PUBACK) is the one completion counted.
  const bool fence = uses_fence(c.scenario);
  State st(fence ? 1 : c.messages);
  st.echo = c.scenario == Scenario::Qos0Echo;
  st.qos0 = st.echo || fence;
  MQTTAsync client;
  // libpaho-mqtt3as (the OpenSSL build) serves tcp:// and ssl:// alike.
  const std::string uri = (tls ? "ssl://" : "tcp://") + c.host + ":" + std::to_string(c.port);
  const std::string id = "bench-paho-" + c.topic;
  MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
  co.maxBufferedMessages = static_cast<int>(c.messages) + 10;
  if (MQTTAsync_createWithOptions(&client, uri.c_str(), id.c_str(), MQTTCLIENT_PERSISTENCE_NONE,
                                  nullptr, &co) != MQTTASYNC_SUCCESS)
    return r.error = "create failed", r;
  MQTTAsync_setCallbacks(
      client, &st, nullptr,
      [](void* p, char* topic, int, MQTTAsync_message* msg) -> int {
        static_cast<State*>(p)->done.add();
        MQTTAsync_freeMessage(&msg);
        MQTTAsync_free(topic);
        return 1;
      },
      [](void* p, MQTTAsync_token) {
        auto* s = static_cast<State*>(p);
        if (!s->qos0) s->done.add();
      });
  MQTTAsync_connectOptions opts = MQTTAsync_connectOptions_initializer;
  opts.keepAliveInterval = 30;
  opts.cleansession = 1;
  opts.maxInflight = kWindow;
  opts.context = &st;
  // Verifies the chain (enableServerCertAuth) and the host name (verify)
  // against the bench CA, as ours does.
  MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
  ssl.trustStore = c.ca_file.c_str();
  ssl.enableServerCertAuth = 1;
  ssl.verify = 1;
  if (tls) opts.ssl = &ssl;
  opts.onSuccess = [](void* p, MQTTAsync_successData*) { static_cast<State*>(p)->connected = true; };
  opts.onFailure = [](void* p, MQTTAsync_failureData*) { static_cast<State*>(p)->done.fail(); };
  const auto deadline = Clock::now() + c.timeout;
  if (MQTTAsync_connect(client, &opts) != MQTTASYNC_SUCCESS) {
    MQTTAsync_destroy(&client);
    return r.error = "connect failed", r;
  }
  wait_for_flag(st.connected, st.done, std::min(deadline, Clock::now() + std::chrono::seconds(10)));
  if (!st.connected) {
    MQTTAsync_destroy(&client);
    return r.error = "no CONNACK", r;
  }
  if (st.echo) {
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.context = &st;
    ro.onSuccess = [](void* p, MQTTAsync_successData*) { static_cast<State*>(p)->subscribed = true; };
    MQTTAsync_subscribe(client, c.topic.c_str(), 0, &ro);
    wait_for_flag(st.subscribed, st.done, deadline);
  }
  std::string payload(c.payload, 'p');
  CpuMeter cpu(c);
  cpu.start();
  const auto t0 = Clock::now();
  for (uint32_t i = 0; i < c.messages && Clock::now() < deadline;) {
    if (!st.qos0 && i - st.done.count() >= kWindow) {
      // Paho queues what is beyond its window and sends it only when its
      // send thread wakes up, which a new command does at once but an ack
      // may not (seen: 100 messages per second or so once everything was
      // queued). So the publisher keeps just the window's worth outstanding.
      st.done.wait_window(i, kWindow, deadline);
      if (st.done.failed()) break;
      continue;
    }
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    msg.payload = payload.data();
    msg.payloadlen = static_cast<int>(payload.size());
    msg.qos = publish_qos(c.scenario);
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
  if (fence && r.error.empty()) {
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    msg.payload = payload.data();
    msg.payloadlen = static_cast<int>(payload.size());
    msg.qos = 1;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.context = &st;
    ro.onSuccess = [](void* p, MQTTAsync_successData*) { static_cast<State*>(p)->done.add(); };
    ro.onFailure = [](void* p, MQTTAsync_failureData*) { static_cast<State*>(p)->done.fail(); };
    int rc = MQTTAsync_sendMessage(client, c.topic.c_str(), &msg, &ro);
    if (rc != MQTTASYNC_SUCCESS) r.error = "sendMessage (fence) failed: " + std::to_string(rc);
  }
  if (r.error.empty()) st.done.wait_all(deadline);
  r.seconds = seconds_since(t0);
  cpu.stop(r);
  r.completed = fence ? (st.done.count() == 1 ? c.messages : 0) : st.done.count();
  r.ok = r.completed == c.messages;
  if (!r.ok && r.error.empty()) r.error = "timed out";
  MQTTAsync_disconnectOptions dopts = MQTTAsync_disconnectOptions_initializer;
  dopts.timeout = 1000;
  MQTTAsync_disconnect(client, &dopts);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  MQTTAsync_destroy(&client);
  return r;
}

namespace {

struct LatencyState {
  explicit LatencyState(uint32_t n) : log(n), done(n) {}
  std::atomic<bool> connected{false};
  std::atomic<bool> subscribed{false};
  LatencyLog log;
  Completion done;
  MQTTAsync client = nullptr;
  bool closed = false;  // the message callback sends the next message
  uint32_t messages = 0;
  std::string topic, payload;
};

int send_qos0(MQTTAsync client, const std::string& topic, std::string& payload) {
  MQTTAsync_message msg = MQTTAsync_message_initializer;
  msg.payload = payload.data();
  msg.payloadlen = static_cast<int>(payload.size());
  msg.qos = 0;
  return MQTTAsync_sendMessage(client, topic.c_str(), &msg, nullptr);
}

}  // namespace

RunResult run_paho_latency(const RunConfig& c) {
  RunResult r;
  if (c.transport != Transport::Tcp && c.transport != Transport::Tls)
    return r.error = "Paho C has no WebSocket client in this build", r;
  const bool tls = c.transport == Transport::Tls;
  LatencyState st(c.messages);
  st.closed = open_loop_rate(c.scenario) <= 0;
  st.messages = c.messages;
  st.topic = c.topic;
  st.payload.assign(std::max(c.payload, kStampBytes), 'p');
  const std::string uri = (tls ? "ssl://" : "tcp://") + c.host + ":" + std::to_string(c.port);
  const std::string id = "bench-paho-" + c.topic;
  MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
  co.maxBufferedMessages = static_cast<int>(c.messages) + 10;
  if (MQTTAsync_createWithOptions(&st.client, uri.c_str(), id.c_str(), MQTTCLIENT_PERSISTENCE_NONE, nullptr, &co) !=
      MQTTASYNC_SUCCESS)
    return r.error = "create failed", r;
  // On Paho's receive thread, as an application's callback would.
  MQTTAsync_setCallbacks(
      st.client, &st, nullptr,
      [](void* p, char* topic, int, MQTTAsync_message* msg) -> int {
        auto* s = static_cast<LatencyState*>(p);
        const long seq = s->log.record(msg->payload, static_cast<size_t>(msg->payloadlen), s->done);
        MQTTAsync_freeMessage(&msg);
        MQTTAsync_free(topic);
        if (s->closed && seq >= 0 && static_cast<uint32_t>(seq) + 1 < s->messages) {
          stamp(s->payload, static_cast<uint32_t>(seq) + 1, now_ns());
          if (send_qos0(s->client, s->topic, s->payload) != MQTTASYNC_SUCCESS) s->done.fail();
        }
        return 1;
      },
      nullptr);
  MQTTAsync_connectOptions opts = MQTTAsync_connectOptions_initializer;
  opts.keepAliveInterval = 30;
  opts.cleansession = 1;
  opts.context = &st;
  MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
  ssl.trustStore = c.ca_file.c_str();
  ssl.enableServerCertAuth = 1;
  ssl.verify = 1;
  if (tls) opts.ssl = &ssl;
  opts.onSuccess = [](void* p, MQTTAsync_successData*) { static_cast<LatencyState*>(p)->connected = true; };
  opts.onFailure = [](void* p, MQTTAsync_failureData*) { static_cast<LatencyState*>(p)->done.fail(); };
  auto deadline = Clock::now() + c.timeout;
  if (MQTTAsync_connect(st.client, &opts) != MQTTASYNC_SUCCESS) {
    MQTTAsync_destroy(&st.client);
    return r.error = "connect failed", r;
  }
  wait_for_flag(st.connected, st.done, std::min(deadline, Clock::now() + std::chrono::seconds(10)));
  if (st.connected) {
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.context = &st;
    ro.onSuccess = [](void* p, MQTTAsync_successData*) { static_cast<LatencyState*>(p)->subscribed = true; };
    MQTTAsync_subscribe(st.client, c.topic.c_str(), 0, &ro);
    wait_for_flag(st.subscribed, st.done, deadline);
  }
  if (!st.connected || !st.subscribed) {
    MQTTAsync_destroy(&st.client);
    return r.error = st.connected ? "subscribe failed" : "no CONNACK", r;
  }
  deadline = latency_deadline(c);
  CpuMeter cpu(c);
  cpu.start();
  const auto t0 = Clock::now();
  if (st.closed) {
    std::string first = st.payload;
    stamp(first, 0, now_ns());
    if (send_qos0(st.client, c.topic, first) != MQTTASYNC_SUCCESS) st.done.fail();
    st.done.wait_all(deadline);
  } else {
    const int64_t start = now_ns() + 1000000;  // 1 ms to start the publisher
    std::thread publisher([&] {
      std::string p = st.payload;
      r.send_lag_p99_us =
          paced_publish(c.messages, open_loop_rate(c.scenario), start, deadline, [&](uint32_t seq, int64_t due) {
            stamp(p, seq, due);
            return send_qos0(st.client, c.topic, p) == MQTTASYNC_SUCCESS && !st.done.failed();
          });
    });
    st.done.wait_all(deadline);
    publisher.join();
  }
  r.seconds = seconds_since(t0);
  cpu.stop(r);
  r.completed = std::min(st.done.count(), c.messages);
  r.ok = r.completed == c.messages;
  if (!r.ok) r.error = st.done.failed() ? "failed" : "timed out";
  MQTTAsync_disconnectOptions dopts = MQTTAsync_disconnectOptions_initializer;
  dopts.timeout = 1000;
  MQTTAsync_disconnect(st.client, &dopts);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  MQTTAsync_destroy(&st.client);
  r.latency_us = st.log.microseconds();
  return r;
}

}  // namespace bench
