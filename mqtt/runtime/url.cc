#include "mqtt/url.h"

#include <cctype>

namespace mqtt {

namespace {

Unexpected<std::string> bad(std::string_view url, const std::string& why) {
  return unexpected("invalid broker URL \"" + std::string(url) + "\": " + why);
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;  // needs two hex digits
    const int h = hex(s[i + 1]), l = hex(s[i + 2]);
    if (h < 0 || l < 0) return std::nullopt;
    out += static_cast<char>(h * 16 + l);
    i += 2;
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Result<BrokerUrl, std::string> parse_broker_url(std::string_view url) {
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) return bad(url, "no scheme (expected e.g. mqtt://host)");
  const std::string scheme = lower(url.substr(0, sep));
  BrokerUrl u;
  if (scheme == "mqtt" || scheme == "tcp") {
    u.scheme = BrokerUrl::Scheme::Mqtt;
    u.port = 1883;
  } else if (scheme == "mqtts" || scheme == "ssl" || scheme == "tls") {
    u.scheme = BrokerUrl::Scheme::Mqtts;
    u.port = 8883;
  } else if (scheme == "ws") {
    u.scheme = BrokerUrl::Scheme::Ws;
    u.port = 80;
  } else if (scheme == "wss") {
    u.scheme = BrokerUrl::Scheme::Wss;
    u.port = 443;
  } else if (scheme == "unix") {
    u.scheme = BrokerUrl::Scheme::Unix;
  } else {
    return bad(url, "unknown scheme \"" + scheme + "\" (mqtt, mqtts, ws, wss, unix)");
  }
  std::string_view rest = url.substr(sep + 3);
  if (rest.find('#') != std::string_view::npos) return bad(url, "fragments (#) are not allowed");
  if (u.scheme == BrokerUrl::Scheme::Unix) {
    if (rest.empty()) return bad(url, "no socket path (expected unix:///path or unix://@name)");
    if (rest[0] != '/' && rest[0] != '@') return bad(url, "the socket path must start with / or @");
    u.path = std::string(rest);
    return u;
  }
  // authority = [userinfo@]host[:port], up to the first '/' or '?'.
  const size_t end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, end);
  std::string_view tail = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view info = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const size_t colon = info.find(':');
    auto user = percent_decode(info.substr(0, colon));
    if (!user) return bad(url, "bad percent-encoding in the user name");
    u.username = std::move(*user);
    if (colon != std::string_view::npos) {
      auto pass = percent_decode(info.substr(colon + 1));
      if (!pass) return bad(url, "bad percent-encoding in the password");
      u.password = std::move(*pass);
    }
  }
  std::string_view port_text;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad(url, "unclosed [ in the host");
    u.host = std::string(authority.substr(1, close - 1));
    if (u.host.empty() || u.host.find(':') == std::string::npos) {
      return bad(url, "brackets must hold an IPv6 address");
    }
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad(url, "unexpected text after ]");
      port_text = after.substr(1);
      if (port_text.empty()) return bad(url, "empty port");
    }
  } else {
    const size_t colon = authority.find(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return bad(url, "empty port");
    }
  }
  if (u.host.empty()) return bad(url, "no host");
  if (!port_text.empty()) {
    uint32_t p = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9' || p > 65535) return bad(url, "port is not a number from 1 to 65535");
      p = p * 10 + static_cast<uint32_t>(c - '0');
    }
    if (p == 0 || p > 65535) return bad(url, "port is not a number from 1 to 65535");
    u.port = static_cast<uint16_t>(p);
  }
  if (u.scheme == BrokerUrl::Scheme::Ws || u.scheme == BrokerUrl::Scheme::Wss) {
    u.path = tail.empty() ? "/" : std::string(tail);
  } else if (!tail.empty() && tail != "/") {
    return bad(url, "a path is only meaningful for ws:// and wss://");
  }
  return u;
}

Result<void, std::string> apply_url(MqttOptions& options, std::string_view url) {
  auto parsed = parse_broker_url(url);
  if (!parsed.ok()) return unexpected(parsed.error());
  BrokerUrl& u = parsed.value();
  switch (u.scheme) {
    case BrokerUrl::Scheme::Mqtt:
      options.host = u.host;
      options.port = u.port;
      options.unix_path.clear();
      options.tls.reset();
      options.websocket.reset();
      break;
    case BrokerUrl::Scheme::Unix:
      options.unix_path = u.path;
      break;
    case BrokerUrl::Scheme::Mqtts:
      options.host = u.host;
      options.port = u.port;
      options.unix_path.clear();
      if (!options.tls) options.tls = TlsOptions{};  // system trust store by default
      options.websocket.reset();
      break;
    case BrokerUrl::Scheme::Ws:
    case BrokerUrl::Scheme::Wss:
      options.host = u.host;
      options.port = u.port;
      options.unix_path.clear();
      // Headers and other WebSocket settings already set are kept.
      if (!options.websocket) options.websocket = WebSocketOptions{};
      options.websocket->path = u.path;
      if (u.scheme == BrokerUrl::Scheme::Ws) {
        options.tls.reset();
      } else if (!options.tls) {
        options.tls = TlsOptions{};
      }
      break;
  }
  if (u.username) options.username = u.username;
  if (u.password) options.password = u.password;
  options.brokers.clear();  // this URL is the one broker now
  return {};
}

namespace {

// Schemes that may share a broker list: their transport options (TLS,
// WebSocket) are shared by the list.
const char* family_name(BrokerUrl::Scheme s) {
  switch (s) {
    case BrokerUrl::Scheme::Mqtt: return "mqtt:// (tcp://)";
    case BrokerUrl::Scheme::Mqtts: return "mqtts:// (ssl://, tls://)";
    case BrokerUrl::Scheme::Ws: return "ws://";
    case BrokerUrl::Scheme::Wss: return "wss://";
    case BrokerUrl::Scheme::Unix: return "unix://";
  }
  return "?";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<void, std::string> apply_urls(MqttOptions& options, const std::vector<std::string>& urls) {
  if (urls.empty()) return unexpected(std::string("broker URL list is empty"));
  std::vector<BrokerUrl> parsed;
  for (const std::string& url : urls) {
    auto u = parse_broker_url(url);
    if (!u.ok()) return unexpected(u.error());
    parsed.push_back(std::move(u.value()));
  }
  const BrokerUrl& first = parsed.front();
  std::optional<std::string> user, pass;
  for (size_t i = 0; i < parsed.size(); ++i) {
    const BrokerUrl& u = parsed[i];
    const std::string where = "broker URL list: \"" + urls[i] + "\"";
    if (u.scheme != first.scheme) {
      return unexpected(where + " is " + family_name(u.scheme) + " but \"" + urls[0] + "\" is " +
                        family_name(first.scheme) +
                        ": every broker of a list uses the same transport (TLS and WebSocket "
                        "options are shared)");
    }
    if (u.path != first.path && u.scheme != BrokerUrl::Scheme::Unix) {
      return unexpected(where + " has the path \"" + u.path + "\" but \"" + urls[0] +
                        "\" has \"" + first.path + "\": the WebSocket path is shared by the list");
    }
    if ((u.username && user && *u.username != *user) ||
        (u.password && pass && *u.password != *pass)) {
      return unexpected(where + " has other credentials than an earlier URL: the user name and "
                        "password are shared by the list");
    }
    if (u.username) user = u.username;
    if (u.password) pass = u.password;
  }
  MqttOptions o = options;
  if (auto r = apply_url(o, urls[0]); !r.ok()) return r;
  if (user) o.username = user;
  if (pass) o.password = pass;
  if (parsed.size() > 1) {
    for (const BrokerUrl& u : parsed) {
      if (u.scheme == BrokerUrl::Scheme::Unix) {
        o.brokers.push_back(BrokerAddress{"", 0, u.path});
      } else {
        o.brokers.push_back(BrokerAddress{u.host, u.port, ""});
      }
    }
  }
  options = std::move(o);
  return {};
}

Result<void, std::string> apply_url_list(MqttOptions& options, std::string_view list) {
  std::vector<std::string> urls;
  for (;;) {
    const size_t comma = list.find(',');
    const std::string_view one = trim(list.substr(0, comma));
    if (one.empty()) {
      return unexpected("broker URL list \"" + std::string(list) +
                        "\": an empty entry (URLs are separated by single commas)");
    }
    urls.emplace_back(one);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return apply_urls(options, urls);
}

}  // namespace mqtt
