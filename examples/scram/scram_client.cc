// SCRAM-SHA-256 client (RFC 5802 section 3 and 5, RFC 7677).
#include "examples/scram/scram_client.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <stdexcept>
#include <vector>

namespace scram {

std::string base64_encode(std::span<const uint8_t> in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), in.data(),
                                static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out(3 * in.size() / 4, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  size_t len = static_cast<size_t>(n);
  // EVP_DecodeBlock keeps the bytes of the '=' padding.
  if (!in.empty() && in.back() == '=') --len;
  if (in.size() >= 2 && in[in.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

Digest sha256(std::span<const uint8_t> in) {
  Digest d{};
  SHA256(in.data(), in.size(), d.data());
  return d;
}

Digest hmac_sha256(std::span<const uint8_t> key, std::string_view data) {
  Digest d{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), d.data(), &len);
  return d;
}

Digest salted_password(std::string_view password, std::span<const uint8_t> salt,
                       uint32_t iterations) {
  Digest d{};
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                        static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                        static_cast<int>(d.size()), d.data()) != 1) {
    throw std::runtime_error("PKCS5_PBKDF2_HMAC failed");
  }
  return d;
}

std::string random_nonce(size_t bytes) {
  std::vector<uint8_t> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return base64_encode(raw);  // printable, no ','
}

std::string escape_name(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == '=') {
      out += "=3D";
    } else if (c == ',') {
      out += "=2C";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

// The value of attribute `key` ("r", "s", "i", "v", "e") in a
// comma-separated SCRAM message.
std::optional<std::string_view> attribute(std::string_view msg, char key) {
  size_t pos = 0;
  while (pos <= msg.size()) {
    const size_t end = std::min(msg.find(',', pos), msg.size());
    const std::string_view part = msg.substr(pos, end - pos);
    if (part.size() >= 2 && part[0] == key && part[1] == '=') return part.substr(2);
    pos = end + 1;
  }
  return std::nullopt;
}

bool set_error(std::string* error, std::string what) {
  if (error) *error = std::move(what);
  return false;
}

}  // namespace

Client::Client(std::string user, std::string password, std::string nonce)
    : user_(std::move(user)),
      password_(std::move(password)),
      nonce_(nonce.empty() ? random_nonce() : std::move(nonce)) {}

std::string Client::client_first() const { return "n,,n=" + escape_name(user_) + ",r=" + nonce_; }

std::optional<std::string> Client::client_final(std::string_view server_first,
                                                std::string* error) {
  const auto r = attribute(server_first, 'r');
  const auto s = attribute(server_first, 's');
  const auto i = attribute(server_first, 'i');
  if (!r || !s || !i) {
    set_error(error, "server-first-message without r, s or i");
    return std::nullopt;
  }
  if (r->size() <= nonce_.size() || r->substr(0, nonce_.size()) != nonce_) {
    set_error(error, "server nonce does not extend the client's");
    return std::nullopt;
  }
  const auto salt = base64_decode(*s);
  if (!salt || salt->empty()) {
    set_error(error, "salt is not base64");
    return std::nullopt;
  }
  uint64_t iterations = 0;
  for (char c : *i) {
    if (c < '0' || c > '9' || iterations > 10'000'000) {
      set_error(error, "bad iteration count");
      return std::nullopt;
    }
    iterations = iterations * 10 + static_cast<uint64_t>(c - '0');
  }
  if (iterations < 4096 || iterations > 10'000'000) {
    set_error(error, "iteration count " + std::string(*i) + " outside 4096..10000000");
    return std::nullopt;
  }
  const Digest salted =
      salted_password(password_, bytes_of(*salt), static_cast<uint32_t>(iterations));
  const Digest client_key = hmac_sha256(salted, "Client Key");
  const Digest stored_key = sha256(client_key);
  const std::string without_proof = "c=biws,r=" + std::string(*r);
  const std::string client_first_bare = "n=" + escape_name(user_) + ",r=" + nonce_;
  const std::string auth_message =
      client_first_bare + "," + std::string(server_first) + "," + without_proof;
  const Digest signature = hmac_sha256(stored_key, auth_message);
  Digest proof{};
  for (size_t k = 0; k < proof.size(); ++k) proof[k] = client_key[k] ^ signature[k];
  const Digest server_key = hmac_sha256(salted, "Server Key");
  expected_server_signature_ = base64_encode(hmac_sha256(server_key, auth_message));
  return without_proof + ",p=" + base64_encode(proof);
}

bool Client::verify_server_final(std::string_view server_final, std::string* error) const {
  if (expected_server_signature_.empty()) return set_error(error, "client_final() not done");
  if (const auto e = attribute(server_final, 'e')) {
    return set_error(error, "server error: " + std::string(*e));
  }
  const auto v = attribute(server_final, 'v');
  if (!v) return set_error(error, "server-final-message without v");
  if (*v != expected_server_signature_) return set_error(error, "server signature mismatch");
  return true;
}

}  // namespace scram
