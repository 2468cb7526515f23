// Many connections on one shared reactor (more than it re-checks before each
// sleep, so the Waker stays armed: see mqtt/runtime/reactor.h), and the read
// buffer: small while idle, grown for a burst or a big packet, given back
// after a quiet spell.
#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mqtt/client.h"
#include "tests/integration/support/broker.h"
#include "tests/integration/support/events.h"

// Bytes held by every connection's read buffer in this process (a runtime
// diagnostic, mqtt/runtime/driver.h).
namespace mqtt::runtime {
size_t read_buffer_bytes_total();
}

using namespace itest;

namespace {

// Reads events until a PUBLISH on `topic` arrives; returns its payload.
std::optional<std::string> next_message(mqtt::Connection& conn, const std::string& topic,
                                        std::chrono::milliseconds timeout) {
  std::string seen;
  auto ev = next_until(
      conn, [&](const mqtt::Event& e) { return e.publish() && topic_of(*e.publish()) == topic; },
      timeout, &seen);
  if (!ev) {
    UNSCOPED_INFO(seen);
    return std::nullopt;
  }
  return payload_of(*ev->publish());
}

}  // namespace

TEST_CASE("40 connections on one reactor: requests, messages and the end of each",
          "[integration]") {
  Broker broker;
  mqtt::Reactor::Options ro;
  ro.thread_name = "mqtt-many";
  auto reactor = mqtt::Reactor::create(ro);
  constexpr size_t kN = 40;  // above the reactor's re-check-all limit (32)
  std::vector<std::optional<mqtt::Client>> clients(kN);
  std::vector<std::optional<mqtt::Connection>> conns(kN);
  std::vector<std::string> topics(kN);
  for (size_t i = 0; i < kN; ++i) {
    auto [c, conn] =
        mqtt::Client::create(client_options("many-" + std::to_string(i), broker.port()), 8, reactor);
    clients[i].emplace(std::move(c));
    conns[i].emplace(std::move(conn));
    topics[i] = unique_id("many/t") + "/" + std::to_string(i);
  }
  for (size_t i = 0; i < kN; ++i) REQUIRE(wait_connack(*conns[i], 10s));
  // Requests from this thread while the reactor hosts them all.
  std::vector<mqtt::Token> subs;
  for (size_t i = 0; i < kN; ++i) {
    auto t = clients[i]->subscribe(topics[i], mqtt::QoS::AtLeastOnce);
    REQUIRE(t);
    subs.push_back(*t);
  }
  for (auto& t : subs) {
    auto done = t.wait_for(10s);
    REQUIRE(done);
    REQUIRE(done->ok());
  }
  // Each publishes to the next one's topic: every connection both sends (a
  // request through its lane) and receives (socket readiness).
  for (size_t i = 0; i < kN; ++i) {
    REQUIRE(clients[i]->publish(topics[(i + 1) % kN], mqtt::QoS::AtLeastOnce, false,
                                "from " + std::to_string(i)).ok());
  }
  for (size_t i = 0; i < kN; ++i) {
    auto got = next_message(*conns[i], topics[i], 10s);
    REQUIRE(got);
    CHECK(*got == "from " + std::to_string((i + kN - 1) % kN));
  }
  // Every other one disconnects; the rest are dropped with their Connection.
  for (size_t i = 0; i < kN; i += 2) {
    REQUIRE(clients[i]->disconnect(2s).ok());
    std::optional<mqtt::ConnectionError> final_error;
    REQUIRE(wait_end(*conns[i], 10s, &final_error));
    REQUIRE(final_error);
    CHECK(final_error->code == mqtt::ConnectionErrorCode::Disconnected);
  }
  // The odd ones still work after their neighbours ended.
  for (size_t i = 1; i < kN; i += 2) {
    REQUIRE(clients[i]->publish(topics[i], mqtt::QoS::AtLeastOnce, false, "again").ok());
    auto got = next_message(*conns[i], topics[i], 10s);
    REQUIRE(got);
    CHECK(*got == "again");
  }
  const auto t0 = Clock::now();
  conns.clear();
  clients.clear();
  reactor.reset();  // joins the thread once every connection ended
  CHECK(ms_since(t0) < 5000);
}

TEST_CASE("the read buffer grows for a big packet and a burst, and shrinks when quiet",
          "[integration]") {
  BrokerOptions bo;
  bo.max_queued_messages = 0;  // keep every QoS 0 message of the burst
  Broker broker(bo);
  const size_t base = mqtt::runtime::read_buffer_bytes_total();
  auto [sub, sub_conn] = mqtt::Client::create(client_options("rbuf-sub", broker.port()), 4096);
  auto [pub, pub_conn] = mqtt::Client::create(client_options("rbuf-pub", broker.port()), 4096);
  REQUIRE(wait_connack(sub_conn, 10s));
  REQUIRE(wait_connack(pub_conn, 10s));
  const std::string topic = unique_id("rbuf/t");
  auto t = sub.subscribe(topic, mqtt::QoS::AtMostOnce);
  REQUIRE(t);
  REQUIRE(t->wait_for(10s));
  // Two idle connections: the smallest buffer each (2 KiB).
  const size_t idle = mqtt::runtime::read_buffer_bytes_total() - base;
  CHECK(idle == 2 * 2048);

  // A 300 KB message arrives whole through a buffer grown to hold it.
  std::string big(300 * 1000, 'x');
  for (size_t i = 0; i < big.size(); i += 997) big[i] = static_cast<char>('a' + i % 26);
  REQUIRE(pub.publish(topic, mqtt::QoS::AtMostOnce, false, big).ok());
  auto got = next_message(sub_conn, topic, 10s);
  REQUIRE(got);
  CHECK(*got == big);
  CHECK(mqtt::runtime::read_buffer_bytes_total() - base >= big.size());

  // Given back after a quiet spell (two reviews of 2 s).
  CHECK(eventually([&] { return mqtt::runtime::read_buffer_bytes_total() - base == idle; }, 8s));

  // A burst of small messages: every one arrives, in order; the buffer grows
  // by doubling (never past 64 KiB for small packets).
  constexpr int kBurst = 3000;
  for (int i = 0; i < kBurst; ++i) {
    REQUIRE(pub.publish(topic, mqtt::QoS::AtMostOnce, false, "m" + std::to_string(i)).ok());
  }
  for (int i = 0; i < kBurst; ++i) {
    auto m = next_message(sub_conn, topic, 10s);
    REQUIRE(m);
    REQUIRE(*m == "m" + std::to_string(i));
  }
  CHECK(mqtt::runtime::read_buffer_bytes_total() - base <= 64 * 1024 + 2048);
}
