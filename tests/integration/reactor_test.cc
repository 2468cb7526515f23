// The reactor thread: shared by several connections, named, pinned, with
// each wait strategy; and a consumer that stops calling next() stops the
// reconnecting.
#include <catch2/catch.hpp>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

#include "mqtt/client.h"
#include "tests/integration/support/broker.h"
#include "tests/integration/support/events.h"

using namespace itest;

namespace {

// Names of this process's threads (/proc/self/task/*/comm).
std::vector<std::string> thread_names() {
  std::vector<std::string> names;
  DIR* d = ::opendir("/proc/self/task");
  if (!d) return names;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream f(std::string("/proc/self/task/") + e->d_name + "/comm");
    std::string n;
    std::getline(f, n);
    names.push_back(n);
  }
  ::closedir(d);
  return names;
}

bool has_thread(const std::string& name) {
  for (const auto& n : thread_names())
    if (n == name) return true;
  return false;
}

// A loopback port nobody listens on (bound, read, closed).
uint16_t closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Subscribes `c` to `topic`, publishes to it, and reads until it comes back.
void echo(mqtt::Client& c, mqtt::Connection& conn, const std::string& topic) {
  auto tok = c.subscribe(topic, mqtt::QoS::AtLeastOnce);
  REQUIRE(tok.ok());
  // Publishes and subscribes travel in different lanes: wait for the SUBACK
  // so the publish cannot overtake the subscription. The consumer reads on
  // this thread, so the SUBACK event is read below; the token completes on
  // the reactor regardless.
  auto done = tok->wait_for(10s);
  REQUIRE(done);
  REQUIRE(done->ok());
  REQUIRE(c.publish(topic, mqtt::QoS::AtLeastOnce, false, "ping").ok());
  std::string seen;
  auto ev = next_until(
      conn, [&](const mqtt::Event& e) { return e.publish() && topic_of(*e.publish()) == topic; }, 10s,
      &seen);
  INFO(seen);
  REQUIRE(ev);
  CHECK(payload_of(*ev->publish()) == "ping");
}

}  // namespace

TEST_CASE("one shared reactor hosts two connections; destroying one stops only it",
          "[integration]") {
  Broker broker;
  mqtt::Reactor::Options ro;
  ro.thread_name = "mqtt-shared";
  auto reactor = mqtt::Reactor::create(ro);
  auto [c1, conn1] = mqtt::Client::create(client_options("shared-a", broker.port()), 8, reactor);
  auto [c2, conn2] = mqtt::Client::create(client_options("shared-b", broker.port()), 8, reactor);
  REQUIRE(wait_connack(conn1, 10s));
  REQUIRE(wait_connack(conn2, 10s));
  CHECK(has_thread("mqtt-shared"));
  echo(c1, conn1, "shared/a");
  echo(c2, conn2, "shared/b");

  const auto t0 = Clock::now();
  { auto gone = std::move(conn1); }
  const double stop_ms = ms_since(t0);
  std::printf("destroying a Connection on a shared reactor took %.1f ms\n", stop_ms);
  CHECK(stop_ms < 1000);
  CHECK(eventually(
      [&] {
        auto r = c1.publish("shared/a", mqtt::QoS::AtMostOnce, false, "late");
        return !r && r.error().code == mqtt::ClientError::Code::Closed;
      },
      2s));
  // The other connection is untouched.
  echo(c2, conn2, "shared/b2");
}

TEST_CASE("reactor and consumer wait strategies, thread name and CPU pinning", "[integration]") {
  auto strategy = GENERATE(mqtt::WaitStrategy::Block, mqtt::WaitStrategy::SpinThenBlock,
                           mqtt::WaitStrategy::Spin);
  INFO("strategy " << static_cast<int>(strategy));
  Broker broker;
  auto o = client_options("wait", broker.port());
  o.reactor_wait = strategy;
  o.consumer_wait = strategy;
  o.reactor_thread_name = "mqtt-wait-test";
  o.reactor_cpu = 0;
  auto [c, conn] = mqtt::Client::create(o, 8);
  REQUIRE(wait_connack(conn, 10s));
  CHECK(has_thread("mqtt-wait-test"));
  for (int i = 0; i < 3; ++i) echo(c, conn, "wait/" + std::to_string(i));
  REQUIRE(c.disconnect().ok());
  std::optional<mqtt::ConnectionError> end;
  REQUIRE(wait_end(conn, 10s, &end));
  REQUIRE(end);
  CHECK(end->code == mqtt::ConnectionErrorCode::Disconnected);
}

TEST_CASE("case 12: the loop advances only while polled; set_reconnect(false) stops it",
          "[integration][hardening][case12]") {
  auto o = client_options("noreconnect", closed_port());
  o.backoff.initial = std::chrono::milliseconds(10);
  o.backoff.max = std::chrono::milliseconds(10);
  auto [c, conn] = mqtt::Client::create(o, 4);
  auto ev = conn.next_for(5s);
  REQUIRE(ev);
  REQUIRE(ev->error());
  CHECK(ev->error()->code == mqtt::ConnectionErrorCode::Io);
  CHECK_FALSE(ev->error()->terminal);
  // Taking the error is not enough: no further attempt until next*() is
  // called again (a consumer that takes an error and stops, stops the loop).
  std::this_thread::sleep_for(500ms);
  CHECK(conn.snapshot().connection_attempts == 1);
  // This call lets the loop go on: one more attempt, whose error it returns.
  auto ev2 = conn.next_for(5s);
  REQUIRE(ev2);
  REQUIRE(ev2->error());
  CHECK(conn.snapshot().connection_attempts == 2);
  std::this_thread::sleep_for(500ms);
  CHECK(conn.snapshot().connection_attempts == 2);
  // Still polling, but reconnecting switched off: nothing is tried.
  conn.set_reconnect(false);
  CHECK_FALSE(conn.next_for(500ms));
  CHECK(conn.snapshot().connection_attempts == 2);
  CHECK_FALSE(conn.next_for(100ms));
  CHECK(conn.snapshot().connection_attempts == 2);
  // Switched on again: the loop goes on at once.
  conn.set_reconnect(true);
  auto ev3 = conn.next_for(5s);
  REQUIRE(ev3);
  REQUIRE(ev3->error());
  CHECK(conn.snapshot().connection_attempts == 3);
  // Requests still work meanwhile: disconnect() ends it.
  REQUIRE(c.disconnect(100ms).ok());
  std::optional<mqtt::ConnectionError> end;
  REQUIRE(wait_end(conn, 5s, &end));
  REQUIRE(end);
  CHECK(end->code == mqtt::ConnectionErrorCode::Disconnected);
}
