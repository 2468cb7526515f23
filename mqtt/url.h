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
#include <vector>

#include "mqtt/options.h"
#include "mqtt/result.h"

namespace mqtt {

// A parsed broker URL (parse_broker_url()).
struct BrokerUrl {
  // The scheme family: mqtt/tcp, mqtts/ssl/tls, ws, wss, unix.
  enum class Scheme : uint8_t { Mqtt, Mqtts, Ws, Wss, Unix };
  Scheme scheme = Scheme::Mqtt;  // the URL's scheme family
  std::string host;  // without brackets for IPv6 literals; empty for unix
  uint16_t port = 0; // the scheme's default when the URL has none; 0 for unix
  std::string path;  // ws/wss: the HTTP path ("/" when none); unix: the socket path
  std::optional<std::string> username;  // percent-decoded; none when absent
  std::optional<std::string> password;  // percent-decoded; none when absent
};

// Parses `url`; the error says what is wrong and where.
Result<BrokerUrl, std::string> parse_broker_url(std::string_view url);

// Sets options' host, port (or unix_path), TLS on or off, and, when the URL
// has them, the user name and password; clears options.brokers (this URL is
// the one broker). Leaves `options` unchanged on error.
Result<void, std::string> apply_url(MqttOptions& options, std::string_view url);

// A broker list (MqttOptions::brokers: tried in turn, failover between the
// nodes of a cluster):
//
//   mqtt::apply_urls(options, {"mqtts://a.example", "mqtts://b.example:8884"});
//   mqtt::apply_url_list(options, "mqtt://10.0.0.1, mqtt://10.0.0.2:1884");
//
// Every URL must be of the same scheme family (mqtt/tcp, mqtts/ssl/tls, ws,
// wss, or unix), since TLS and WebSocket settings are shared by the list;
// ws/wss URLs must have the same path, and user info, where given, must be
// the same. The first URL sets the shared options as apply_url() does;
// options.brokers gets one entry per URL (none for a list of one: then
// host/port are used, as with apply_url()). apply_url_list() takes the URLs
// separated by commas (whitespace around them is ignored; a comma inside a
// URL must be percent-encoded, %2C). The error names the offending URL;
// `options` is left unchanged on error.
// @{
Result<void, std::string> apply_urls(MqttOptions& options, const std::vector<std::string>& urls);
Result<void, std::string> apply_url_list(MqttOptions& options, std::string_view list);
// @}

}  // namespace mqtt
