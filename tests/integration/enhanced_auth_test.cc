// MQTT 5 enhanced authentication end to end: the client and the SCRAM
// client library (examples/scram) against a scripted broker that runs the
// real SCRAM-SHA-256 server side (RFC 5802/7677, OpenSSL). Each case also
// states the spec rule it checks. Every wait is bounded.
#include <catch2/catch.hpp>

#include <string>

#include "examples/scram/scram_client.h"
#include "mqtt/client.h"
#include "tests/integration/support/events.h"
#include "tests/integration/support/scripted_broker.h"

using namespace itest;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

namespace {

const std::string kMethod = "SCRAM-SHA-256";

milliseconds slack() { return under_tsan() ? 10000ms : under_asan() ? 5000ms : 2000ms; }

// The server side of SCRAM-SHA-256 for one user.
class ScramServer {
 public:
  ScramServer(std::string user, std::string password)
      : user_(std::move(user)), salt_("mqtt-test-salt!!") {
    salted_ = scram::salted_password(password, scram::bytes_of(salt_), kIterations);
  }
  // client-first-message -> server-first-message; nullopt when malformed or
  // for another user.
  std::optional<std::string> first(std::string_view client_first) {
    if (client_first.substr(0, 3) != "n,,") return std::nullopt;
    client_first_bare_ = std::string(client_first.substr(3));
    const size_t r = client_first_bare_.find(",r=");
    if (client_first_bare_.substr(0, 2) != "n=" || r == std::string::npos) return std::nullopt;
    if (client_first_bare_.substr(2, r - 2) != user_) return std::nullopt;
    const std::string nonce = client_first_bare_.substr(r + 3) + scram::random_nonce();
    server_first_ = "r=" + nonce + ",s=" + scram::base64_encode(scram::bytes_of(salt_)) +
                    ",i=" + std::to_string(kIterations);
    return server_first_;
  }
  // client-final-message -> server-final-message ("v=..."), or nullopt when
  // the proof is wrong.
  std::optional<std::string> final(std::string_view client_final) {
    const size_t p = client_final.find(",p=");
    if (p == std::string_view::npos) return std::nullopt;
    const std::string without_proof(client_final.substr(0, p));
    const auto proof = scram::base64_decode(client_final.substr(p + 3));
    if (!proof || proof->size() != 32) return std::nullopt;
    const std::string auth_message = client_first_bare_ + "," + server_first_ + "," + without_proof;
    const auto client_key = scram::hmac_sha256(salted_, "Client Key");
    const auto stored_key = scram::sha256(client_key);
    const auto signature = scram::hmac_sha256(stored_key, auth_message);
    scram::Digest recovered{};
    for (size_t i = 0; i < 32; ++i) recovered[i] = static_cast<uint8_t>((*proof)[i]) ^ signature[i];
    if (scram::sha256(recovered) != stored_key) return std::nullopt;
    const auto server_key = scram::hmac_sha256(salted_, "Server Key");
    return "v=" + scram::base64_encode(scram::hmac_sha256(server_key, auth_message));
  }

 private:
  static constexpr uint32_t kIterations = 4096;
  std::string user_, salt_;
  scram::Digest salted_{};
  std::string client_first_bare_, server_first_;
};

std::string auth_data(const mqtt::codec::Properties& p) {
  return p.authentication_data ? std::string(mqtt::codec::as_string(*p.authentication_data)) : "";
}

// Waits for the broker's AUTH event; answers it with the SCRAM client's
// final message through Client::auth().
void answer_challenge(mqtt::Connection& conn, mqtt::Client& client, scram::Client& sc) {
  std::string seen;
  auto ev = next_until(
      conn,
      [](const mqtt::Event& e) {
        return e.incoming() && std::holds_alternative<mqtt::codec::Auth>(e.incoming()->packet());
      },
      slack() + 3000ms, &seen);
  INFO(seen);
  REQUIRE(ev);
  const auto& a = std::get<mqtt::codec::Auth>(ev->incoming()->packet());
  REQUIRE(a.reason_code == mqtt::ReasonCode::ContinueAuthentication);
  std::string why;
  auto final = sc.client_final(auth_data(a.properties), &why);
  INFO(why);
  REQUIRE(final);
  REQUIRE(client.auth(mqtt::ReasonCode::ContinueAuthentication, scram::bytes_of(*final)).ok());
}

struct Setup {
  ScriptedBroker sb;
  scram::Client sc;
  mqtt::MqttOptions options;
  explicit Setup(std::string password) : sc("alice", std::move(password)) {
    options = client_options("scram", sb.port(), mqtt::ProtocolVersion::V5);
    options.authentication_method = kMethod;
    options.authentication_data = sc.client_first();
    options.connect_timeout = slack() + 5000ms;
  }
};

// Accepts, reads CONNECT and runs the server's first step; returns the peer.
std::unique_ptr<ScriptedPeer> challenge(Setup& s, ScramServer& server) {
  auto peer = s.sb.accept(slack() + 3000ms);
  REQUIRE(peer);
  auto connect = peer->expect_connect(slack() + 3000ms);
  REQUIRE(connect);
  auto info = auth_info(*connect);
  REQUIRE(info);
  REQUIRE(info->method == kMethod);  // [3.1.2.11.9]
  REQUIRE(info->data);
  auto first = server.first(*info->data);
  REQUIRE(first);
  REQUIRE(peer->send(auth_v5(0x18, kMethod, *first)));  // [MQTT-4.12.0-2]
  return peer;
}

}  // namespace

TEST_CASE("SCRAM-SHA-256 client matches the RFC 7677 example") {
  scram::Client c("user", "pencil", "rOprNGfwEbeRWgbNEkqO");
  CHECK(c.client_first() == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  auto final = c.client_final(
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
  REQUIRE(final);
  CHECK(*final ==
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  CHECK(c.verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
  CHECK_FALSE(c.verify_server_final("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
}

TEST_CASE("SCRAM-SHA-256 exchange before CONNACK, then re-authentication (AUTH 0x19, 0x18, 0x00)") {
  const auto t0 = Clock::now();
  Setup s("correct horse");
  ScramServer server("alice", "correct horse");
  auto [client, conn] = mqtt::Client::create(s.options, 16);
  auto peer = challenge(s, server);
  answer_challenge(conn, client, s.sc);  // [MQTT-4.12.0-3]

  auto reply = peer->read_packet(slack() + 3000ms);
  REQUIRE(reply);
  REQUIRE(packet_type(*reply) == 15);
  auto ri = auth_info(*reply);
  REQUIRE(ri);
  CHECK(ri->reason_code == 0x18);
  CHECK(ri->method == kMethod);  // added by the library [MQTT-4.12.0-5]
  auto verifier = server.final(ri->data.value_or(""));
  REQUIRE(verifier);
  ConnAckProps props;
  props.authentication_method = kMethod;
  props.authentication_data = *verifier;
  REQUIRE(peer->send(connack_v5(false, 0, props)));
  std::string seen;
  // The event itself, not wait_connack()'s copy: the CONNACK's Authentication
  // Data is a view into the event's bytes.
  auto ack_event = next_until(
      conn, [](const mqtt::Event& e) { return connack_of(e) != nullptr; }, slack() + 3000ms, &seen);
  INFO(seen);
  REQUIRE(ack_event);
  const auto* ack = connack_of(*ack_event);
  REQUIRE(ack);
  CHECK(s.sc.verify_server_final(auth_data(ack->properties)));
  std::printf("[scram] authenticated in %.1f ms\n", ms_since(t0));

  // Re-authentication while connected [MQTT-4.12.1-1].
  const auto t1 = Clock::now();
  scram::Client again("alice", "correct horse");
  ScramServer server2("alice", "correct horse");
  REQUIRE(client.auth(mqtt::ReasonCode::ReAuthenticate, scram::bytes_of(again.client_first())).ok());
  auto start = peer->read_packet(slack() + 3000ms);
  REQUIRE(start);
  auto si = auth_info(*start);
  REQUIRE(si);
  CHECK(si->reason_code == 0x19);
  CHECK(si->method == kMethod);
  auto first2 = server2.first(si->data.value_or(""));
  REQUIRE(first2);
  REQUIRE(peer->send(auth_v5(0x18, kMethod, *first2)));
  answer_challenge(conn, client, again);
  auto reply2 = peer->read_packet(slack() + 3000ms);
  REQUIRE(reply2);
  auto r2 = auth_info(*reply2);
  REQUIRE(r2);
  CHECK(r2->reason_code == 0x18);
  auto verifier2 = server2.final(r2->data.value_or(""));
  REQUIRE(verifier2);
  REQUIRE(peer->send(auth_v5(0x00, kMethod, *verifier2)));
  auto done = next_until(
      conn,
      [](const mqtt::Event& e) {
        return e.incoming() && std::holds_alternative<mqtt::codec::Auth>(e.incoming()->packet());
      },
      slack() + 3000ms, &seen);
  REQUIRE(done);
  const auto& a = std::get<mqtt::codec::Auth>(done->incoming()->packet());
  CHECK(a.reason_code == mqtt::ReasonCode::Success);
  CHECK(again.verify_server_final(auth_data(a.properties)));
  std::printf("[scram] re-authenticated in %.1f ms\n", ms_since(t1));

  // Still connected: a subscribe goes through after it.
  auto tok = client.subscribe("a/b", mqtt::QoS::AtMostOnce);
  REQUIRE(tok.ok());
  auto sub = peer->read_until_type(8, slack() + 3000ms);
  REQUIRE(sub);
}

TEST_CASE("SCRAM-SHA-256 wrong password: CONNACK 0x87 ends the loop with ConnectionRefused [MQTT-4.12.0-4]") {
  Setup s("wrong password");
  ScramServer server("alice", "correct horse");
  auto [client, conn] = mqtt::Client::create(s.options, 16);
  auto peer = challenge(s, server);
  answer_challenge(conn, client, s.sc);
  auto reply = peer->read_packet(slack() + 3000ms);
  REQUIRE(reply);
  auto ri = auth_info(*reply);
  REQUIRE(ri);
  CHECK_FALSE(server.final(ri->data.value_or("")));  // the proof does not hold
  REQUIRE(peer->send(connack_v5(false, 0x87)));
  std::optional<mqtt::ConnectionError> err;
  std::string seen;
  REQUIRE(wait_end(conn, slack() + 5000ms, &err, &seen));
  INFO(seen);
  REQUIRE(err);
  CHECK(err->code == mqtt::ConnectionErrorCode::ConnectionRefused);
  CHECK(err->reason_code == mqtt::ReasonCode::NotAuthorized);
  CHECK(err->terminal);
}

TEST_CASE("a broker AUTH with another method: ProtocolViolation and DISCONNECT 0x82 [MQTT-4.12.0-5]") {
  Setup s("x");
  auto [client, conn] = mqtt::Client::create(s.options, 16);
  auto peer = s.sb.accept(slack() + 3000ms);
  REQUIRE(peer);
  REQUIRE(peer->expect_connect(slack() + 3000ms));
  REQUIRE(peer->send(auth_v5(0x18, "PLAIN", std::string_view("challenge"))));
  auto d = peer->read_until_type(14, slack() + 3000ms);
  REQUIRE(d);
  CHECK(disconnect_reason(*d) == std::optional<uint8_t>(0x82));
  std::string seen;
  bool auth_delivered = false;
  auto ev = next_until(
      conn,
      [&](const mqtt::Event& e) {
        if (e.incoming() && std::holds_alternative<mqtt::codec::Auth>(e.incoming()->packet()))
          auth_delivered = true;
        return e.error() != nullptr;
      },
      slack() + 3000ms, &seen);
  INFO(seen);
  REQUIRE(ev);
  CHECK(ev->error()->code == mqtt::ConnectionErrorCode::ProtocolViolation);
  CHECK_FALSE(auth_delivered);  // a breach is never delivered
  (void)client.disconnect(0ms);
}

TEST_CASE("Client::auth refuses at the call without a method, or on MQTT 3.1.1") {
  ScriptedBroker sb;
  auto o = client_options("noauth", sb.port(), mqtt::ProtocolVersion::V5);
  {
    auto [client, conn] = mqtt::Client::create(o, 4);
    auto r = client.auth(mqtt::ReasonCode::ReAuthenticate);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == mqtt::ClientError::Code::InvalidRequest);
  }
  o.protocol = mqtt::ProtocolVersion::V311;
  {
    auto [client, conn] = mqtt::Client::create(o, 4);
    auto r = client.auth(mqtt::ReasonCode::ContinueAuthentication);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == mqtt::ClientError::Code::InvalidRequest);
  }
  o.authentication_method = kMethod;
  CHECK_FALSE(mqtt::validate(o).empty());  // a method needs MQTT 5
  o.protocol = mqtt::ProtocolVersion::V5;
  CHECK(mqtt::validate(o).empty());
  o.authentication_method.reset();
  o.authentication_data = "x";
  CHECK_FALSE(mqtt::validate(o).empty());  // data without a method
}
