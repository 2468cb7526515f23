// The recipes in examples/ (docs/recipes.md), each run as a process against a
// private mosquitto (TLS listener, persistence and WebSocket bridge where the
// recipe needs them): its exit code and the lines that state its point. The
// recipe binaries are data dependencies of this test.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/support/broker.h"
#include "tests/integration/support/certs.h"
#include "tests/integration/support/events.h"
#include "tests/integration/support/ws_peer.h"

using namespace itest;

namespace {

// One run of a recipe binary; its stdout and stderr go to one file.
class Recipe {
 public:
  Recipe(const std::string& name, const std::vector<std::string>& args) : name_(name) {
    std::vector<std::string> argv{runfile("examples/" + name)};
    INFO("recipe binary " << argv[0]);
    REQUIRE(::access(argv[0].c_str(), X_OK) == 0);
    argv.insert(argv.end(), args.begin(), args.end());
    out_ = make_temp_dir("recipe-" + name) + "/output.txt";
    t0_ = Clock::now();
    process_ = Process(Process::Spec(argv).out_err(out_));
  }

  std::string output() const { return read_file(out_); }
  void signal(int sig) { process_.signal(sig); }

  // Polls the output (bounded) until it holds `needle`.
  bool wait_for_output(const std::string& needle, std::chrono::milliseconds limit) {
    for (const auto deadline = Clock::now() + limit; Clock::now() < deadline;) {
      if (output().find(needle) != std::string::npos) return true;
      if (!process_.running()) return output().find(needle) != std::string::npos;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  // Waits (at most 60 s, then SIGKILL) for the exit; the exit code, or -1
  // when it did not exit by itself.
  int finish() {
    const bool exited = process_.wait_exit(60s);
    if (!exited) process_.stop(SIGKILL, 5s);
    std::printf("recipe %s: %s after %.2f s\n", name_.c_str(), process_.describe_status().c_str(),
                ms_since(t0_) / 1000.0);
    std::fflush(stdout);
    const auto st = process_.status();
    return exited && st && WIFEXITED(*st) ? WEXITSTATUS(*st) : -1;
  }
  std::string status() const { return process_.describe_status(); }

 private:
  std::string name_;
  std::string out_;
  Clock::time_point t0_;
  Process process_;
};

// Runs `name` against 127.0.0.1:port to its end; checks exit code 0 and
// that the output holds each of `lines`. Returns the output.
std::string run_ok(const std::string& name, const Broker& broker,
                   const std::vector<std::string>& lines) {
  Recipe r(name, {"127.0.0.1", std::to_string(broker.port())});
  const int code = r.finish();
  const std::string out = r.output();
  INFO("status: " << r.status() << "\noutput:\n" << out << "\nbroker log:\n" << broker.log());
  CHECK(code == 0);
  for (const auto& line : lines) CHECK(out.find(line) != std::string::npos);
  return out;
}

// mosquitto whose one listener speaks TLS with the test certificates.
BrokerOptions tls_broker(const std::string& certs, bool require_client_cert = false) {
  BrokerOptions bo;
  bo.extra_lines = {"cafile " + certs + "/ca.crt", "certfile " + certs + "/server.crt",
                    "keyfile " + certs + "/server.key"};
  if (require_client_cert) bo.extra_lines.push_back("require_certificate true");
  return bo;
}

}  // namespace

TEST_CASE("recipe manual_acks: only the unacknowledged message is redelivered",
          "[integration][recipes]") {
  Watchdog watchdog("manual_acks recipe", 90s);
  Broker broker;
  run_ok("manual_acks", broker,
         {"job 2: processing failed, not acknowledged", "job 2 delivered again (dup=1)",
          "only the unacknowledged job was redelivered"});
}

TEST_CASE("recipe qos2_exactly_once: 100 messages, each delivered once", "[integration][recipes]") {
  Watchdog watchdog("qos2_exactly_once recipe", 90s);
  Broker broker;
  run_ok("qos2_exactly_once", broker,
         {"publisher: 100 of 100 completed (PUBCOMP)",
          "subscriber: 100 of 100 delivered exactly once, 0 missing, 0 duplicates, 0 out of order"});
}

TEST_CASE("recipe persistent_subscriber: messages published while away arrive after a broker "
          "restart",
          "[integration][recipes]") {
  Watchdog watchdog("persistent_subscriber recipe", 120s);
  BrokerOptions bo;
  bo.persistence = true;  // SIGTERM saves the session and its queued messages
  Broker broker(bo);
  Recipe r("persistent_subscriber", {"127.0.0.1", std::to_string(broker.port())});
  const bool asked = r.wait_for_output("restart the broker now", 30s);
  INFO("output so far:\n" << r.output());
  REQUIRE(asked);
  CHECK(r.output().find("received message 3") != std::string::npos);
  broker.restart();  // SIGTERM, then the same port again
  const int code = r.finish();
  const std::string out = r.output();
  INFO("status: " << r.status() << "\noutput:\n" << out << "\nbroker log:\n" << broker.log());
  CHECK(code == 0);
  CHECK(out.find("connection lost") != std::string::npos);
  CHECK(out.find("messages 4-6 published while the subscriber was away: acknowledged") !=
        std::string::npos);
  CHECK(out.find("connected, session present: yes") != std::string::npos);
  CHECK(out.find("received 6 of 6 messages, session resumed: yes") != std::string::npos);
}

TEST_CASE("recipe graceful_shutdown: SIGTERM drains every queued publish before Disconnected",
          "[integration][recipes]") {
  Watchdog watchdog("graceful_shutdown recipe", 90s);
  Broker broker;
  Recipe r("graceful_shutdown", {"127.0.0.1", std::to_string(broker.port())});
  REQUIRE(r.wait_for_output("publishing;", 10s));
  std::this_thread::sleep_for(1s);  // let it build up a queue
  r.signal(SIGTERM);
  const int code = r.finish();
  const std::string out = r.output();
  INFO("status: " << r.status() << "\noutput:\n" << out << "\nbroker log:\n" << broker.log());
  CHECK(code == 0);
  CHECK(out.find("stop requested (signal)") != std::string::npos);
  // There was something to drain: the producer had filled the queue.
  std::smatch q;
  REQUIRE(std::regex_search(out, q, std::regex(R"((\d+) still queued, (\d+) in flight)")));
  CHECK(std::stoull(q[1]) + std::stoull(q[2]) > 0);
  std::smatch m;
  REQUIRE(std::regex_search(out, m,
                            std::regex(R"(acknowledged (\d+) of (\d+) publishes, 0 failed, then Disconnected)")));
  CHECK(m[1] == m[2]);
  CHECK(std::stoull(m[1]) > 0);
}

TEST_CASE("recipe rate_limited_publish: the measured rate is within the limit",
          "[integration][recipes]") {
  Watchdog watchdog("rate_limited_publish recipe", 90s);
  Broker broker;
  const std::string out =
      run_ok("rate_limited_publish", broker, {"60 of 60 acknowledged", "within the limit"});
  // Also from the outside: 50 messages beyond the burst of 10 at 20/s take
  // at least 2.5 s.
  std::smatch m;
  REQUIRE(std::regex_search(out, m, std::regex(R"(acknowledged in ([0-9.]+) s: ([0-9.]+) msg/s)")));
  CHECK(std::stod(m[1]) >= 2.4);
  CHECK(std::stod(m[2]) <= 21.0);
}

TEST_CASE("recipe event_fd_epoll: a user's epoll loop drives the connection",
          "[integration][recipes]") {
  Watchdog watchdog("event_fd_epoll recipe", 90s);
  Broker broker;
  run_ok("event_fd_epoll", broker, {"sent 10, received 10 of 10", "ended with Disconnected"});
}

TEST_CASE("recipe shared_reactor: 50 connections on one reactor thread", "[integration][recipes]") {
  Watchdog watchdog("shared_reactor recipe", 90s);
  Broker broker;
  run_ok("shared_reactor", broker,
         {"50 of 50 clients got their message and disconnected; reactor threads: 1 shared, 0 of "
          "their own"});
}

TEST_CASE("recipe tls_pubsub: verified TLS, mutual TLS, and an untrusted CA stops it",
          "[integration][recipes][tls]") {
  Watchdog watchdog("tls_pubsub recipe", 90s);
  const std::string certs = make_test_certs();
  const std::string ca = certs + "/ca.crt";
  auto run = [&](const Broker& broker, std::vector<std::string> extra) {
    std::vector<std::string> args{"mqtts://localhost:" + std::to_string(broker.port())};
    args.insert(args.end(), extra.begin(), extra.end());
    Recipe r("tls_pubsub", args);
    const int code = r.finish();
    return std::make_pair(code, r.output() + "\nstatus: " + r.status() + "\nbroker log:\n" +
                                    broker.log());
  };
  {
    Broker broker(tls_broker(certs));
    auto [code, out] = run(broker, {ca});
    INFO(out);
    CHECK(code == 0);
    CHECK(out.find("received 3 of 3 messages over TLS") != std::string::npos);

    // Another CA: the server certificate is not trusted; the program says
    // why and stops.
    auto [bad_code, bad_out] = run(broker, {certs + "/other.crt"});
    INFO(bad_out);
    CHECK(bad_code == 1);
    CHECK(bad_out.find("connect failed") != std::string::npos);
    CHECK(bad_out.find("TLS") != std::string::npos);
  }
  {
    Broker broker(tls_broker(certs, /*require_client_cert=*/true));
    auto [code, out] = run(broker, {ca, certs + "/client.crt", certs + "/client.key"});
    INFO(out);
    CHECK(code == 0);
    CHECK(out.find("received 3 of 3 messages over TLS") != std::string::npos);
  }
}

TEST_CASE("recipe websocket_pubsub: a 200 KB message over ws and wss, with the header sent",
          "[integration][recipes][ws]") {
  Watchdog watchdog("websocket_pubsub recipe", 90s);
  const std::string certs = make_test_certs();
  Broker broker;
  for (const bool secure : {false, true}) {
    INFO((secure ? "wss" : "ws"));
    // mosquitto here has no WebSocket listener: a WebSocket bridge in front.
    WsPeer peer(WsPeerOptions::bridge_to(broker.port(), secure ? certs : ""));
    std::vector<std::string> args{peer.url()};
    if (secure) args.push_back(certs + "/ca.crt");
    Recipe r("websocket_pubsub", args);
    const int code = r.finish();
    const std::string out = r.output();
    INFO("status: " << r.status() << "\noutput:\n" << out << "\npeer log:\n" << peer.log());
    CHECK(code == 0);
    CHECK(out.find("received 204800 bytes, intact") != std::string::npos);
    CHECK(out.find("round trip ok") != std::string::npos);
    const auto upgrades = peer.upgrades();
    REQUIRE(upgrades.size() == 1);
    CHECK(upgrades[0].find("authorization=Bearer recipe-token") != std::string::npos);
  }
}
