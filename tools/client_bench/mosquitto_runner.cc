#include <mosquitto.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "tools/client_bench/bench_common.h"

namespace bench {
namespace {

struct State {
  explicit State(uint32_t target) : done(target) {}
  std::atomic<bool> connected{false};
  std::atomic<bool> subscribed{false};
  Completion done;
};

// A libmosquitto client for `c` (3.1.1, TCP_NODELAY, TLS against the bench
// CA), with the connect, disconnect and subscribe callbacks every scenario
// shares; S has `connected`, `subscribed` and `done`. Null with `error` set.
template <class S>
mosquitto* new_client(const RunConfig& c, S* state, std::string& error) {
  const std::string id = "bench-mosq-" + c.topic;
  mosquitto* m = mosquitto_new(id.c_str(), true, state);
  if (!m) {
    error = "mosquitto_new failed";
    return nullptr;
  }
  mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
  if (c.transport == Transport::Tls) {
    // Verifies the chain and the host name against the bench CA, as ours does.
    int rc = mosquitto_tls_set(m, c.ca_file.c_str(), nullptr, nullptr, nullptr, nullptr);
    if (rc != MOSQ_ERR_SUCCESS) {
      mosquitto_destroy(m);
      error = std::string("mosquitto_tls_set: ") + mosquitto_strerror(rc);
      return nullptr;
    }
  }
  mosquitto_connect_callback_set(m, [](mosquitto*, void* p, int rc) {
    auto* s = static_cast<S*>(p);
    if (rc == 0) s->connected = true;
    else s->done.fail();
  });
  mosquitto_disconnect_callback_set(m, [](mosquitto*, void* p, int) {
    static_cast<S*>(p)->done.fail();
  });
  mosquitto_subscribe_callback_set(m, [](mosquitto*, void* p, int, int, const int*) {
    static_cast<S*>(p)->subscribed = true;
  });
  return m;
}

}  // namespace

RunResult run_mosquitto(const RunConfig& c) {
  RunResult r;
  if (c.transport != Transport::Tcp && c.transport != Transport::Tls)
    return r.error = "libmosquitto has no WebSocket client", r;
  if (is_latency(c.scenario)) return run_mosquitto_latency(c);
  mosquitto_lib_init();
  // qos0_publish, fake_publish_qos0: N QoS 0 messages, then one QoS 1 fence.
  // The publish callback fires for each QoS 0 message once written and for
  // the fence at its PUBACK, which comes after all of them: N + 1 callbacks.
  const bool fence = uses_fence(c.scenario);
  State st(fence ? c.messages + 1 : c.messages);
  mosquitto* m = new_client(c, &st, r.error);
  if (!m) return r;
  mosquitto_max_inflight_messages_set(m, 100);  // the same window as ours
  mosquitto_publish_callback_set(m, [](mosquitto*, void* p, int) { static_cast<State*>(p)->done.add(); });
  mosquitto_message_callback_set(m, [](mosquitto*, void* p, const mosquitto_message*) {
    static_cast<State*>(p)->done.add();
  });
  const auto deadline = Clock::now() + c.timeout;
  int rc = mosquitto_connect(m, c.host.c_str(), c.port, 30);
  if (rc != MOSQ_ERR_SUCCESS || (rc = mosquitto_loop_start(m)) != MOSQ_ERR_SUCCESS) {
    mosquitto_destroy(m);
    return r.error = std::string("connect failed: ") + mosquitto_strerror(rc), r;
  }
  // A failed TLS handshake happens on the loop thread, which then retries
  // without a callback: give the connection 10 s, not the whole run's time.
  wait_for_flag(st.connected, st.done, std::min(deadline, Clock::now() + std::chrono::seconds(10)));
  if (!st.connected) {
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, true);
    mosquitto_destroy(m);
    return r.error = "no CONNACK", r;
  }
  const bool echo = c.scenario == Scenario::Qos0Echo;
  if (echo) {
    mosquitto_subscribe(m, nullptr, c.topic.c_str(), 0);
    wait_for_flag(st.subscribed, st.done, deadline);
  }
  const std::string payload(c.payload, 'p');
  const int qos = publish_qos(c.scenario);
  // In the echo run the publish callback also fires (QoS 0 "sent"): count
  // only messages then.
  if (echo) mosquitto_publish_callback_set(m, nullptr);
  CpuMeter cpu(c);
  cpu.start();
  const auto t0 = Clock::now();
  for (uint32_t i = 0; i < c.messages && !st.done.failed(); ++i) {
    mosquitto_publish(m, nullptr, c.topic.c_str(), static_cast<int>(payload.size()), payload.data(), qos,
                      false);
  }
  if (fence && !st.done.failed())
    mosquitto_publish(m, nullptr, c.topic.c_str(), static_cast<int>(payload.size()), payload.data(), 1, false);
  st.done.wait_all(deadline);
  r.seconds = seconds_since(t0);
  cpu.stop(r);
  r.completed = std::min(st.done.count(), c.messages);
  r.ok = r.completed == c.messages;
  if (!r.ok) r.error = st.done.failed() ? "disconnected" : "timed out";
  mosquitto_disconnect(m);
  mosquitto_loop_stop(m, false);
  mosquitto_destroy(m);
  return r;
}

namespace {

struct LatencyState {
  explicit LatencyState(uint32_t n) : log(n), done(n) {}
  std::atomic<bool> connected{false};
  std::atomic<bool> subscribed{false};
  LatencyLog log;
  Completion done;
  // Closed loop: the message callback sends the next message.
  bool closed = false;
  uint32_t messages = 0;
  std::string topic, payload;
  // Closed loop from an application thread: the callback hands over the
  // sequence number it received; the thread sends the next one.
  bool app_thread = false;
  std::mutex mu;
  std::condition_variable cv;
  long received = -1;  // guarded by mu
};

}  // namespace

RunResult run_mosquitto_latency(const RunConfig& c) {
  RunResult r;
  if (c.transport != Transport::Tcp && c.transport != Transport::Tls)
    return r.error = "libmosquitto has no WebSocket client", r;
  mosquitto_lib_init();
  LatencyState st(c.messages);
  st.closed = open_loop_rate(c.scenario) <= 0;
  st.app_thread = c.reply_from_app_thread;
  st.messages = c.messages;
  st.topic = c.topic;
  st.payload.assign(std::max(c.payload, kStampBytes), 'p');
  mosquitto* m = new_client(c, &st, r.error);
  if (!m) return r;
  // On the loop thread, as an application's callback would.
  mosquitto_message_callback_set(m, [](mosquitto* mq, void* p, const mosquitto_message* msg) {
    auto* s = static_cast<LatencyState*>(p);
    const long seq = s->log.record(msg->payload, static_cast<size_t>(msg->payloadlen), s->done);
    if (s->closed && s->app_thread && seq >= 0) {
      {
        std::lock_guard<std::mutex> lock(s->mu);
        s->received = seq;
      }
      s->cv.notify_one();
      return;
    }
    if (s->closed && seq >= 0 && static_cast<uint32_t>(seq) + 1 < s->messages) {
      stamp(s->payload, static_cast<uint32_t>(seq) + 1, now_ns());
      mosquitto_publish(mq, nullptr, s->topic.c_str(), static_cast<int>(s->payload.size()), s->payload.data(), 0,
                        false);
    }
  });
  auto deadline = Clock::now() + c.timeout;
  int rc = mosquitto_connect(m, c.host.c_str(), c.port, 30);
  if (rc != MOSQ_ERR_SUCCESS || (rc = mosquitto_loop_start(m)) != MOSQ_ERR_SUCCESS) {
    mosquitto_destroy(m);
    return r.error = std::string("connect failed: ") + mosquitto_strerror(rc), r;
  }
  wait_for_flag(st.connected, st.done, std::min(deadline, Clock::now() + std::chrono::seconds(10)));
  if (st.connected) {
    mosquitto_subscribe(m, nullptr, c.topic.c_str(), 0);
    wait_for_flag(st.subscribed, st.done, deadline);
  }
  if (!st.connected || !st.subscribed) {
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, true);
    mosquitto_destroy(m);
    return r.error = st.connected ? "subscribe failed" : "no CONNACK", r;
  }
  deadline = latency_deadline(c);
  CpuMeter cpu(c);
  cpu.start();
  const auto t0 = Clock::now();
  if (st.closed) {
    std::string first = st.payload;
    stamp(first, 0, now_ns());
    mosquitto_publish(m, nullptr, c.topic.c_str(), static_cast<int>(first.size()), first.data(), 0, false);
    if (st.app_thread) {
      // This thread is the application: woken per message, sends the next.
      std::string p = st.payload;
      for (uint32_t i = 0; i < c.messages && !st.done.failed() && Clock::now() < deadline; ++i) {
        long seq;
        {
          std::unique_lock<std::mutex> lock(st.mu);
          if (!st.cv.wait_until(lock, deadline, [&] { return st.received >= 0 || st.done.failed(); })) break;
          seq = st.received;
          st.received = -1;
        }
        if (seq < 0 || static_cast<uint32_t>(seq) + 1 >= c.messages) break;
        stamp(p, static_cast<uint32_t>(seq) + 1, now_ns());
        mosquitto_publish(m, nullptr, c.topic.c_str(), static_cast<int>(p.size()), p.data(), 0, false);
      }
    }
    st.done.wait_all(deadline);
  } else {
    const int64_t start = now_ns() + 1000000;  // 1 ms to start the publisher
    std::thread publisher([&] {
      std::string p = st.payload;
      r.send_lag_p99_us =
          paced_publish(c.messages, open_loop_rate(c.scenario), start, deadline, [&](uint32_t seq, int64_t due) {
            stamp(p, seq, due);
            return mosquitto_publish(m, nullptr, c.topic.c_str(), static_cast<int>(p.size()), p.data(), 0,
                                     false) == MOSQ_ERR_SUCCESS &&
                   !st.done.failed();
          });
    });
    st.done.wait_all(deadline);
    publisher.join();
  }
  r.seconds = seconds_since(t0);
  cpu.stop(r);
  r.completed = std::min(st.done.count(), c.messages);
  r.ok = r.completed == c.messages;
  if (!r.ok) r.error = st.done.failed() ? "disconnected" : "timed out";
  mosquitto_disconnect(m);
  mosquitto_loop_stop(m, false);
  r.latency_us = st.log.microseconds();
  mosquitto_destroy(m);
  return r;
}

}  // namespace bench
