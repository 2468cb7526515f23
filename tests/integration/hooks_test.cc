// Logging and metrics hooks (mqtt/diagnostics.h, mqtt/prometheus.h) against
// a real mosquitto: counters follow a known traffic pattern (messages and
// bytes per QoS, both ways), a broker restart counts a reconnect and its
// error, a refusal is logged with its reason, a stalled consumer adds up
// paused time, a broker's refusal of a tracked request counts as Rejected,
// a full log buffer counts its losses without holding the
// reactor, no sink records nothing; and examples/prometheus_metrics serves
// /metrics on a loopback port.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <thread>

#include "mqtt/client.h"
#include "mqtt/prometheus.h"
#include "tests/integration/support/broker.h"
#include "tests/integration/support/events.h"
#include "tests/integration/support/process.h"

using namespace itest;
using mqtt::ConnectionErrorCode;
using mqtt::LogLevel;
using mqtt::LogRecord;
using mqtt::QoS;

namespace {

// Records collected by the sink (it runs on the test's thread: no lock).
struct Collected {
  std::vector<LogRecord> records;
  std::string text() const {
    std::string s;
    for (const auto& r : records) {
      s += std::string(mqtt::to_string(r.level)) + " " + std::string(r.component) + ": " +
           r.message + "\n";
    }
    return s;
  }
  const LogRecord* find(LogLevel l, std::string_view component, std::string_view part) const {
    for (const auto& r : records) {
      if (r.level == l && r.component == component && r.message.find(part) != std::string::npos) {
        return &r;
      }
    }
    return nullptr;
  }
};

std::shared_ptr<Collected> attach_sink(mqtt::MqttOptions& o, LogLevel level) {
  auto c = std::make_shared<Collected>();
  o.log_sink = [c](const LogRecord& r) { c->records.push_back(r); };
  o.log_level = level;
  return c;
}

size_t idx(ConnectionErrorCode c) { return static_cast<size_t>(c); }

// A whole MQTT 3.1.1 PUBLISH: fixed header (2 bytes below 128 remaining),
// topic length and topic, packet id for QoS 1/2, payload.
uint64_t publish_size(size_t topic, size_t payload, int qos) {
  return 2 + 2 + topic + (qos > 0 ? 2 : 0) + payload;
}

// GET `path` from 127.0.0.1:port with a plain socket; the whole answer.
std::string http_get(uint16_t port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  const timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    FAIL("cannot connect to the metrics port " << port);
  }
  const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (int i = 0; i < 1000; ++i) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace

TEST_CASE("counters follow a known traffic pattern, both ways, per QoS", "[integration]") {
  Watchdog watchdog("hooks traffic", 60s);
  Broker broker;
  auto o = client_options("hooks-traffic", broker.port());
  auto log = attach_sink(o, LogLevel::Info);
  auto [c, conn] = mqtt::Client::create(o, 64);
  REQUIRE(wait_connack(conn, 10s));
  CHECK(log->find(LogLevel::Info, "connect", "connected to 127.0.0.1:"));
  CHECK(log->find(LogLevel::Info, "connect", "(no session present)"));
  auto sub = c.subscribe("hooks/t", QoS::ExactlyOnce);
  REQUIRE(sub.ok());
  REQUIRE(sub->wait_for(10s));

  constexpr int kPerQoS = 5;
  const std::string topic = "hooks/t";
  const std::string payload(20, 'x');
  std::vector<mqtt::Token> tokens;
  for (int q = 0; q < 3; ++q) {
    for (int i = 0; i < kPerQoS; ++i) {
      auto t = c.publish_tracked(topic, static_cast<QoS>(q), false, payload);
      REQUIRE(t.ok());
      tokens.push_back(*t);
    }
  }
  for (auto& t : tokens) {
    auto done = t.wait_for(10s);
    REQUIRE(done);
    CHECK(done->ok());
  }
  int got[3] = {0, 0, 0};
  std::string seen;
  next_until(
      conn,
      [&](const mqtt::Event& e) {
        if (const auto* p = e.publish()) ++got[static_cast<int>(p->qos)];
        return got[0] + got[1] + got[2] == 3 * kPerQoS;
      },
      10s, &seen);
  INFO("events:\n" << seen);
  for (int q = 0; q < 3; ++q) REQUIRE(got[q] == kPerQoS);

  const mqtt::Counters k = c.counters();
  for (int q = 0; q < 3; ++q) {
    INFO("QoS " << q);
    const uint64_t size = publish_size(topic.size(), payload.size(), q);
    CHECK(k.messages_out[q] == kPerQoS);
    CHECK(k.bytes_out[q] == kPerQoS * size);
    CHECK(k.messages_in[q] == kPerQoS);
    CHECK(k.bytes_in[q] == kPerQoS * size);
  }
  CHECK(k.reconnects == 0);
  CHECK(k.connection_attempts == 1);
  for (uint64_t e : k.connection_errors) CHECK(e == 0);
  for (uint64_t f : k.requests_failed) CHECK(f == 0);
  CHECK(k.log_dropped == 0);
  CHECK(k.log_records == log->records.size());
  // Per message: nothing is logged (the connect line only).
  INFO("log:\n" << log->text());
  CHECK(log->records.size() == 1);

  // The same numbers through the renderer.
  const std::string text = mqtt::render_prometheus(mqtt::PrometheusSample{"t", k, c.snapshot()});
  CHECK(text.find("mqtt_client_messages_total{client=\"t\",direction=\"in\",qos=\"2\"} 5\n") !=
        std::string::npos);
  CHECK(text.find("mqtt_client_bytes_total{client=\"t\",direction=\"out\",qos=\"1\"} 165\n") !=
        std::string::npos);
  CHECK(text.find("mqtt_client_state{client=\"t\",state=\"Connected\"} 1\n") != std::string::npos);
}

TEST_CASE("a broker restart counts a reconnect and its error, and logs both", "[integration]") {
  Watchdog watchdog("hooks reconnect", 60s);
  Broker broker;
  auto o = client_options("hooks-reconnect", broker.port());
  auto log = attach_sink(o, LogLevel::Debug);
  auto [c, conn] = mqtt::Client::create(o, 64);
  REQUIRE(wait_connack(conn, 10s));
  broker.restart();
  std::string seen;
  auto err = next_until(conn, [](const mqtt::Event& e) { return e.error() != nullptr; }, 10s, &seen);
  INFO("events:\n" << seen);
  REQUIRE(err);
  const ConnectionErrorCode code = err->error()->code;
  REQUIRE(wait_connack(conn, 15s, &seen));
  INFO("log:\n" << log->text());
  const mqtt::Counters k = c.counters();
  CHECK(k.reconnects == 1);
  CHECK(k.connection_errors[idx(code)] >= 1);
  uint64_t errors = 0;
  for (uint64_t e : k.connection_errors) errors += e;
  CHECK(errors == k.connection_attempts - 1);  // every failed attempt, and the drop
  CHECK(log->find(LogLevel::Warn, "transport", mqtt::describe(*err->error())) != nullptr);
  CHECK(log->find(LogLevel::Info, "connect", "reconnecting in ") != nullptr);
  CHECK(log->find(LogLevel::Debug, "connect", "(attempt 2)") != nullptr);
  // Two "connected" lines: the first connection and the reconnect.
  size_t connected = 0;
  for (const auto& r : log->records) connected += r.message.rfind("connected to ", 0) == 0;
  CHECK(connected == 2);
}

TEST_CASE("a refused connection logs a refusal line with the reason", "[integration]") {
  Watchdog watchdog("hooks refusal", 60s);
  BrokerOptions bo;
  bo.username = "alice";
  bo.password = "s3cret";
  Broker broker(bo);
  auto o = client_options("hooks-refused", broker.port());
  o.set_credentials("alice", "wrong");
  auto log = attach_sink(o, LogLevel::Warn);
  auto [c, conn] = mqtt::Client::create(o, 8);
  std::string seen;
  auto ev = next_until(conn, [](const mqtt::Event& e) { return e.error() != nullptr; }, 10s, &seen);
  INFO("events:\n" << seen);
  REQUIRE(ev);
  REQUIRE(ev->error()->code == ConnectionErrorCode::ConnectionRefused);
  // Delivered by the next() that returned the refusal.
  INFO("log:\n" << log->text());
  const LogRecord* r = log->find(LogLevel::Error, "connect", "refused: ");
  REQUIRE(r);
  CHECK(r->message.find(mqtt::describe(*ev->error())) != std::string::npos);
  const std::string reason(mqtt::to_string(ev->error()->reason_code));
  CHECK(r->message.find(reason) != std::string::npos);
  CHECK(c.counters().connection_errors[idx(ConnectionErrorCode::ConnectionRefused)] == 1);
  // Warn and above only: no connect/connected lines.
  CHECK(log->records.size() == 1);
}

TEST_CASE("a stalled consumer adds up reading-paused time", "[integration]") {
  Watchdog watchdog("hooks stalled", 60s);
  Broker broker;
  auto o = client_options("hooks-stalled", broker.port());
  auto log = attach_sink(o, LogLevel::Debug);
  auto [c, conn] = mqtt::Client::create(o, 4);  // a tiny event queue
  REQUIRE(wait_connack(conn, 10s));
  auto sub = c.subscribe("hooks/stall", QoS::AtMostOnce);
  REQUIRE(sub.ok());
  REQUIRE(sub->wait_for(10s));
  next_until(conn, [](const mqtt::Event& e) { return e.incoming() && !e.publish(); }, 2s);
  CHECK(c.counters().reading_paused_ns == 0);
  for (int i = 0; i < 50; ++i) REQUIRE(c.publish("hooks/stall", QoS::AtMostOnce, false, "m").ok());
  REQUIRE(eventually([&] { return c.snapshot().reading_paused; }, 10s));
  const auto stalled = std::chrono::milliseconds(400);
  std::this_thread::sleep_for(stalled);
  int got = 0;
  next_until(conn, [&](const mqtt::Event& e) { return e.publish() && ++got == 50; }, 10s);
  REQUIRE(got == 50);
  REQUIRE(eventually([&] { return !c.snapshot().reading_paused; }, 5s));
  const uint64_t ns = c.counters().reading_paused_ns;
  INFO("paused ns " << ns);
  CHECK(ns >= 350'000'000ull);  // the stall, less the wait's 5 ms polling granularity
  CHECK(ns < 30'000'000'000ull);
  conn.drain_log();
  INFO("log:\n" << log->text());
  CHECK(log->find(LogLevel::Debug, "flow", "reading paused") != nullptr);
  CHECK(log->find(LogLevel::Debug, "flow", "reading resumed") != nullptr);
}

TEST_CASE("a full log buffer counts its losses and never holds the reactor", "[integration]") {
  Watchdog watchdog("hooks log overflow", 60s);
  Broker broker;
  auto o = client_options("hooks-overflow", broker.port());
  o.log_buffer = 1;
  auto log = attach_sink(o, LogLevel::Debug);
  auto [c, conn] = mqtt::Client::create(o, 8);
  // Nobody drains: "connecting" fills the buffer, "connected" is lost, and
  // the connection is made all the same.
  REQUIRE(eventually([&] { return c.snapshot().state == mqtt::Snapshot::State::Connected; }, 10s));
  REQUIRE(eventually([&] { return c.counters().log_dropped >= 1; }, 5s));
  CHECK(c.counters().log_records == 1);
  conn.drain_log();
  INFO("log:\n" << log->text());
  REQUIRE(log->records.size() == 1);
  CHECK(log->records[0].message.find("connecting to ") == 0);
  // The connection works: a round trip through the broker.
  auto sub = c.subscribe("hooks/o", QoS::AtLeastOnce);
  REQUIRE(sub.ok());
  CHECK(sub->wait_for(10s));
}

TEST_CASE("dropped requests are counted by reason and logged coalesced", "[integration]") {
  Watchdog watchdog("hooks drops", 60s);
  Broker broker;
  const uint16_t port = broker.port();
  broker.stop();  // nothing listens there now: the client never connects
  auto o = client_options("hooks-drops", port);
  auto log = attach_sink(o, LogLevel::Warn);
  auto [c, conn] = mqtt::Client::create(o, 16);
  constexpr int kQueued = 5;
  for (int i = 0; i < kQueued; ++i) REQUIRE(c.publish("hooks/d", QoS::AtLeastOnce, false, "x").ok());
  // Nothing can be sent: the drain ends at once and the publishes fail.
  REQUIRE(c.disconnect(std::chrono::milliseconds(0)).ok());
  uint64_t failed = 0;
  std::string seen;
  next_until(
      conn,
      [&](const mqtt::Event& e) {
        if (const auto* f = e.request_failed()) failed += f->count;
        return e.error() && e.error()->terminal;
      },
      15s, &seen);
  INFO("events:\n" << seen);
  CHECK(failed == kQueued);
  conn.drain_log();
  INFO("log:\n" << log->text());
  const size_t closed = static_cast<size_t>(mqtt::RequestError::ConnectionClosed);
  CHECK(c.counters().requests_failed[closed] == kQueued);
  // One line for the five, with their reason.
  size_t lines = 0;
  for (const auto& r : log->records) lines += r.message.find("request(s) dropped") != std::string::npos;
  CHECK(lines == 1);
  CHECK(log->find(LogLevel::Warn, "session",
                  std::to_string(kQueued) + " request(s) dropped: connection closed") != nullptr);
}

TEST_CASE("a broker's refusal of a tracked request counts as Rejected", "[integration]") {
  Watchdog watchdog("hooks rejected", 60s);
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string acl = std::string(tmp ? tmp : "/tmp") + "/hooks_rejected.acl";
  {
    std::ofstream f(acl);
    f << "topic readwrite hooks/ok/#\n";  // anonymous clients: this tree only
  }
  BrokerOptions bo;
  bo.extra_lines = {"acl_file " + acl};
  Broker broker(bo);
  auto o = client_options("hooks-rejected", broker.port(), mqtt::ProtocolVersion::V5);
  auto log = attach_sink(o, LogLevel::Warn);
  auto [c, conn] = mqtt::Client::create(o, 16);
  REQUIRE(wait_connack(conn, 10s));
  const size_t rejected = static_cast<size_t>(mqtt::RequestError::Rejected);
  auto ok = c.subscribe("hooks/ok/x", QoS::AtLeastOnce);
  REQUIRE(ok.ok());
  auto done = ok->wait_for(10s);
  REQUIRE(done);
  CHECK(done->error == mqtt::RequestError::None);
  CHECK(c.counters().requests_failed[rejected] == 0);
  // mosquitto grants any subscription but refuses the publish: PUBACK 0x87.
  auto denied = c.publish_tracked("hooks/denied", QoS::AtLeastOnce, false, "x");
  REQUIRE(denied.ok());
  done = denied->wait_for(10s);
  REQUIRE(done);
  REQUIRE(done->error == mqtt::RequestError::Rejected);
  // Counted by the time its token completed (the same reactor step).
  const mqtt::Counters k = c.counters();
  CHECK(k.requests_failed[rejected] == 1);
  uint64_t all = 0;
  for (uint64_t f : k.requests_failed) all += f;
  CHECK(all == 1);
  REQUIRE(c.disconnect().ok());
  next_until(conn, [](const mqtt::Event& e) { return e.error() && e.error()->terminal; }, 10s);
  INFO("log:\n" << log->text());
  CHECK(log->find(LogLevel::Warn, "session", "1 request(s) dropped: ") != nullptr);
  ::unlink(acl.c_str());
}

TEST_CASE("no sink: nothing is recorded", "[integration]") {
  Watchdog watchdog("hooks silent", 60s);
  Broker broker;
  auto o = client_options("hooks-silent", broker.port());
  o.log_level = LogLevel::Debug;  // a level without a sink records nothing
  auto [c, conn] = mqtt::Client::create(o, 16);
  REQUIRE(wait_connack(conn, 10s));
  broker.restart();
  REQUIRE(wait_connack(conn, 15s));
  REQUIRE(c.disconnect().ok());
  next_until(conn, [](const mqtt::Event& e) { return e.error() && e.error()->terminal; }, 10s);
  const mqtt::Counters k = c.counters();
  CHECK(k.log_records == 0);
  CHECK(k.log_dropped == 0);
  CHECK(k.reconnects == 1);  // the counters are on all the same
  CHECK(k.connection_errors[idx(ConnectionErrorCode::Disconnected)] == 1);
}

TEST_CASE("examples/prometheus_metrics serves /metrics on a loopback port", "[integration]") {
  Watchdog watchdog("hooks prometheus example", 90s);
  Broker broker;
  const std::string bin = runfile("examples/prometheus_metrics");
  REQUIRE(::access(bin.c_str(), X_OK) == 0);
  const std::string out = make_temp_dir("prometheus-example") + "/out.txt";
  Process p(Process::Spec({bin, "127.0.0.1", std::to_string(broker.port()), "0", "4"}).out_err(out));
  std::string text;
  uint16_t port = 0;
  const std::string marker = "metrics: http://127.0.0.1:";
  REQUIRE(eventually(
      [&] {
        text = read_file(out);
        const size_t at = text.find(marker);
        if (at == std::string::npos) return false;
        port = static_cast<uint16_t>(std::atoi(text.c_str() + at + marker.size()));
        return port != 0;
      },
      20s));
  INFO("example output:\n" << text);
  CHECK(text.find("received 10 messages") != std::string::npos);
  const std::string page = http_get(port, "/metrics");
  INFO("page:\n" << page);
  CHECK(page.rfind("HTTP/1.0 200 OK\r\n", 0) == 0);
  CHECK(page.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
  CHECK(page.find("mqtt_client_messages_total{client=\"demo\",direction=\"out\",qos=\"1\"} 10\n") !=
        std::string::npos);
  CHECK(page.find("mqtt_client_messages_total{client=\"demo\",direction=\"in\",qos=\"1\"} 10\n") !=
        std::string::npos);
  CHECK(page.find("mqtt_client_state{client=\"demo\",state=\"Connected\"} 1\n") != std::string::npos);
  CHECK(http_get(port, "/other").rfind("HTTP/1.0 404", 0) == 0);
  REQUIRE(p.wait_exit(30s));
  INFO("final output:\n" << read_file(out));
  REQUIRE(p.status());
  CHECK(WIFEXITED(*p.status()));
  CHECK(WEXITSTATUS(*p.status()) == 0);
  // The sink's lines, printed by the example on the consumer thread.
  CHECK(read_file(out).find("[info] connect: connected to 127.0.0.1:") != std::string::npos);
}
