// Command-line parsing shared by the `mqtt` subcommands: a cursor over argv,
// number parsing, and the connection flags every networked subcommand takes
// (mosquitto_pub/sub names: -h -p -u -P -i -k -V -c ..., --url, --will-*,
// TLS, proxy, MQTT 5 -D properties), turned into MqttOptions.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mqtt/client.h"
#include "mqtt/options.h"
#include "mqtt/result.h"

namespace mqtt::cli {

// Walks argv. Long options also take "--name=value".
class Args {
 public:
  Args(int argc, char** argv) : argc_(argc), argv_(argv) {}
  bool done() const { return i_ >= argc_; }
  // The next argument; a "--name=value" gives "--name" and keeps the value
  // for value().
  std::string_view next();
  // The value of the option just read: its "=value" or the next argument;
  // nullopt (with error() set) when there is none.
  std::optional<std::string> value(std::string_view option);
  // The value as a number in [lo, hi] (a whole one for uint_value); nullopt
  // with error() naming the option and the range otherwise.
  std::optional<uint64_t> uint_value(std::string_view option, uint64_t lo, uint64_t hi);
  std::optional<double> number_value(std::string_view option, double lo, double hi);
  std::optional<QoS> qos_value(std::string_view option);
  // True when the option just read carried "=value" that nobody took.
  bool has_inline_value() const { return inline_.has_value(); }
  const std::string& error() const { return error_; }
  void fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }

 private:
  int argc_;
  char** argv_;
  int i_ = 1;
  std::optional<std::string> inline_;
  std::string error_;
};

// Strict parsers: the whole text must be a number in [lo, hi].
std::optional<uint64_t> parse_uint(std::string_view s, uint64_t lo, uint64_t hi);
std::optional<double> parse_number(std::string_view s, double lo, double hi);
std::optional<QoS> parse_qos(std::string_view s);

// MQTT 5 properties given with -D, per packet; strings are owned here (the
// deque never moves them) and the Properties view them.
struct PropertyFlags {
  std::deque<std::string> storage;
  codec::Properties connect, publish, subscribe, will, disconnect;
  bool any = false;
  // Parses "-D COMMAND IDENTIFIER VALUE [VALUE]" (user-property takes two).
  bool parse(Args& args);
};

struct ConnectFlags {
  std::optional<std::string> host, url, unix_path, username, password, client_id, id_prefix;
  std::optional<uint16_t> port;
  uint16_t keep_alive = 60;
  ProtocolVersion version = ProtocolVersion::V311;
  bool clean = true;
  std::optional<uint32_t> session_expiry;
  std::string bind_address;
  double connect_timeout_s = 10;
  std::optional<std::string> will_topic, will_payload;
  QoS will_qos = QoS::AtMostOnce;
  bool will_retain = false;
  // TLS
  std::optional<std::string> cafile, capath, cert, key, key_passphrase, tls_version;
  std::vector<std::string> alpn;
  bool insecure = false, tls_use_os_certs = false, tls = false;
  std::optional<std::string> proxy;
  std::vector<StringPair> ws_headers;
  PropertyFlags props;
  bool json = false;
  bool quiet = false;
  bool debug = false;  // -d: connection and subscription steps on stderr

  // Takes `flag` (already read from args) and its values when it is a
  // connection or output flag: true when taken (args.error() may then be
  // set), false when it is not one of these.
  bool parse(std::string_view flag, Args& args);
  // The options for Client::create(); an error message for inconsistent
  // flags (e.g. -D without -V 5, a bad --url). `tool` names the default
  // client id prefix, e.g. "mqtt-pub".
  Result<MqttOptions, std::string> options(std::string_view tool) const;
  // The topic in the path of the first mqtt[s]:// --url (mosquitto's -L
  // mqtt://host/TOPIC); empty when none.
  std::string url_topic() const;
};

// Takes a subcommand's own flag (and its values) when it is one: true when
// taken (args.error() may then be set), false when unknown.
using FlagHandler = std::function<bool(std::string_view flag, Args& args)>;

// The argument loop of `mqtt COMMAND`: --help (prints `help` and the
// connection flags' help), the connection flags, then `own`; anything else
// is a usage error. nullopt when all were taken; otherwise the exit status
// (0 after --help, kExitUsage after reporting the problem).
std::optional<int> parse_command(int argc, char** argv, std::string_view command,
                                 const char* help, ConnectFlags& conn, const FlagHandler& own);

// The help text of the flags ConnectFlags takes.
extern const char* const kConnectHelp;

// Prints "mqtt SUB: message" and a hint to stderr; returns kExitUsage.
int usage_error(std::string_view sub, std::string_view message);

}  // namespace mqtt::cli
