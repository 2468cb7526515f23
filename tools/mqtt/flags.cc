#include "tools/mqtt/flags.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "mqtt/url.h"
#include "tools/mqtt/exit_codes.h"

namespace mqtt::cli {

namespace {

// OpenSSL's TLS1_x_VERSION values, without pulling in its headers.
constexpr int kTls12 = 0x0303;
constexpr int kTls13 = 0x0304;

bool is_long(std::string_view a) { return a.size() > 2 && a[0] == '-' && a[1] == '-'; }

}  // namespace

std::string_view Args::next() {
  inline_.reset();
  std::string_view a = argv_[i_++];
  if (is_long(a)) {
    if (auto eq = a.find('='); eq != std::string_view::npos) {
      inline_ = std::string(a.substr(eq + 1));
      return a.substr(0, eq);
    }
  }
  return a;
}

std::optional<std::string> Args::value(std::string_view option) {
  if (inline_) {
    std::string v = std::move(*inline_);
    inline_.reset();
    return v;
  }
  if (i_ >= argc_) {
    fail(std::string(option) + " needs a value");
    return std::nullopt;
  }
  return std::string(argv_[i_++]);
}

std::optional<uint64_t> Args::uint_value(std::string_view option, uint64_t lo, uint64_t hi) {
  auto v = value(option);
  if (!v) return std::nullopt;
  auto n = parse_uint(*v, lo, hi);
  if (!n) {
    fail("bad value \"" + *v + "\" for " + std::string(option) + " (" + std::to_string(lo) + ".." +
         std::to_string(hi) + ")");
  }
  return n;
}

std::optional<double> Args::number_value(std::string_view option, double lo, double hi) {
  auto v = value(option);
  if (!v) return std::nullopt;
  auto n = parse_number(*v, lo, hi);
  if (!n) {
    char range[64];
    std::snprintf(range, sizeof range, " (%g..%g)", lo, hi);
    fail("bad value \"" + *v + "\" for " + std::string(option) + range);
  }
  return n;
}

std::optional<QoS> Args::qos_value(std::string_view option) {
  auto v = value(option);
  if (!v) return std::nullopt;
  auto q = parse_qos(*v);
  if (!q) fail("bad QoS \"" + *v + "\" (0, 1 or 2)");
  return q;
}

std::optional<int> parse_command(int argc, char** argv, std::string_view command,
                                 const char* help, ConnectFlags& conn, const FlagHandler& own) {
  Args args(argc, argv);
  while (!args.done() && args.error().empty()) {
    std::string_view a = args.next();
    if (a == "--help") {
      std::printf("%s%s", help, kConnectHelp);
      return kExitOk;
    }
    if (!conn.parse(a, args) && !own(a, args)) {
      args.fail(a.size() > 1 && a[0] == '-' ? "unknown option " + std::string(a)
                                              : "unexpected argument \"" + std::string(a) + "\"");
    }
    if (args.has_inline_value()) args.fail(std::string(a) + " takes no value");
  }
  if (!args.error().empty()) return usage_error(command, args.error());
  return std::nullopt;
}

std::optional<uint64_t> parse_uint(std::string_view s, uint64_t lo, uint64_t hi) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

std::optional<double> parse_number(std::string_view s, double lo, double hi) {
  if (s.empty() || s.size() > 40) return std::nullopt;
  std::string text(s);
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v) || v < lo || v > hi) {
    return std::nullopt;
  }
  return v;
}

std::optional<QoS> parse_qos(std::string_view s) {
  auto v = parse_uint(s, 0, 2);
  if (!v) return std::nullopt;
  return static_cast<QoS>(*v);
}

int usage_error(std::string_view sub, std::string_view message) {
  std::fprintf(stderr, "mqtt %.*s: %.*s\nTry 'mqtt %.*s --help'.\n", static_cast<int>(sub.size()),
               sub.data(), static_cast<int>(message.size()), message.data(),
               static_cast<int>(sub.size()), sub.data());
  return kExitUsage;
}

// ---------------------------------------------------------------------------
// -D COMMAND IDENTIFIER VALUE

bool PropertyFlags::parse(Args& args) {
  auto command = args.value("-D");
  auto id = command ? args.value("-D " + *command) : std::nullopt;
  auto v = id ? args.value("-D " + *command + " " + *id) : std::nullopt;
  if (!v) return false;
  codec::Properties* p = nullptr;
  if (*command == "connect") p = &connect;
  if (*command == "publish") p = &publish;
  if (*command == "subscribe") p = &subscribe;
  if (*command == "will") p = &will;
  if (*command == "disconnect") p = &disconnect;
  if (!p) {
    args.fail("-D: unknown command \"" + *command +
              "\" (connect, publish, subscribe, will or disconnect)");
    return false;
  }
  any = true;
  auto keep = [&](std::string s) -> std::string_view { return storage.emplace_back(std::move(s)); };
  auto number = [&](uint64_t hi) -> std::optional<uint64_t> {
    auto n = parse_uint(*v, 0, hi);
    if (!n) args.fail("-D " + *command + " " + *id + ": bad value \"" + *v + "\"");
    return n;
  };
  const std::string& c = *command;
  const bool pub_or_will = c == "publish" || c == "will";
  if (*id == "user-property") {
    auto value = args.value("-D " + c + " user-property " + *v);
    if (!value) return false;
    p->user_properties.push_back({keep(*v), keep(*value)});
  } else if (*id == "payload-format-indicator" && c == "publish") {
    if (auto n = number(1)) p->payload_format_indicator = static_cast<uint8_t>(*n);
  } else if (*id == "message-expiry-interval" && pub_or_will) {
    if (auto n = number(UINT32_MAX)) p->message_expiry_interval = static_cast<uint32_t>(*n);
  } else if (*id == "content-type" && pub_or_will) {
    p->content_type = keep(*v);
  } else if (*id == "response-topic" && c == "publish") {
    p->response_topic = keep(*v);
  } else if (*id == "correlation-data" && c == "publish") {
    p->correlation_data = codec::as_bytes(keep(*v));
  } else if (*id == "topic-alias" && c == "publish") {
    if (auto n = number(65535)) p->topic_alias = static_cast<uint16_t>(*n);
  } else if (*id == "subscription-identifier" && c == "subscribe") {
    if (auto n = number(268435455)) p->subscription_identifiers.push_back(static_cast<uint32_t>(*n));
  } else if (*id == "session-expiry-interval" && (c == "connect" || c == "disconnect")) {
    if (auto n = number(UINT32_MAX)) p->session_expiry_interval = static_cast<uint32_t>(*n);
  } else if (*id == "receive-maximum" && c == "connect") {
    if (auto n = number(65535)) p->receive_maximum = static_cast<uint16_t>(*n);
  } else if (*id == "topic-alias-maximum" && c == "connect") {
    if (auto n = number(65535)) p->topic_alias_maximum = static_cast<uint16_t>(*n);
  } else if (*id == "maximum-packet-size" && c == "connect") {
    if (auto n = number(UINT32_MAX)) p->maximum_packet_size = static_cast<uint32_t>(*n);
  } else if (*id == "request-response-information" && c == "connect") {
    if (auto n = number(1)) p->request_response_information = static_cast<uint8_t>(*n);
  } else if (*id == "will-delay-interval" && c == "will") {
    if (auto n = number(UINT32_MAX)) p->will_delay_interval = static_cast<uint32_t>(*n);
  } else if (*id == "reason-string" && c == "disconnect") {
    p->reason_string = keep(*v);
  } else {
    args.fail("-D: property \"" + *id + "\" is not supported for " + c +
              " (the -D list in --help says which are)");
    return false;
  }
  return args.error().empty();
}

// ---------------------------------------------------------------------------
// Connection flags

const char* const kConnectHelp =
    "Broker and connection:\n"
    "  -h, --host HOST        broker host (default localhost)\n"
    "  -p, --port PORT        broker port (default 1883; 8883 with TLS)\n"
    "  -L, --url URL          broker URL: mqtt://, mqtts://, ws://, wss://, unix:///path,\n"
    "                         with user:password@ if wanted (repeat for a broker list).\n"
    "                         mqtt[s]://host/TOPIC also sets the topic, as in mosquitto -L.\n"
    "      --unix PATH        connect to a Unix domain socket\n"
    "  -V, --protocol-version 311|5  MQTT version (default 311; also mqttv311, mqttv5)\n"
    "  -i, --id ID            client id (default PREFIX-PID)\n"
    "  -I, --id-prefix PREFIX client id PREFIX-PID\n"
    "  -u, --username USER    user name\n"
    "  -P, --pw PASSWORD      password\n"
    "  -k, --keepalive SECS   keep alive (default 60, 0 = off)\n"
    "  -c, --disable-clean-session  keep the session (MQTT 5: expiry -x, default never)\n"
    "  -x, --session-expiry SECS    MQTT 5 session expiry interval\n"
    "  -A, --bind ADDRESS     local address to connect from\n"
    "      --connect-timeout SECS   TCP + TLS + CONNACK must take less (default 10)\n"
    "  -D, --property COMMAND IDENTIFIER VALUE   MQTT 5 property (needs -V 5):\n"
    "                         connect: user-property K V, session-expiry-interval,\n"
    "                           receive-maximum, topic-alias-maximum,\n"
    "                           maximum-packet-size, request-response-information\n"
    "                         publish: user-property K V, payload-format-indicator,\n"
    "                           message-expiry-interval, content-type, response-topic,\n"
    "                           correlation-data, topic-alias\n"
    "                         subscribe: user-property K V, subscription-identifier\n"
    "                         will: user-property K V, will-delay-interval,\n"
    "                           message-expiry-interval, content-type\n"
    "                         disconnect: user-property K V, session-expiry-interval,\n"
    "                           reason-string\n"
    "Last Will:\n"
    "      --will-topic TOPIC  --will-payload TEXT  --will-qos 0|1|2  --will-retain\n"
    "TLS (any of these turns TLS on):\n"
    "      --cafile FILE      trusted CA certificates (PEM)\n"
    "      --capath DIR       hashed directory of CA certificates\n"
    "      --cert FILE        client certificate (PEM)\n"
    "      --key FILE         client private key (PEM)\n"
    "      --key-passphrase P passphrase of an encrypted --key\n"
    "      --insecure         do not check that the certificate names the host\n"
    "      --tls-version tlsv1.2|tlsv1.3   only this TLS version\n"
    "      --tls-alpn PROTO   offer this ALPN protocol (repeatable)\n"
    "      --tls-use-os-certs trust the system's CA store\n"
    "      --tls              TLS with the system's CA store (as an mqtts:// URL)\n"
    "Proxy and WebSocket:\n"
    "      --proxy URL        socks5://[user:pass@]host[:port] or http://[user:pass@]host:port\n"
    "      --ws-header 'Name: value'   extra header on the WebSocket upgrade (ws:// URLs)\n"
    "Output:\n"
    "      --json             JSON lines instead of text\n"
    "      --quiet            no error messages\n"
    "  -d, --debug            say on stderr when connected and subscribed\n";

bool ConnectFlags::parse(std::string_view f, Args& args) {
  auto str = [&](std::optional<std::string>& out) {
    if (auto v = args.value(f)) out = std::move(*v);
  };
  auto num = [&](uint64_t lo, uint64_t hi) { return args.uint_value(f, lo, hi); };
  if (f == "-h" || f == "--host") {
    str(host);
  } else if (f == "-p" || f == "--port") {
    if (auto n = num(1, 65535)) port = static_cast<uint16_t>(*n);
  } else if (f == "-L" || f == "--url") {
    if (auto v = args.value(f)) url = url ? *url + "," + *v : *v;
  } else if (f == "--unix") {
    str(unix_path);
  } else if (f == "-V" || f == "--protocol-version") {
    auto v = args.value(f);
    if (!v) return true;
    if (*v == "5" || *v == "mqttv5" || *v == "5.0") {
      version = ProtocolVersion::V5;
    } else if (*v == "311" || *v == "mqttv311" || *v == "3.1.1" || *v == "4") {
      version = ProtocolVersion::V311;
    } else {
      args.fail("unknown protocol version \"" + *v + "\" (use 311 or 5)");
    }
  } else if (f == "-i" || f == "--id") {
    str(client_id);
  } else if (f == "-I" || f == "--id-prefix") {
    str(id_prefix);
  } else if (f == "-u" || f == "--username") {
    str(username);
  } else if (f == "-P" || f == "--pw" || f == "--password") {
    str(password);
  } else if (f == "-k" || f == "--keepalive") {
    if (auto n = num(0, 65535)) keep_alive = static_cast<uint16_t>(*n);
  } else if (f == "-c" || f == "--disable-clean-session") {
    clean = false;
  } else if (f == "-x" || f == "--session-expiry") {
    if (auto n = num(0, UINT32_MAX)) session_expiry = static_cast<uint32_t>(*n);
  } else if (f == "-A" || f == "--bind") {
    if (auto v = args.value(f)) bind_address = *v;
  } else if (f == "--connect-timeout") {
    if (auto n = args.number_value(f, 0.001, 3600)) connect_timeout_s = *n;
  } else if (f == "-D" || f == "--property") {
    props.parse(args);
  } else if (f == "--will-topic") {
    str(will_topic);
  } else if (f == "--will-payload") {
    str(will_payload);
  } else if (f == "--will-qos") {
    if (auto q = args.qos_value(f)) will_qos = *q;
  } else if (f == "--will-retain") {
    will_retain = true;
  } else if (f == "--cafile") {
    str(cafile);
  } else if (f == "--capath") {
    str(capath);
  } else if (f == "--cert") {
    str(cert);
  } else if (f == "--key") {
    str(key);
  } else if (f == "--key-passphrase") {
    str(key_passphrase);
  } else if (f == "--insecure") {
    insecure = true;
  } else if (f == "--tls-version") {
    str(tls_version);
    if (tls_version && *tls_version != "tlsv1.2" && *tls_version != "tlsv1.3") {
      args.fail("unknown --tls-version \"" + *tls_version + "\" (tlsv1.2 or tlsv1.3)");
    }
  } else if (f == "--tls-alpn") {
    if (auto v = args.value(f)) alpn.push_back(*v);
  } else if (f == "--tls-use-os-certs") {
    tls_use_os_certs = true;
  } else if (f == "--tls") {
    tls = true;
  } else if (f == "--proxy") {
    str(proxy);
  } else if (f == "--ws-header") {
    if (auto v = args.value(f)) {
      auto colon = v->find(':');
      if (colon == std::string::npos || colon == 0) {
        args.fail("--ws-header wants 'Name: value', not \"" + *v + "\"");
      } else {
        size_t start = v->find_first_not_of(' ', colon + 1);
        ws_headers.push_back({v->substr(0, colon), start == std::string::npos ? "" : v->substr(start)});
      }
    }
  } else if (f == "--json") {
    json = true;
  } else if (f == "--quiet") {
    quiet = true;
  } else if (f == "-d" || f == "--debug") {
    debug = true;
  } else {
    return false;
  }
  return true;
}

namespace {

// socks5://[user:pass@]host[:port] (also socks5h), http://[user:pass@]host[:port].
Result<ProxyOptions, std::string> parse_proxy(std::string_view url) {
  using R = Result<ProxyOptions, std::string>;
  auto bad = [&](std::string why) { return R(unexpected("--proxy " + std::string(url) + ": " + why)); };
  ProxyOptions p;
  auto sep = url.find("://");
  if (sep == std::string_view::npos) return bad("expected socks5://host:port or http://host:port");
  std::string_view scheme = url.substr(0, sep), rest = url.substr(sep + 3);
  if (scheme == "socks5" || scheme == "socks5h") {
    p.kind = ProxyOptions::Kind::Socks5;
    p.port = 1080;
  } else if (scheme == "http") {
    p.kind = ProxyOptions::Kind::HttpConnect;
    p.port = 8080;
  } else {
    return bad("unknown scheme \"" + std::string(scheme) + "\" (socks5, socks5h or http)");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view user = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = user.find(':');
    p.username = std::string(user.substr(0, colon));
    if (colon != std::string_view::npos) p.password = std::string(user.substr(colon + 1));
  }
  std::string_view port;
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return bad("unclosed [");
    p.host = std::string(rest.substr(1, close - 1));
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return bad("junk after ]");
      port = rest.substr(close + 2);
    }
  } else {
    auto colon = rest.rfind(':');
    p.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  if (p.host.empty()) return bad("no host");
  if (!port.empty()) {
    auto n = parse_uint(port, 1, 65535);
    if (!n) return bad("bad port \"" + std::string(port) + "\"");
    p.port = static_cast<uint16_t>(*n);
  }
  return p;
}

// mosquitto's -L mqtt://host/topic: the path of an mqtt[s]:// URL is a topic.
// Returns the URL without it.
std::string split_url_topic(const std::string& url, std::string* topic) {
  auto sep = url.find("://");
  if (sep == std::string::npos) return url;
  std::string scheme = url.substr(0, sep);
  if (scheme != "mqtt" && scheme != "mqtts" && scheme != "tcp" && scheme != "ssl" &&
      scheme != "tls") {
    return url;
  }
  auto slash = url.find('/', sep + 3);
  if (slash == std::string::npos) return url;
  if (slash + 1 < url.size()) *topic = url.substr(slash + 1);
  return url.substr(0, slash);
}

}  // namespace

std::string ConnectFlags::url_topic() const {
  std::string topic;
  if (url) split_url_topic(url->substr(0, url->find(',')), &topic);
  return topic;
}

Result<MqttOptions, std::string> ConnectFlags::options(std::string_view tool) const {
  using R = Result<MqttOptions, std::string>;
  auto err = [](std::string m) { return R(unexpected(std::move(m))); };
  MqttOptions o;
  o.host = "localhost";
  o.port = 1883;
  if (url) {
    std::string list;
    size_t start = 0;
    while (start <= url->size()) {
      size_t comma = url->find(',', start);
      if (comma == std::string::npos) comma = url->size();
      std::string ignored_topic;
      if (!list.empty()) list += ",";
      list += split_url_topic(url->substr(start, comma - start), &ignored_topic);
      start = comma + 1;
    }
    if (auto r = apply_url_list(o, list); !r.ok()) return err("--url: " + r.error());
  }
  if (host) o.host = *host;
  const bool want_tls = tls || cafile || capath || cert || key || insecure || tls_version ||
                        !alpn.empty() || tls_use_os_certs;
  if (want_tls) {
    TlsOptions t = o.tls.value_or(TlsOptions{});
    if (cafile) t.ca_file = *cafile;
    if (capath) t.ca_dir = *capath;
    if (cert) t.cert_file = *cert;
    if (key) t.key_file = *key;
    if (key_passphrase) t.key_passphrase = *key_passphrase;
    if (tls_use_os_certs) t.system_store = true;
    if (insecure) t.verify_host = false;
    if (tls_version) t.min_version = t.max_version = *tls_version == "tlsv1.3" ? kTls13 : kTls12;
    t.alpn = alpn;
    if (!url && !port) o.port = 8883;
    o.tls = std::move(t);
  }
  if (port) o.port = *port;
  if (unix_path) o.unix_path = *unix_path;
  if (proxy) {
    auto p = parse_proxy(*proxy);
    if (!p.ok()) return err(p.error());
    o.proxy = std::move(*p);
  }
  if (!ws_headers.empty()) {
    if (!o.websocket) return err("--ws-header needs a ws:// or wss:// --url");
    o.websocket->headers = ws_headers;
  }
  if (username) o.username = *username;
  if (password) o.password = *password;
  if (password && !o.username) return err("-P needs -u (a password without a user name)");
  o.protocol = version;
  if (client_id) {
    o.client_id = *client_id;
  } else {
    o.client_id = (id_prefix ? *id_prefix : std::string(tool)) + "-" + std::to_string(getpid());
  }
  o.keep_alive = std::chrono::seconds(keep_alive);
  o.clean_session = clean;
  o.bind_address = bind_address;
  o.connect_timeout = std::chrono::milliseconds(static_cast<int64_t>(connect_timeout_s * 1000));
  if (version == ProtocolVersion::V5) {
    if (session_expiry) o.session_expiry_interval_s = *session_expiry;
    else if (!clean) o.session_expiry_interval_s = UINT32_MAX;  // as mosquitto: never expires
  } else if (session_expiry) {
    return err("-x (session expiry) needs -V 5");
  }
  if (props.any && version != ProtocolVersion::V5) {
    return err("-D properties need MQTT 5 (-V 5)");
  }
  const codec::Properties& c = props.connect;
  for (const auto& up : c.user_properties) {
    o.connect_user_properties.push_back({std::string(up.key), std::string(up.value)});
  }
  if (c.session_expiry_interval) o.session_expiry_interval_s = *c.session_expiry_interval;
  if (c.receive_maximum) o.receive_maximum = *c.receive_maximum;
  if (c.topic_alias_maximum) o.topic_alias_maximum = *c.topic_alias_maximum;
  if (c.maximum_packet_size) o.max_incoming_packet_size = *c.maximum_packet_size;
  if (c.request_response_information) o.request_response_information = *c.request_response_information == 1;
  if (will_topic) {
    LastWill w;
    w.topic = *will_topic;
    w.payload = will_payload.value_or("");
    w.qos = will_qos;
    w.retain = will_retain;
    const codec::Properties& wp = props.will;
    if (wp.will_delay_interval) w.delay_interval_s = *wp.will_delay_interval;
    if (wp.message_expiry_interval) w.message_expiry_interval_s = *wp.message_expiry_interval;
    if (wp.content_type) w.content_type = std::string(*wp.content_type);
    for (const auto& up : wp.user_properties) {
      w.user_properties.push_back({std::string(up.key), std::string(up.value)});
    }
    o.last_will = std::move(w);
  } else if (will_payload || will_retain || !props.will.empty()) {
    return err("--will-payload, --will-qos, --will-retain and -D will need --will-topic");
  }
  // A command-line run reports a refused or lost connection and ends; the
  // first reconnect waits are kept short for `sub`, which rides out drops.
  o.backoff.initial = std::chrono::milliseconds(200);
  o.backoff.max = std::chrono::milliseconds(5000);
  if (std::string why = validate(o); !why.empty()) return err(why);
  return o;
}

}  // namespace mqtt::cli
