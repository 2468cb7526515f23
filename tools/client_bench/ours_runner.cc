#include <string>
#include <thread>

#include "mqtt/client.h"
#include "mqtt/url.h"
#include "tools/client_bench/bench_common.h"

namespace bench {

RunResult run_ours(const RunConfig& c) {
  RunResult r;
  mqtt::MqttOptions o("bench-ours-" + c.topic, c.host, c.port);
  if (!c.url.empty()) {
    if (auto u = mqtt::apply_url(o, c.url); !u) return r.error = "bad URL: " + u.error(), r;
    if (o.tls) o.tls->ca_file = c.ca_file;  // mqtts://, wss://: trust only the bench CA
  }
  o.keep_alive = std::chrono::seconds(30);
  auto created = mqtt::Client::try_create(o, 1024);
  if (!created) return r.error = "create failed: " + created.error().message, r;
  auto [client, conn] = std::move(created.value());
  const auto deadline = Clock::now() + c.timeout;

  // Wait for the CONNACK.
  for (;;) {
    auto ev = conn.next_for(deadline - Clock::now());
    if (!ev) return r.error = "no CONNACK", r;
    if (ev->incoming() && ev->incoming()->type() == mqtt::codec::PacketType::ConnAck) break;
    if (ev->error()) return r.error = mqtt::describe(*ev->error()), r;
  }
  const bool echo = c.scenario == Scenario::Qos0Echo;
  if (echo) {
    auto t = client.subscribe(c.topic, mqtt::QoS::AtMostOnce);
    if (!t || !t->wait_for(std::chrono::seconds(10))) return r.error = "subscribe failed", r;
  }
  const std::string payload(c.payload, 'p');
  // fake_publish_qos0: N QoS 0 messages, then one QoS 1 fence whose PUBACK
  // says the broker has read everything before it.
  const bool fence = c.scenario == Scenario::FakePublishQos0;
  const bool qos2 = c.scenario == Scenario::FakePublishQos2;
  const auto qos = echo || fence ? mqtt::QoS::AtMostOnce : qos2 ? mqtt::QoS::ExactlyOnce : mqtt::QoS::AtLeastOnce;
  const auto ack = qos2 ? mqtt::codec::PacketType::PubComp : mqtt::codec::PacketType::PubAck;
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
  (void)client.disconnect(std::chrono::seconds(1));
  while (conn.next_for(std::chrono::seconds(2))) {
  }
  return r;
}

}  // namespace bench
