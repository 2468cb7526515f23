// 8. Backpressure and lifecycle: with a small capacity and a broker that
// does not acknowledge (relay paused), publish() blocks and try_publish()
// returns QueueFull. After the relay and the broker are restarted the loop
// reconnects (every error arrives as an event; next() reconnects).
// disconnect() sends DISCONNECT and next() ends with Disconnected then
// std::nullopt. Destroying the Connection joins promptly.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <thread>

#include "mqtt/client.h"
#include "tests/integration/support/broker.h"
#include "tests/integration/support/events.h"
#include "tests/integration/support/relay.h"

using namespace itest;
using mqtt::QoS;

namespace {

mqtt::MqttOptions tight(const std::string& prefix, uint16_t port) {
  auto o = client_options(prefix, port);
  o.max_inflight = 2;
  o.keep_alive = std::chrono::seconds(30);  // no ping timeout during the pause
  return o;
}

// Fills the in-flight window and the publish lane: try_publish_tracked until
// QueueFull (bounded). Returns the tokens of the accepted requests; *full is
// set when QueueFull was seen.
std::vector<mqtt::Token> fill(mqtt::Client& c, bool* full, int* other_errors) {
  std::vector<mqtt::Token> tokens;
  *full = false;
  for (int i = 0; i < 64; ++i) {
    auto r = c.try_publish_tracked("bp/data", QoS::AtLeastOnce, false, "m" + std::to_string(i));
    if (r.ok()) {
      tokens.push_back(*r);
    } else if (r.error().code == mqtt::ClientError::Code::QueueFull) {
      *full = true;
      break;
    } else {
      ++*other_errors;
    }
    std::this_thread::sleep_for(20ms);  // let the reactor take what it can
  }
  return tokens;
}

}  // namespace

TEST_CASE("backpressure: blocking publish, QueueFull, reconnect after broker restart, "
          "disconnect", "[integration]") {
  Watchdog watchdog("backpressure test", 120s);
  Broker broker;
  Relay relay(broker.port());
  const size_t capacity = 2;
  auto o = tight("bp", relay.port());
  auto [client, conn] = mqtt::Client::create(o, capacity);
  Pump pump(conn);
  REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.connacks >= 1; }, 10s));

  relay.pause();
  bool full = false;
  int other_errors = 0;
  std::vector<mqtt::Token> tokens = fill(client, &full, &other_errors);
  std::printf("[backpressure] %zu publishes accepted before QueueFull (max_inflight 2, capacity %zu)\n",
              tokens.size(), capacity);
  CHECK(full);
  CHECK(other_errors == 0);
  CHECK(tokens.size() >= 2);   // at least the in-flight window
  CHECK(tokens.size() <= 2 + capacity + 2);
  // A non-blocking retry is still refused, and the snapshot shows why.
  auto again = client.try_publish("bp/data", QoS::AtLeastOnce, false, "again");
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == mqtt::ClientError::Code::QueueFull);
  auto snap = client.snapshot();
  CHECK(snap.inflight_publishes == 2);
  CHECK(snap.queued_publishes >= 1);

  // publish() blocks while the lane is full.
  std::atomic<bool> returned{false};
  std::atomic<bool> blocked_ok{false};
  mqtt::Token blocked_token;
  std::thread blocked([&] {
    auto r = client.publish_tracked("bp/data", QoS::AtLeastOnce, false, "blocked");
    if (r.ok()) {
      blocked_token = *r;
      blocked_ok = true;
    }
    returned = true;
  });
  JoinGuard guard(blocked);
  std::this_thread::sleep_for(700ms);
  CHECK_FALSE(returned);

  // The broker goes away and comes back; so does the relay (same ports).
  size_t errors_before = pump.stats().errors.size();
  relay.kill();
  broker.restart(SIGTERM);
  relay.start();
  bool reconnected = pump.wait_until([](const Pump::Stats& s) { return s.connacks >= 2; }, 20s);
  for (int i = 0; i < 1000 && !returned; ++i) std::this_thread::sleep_for(10ms);
  blocked.join();
  auto stats = pump.stats();
  INFO("events:\n" << pump.log_text());
  CHECK(reconnected);
  CHECK(stats.errors.size() > errors_before);  // the drop arrived as an event
  for (const auto& e : stats.errors) CHECK_FALSE(e.terminal);
  CHECK(blocked_ok);

  // Clean session: what was in flight is lost (SessionReset), what was still
  // queued is sent after the reconnect.
  int succeeded = 0, reset = 0, other = 0;
  tokens.push_back(blocked_token);
  for (auto& t : tokens) {
    auto done = t.wait_for(10s);
    if (!done) {
      ++other;
    } else if (done->ok()) {
      ++succeeded;
    } else if (done->error == mqtt::RequestError::SessionReset) {
      ++reset;
    } else {
      ++other;
    }
  }
  std::printf("[backpressure] after reconnect: %d tokens succeeded, %d SessionReset, %d other\n",
              succeeded, reset, other);
  CHECK(other == 0);
  CHECK(succeeded >= 1);  // the blocked publish at least
  // The SessionReset event follows the CONNACK event and may reach the pump
  // thread after the tokens have failed.
  CHECK(pump.wait_until([](const Pump::Stats& s) { return !s.resets.empty(); }, 10s));
  stats = pump.stats();
  REQUIRE(stats.resets.size() == 1);
  CHECK(static_cast<int>(stats.resets[0].dropped_publishes) == reset);
  CHECK(reset == 2);  // the in-flight window

  // disconnect(): DISCONNECT, then Disconnected, then the end.
  REQUIRE(client.disconnect().ok());
  CHECK(pump.wait_until([](const Pump::Stats& s) { return s.ended; }, 10s));
  stats = pump.stats();
  REQUIRE_FALSE(stats.errors.empty());
  CHECK(stats.errors.back().code == mqtt::ConnectionErrorCode::Disconnected);
  CHECK(stats.errors.back().terminal);
  for (int i = 0; i < 200 && broker.log_count("Client " + o.client_id + " disconnected") == 0; ++i)
    std::this_thread::sleep_for(10ms);
  INFO(broker.log());
  CHECK(broker.log_count("Client " + o.client_id + " disconnected") == 1);
}

TEST_CASE("destroying the Connection joins promptly and unblocks publishers", "[integration]") {
  Watchdog watchdog("connection destruction test", 60s);
  Broker broker;
  Relay relay(broker.port());
  auto pair = mqtt::Client::create(tight("bp-destroy", relay.port()), 2);
  mqtt::Client& client = pair.first;
  std::optional<mqtt::Connection> conn(std::move(pair.second));
  {
    std::string seen;
    REQUIRE(wait_connack(*conn, 10s, &seen));
  }
  relay.pause();
  bool full = false;
  int other_errors = 0;
  fill(client, &full, &other_errors);
  REQUIRE(full);

  std::atomic<bool> returned{false};
  std::optional<mqtt::ClientError::Code> blocked_error;
  std::thread blocked([&] {
    auto r = client.publish("bp/data", QoS::AtLeastOnce, false, "blocked");
    if (!r.ok()) blocked_error = r.error().code;
    returned = true;
  });
  JoinGuard guard(blocked);
  std::this_thread::sleep_for(300ms);
  CHECK_FALSE(returned);

  auto t0 = Clock::now();
  conn.reset();
  double destroy_ms = ms_since(t0);
  for (int i = 0; i < 300 && !returned; ++i) std::this_thread::sleep_for(10ms);
  double unblock_ms = ms_since(t0);
  bool unblocked = returned;
  blocked.join();
  std::printf("[backpressure] Connection destroyed in %.0f ms; blocked publish() returned after "
              "%.0f ms\n", destroy_ms, unblock_ms);
  CHECK(destroy_ms < 1000);
  CHECK(unblocked);
  REQUIRE(blocked_error);
  CHECK(*blocked_error == mqtt::ClientError::Code::Closed);
  auto late = client.try_publish("bp/data", QoS::AtMostOnce, false, "late");
  REQUIRE_FALSE(late.ok());
  CHECK(late.error().code == mqtt::ClientError::Code::Closed);
}
