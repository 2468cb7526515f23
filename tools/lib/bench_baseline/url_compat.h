// Compatibility shim for tools/bench_baseline.sh ONLY: copied as mqtt/url.h
// into a throw-away copy of an old commit (0038861) that has neither
// mqtt/url.h nor Client::try_create(), so that the CURRENT tools/client_bench
// compiles against that old library. Never part of the library itself.
//
// - parse_broker_url / apply_url: mqtt:// and tcp:// only (the fake-broker
//   scenarios use mqtt://127.0.0.1:PORT); every other scheme is an error
//   (the old library has no TLS or WebSocket transport).
// - mqtt_baseline_compat::try_create: Client::create() with its exception
//   turned into an error value, as the newer Client::try_create() reports it.
//   bench_baseline.sh rewrites "mqtt::Client::try_create(" to it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "mqtt/client.h"
#include "mqtt/options.h"
#include "mqtt/result.h"

namespace mqtt {

struct BrokerUrl {
  enum class Scheme : uint8_t { Mqtt, Mqtts, Ws, Wss, Unix };
  Scheme scheme = Scheme::Mqtt;
  std::string host;
  uint16_t port = 0;
  std::string path;
  std::optional<std::string> username;
  std::optional<std::string> password;
};

inline Result<BrokerUrl, std::string> parse_broker_url(std::string_view url) {
  BrokerUrl u;
  std::string_view rest;
  if (url.substr(0, 7) == "mqtt://") {
    rest = url.substr(7);
  } else if (url.substr(0, 6) == "tcp://") {
    rest = url.substr(6);
  } else {
    return unexpected(std::string("baseline build (compat shim): only mqtt:// and tcp:// URLs"));
  }
  if (auto slash = rest.find('/'); slash != std::string_view::npos) rest = rest.substr(0, slash);
  if (rest.find('@') != std::string_view::npos || rest.empty() || rest.front() == '[')
    return unexpected(std::string("baseline build (compat shim): only host[:port], no user info or IPv6"));
  u.port = 1883;
  if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    unsigned long p = 0;
    const auto digits = rest.substr(colon + 1);
    if (digits.empty() || digits.size() > 5) return unexpected(std::string("bad port"));
    for (char ch : digits) {
      if (ch < '0' || ch > '9') return unexpected(std::string("bad port"));
      p = p * 10 + static_cast<unsigned long>(ch - '0');
    }
    if (p == 0 || p > 65535) return unexpected(std::string("bad port"));
    u.port = static_cast<uint16_t>(p);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return unexpected(std::string("no host"));
  u.host = std::string(rest);
  return u;
}

inline Result<void, std::string> apply_url(MqttOptions& options, std::string_view url) {
  auto u = parse_broker_url(url);
  if (!u) return unexpected(u.error());
  options.host = u->host;
  options.port = u->port;
  return {};
}

}  // namespace mqtt

namespace mqtt_baseline_compat {

struct CreateError {
  std::string message;
};

inline mqtt::Result<std::pair<mqtt::Client, mqtt::Connection>, CreateError> try_create(
    const mqtt::MqttOptions& options, std::size_t capacity) {
  try {
    return mqtt::Client::create(options, capacity);
  } catch (const std::exception& e) {
    return mqtt::unexpected(CreateError{e.what()});
  }
}

}  // namespace mqtt_baseline_compat
