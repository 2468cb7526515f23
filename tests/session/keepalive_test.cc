#include "tests/session/harness.h"

#include "mqtt/options.h"

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
  h.now = T0 + 10s;  // written (take()) at once
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

TEST_CASE("case 3: only bytes written count as sent: a peer that reads nothing gets PingTimeout") {
  Harness h(ka(10s, 3s));
  h.connect();
  // The broker floods and never reads: our PUBACKs pile up unwritten.
  for (int i = 1; i <= 9; ++i) {
    h.now = T0 + std::chrono::seconds(i);
    codec::Publish p;
    p.topic = "flood";
    p.qos = QoS::AtLeastOnce;
    p.packet_id = static_cast<uint16_t>(i);
    p.payload = codec::as_bytes("x");
    h.feed_ok(p);  // answered with a PUBACK into the output, never written
    CHECK(h.s.handle_timeout(h.now).ok());
  }
  CHECK_FALSE(h.s.output().empty());
  // Received steadily, but nothing written since T0: ping due at T0 + 10s.
  CHECK(h.s.next_deadline() == T0 + 10s);
  h.now = T0 + 10s;
  CHECK(h.s.handle_timeout(h.now).ok());
  CHECK(h.s.next_deadline() == T0 + 13s);  // PINGREQ queued behind the acks
  h.now = T0 + 13s;
  auto r = h.s.handle_timeout(h.now);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ConnectionErrorCode::PingTimeout);
}

TEST_CASE("case 13: the default ping timeout scales with keep alive") {
  auto eff = [](std::chrono::seconds k) {
    MqttOptions o;
    o.keep_alive = k;
    return o.effective_ping_timeout();
  };
  CHECK(eff(1s) == 500ms);
  CHECK(eff(4s) == 2000ms);
  CHECK(eff(10s) == 5000ms);
  CHECK(eff(60s) == 10000ms);
  CHECK(eff(0s) == 500ms);
  CHECK(eff(std::chrono::seconds::max()) == 10000ms);  // clamped, no overflow
  MqttOptions o;
  o.ping_timeout = 1234ms;
  CHECK(o.effective_ping_timeout() == 1234ms);
}

TEST_CASE("case 13: keep alive 60 s with the default ping timeout finds a black hole within 70 s") {
  MqttOptions o;
  o.keep_alive = 60s;
  Harness h(ka(60s, o.effective_ping_timeout()));
  h.connect();
  // Last packet received at T0 (the CONNACK); the link dies silently then.
  h.now = T0 + 59s;
  CHECK(h.s.handle_timeout(h.now).ok());
  CHECK(h.take().empty());
  h.now = T0 + 60s;
  CHECK(h.s.handle_timeout(h.now).ok());
  CHECK(types(h.take()) == std::vector<PacketType>{PacketType::PingReq});
  h.now = T0 + 69s + 999ms;
  CHECK(h.s.handle_timeout(h.now).ok());
  CHECK(h.s.next_deadline() == T0 + 70s);
  h.now = T0 + 70s;
  auto r = h.s.handle_timeout(h.now);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ConnectionErrorCode::PingTimeout);
}

TEST_CASE("case 6: an infinite ping timeout never overflows into an early timeout") {
  Harness h(ka(10s, Duration::max()));
  h.connect();
  h.now = T0 + 10s;
  CHECK(h.s.handle_timeout(h.now).ok());
  CHECK(types(h.take()) == std::vector<PacketType>{PacketType::PingReq});
  CHECK(h.s.next_deadline() == TimePoint::max());
  h.now = T0 + std::chrono::hours(24 * 365);
  CHECK(h.s.handle_timeout(h.now).ok());
  CHECK(h.s.state() == SessionState::Connected);
}

TEST_CASE("case 6: a disconnect deadline of TimePoint::max() waits for the drain") {
  Harness h;
  h.connect();
  auto t = h.pub("a", QoS::AtLeastOnce);
  h.take();
  auto d = make_disconnect_request(codec::Disconnect{}, h.v());
  REQUIRE(d.ok());
  h.s.submit(std::move(*d), h.now, TimePoint::max());
  h.now = T0 + std::chrono::hours(1000);
  (void)h.s.handle_timeout(h.now);
  CHECK_FALSE(t->done());
}

TEST_CASE("a PINGREQ behind a backlog that drains slowly: the timeout runs from write progress") {
  Harness h(ka(10s, 3s));
  h.connect();
  // 100 KB of QoS 0 publishes that the link takes slowly.
  for (int i = 0; i < 100; ++i) h.pub("bulk", QoS::AtMostOnce, std::string(1000, 'x'));
  h.now = T0 + 10s;  // nothing received for keep alive: ping, behind the backlog
  CHECK(h.s.handle_timeout(h.now).ok());
  CHECK(h.s.next_deadline() == T0 + 13s);
  // 10 KB a second: the PINGREQ is written after 10 s, never 3 s without progress.
  for (int sec = 1; sec <= 10; ++sec) {
    h.now = T0 + 10s + std::chrono::seconds(sec);
    CHECK(h.s.handle_timeout(h.now).ok());
    h.s.consume_output(std::min<size_t>(10'500, h.s.output().size()), h.now);
  }
  CHECK(h.s.output().empty());
  CHECK(h.s.next_deadline() == T0 + 23s);  // 3 s after the PINGREQ went out at T0 + 20 s
  h.now = T0 + 20s + 250ms;
  h.feed_ok(codec::PingResp{});
  REQUIRE(h.s.stats().last_ping_rtt.has_value());
  CHECK(*h.s.stats().last_ping_rtt == 250ms);  // from when it was written
}

namespace {
codec::Publish flood_publish(uint16_t id) {
  codec::Publish p;
  p.topic = "flood";
  p.qos = QoS::AtLeastOnce;
  p.packet_id = id;
  p.payload = codec::as_bytes("x");
  return p;
}
}  // namespace

TEST_CASE("a PINGRESP behind incoming packets: the timeout runs from the last packet received") {
  // A consumer catching up on a backlog reads the PINGRESP only after it:
  // the packets before it show the link alive.
  Harness h(ka(10s, 3s));
  h.connect();
  h.now = T0 + 10s;
  CHECK(h.s.handle_timeout(h.now).ok());
  REQUIRE(types(h.take()) == std::vector<PacketType>{PacketType::PingReq});  // written
  for (int i = 1; i <= 3; ++i) {
    h.now = T0 + 10s + std::chrono::seconds(2 * i);  // 12, 14, 16 s
    h.feed_ok(flood_publish(static_cast<uint16_t>(i)));
    h.take();  // the PUBACK is written
    CHECK(h.s.handle_timeout(h.now).ok());
    CHECK(h.s.next_deadline() == h.now + 3s);
  }
  // Then silence: a dead link, found ping_timeout after the last packet.
  CHECK(h.s.handle_timeout(T0 + 19s - 1ns).ok());
  auto r = h.s.handle_timeout(T0 + 19s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ConnectionErrorCode::PingTimeout);
}

TEST_CASE("a peer that floods but reads nothing times out although packets keep coming") {
  Harness h(ka(10s, 3s));
  h.connect();
  h.now = T0 + 10s;
  h.feed_ok(flood_publish(1));  // its PUBACK goes unwritten: the peer reads nothing
  CHECK(h.s.handle_timeout(h.now).ok());
  CHECK(h.s.next_deadline() == T0 + 13s);  // PINGREQ queued behind the PUBACK
  for (int i = 2; i <= 4; ++i) {
    h.now = T0 + 10s + std::chrono::milliseconds(900 * (i - 1));
    h.feed_ok(flood_publish(static_cast<uint16_t>(i)));
    CHECK(h.s.handle_timeout(h.now).ok());
  }
  CHECK(h.s.next_deadline() == T0 + 13s);  // not moved by the input
  auto r = h.s.handle_timeout(T0 + 13s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ConnectionErrorCode::PingTimeout);
}
