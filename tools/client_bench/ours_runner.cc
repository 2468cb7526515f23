#include <algorithm>
#include <optional>
#include <string>
#include <thread>

#include "mqtt/client.h"
#include "mqtt/url.h"
#include "tools/client_bench/bench_common.h"

namespace bench {

namespace {

struct Connected {
  mqtt::Client client;
  mqtt::Connection conn;
};

// Creates the client, waits for the CONNACK and, for `subscribe`, subscribes
// to c.topic at QoS 0; nullopt with r.error set on failure.
std::optional<Connected> connect(const RunConfig& c, bool subscribe, Clock::time_point deadline, RunResult& r) {
  mqtt::MqttOptions o("bench-ours-" + c.topic, c.host, c.port);
  if (!c.url.empty()) {
    if (auto u = mqtt::apply_url(o, c.url); !u) return r.error = "bad URL: " + u.error(), std::nullopt;
    if (o.tls) o.tls->ca_file = c.ca_file;  // mqtts://, wss://: trust only the bench CA
  }
  o.keep_alive = std::chrono::seconds(30);
  if (c.spin) {
    o.reactor_wait = mqtt::WaitStrategy::SpinThenBlock;
    o.consumer_wait = mqtt::WaitStrategy::SpinThenBlock;
    o.spin_for = c.spin_for;
  }
  auto created = mqtt::Client::try_create(o, 1024);
  if (!created) return r.error = "create failed: " + created.error().message, std::nullopt;
  auto [client, conn] = std::move(created.value());
  for (;;) {
    auto ev = conn.next_for(deadline - Clock::now());
    if (!ev) return r.error = "no CONNACK", std::nullopt;
    if (ev->incoming() && ev->incoming()->type() == mqtt::codec::PacketType::ConnAck) break;
    if (ev->error()) return r.error = mqtt::describe(*ev->error()), std::nullopt;
  }
  if (subscribe) {
    auto t = client.subscribe(c.topic, mqtt::QoS::AtMostOnce);
    if (!t || !t->wait_for(std::chrono::seconds(10))) return r.error = "subscribe failed", std::nullopt;
  }
  return Connected{std::move(client), std::move(conn)};
}

void disconnect(Connected& s) {
  (void)s.client.disconnect(std::chrono::seconds(1));
  for (int i = 0; i < 100000 && s.conn.next_for(std::chrono::seconds(2)); ++i) {
  }
}

}  // namespace

RunResult run_ours(const RunConfig& c) {
  if (is_latency(c.scenario)) return run_ours_latency(c);
  RunResult r;
  const auto deadline = Clock::now() + c.timeout;
  const bool echo = c.scenario == Scenario::Qos0Echo;
  auto connected = connect(c, echo, deadline, r);
  if (!connected) return r;
  auto& client = connected->client;
  auto& conn = connected->conn;
  const std::string payload(c.payload, 'p');
  // qos0_publish, fake_publish_qos0: N QoS 0 messages, then one QoS 1 fence
  // whose PUBACK says the broker has read everything before it.
  const bool fence = uses_fence(c.scenario);
  const int q = publish_qos(c.scenario);
  const auto qos = q == 2 ? mqtt::QoS::ExactlyOnce : q == 1 ? mqtt::QoS::AtLeastOnce : mqtt::QoS::AtMostOnce;
  const auto ack = q == 2 ? mqtt::codec::PacketType::PubComp : mqtt::codec::PacketType::PubAck;
  CpuMeter cpu(c);
  cpu.start();
  const auto t0 = Clock::now();
  const uint64_t allocs0 = allocations();
  std::thread publisher([&, client = client]() mutable {
    for (uint32_t i = 0; i < c.messages; ++i) {
      if (!client.publish(c.topic, qos, false, payload)) return;
    }
    if (fence) (void)client.publish(c.topic, mqtt::QoS::AtLeastOnce, false, payload);
  });
  while (r.completed < c.messages) {
    auto ev = conn.next_for(deadline - Clock::now());
    if (!ev) break;
    if (const auto* in = ev->incoming()) {
      auto type = in->type();
      if ((echo && type == mqtt::codec::PacketType::Publish) ||
          (!echo && type == ack))
        r.completed = fence ? c.messages : r.completed + 1;
    } else if (ev->error()) {
      r.error = mqtt::describe(*ev->error());
      break;
    }
  }
  r.seconds = seconds_since(t0);
  cpu.stop(r);
  publisher.join();
  if (r.completed > 0)
    r.allocations_per_message = static_cast<double>(allocations() - allocs0) / r.completed;
  r.ok = r.completed == c.messages;
  if (!r.ok && r.error.empty()) r.error = "timed out";
  disconnect(*connected);
  return r;
}

RunResult run_ours_latency(const RunConfig& c) {
  RunResult r;
  auto deadline = Clock::now() + c.timeout;
  auto connected = connect(c, true, deadline, r);
  if (!connected) return r;
  auto& client = connected->client;
  auto& conn = connected->conn;
  LatencyLog log(c.messages);
  Completion done(c.messages);
  std::string payload(std::max(c.payload, kStampBytes), 'p');
  const double rate = open_loop_rate(c.scenario);
  deadline = latency_deadline(c);
  // The consumer (this thread) records each message that comes back; in the
  // closed loop it also sends the next one, as an application answering from
  // its event loop would.
  auto receive_one = [&]() -> long {
    for (;;) {
      auto ev = conn.next_for(deadline - Clock::now());
      if (!ev) return r.error = "timed out", -2;
      if (const auto* in = ev->incoming()) {
        if (const auto* p = in->publish()) {
          const long seq = log.record(p->payload.data(), p->payload.size(), done);
          if (seq >= 0) return seq;
        }
      } else if (ev->error()) {
        return r.error = mqtt::describe(*ev->error()), -2;
      }
    }
  };
  CpuMeter cpu(c);
  cpu.start();
  const auto t0 = Clock::now();
  if (rate <= 0) {
    for (uint32_t i = 0; i < c.messages; ++i) {
      stamp(payload, i, now_ns());
      if (!client.publish(c.topic, mqtt::QoS::AtMostOnce, false, payload)) {
        r.error = "publish failed";
        break;
      }
      if (receive_one() == -2) break;
    }
  } else {
    const int64_t start = now_ns() + 1000000;  // 1 ms to start the publisher
    std::thread publisher([&, client = client]() mutable {
      std::string p = payload;
      r.send_lag_p99_us = paced_publish(c.messages, rate, start, deadline, [&](uint32_t seq, int64_t due) {
        stamp(p, seq, due);
        return static_cast<bool>(client.publish(c.topic, mqtt::QoS::AtMostOnce, false, p));
      });
    });
    while (done.count() < c.messages && receive_one() != -2) {
    }
    publisher.join();
  }
  r.seconds = seconds_since(t0);
  cpu.stop(r);
  r.completed = done.count();
  r.latency_us = log.microseconds();
  r.ok = r.completed == c.messages;
  if (!r.ok && r.error.empty()) r.error = "timed out";
  disconnect(*connected);
  return r;
}

}  // namespace bench
