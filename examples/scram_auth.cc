// MQTT 5 enhanced authentication with SCRAM-SHA-256, driven from the event
// loop: the broker's AUTH challenges arrive as events (before the CONNACK
// too) and are answered with Client::auth() from this thread; the reactor
// never runs the authenticator.
//
//   scram_auth HOST PORT USER PASSWORD [--reauth]
//
// Needs a broker that offers SCRAM-SHA-256 (mosquitto 2.0.11 does not); the
// tests run the same flow against a scripted broker (tests/integration/
// enhanced_auth_test.cc). Exit status 0 when authenticated (and, with
// --reauth, re-authenticated).
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "examples/scram/scram_client.h"
#include "mqtt/client.h"

namespace {

std::string data_of(const mqtt::codec::Properties& p) {
  return p.authentication_data ? std::string(mqtt::codec::as_string(*p.authentication_data))
                               : std::string();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s HOST PORT USER PASSWORD [--reauth]\n", argv[0]);
    return 2;
  }
  const std::string user = argv[3], password = argv[4];
  const bool reauth = argc > 5 && std::string(argv[5]) == "--reauth";

  auto scram = std::make_unique<scram::Client>(user, password);
  mqtt::MqttOptions options("scram-example", argv[1],
                            static_cast<uint16_t>(std::atoi(argv[2])));
  options.protocol = mqtt::ProtocolVersion::V5;
  options.authentication_method = "SCRAM-SHA-256";
  options.authentication_data = scram->client_first();
  options.connect_timeout = std::chrono::seconds(10);
  auto [client, connection] = mqtt::Client::create(options, 16);

  bool reauthenticating = false;
  while (auto event = connection.next_for(std::chrono::seconds(15))) {
    if (const auto* err = event->error()) {
      if (err->code == mqtt::ConnectionErrorCode::Disconnected) return 0;
      std::fprintf(stderr, "error: %s\n", err->message.c_str());
      return 1;
    }
    const auto* in = event->incoming();
    if (!in) continue;
    if (const auto* a = std::get_if<mqtt::codec::Auth>(&in->packet())) {
      if (a->reason_code == mqtt::ReasonCode::ContinueAuthentication) {
        std::string why;
        auto final = scram->client_final(data_of(a->properties), &why);
        if (!final) {
          std::fprintf(stderr, "SCRAM: %s\n", why.c_str());
          return 1;
        }
        auto sent = client.auth(mqtt::ReasonCode::ContinueAuthentication,
                                scram::bytes_of(*final));
        if (!sent.ok()) {
          std::fprintf(stderr, "auth: %s\n", sent.error().message.c_str());
          return 1;
        }
      } else if (a->reason_code == mqtt::ReasonCode::Success && reauthenticating) {
        std::string why;
        if (!scram->verify_server_final(data_of(a->properties), &why)) {
          std::fprintf(stderr, "re-authentication: %s\n", why.c_str());
          return 1;
        }
        std::printf("re-authenticated\n");
        (void)client.disconnect();
        reauthenticating = false;
      }
    } else if (const auto* ack = std::get_if<mqtt::codec::ConnAck>(&in->packet())) {
      std::string why;
      if (!scram->verify_server_final(data_of(ack->properties), &why)) {
        std::fprintf(stderr, "the broker did not prove the password: %s\n", why.c_str());
        return 1;
      }
      std::printf("authenticated as %s\n", user.c_str());
      if (!reauth) {
        (void)client.disconnect();
        continue;
      }
      scram = std::make_unique<scram::Client>(user, password);
      const std::string first = scram->client_first();
      reauthenticating = true;
      if (!client.auth(mqtt::ReasonCode::ReAuthenticate, scram::bytes_of(first)).ok()) return 1;
    }
  }
  return connection.ended() ? 0 : 1;
}
