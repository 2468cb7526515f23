// 6. Black hole: the client talks to the broker through a socat relay; while
// it publishes QoS 0 steadily, the relay's process group is stopped (SIGSTOP).
// Writes keep succeeding (kernel buffers) and nothing comes back, so only the
// keepalive can notice: the client must report PingTimeout within
// keep_alive + ping_timeout + slack.
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

TEST_CASE("black-holed connection is detected by the keepalive within its bound",
          "[integration]") {
  Watchdog watchdog("black-hole test", 90s);
  Broker broker;
  Relay relay(broker.port());

  const auto keep_alive = std::chrono::seconds(1);
  const auto ping_timeout = std::chrono::milliseconds(1000);
  // Slack for scheduling on a loaded 2-core machine (doubled under TSan).
  const auto slack = under_tsan() ? std::chrono::milliseconds(2000) : std::chrono::milliseconds(1000);
  const auto bound = std::chrono::duration_cast<std::chrono::milliseconds>(keep_alive) + ping_timeout + slack;

  auto o = client_options("blackhole", relay.port());
  o.keep_alive = keep_alive;
  o.ping_timeout = ping_timeout;
  o.connect_timeout = std::chrono::milliseconds(2000);
  auto pair = mqtt::Client::create(o, 64);
  mqtt::Client& client = pair.first;
  std::optional<mqtt::Connection> conn(std::move(pair.second));
  std::optional<Pump> pump(std::in_place, *conn);
  REQUIRE(pump->wait_until([](const Pump::Stats& s) { return s.connacks >= 1; }, 10s));

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> published{0}, refused{0};
  std::thread publisher([&] {
    for (int i = 0; i < 100000 && !stop; ++i) {
      if (client.try_publish("bh/data", QoS::AtMostOnce, false, "tick " + std::to_string(i)).ok())
        ++published;
      else
        ++refused;
      std::this_thread::sleep_for(20ms);
    }
  });
  JoinGuard guard(publisher);

  // A healthy link with a steady publisher does not time out (several
  // keepalive periods, PINGREQ/PINGRESP in between). The stop then falls
  // between two pings (not right after one), which is closer to the worst
  // case of keep_alive + ping_timeout.
  std::this_thread::sleep_for(3400ms);
  size_t errors_before = pump->stats().errors.size();

  auto t0 = Clock::now();
  relay.pause();
  bool detected = pump->wait_until([&](const Pump::Stats& s) {
    return s.errors.size() > errors_before;
  }, bound + 5s);
  auto stats = pump->stats();
  stop = true;
  publisher.join();

  INFO("events:\n" << pump->log_text());
  CHECK(errors_before == 0);
  REQUIRE(detected);
  const auto& err = stats.errors[errors_before];
  double detection_ms =
      std::chrono::duration<double, std::milli>(stats.error_times[errors_before] - t0).count();
  std::printf("[black-hole] keep_alive=%llds ping_timeout=%lldms: %s reported %.0f ms after "
              "SIGSTOP of the relay (bound %lld ms incl. %lld ms slack); %llu QoS 0 publishes "
              "accepted, %llu refused\n",
              static_cast<long long>(keep_alive.count()),
              static_cast<long long>(ping_timeout.count()),
              std::string(mqtt::to_string(err.code)).c_str(), detection_ms,
              static_cast<long long>(bound.count()), static_cast<long long>(slack.count()),
              static_cast<unsigned long long>(published.load()),
              static_cast<unsigned long long>(refused.load()));
  CHECK(err.code == mqtt::ConnectionErrorCode::PingTimeout);
  CHECK_FALSE(err.terminal);
  CHECK(detection_ms <= static_cast<double>(bound.count()));
  // Not before the broker went silent for at least ping_timeout.
  CHECK(detection_ms >= static_cast<double>(ping_timeout.count()) - 50);

  // The connection ended because the link was dead: dropping the
  // Connection now (relay still stopped, reconnect attempts hanging) joins
  // promptly.
  pump.reset();
  auto t1 = Clock::now();
  conn.reset();
  double destroy_ms = ms_since(t1);
  std::printf("[black-hole] Connection destroyed in %.0f ms\n", destroy_ms);
  CHECK(destroy_ms < 2000);
}
