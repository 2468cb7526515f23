// End-to-end smoke check of the runtime against a real mosquitto that the
// test starts on a free 127.0.0.1 port. Tagged manual (needs mosquitto).
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "mqtt/client.h"

namespace {

using namespace std::chrono_literals;

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

struct Broker {
  pid_t pid = -1;
  uint16_t port = 0;
  Broker() {
    port = free_port();
    std::string conf = "/tmp/mqtt_smoke_" + std::to_string(::getpid()) + ".conf";
    std::ofstream(conf) << "listener " << port << " 127.0.0.1\nallow_anonymous true\n"
                         << (getenv("SMOKE_DEBUG") ? "log_type all\n" : "");
    pid = ::fork();
    if (pid == 0) {
      ::execlp("mosquitto", "mosquitto", "-c", conf.c_str(), nullptr);
      ::_exit(127);
    }
    std::this_thread::sleep_for(300ms);
  }
  ~Broker() { stop(); }
  void stop() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
      pid = -1;
    }
  }
};

mqtt::MqttOptions opts(uint16_t port, const char* id) {
  mqtt::MqttOptions o(id, "127.0.0.1", port);
  o.keep_alive = 5s;
  o.max_inflight = 10;  // mosquitto 2.0.11 holds back QoS 2 beyond its 20 in flight
  o.backoff.initial = 50ms;
  o.backoff.max = 200ms;
  o.outgoing_events = getenv("SMOKE_DEBUG") != nullptr;
  return o;
}

}  // namespace

TEST_CASE("publish/subscribe round trip, then graceful disconnect") {
  Broker broker;
  auto [client, conn] = mqtt::Client::create(opts(broker.port, "smoke-1"), 256);
  auto sub = client.subscribe("smoke/#", mqtt::QoS::AtMostOnce);
  REQUIRE(sub.ok());
  bool connacked = false;
  int received = 0;
  std::optional<mqtt::Token> last;
  while (auto ev = conn.next_for(5s)) {
    INFO(mqtt::to_string(*ev));
    if (ev->incoming() && ev->incoming()->type() == mqtt::codec::PacketType::ConnAck) connacked = true;
    if (ev->incoming() && ev->incoming()->type() == mqtt::codec::PacketType::SubAck) {
      for (int i = 0; i < 100; ++i) {
        auto t = client.publish_tracked("smoke/a", mqtt::QoS(i % 3), false, "hello");
        if (getenv("SMOKE_DEBUG")) fprintf(stderr, "pub %d ok=%d\n", i, (int)t.ok());
        REQUIRE(t.ok());
        last = *t;
      }
    }
    if (getenv("SMOKE_DEBUG")) fprintf(stderr, "%s\n", mqtt::to_string(*ev).c_str());
    if (ev->publish()) {
      CHECK(ev->publish()->topic == "smoke/a");
      CHECK(mqtt::codec::as_string(ev->publish()->payload) == "hello");
      if (++received == 100) REQUIRE(client.disconnect().ok());
    }
    if (ev->error()) {
      CHECK(ev->error()->code == mqtt::ConnectionErrorCode::Disconnected);
      CHECK(ev->error()->terminal);
    }
  }
  CHECK(connacked);
  CHECK(received == 100);
  CHECK(conn.ended());
  REQUIRE(last);
  CHECK(last->wait_for(1s).has_value());
  CHECK(sub->poll().has_value());
  CHECK(client.publish("x", mqtt::QoS::AtMostOnce, false, "y").error().code ==
        mqtt::ClientError::Code::Closed);
}

TEST_CASE("reconnects after the broker restarts, and RequestsDone when clients go") {
  auto broker = std::make_unique<Broker>();
  const uint16_t port = broker->port;
  auto [client, conn] = mqtt::Client::create(opts(port, "smoke-2"), 16);
  auto ev = conn.next_for(5s);
  REQUIRE(ev);
  REQUIRE(ev->incoming());
  broker->stop();
  ev = conn.next_for(5s);
  REQUIRE(ev);
  REQUIRE(ev->error());
  CHECK_FALSE(ev->error()->terminal);
  // Next attempts fail (refused) until the broker is back on the same port.
  std::ofstream("/tmp/mqtt_smoke_restart.conf")
      << "listener " << port << " 127.0.0.1\nallow_anonymous true\n";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execlp("mosquitto", "mosquitto", "-c", "/tmp/mqtt_smoke_restart.conf", nullptr);
    ::_exit(127);
  }
  bool reconnected = false;
  for (int i = 0; i < 50 && !reconnected; ++i) {
    ev = conn.next_for(5s);
    REQUIRE(ev);
    if (ev->incoming()) reconnected = true;
  }
  CHECK(reconnected);
  CHECK(conn.snapshot().reconnects == 1);
  { auto gone = std::move(client); }
  ev = conn.next_for(5s);
  REQUIRE(ev);
  REQUIRE(ev->error());
  CHECK(ev->error()->code == mqtt::ConnectionErrorCode::RequestsDone);
  CHECK(!conn.next());
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
}

TEST_CASE("refused connection (unreachable port) reports Io errors and stops when not polled") {
  const uint16_t port = free_port();
  auto [client, conn] = mqtt::Client::create(opts(port, "smoke-3"), 4);
  auto ev = conn.next_for(5s);
  REQUIRE(ev);
  REQUIRE(ev->error());
  CHECK(ev->error()->code == mqtt::ConnectionErrorCode::Io);
  std::this_thread::sleep_for(300ms);
  // The loop waits for the consumer: exactly one more attempt was made.
  CHECK(conn.snapshot().connection_attempts == 2);
}

TEST_CASE("shared reactor hosts two connections; destroying a Connection stops it promptly") {
  Broker broker;
  auto reactor = mqtt::Reactor::create({});
  auto [c1, conn1] = mqtt::Client::create(opts(broker.port, "smoke-4a"), 8, reactor);
  auto [c2, conn2] = mqtt::Client::create(opts(broker.port, "smoke-4b"), 8, reactor);
  auto e1 = conn1.next_for(5s);
  auto e2 = conn2.next_for(5s);
  REQUIRE(e1);
  REQUIRE(e2);
  CHECK(e1->incoming());
  CHECK(e2->incoming());
  const auto t0 = std::chrono::steady_clock::now();
  { auto gone = std::move(conn1); }
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
  std::this_thread::sleep_for(100ms);
  CHECK(c1.publish("a", mqtt::QoS::AtMostOnce, false, "b").error().code ==
        mqtt::ClientError::Code::Closed);
  CHECK(c2.publish("a", mqtt::QoS::AtMostOnce, false, "b").ok());
  CHECK(conn2.snapshot().state == mqtt::Snapshot::State::Connected);
}
