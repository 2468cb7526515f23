// SCRAM-SHA-256 (RFC 5802, RFC 7677), the client side, for MQTT 5 enhanced
// authentication with Authentication Method "SCRAM-SHA-256". OpenSSL does
// the cryptography (PBKDF2-HMAC-SHA-256, HMAC, SHA-256, RAND_bytes).
//
//   scram::Client c("user", "pencil");
//   options.authentication_method = "SCRAM-SHA-256";
//   options.authentication_data = c.client_first();      // CONNECT
//   // Incoming(Auth 0x18) with server-first in its Authentication Data:
//   auto final = c.client_final(server_first);           // -> Client::auth(0x18, final)
//   // CONNACK (or AUTH Success when re-authenticating) with server-final:
//   bool ok = c.verify_server_final(server_final);
//
// Limits: no channel binding (gs2 header "n,,"), and no SASLprep of the
// user name and password (pass them already prepared; ASCII is safe).
// One object per exchange (re-authentication starts a new one).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace scram {

using Digest = std::array<uint8_t, 32>;

// Primitives (also used by tests that play the server's side).
std::string base64_encode(std::span<const uint8_t> in);
std::optional<std::string> base64_decode(std::string_view in);
Digest sha256(std::span<const uint8_t> in);
Digest hmac_sha256(std::span<const uint8_t> key, std::string_view data);
Digest salted_password(std::string_view password, std::span<const uint8_t> salt,
                       uint32_t iterations);
// `bytes` random bytes as printable characters without ',' (a nonce).
std::string random_nonce(size_t bytes = 18);
// RFC 5802 5.1: '=' -> "=3D", ',' -> "=2C".
std::string escape_name(std::string_view name);
inline std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class Client {
 public:
  // `nonce` empty: a random one (RAND_bytes). Tests pass a fixed one.
  Client(std::string user, std::string password, std::string nonce = {});

  // client-first-message: "n,,n=<user>,r=<nonce>".
  std::string client_first() const;
  // client-final-message for the server-first-message, or nullopt with
  // *error set (malformed message, nonce not extending ours, iteration
  // count below 4096 (RFC 7677) or absurdly high).
  std::optional<std::string> client_final(std::string_view server_first,
                                          std::string* error = nullptr);
  // True when server-final-message proves the server knows the password
  // ("v=" with the expected signature); false with *error ("e=" from the
  // server, malformed, wrong signature, or client_final() not done).
  bool verify_server_final(std::string_view server_final, std::string* error = nullptr) const;

 private:
  std::string user_, password_, nonce_;
  std::string expected_server_signature_;  // base64, set by client_final()
};

}  // namespace scram
