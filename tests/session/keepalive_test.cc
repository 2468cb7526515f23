#include "tests/session/harness.h"

using namespace session_test;

namespace {
SessionConfig ka(std::chrono::seconds k, Duration timeout = 3s) {
  SessionConfig c;
  c.keep_alive = k;
  c.ping_timeout = timeout;
  return c;
}
}  // namespace

TEST_CASE("PINGREQ after keep_alive with nothing sent; PINGRESP records the RTT") {
  Harness h(ka(10s));
  h.connect();
  CHECK(h.s.next_deadline() == T0 + 10s);
  CHECK(h.s.handle_timeout(T0 + 9s).ok());
  CHECK(h.take().empty());
  h.now = T0 + 10s;  // the PINGREQ is written (take()) at this time
  CHECK(h.s.handle_timeout(T0 + 10s).ok());
  CHECK(types(h.take()) == std::vector<PacketType>{PacketType::PingReq});
  // One outstanding at a time.
  CHECK(h.s.next_deadline() == T0 + 13s);
  CHECK(h.s.handle_timeout(T0 + 12s).ok());
  CHECK(h.take().empty());
  h.now = T0 + 10s + 250ms;
  h.feed_ok(codec::PingResp{});
  REQUIRE(h.s.stats().last_ping_rtt.has_value());
  CHECK(*h.s.stats().last_ping_rtt == 250ms);
  // Next ping: keep alive after the last send (the PINGREQ at T0+10s).
  CHECK(h.s.next_deadline() == T0 + 20s);
}

TEST_CASE("PINGREQ when nothing is received, even while publishing steadily") {
  Harness h(ka(10s));
  h.connect();
  bool pinged = false;
  for (int i = 1; i <= 10; ++i) {
    h.now = T0 + std::chrono::seconds(i);
    h.pub("a", QoS::AtMostOnce);
    CHECK(h.s.handle_timeout(h.now).ok());
    for (auto& s : h.take()) {
      if (s->type() == PacketType::PingReq) {
        pinged = true;
        CHECK(h.now == T0 + 10s);
      }
    }
  }
  CHECK(pinged);
}

TEST_CASE("PingTimeout at exactly PINGREQ + ping_timeout, even while writing QoS 0") {
  Harness h(ka(10s, 3s));
  h.connect();
  CHECK(h.s.handle_timeout(T0 + 10s).ok());
  REQUIRE(types(h.take()) == std::vector<PacketType>{PacketType::PingReq});
  for (int ms = 0; ms < 3000; ms += 500) {
    h.now = T0 + 10s + std::chrono::milliseconds(ms);
    h.pub("a", QoS::AtMostOnce);
    h.take();
    CHECK(h.s.handle_timeout(h.now).ok());
  }
  CHECK(h.s.next_deadline() == T0 + 13s);
  CHECK(h.s.handle_timeout(T0 + 13s - 1ns).ok());
  auto r = h.s.handle_timeout(T0 + 13s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ConnectionErrorCode::PingTimeout);
  // Dead-link bound: keep alive + ping timeout after the last packet received.
}

TEST_CASE("ping timeout is suspended while input is paused and re-armed at resume") {
  Harness h(ka(10s, 3s));
  h.connect();
  CHECK(h.s.handle_timeout(T0 + 10s).ok());
  h.take();
  h.s.set_input_paused(true, T0 + 11s);
  CHECK(h.s.next_deadline() == TimePoint::max());
  CHECK(h.s.handle_timeout(T0 + 60s).ok());
  CHECK(h.s.connected());
  h.s.set_input_paused(false, T0 + 60s);
  CHECK(h.s.next_deadline() == T0 + 63s);
  CHECK(h.s.handle_timeout(T0 + 62s).ok());
  auto r = h.s.handle_timeout(T0 + 63s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ConnectionErrorCode::PingTimeout);
}

TEST_CASE("keep_alive 0 disables pings") {
  Harness h(ka(0s));
  h.connect();
  CHECK(h.s.next_deadline() == TimePoint::max());
  CHECK(h.s.handle_timeout(T0 + 3600s).ok());
  CHECK(h.take().empty());
}
