// Transports other than plain TCP against real mosquitto listeners that the
// test starts itself: a Unix domain socket (issue "Transports", section 4).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "mqtt/client.h"
#include "tests/integration/support/broker.h"
#include "tests/integration/support/events.h"

using namespace itest;
using mqtt::QoS;

namespace {

// A short folder under /tmp for the socket: $TEST_TMPDIR is usually longer
// than a socket path may be (107 bytes).
struct SocketDir {
  std::string path;
  SocketDir() {
    char tmpl[] = "/tmp/mqtt-sock-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~SocketDir() {
    ::unlink((path + "/mqtt.sock").c_str());
    ::rmdir(path.c_str());
  }
};

}  // namespace

TEST_CASE("unix socket: MQTT round trip through mosquitto's unix listener, both versions",
          "[integration][transport][unix]") {
  Watchdog watchdog("unix socket round trip", 60s);
  SocketDir dir;
  const std::string sock = dir.path + "/mqtt.sock";
  BrokerOptions bo;
  bo.extra_lines = {"listener 0 " + sock};
  Broker broker(bo);
  REQUIRE(eventually([&] { return ::access(sock.c_str(), F_OK) == 0; }, 5s));
  for (auto v : {mqtt::ProtocolVersion::V311, mqtt::ProtocolVersion::V5}) {
    auto o = client_options("unix", 1, v);  // port 1: must not be used
    o.unix_path = sock;
    auto [c, conn] = mqtt::Client::create(o, 32);
    std::string seen;
    REQUIRE(wait_connack(conn, 10s, &seen));
    auto sub = c.subscribe("unix/t", QoS::AtLeastOnce);
    REQUIRE(sub.ok());
    REQUIRE(sub->wait_for(10s));
    REQUIRE(c.publish("unix/t", QoS::AtLeastOnce, false, std::string(100000, 'u')).ok());
    auto got = next_until(conn, [](const mqtt::Event& e) { return e.publish() != nullptr; }, 10s,
                          &seen);
    REQUIRE(got);
    CHECK(payload_of(*got->publish()) == std::string(100000, 'u'));
    REQUIRE(c.disconnect(2s).ok());
    std::optional<mqtt::ConnectionError> end;
    REQUIRE(wait_end(conn, 10s, &end));
    CHECK(end->code == mqtt::ConnectionErrorCode::Disconnected);
  }
}

TEST_CASE("unix socket: a missing socket is an Io error event naming the path",
          "[integration][transport][unix]") {
  SocketDir dir;
  auto o = client_options("unix-missing", 1);
  o.unix_path = dir.path + "/nobody.sock";
  auto [c, conn] = mqtt::Client::create(o, 4);
  auto e = conn.next_for(5s);
  REQUIRE(e);
  REQUIRE(e->error());
  CHECK(e->error()->code == mqtt::ConnectionErrorCode::Io);
  CHECK(e->error()->sys_errno == ENOENT);
  CHECK(e->error()->message.find("unix:" + o.unix_path) != std::string::npos);
  CHECK_FALSE(e->error()->terminal);
}

TEST_CASE("unix socket: a path longer than sockaddr_un allows is refused at create",
          "[integration][transport][unix]") {
  auto o = client_options("unix-long", 1);
  o.unix_path = "/" + std::string(200, 'x');
  auto r = mqtt::Client::try_create(o, 4);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == mqtt::CreateError::Code::InvalidOptions);
  CHECK(r.error().message.find("unix_path") != std::string::npos);
}
