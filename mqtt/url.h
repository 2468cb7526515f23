// Broker URLs: "mqtt://user:pass@broker.example:1883", "unix:///run/mqtt.sock".
//
//   mqtt::MqttOptions o;
//   o.client_id = "sensor-7";
//   if (auto r = mqtt::apply_url(o, "mqtt://[::1]:1884"); !r.ok()) std::cerr << r.error();
//
// Syntax: scheme://[user[:password]@]host[:port][/path]. Schemes and default
// ports: mqtt / tcp (1883); mqtts / ssl / tls (8883: sets options.tls, with
// the system trust store unless options.tls was already set); ws (80) and
// wss (443: also sets options.tls) set options.websocket, whose path is the
// URL's path and query ("/" when none). unix://PATH
// names a Unix domain socket (unix:///run/mqtt.sock; unix://@name for the
// abstract namespace). IPv6 literals go in brackets. User and password are
// percent-decoded. Pure functions: any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mqtt/options.h"
#include "mqtt/result.h"

namespace mqtt {

struct BrokerUrl {
  enum class Scheme : uint8_t { Mqtt, Mqtts, Ws, Wss, Unix };
  Scheme scheme = Scheme::Mqtt;
  std::string host;  // without brackets for IPv6 literals; empty for unix
  uint16_t port = 0; // the scheme's default when the URL has none; 0 for unix
  std::string path;  // ws/wss: the HTTP path ("/" when none); unix: the socket path
  std::optional<std::string> username;
  std::optional<std::string> password;
};

// Parses `url`; the error says what is wrong and where.
Result<BrokerUrl, std::string> parse_broker_url(std::string_view url);

// Sets options' host, port (or unix_path), TLS on or off, and, when the URL
// has them, the user name and password. Leaves `options` unchanged on error.
Result<void, std::string> apply_url(MqttOptions& options, std::string_view url);

}  // namespace mqtt
