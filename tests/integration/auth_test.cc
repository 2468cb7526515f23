// 5. A refused login (wrong password) is terminal: one event
// ConnectionError{ConnectionRefused, BadUserNameOrPassword or NotAuthorized,
// terminal}, then next() returns std::nullopt, and no further attempt is
// made. The right password connects.
#include <catch2/catch.hpp>
#include <thread>

#include "mqtt/client.h"
#include "tests/integration/support/broker.h"
#include "tests/integration/support/events.h"

using namespace itest;
using mqtt::ReasonCode;

TEST_CASE("authentication refusal stops reconnecting; the right password connects",
          "[integration]") {
  auto version = GENERATE(mqtt::ProtocolVersion::V311, mqtt::ProtocolVersion::V5);
  INFO("MQTT " << (version == mqtt::ProtocolVersion::V5 ? "5" : "3.1.1"));
  Watchdog watchdog("auth test", 120s);
  BrokerOptions bo;
  bo.username = "alice";
  bo.password = "s3cret";
  Broker broker(bo);

  SECTION("wrong password") {
    auto o = client_options("auth-bad", broker.port(), version);
    o.set_credentials("alice", "wrong");
    o.backoff.initial = std::chrono::milliseconds(50);
    auto [c, conn] = mqtt::Client::create(o, 8);
    std::string seen;
    auto ev = next_until(conn, [](const mqtt::Event& e) { return e.error() != nullptr; }, 10s, &seen);
    INFO("events:\n" << seen);
    REQUIRE(ev);
    const auto& err = *ev->error();
    INFO("error: " << mqtt::describe(err));
    CHECK(err.code == mqtt::ConnectionErrorCode::ConnectionRefused);
    CHECK((err.reason_code == ReasonCode::BadUserNameOrPassword ||
           err.reason_code == ReasonCode::NotAuthorized));
    CHECK(err.terminal);
    // The loop is over: no more events, no more attempts.
    CHECK_FALSE(conn.next_for(1500ms));
    CHECK(conn.ended());
    auto snap = c.snapshot();
    CHECK(snap.connection_attempts == 1);
    CHECK(snap.state == mqtt::Snapshot::State::Ended);
    std::this_thread::sleep_for(1s);
    CHECK(c.snapshot().connection_attempts == 1);
    // The broker refused exactly one login.
    INFO(broker.log());
    CHECK(broker.log_count("disconnected, not authorised") == 1);
    auto late = c.publish("x", mqtt::QoS::AtMostOnce, false, "y");
    REQUIRE_FALSE(late.ok());
    CHECK(late.error().code == mqtt::ClientError::Code::Closed);
  }

  SECTION("no credentials at all") {
    auto [c, conn] = mqtt::Client::create(client_options("auth-none", broker.port(), version), 8);
    std::string seen;
    auto ev = next_until(conn, [](const mqtt::Event& e) { return e.error() != nullptr; }, 10s, &seen);
    INFO("events:\n" << seen);
    REQUIRE(ev);
    CHECK(ev->error()->code == mqtt::ConnectionErrorCode::ConnectionRefused);
    CHECK(ev->error()->terminal);
    CHECK_FALSE(conn.next_for(1s));
    CHECK(conn.ended());
    CHECK(c.snapshot().connection_attempts == 1);
  }

  SECTION("right password") {
    auto o = client_options("auth-good", broker.port(), version);
    o.set_credentials("alice", "s3cret");
    auto [c, conn] = mqtt::Client::create(o, 8);
    std::string seen;
    auto ack = wait_connack(conn, 10s, &seen);
    INFO("events:\n" << seen);
    REQUIRE(ack);
    // The snapshot may trail the CONNACK event by a reactor iteration.
    CHECK(eventually([&] { return c.snapshot().state == mqtt::Snapshot::State::Connected; }, 1000ms));
    auto tok = c.publish_tracked("auth/ok", mqtt::QoS::AtLeastOnce, false, "hi");
    REQUIRE(tok.ok());
    // The PUBACK arrives as an event too.
    REQUIRE(next_until(conn, [](const mqtt::Event& e) {
      return e.incoming() && e.incoming()->type() == mqtt::codec::PacketType::PubAck;
    }, 10s, &seen));
    auto done = tok->wait_for(5s);
    REQUIRE(done);
    CHECK(done->ok());
    CHECK(c.disconnect().ok());
    std::optional<mqtt::ConnectionError> last;
    CHECK(wait_end(conn, 10s, &last, &seen));
    REQUIRE(last);
    CHECK(last->code == mqtt::ConnectionErrorCode::Disconnected);
  }
}
