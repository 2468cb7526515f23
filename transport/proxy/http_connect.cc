#include "transport/proxy/http_connect.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string_view>
#include <vector>

#include "transport/proxy/handshake_stream.h"

namespace transport::proxy {

std::string base64(const std::string& in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (uint32_t{static_cast<uint8_t>(in[i])} << 16) |
                       (uint32_t{static_cast<uint8_t>(in[i + 1])} << 8) |
                       uint32_t{static_cast<uint8_t>(in[i + 2])};
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const size_t rest = in.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t{static_cast<uint8_t>(in[i])} << 16;
    if (rest == 2) v |= uint32_t{static_cast<uint8_t>(in[i + 1])} << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

namespace {

class HttpConnectStream final : public detail::HandshakeStream {
 public:
  HttpConnectStream(std::unique_ptr<Stream> inner, const HttpConnectOptions& o)
      : HandshakeStream(std::move(inner), "HTTP CONNECT", o.target_host, o.target_port),
        username_(o.username),
        password_(o.password) {}

 private:
  Status start() override {
    std::string request = "CONNECT " + target() + " HTTP/1.1\r\nHost: " + target() + "\r\n";
    if (username_) {
      request += "Proxy-Authorization: Basic " + base64(*username_ + ":" + password_.value_or("")) +
                 "\r\n";
    }
    request += "\r\n";
    send(std::vector<uint8_t>(request.begin(), request.end()));
    return Status::Ok;
  }

  Status receive() override {
    uint8_t buf[2048];
    const size_t room = kMaxResponseHeader + sizeof buf - response_.size();
    const IoResult r = inner().read({buf, std::min(sizeof buf, room)});
    if (r.status == Status::WouldBlock) return Status::WouldBlock;
    if (r.status == Status::Closed) {
      return fail(response_.empty() ? "the proxy closed the connection without answering"
                                    : "the proxy closed the connection after a partial answer");
    }
    if (r.status != Status::Ok) return inner_failed();
    // Look for the end of the header block only in the new bytes (and the 3
    // before them).
    const size_t from = response_.size() >= 3 ? response_.size() - 3 : 0;
    response_.append(reinterpret_cast<const char*>(buf), r.bytes);
    const size_t end = response_.find("\r\n\r\n", from);
    if (end == std::string::npos ? response_.size() > kMaxResponseHeader
                                 : end + 4 > kMaxResponseHeader) {
      return fail("the proxy's answer has no end of headers within " +
                  std::to_string(kMaxResponseHeader) + " bytes");
    }
    if (end == std::string::npos) return Status::Ok;  // read on
    std::vector<uint8_t> tunnel(response_.begin() + static_cast<std::ptrdiff_t>(end + 4),
                                response_.end());
    response_.resize(end);
    return evaluate(std::move(tunnel));
  }

  Status evaluate(std::vector<uint8_t> tunnel) {
    const size_t eol = response_.find("\r\n");
    const std::string status_line = response_.substr(0, eol);
    // "HTTP/1.x SSS reason"
    if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.") ||
        status_line[8] != ' ' || !std::isdigit(static_cast<unsigned char>(status_line[9])) ||
        !std::isdigit(static_cast<unsigned char>(status_line[10])) ||
        !std::isdigit(static_cast<unsigned char>(status_line[11])) ||
        (status_line.size() > 12 && status_line[12] != ' ')) {
      return fail("malformed answer from the proxy: \"" + printable(status_line) + "\"");
    }
    const int code = (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 +
                     (status_line[11] - '0');
    if (code >= 200 && code < 300) {
      response_ = {};
      open(std::move(tunnel));
      return Status::Ok;
    }
    std::string hint;
    switch (code) {
      case 407: hint = "proxy authentication required"; break;
      case 401: hint = "proxy authentication failed"; break;
      case 403: hint = "the proxy refused the connection (forbidden)"; break;
      case 500: hint = "proxy error (it may have failed to reach " + target() + ")"; break;
      case 502:
      case 503:
      case 504: hint = "the proxy could not reach " + target(); break;
      default: hint = "the proxy refused the tunnel"; break;
    }
    return fail(hint + ": \"" + printable(status_line) + "\"");
  }

  static std::string printable(const std::string& s) {
    std::string out;
    for (char c : s.substr(0, 200)) {
      const auto u = static_cast<unsigned char>(c);
      out += (u >= 0x20 && u < 0x7f) ? c : '?';
    }
    return out;
  }

  std::optional<std::string> username_;
  std::optional<std::string> password_;
  std::string response_;
};

}  // namespace

std::unique_ptr<Stream> http_connect(std::unique_ptr<Stream> to_proxy,
                                     const HttpConnectOptions& options) {
  return std::make_unique<HttpConnectStream>(std::move(to_proxy), options);
}

}  // namespace transport::proxy
