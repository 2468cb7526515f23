// The test peers themselves: mosquitto starts, answers mosquitto_pub/sub,
// restarts on its port; the socat relay relays and pauses its whole group.
#include <signal.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <thread>

#include "tests/integration/support/broker.h"
#include "tests/integration/support/process.h"
#include "tests/integration/support/relay.h"
#include "tests/integration/support/rss.h"

using namespace itest;

namespace {

// mosquitto_sub -C 1 waiting for one message on `topic` via `port`.
Process start_sub(uint16_t port, const std::string& topic, const std::string& out) {
  return Process(Process::Spec({require_binary("mosquitto_sub"), "-h", "127.0.0.1", "-p",
                                std::to_string(port), "-t", topic, "-C", "1", "-W", "10", "-q", "1"})
                     .out(out)
                     .err(out + ".err"));
}

int run_pub(uint16_t port, const std::string& topic, const std::string& msg) {
  Process p(Process::Spec({require_binary("mosquitto_pub"), "-h", "127.0.0.1", "-p",
                           std::to_string(port), "-t", topic, "-m", msg, "-q", "1"}));
  if (!p.wait_exit(10s)) return -1;
  p.stop();
  return WEXITSTATUS(*p.status());
}

// Publishes until the subscriber got one (its subscription is asynchronous).
bool deliver(uint16_t port, Process& sub, const std::string& topic, const std::string& msg) {
  for (int i = 0; i < 50 && sub.running(); ++i) {
    if (run_pub(port, topic, msg) != 0) return false;
    if (sub.wait_exit(200ms)) break;
  }
  return sub.wait_exit(5s);
}

}  // namespace

TEST_CASE("peer binaries are installed", "[peers]") {
  for (const char* b : {"mosquitto", "mosquitto_pub", "mosquitto_sub", "mosquitto_passwd", "socat"})
    CHECK_NOTHROW(require_binary(b));
  CHECK_THROWS_WITH(require_binary("no-such-peer-binary"), Catch::Contains("not found"));
}

TEST_CASE("mosquitto starts, relays messages and restarts on the same port", "[peers]") {
  Broker broker;
  uint16_t port = broker.port();
  REQUIRE(port != 0);
  REQUIRE(port_accepts(port));
  std::string dir = make_temp_dir("peers");

  Process sub = start_sub(port, "peers/a", dir + "/sub1");
  REQUIRE(deliver(port, sub, "peers/a", "hello"));
  CHECK(read_file(dir + "/sub1") == "hello\n");

  pid_t first = broker.pid();
  broker.restart(SIGTERM);
  CHECK(broker.port() == port);
  CHECK(broker.pid() != first);
  CHECK(port_accepts(port));

  broker.stop(SIGKILL);
  CHECK_FALSE(port_accepts(port));
  broker.start();
  CHECK(port_accepts(port));
  INFO(broker.log());
  CHECK(broker.log_count(" running") == 3);
}

TEST_CASE("relay forwards, pauses its whole group and restarts", "[peers]") {
  Broker broker;
  Relay relay(broker.port());
  std::string dir = make_temp_dir("peers");

  Process sub1 = start_sub(relay.port(), "peers/r", dir + "/sub1");
  REQUIRE(deliver(relay.port(), sub1, "peers/r", "via-relay"));
  CHECK(read_file(dir + "/sub1") == "via-relay\n");

  // A subscriber connected through the relay gets nothing while it is paused.
  Process sub2 = start_sub(relay.port(), "peers/p", dir + "/sub2");
  std::this_thread::sleep_for(500ms);  // let it subscribe
  relay.pause();
  CHECK(run_pub(broker.port(), "peers/p", "held") == 0);
  CHECK_FALSE(sub2.wait_exit(700ms));
  relay.resume();
  CHECK(sub2.wait_exit(5s));
  CHECK(read_file(dir + "/sub2") == "held\n");

  relay.kill();
  CHECK_FALSE(port_accepts(relay.port()));
  relay.start();
  CHECK(port_accepts(relay.port()));
}

TEST_CASE("password file refuses a wrong password", "[peers]") {
  BrokerOptions o;
  o.username = "alice";
  o.password = "secret";
  Broker broker(o);
  auto pub = [&](const std::string& pass) {
    Process p(Process::Spec({require_binary("mosquitto_pub"), "-h", "127.0.0.1", "-p",
                             std::to_string(broker.port()), "-t", "x", "-m", "y", "-u", "alice",
                             "-P", pass}));
    REQUIRE(p.wait_exit(10s));
    return WEXITSTATUS(*p.status());
  };
  CHECK(pub("secret") == 0);
  CHECK(pub("wrong") != 0);
}

TEST_CASE("rss is readable", "[peers]") { CHECK(rss_kb() > 0); }
