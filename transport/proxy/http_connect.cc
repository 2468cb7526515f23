#include "transport/proxy/http_connect.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string_view>
#include <vector>

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

std::string authority(const std::string& host, uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos && !host.starts_with('[');
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

class HttpConnectStream final : public Stream {
 public:
  HttpConnectStream(std::unique_ptr<Stream> inner, const HttpConnectOptions& o)
      : inner_(std::move(inner)), target_(authority(o.target_host, o.target_port)) {
    request_ = "CONNECT " + target_ + " HTTP/1.1\r\nHost: " + target_ + "\r\n";
    if (o.username) {
      request_ += "Proxy-Authorization: Basic " +
                  base64(*o.username + ":" + o.password.value_or("")) + "\r\n";
    }
    request_ += "\r\n";
  }
  ~HttpConnectStream() override { close(); }

  int fd() const override { return inner_ ? inner_->fd() : -1; }

  Interest interest() const override {
    switch (phase_) {
      case Phase::Inner:
      case Phase::Open: return inner_ ? inner_->interest() : Interest{};
      case Phase::Sending: return {false, true};
      case Phase::Receiving: return {true, false};
      default: return {};
    }
  }

  Status connect() override {
    for (int step = 0; step < 256; ++step) {
      switch (phase_) {
        case Phase::Open: return Status::Ok;
        case Phase::Failed:
        case Phase::Closed: return Status::Error;
        case Phase::Inner: {
          const Status st = inner_->connect();
          if (st == Status::Ok) {
            phase_ = Phase::Sending;
            break;
          }
          if (st == Status::Error) return inner_failed();
          return st;  // WouldBlock
        }
        case Phase::Sending: {
          const std::string_view rest = std::string_view(request_).substr(sent_);
          const IoResult r =
              inner_->write({reinterpret_cast<const uint8_t*>(rest.data()), rest.size()});
          if (r.status == Status::WouldBlock) return Status::WouldBlock;
          if (r.status == Status::Closed) return fail("the proxy closed the connection");
          if (r.status != Status::Ok) return inner_failed();
          sent_ += r.bytes;
          if (sent_ == request_.size()) phase_ = Phase::Receiving;
          break;
        }
        case Phase::Receiving: {
          uint8_t buf[2048];
          const size_t room = kMaxResponseHeader + sizeof buf - response_.size();
          const IoResult r = inner_->read({buf, std::min(sizeof buf, room)});
          if (r.status == Status::WouldBlock) return Status::WouldBlock;
          if (r.status == Status::Closed) {
            return fail(response_.empty()
                            ? "the proxy closed the connection without answering"
                            : "the proxy closed the connection after a partial answer");
          }
          if (r.status != Status::Ok) return inner_failed();
          // Look for the end of the header block only in the new bytes (and
          // the 3 before them).
          const size_t from = response_.size() >= 3 ? response_.size() - 3 : 0;
          response_.append(reinterpret_cast<const char*>(buf), r.bytes);
          const size_t end = response_.find("\r\n\r\n", from);
          if (end == std::string::npos) {
            if (response_.size() > kMaxResponseHeader)
              return fail("the proxy's answer has no end of headers within " +
                          std::to_string(kMaxResponseHeader) + " bytes");
            break;
          }
          if (end + 4 > kMaxResponseHeader)
            return fail("the proxy's answer has no end of headers within " +
                        std::to_string(kMaxResponseHeader) + " bytes");
          tunnel_.assign(response_.begin() + static_cast<std::ptrdiff_t>(end + 4),
                         response_.end());
          response_.resize(end);
          return evaluate();
        }
      }
    }
    return Status::WouldBlock;  // bounded: yield to the reactor, call again
  }

  bool connected() const override { return phase_ == Phase::Open; }

  IoResult read(std::span<uint8_t> buf) override {
    if (phase_ != Phase::Open) return {Status::Error, 0};
    if (tunnel_pos_ < tunnel_.size()) {
      if (buf.empty()) return {Status::Ok, 0};
      const size_t n = std::min(buf.size(), tunnel_.size() - tunnel_pos_);
      std::memcpy(buf.data(), tunnel_.data() + tunnel_pos_, n);
      tunnel_pos_ += n;
      if (tunnel_pos_ == tunnel_.size()) {
        tunnel_.clear();
        tunnel_.shrink_to_fit();
        tunnel_pos_ = 0;
      }
      return {Status::Ok, n};
    }
    return inner_->read(buf);
  }
  IoResult write(std::span<const uint8_t> buf) override {
    if (phase_ != Phase::Open) return {Status::Error, 0};
    return inner_->write(buf);
  }
  IoResult writev(std::span<const std::span<const uint8_t>> bufs) override {
    if (phase_ != Phase::Open) return {Status::Error, 0};
    return inner_->writev(bufs);
  }

  void close() override {
    if (inner_) inner_->close();
    if (phase_ != Phase::Failed) phase_ = Phase::Closed;
  }

  const Error& error() const override {
    if (error_.kind != ErrorKind::None || !inner_) return error_;
    return inner_->error();
  }

 private:
  enum class Phase : uint8_t { Inner, Sending, Receiving, Open, Failed, Closed };

  Status evaluate() {
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
      response_.clear();
      response_.shrink_to_fit();
      request_.clear();
      phase_ = Phase::Open;
      return Status::Ok;
    }
    std::string hint;
    switch (code) {
      case 407: hint = "proxy authentication required"; break;
      case 401: hint = "proxy authentication failed"; break;
      case 403: hint = "the proxy refused the connection (forbidden)"; break;
      case 500: hint = "proxy error (it may have failed to reach " + target_ + ")"; break;
      case 502:
      case 503:
      case 504: hint = "the proxy could not reach " + target_; break;
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

  Status fail(const std::string& why) {
    error_.kind = ErrorKind::Connect;
    error_.sys_errno = 0;
    error_.message = "HTTP CONNECT to " + target_ + " via proxy failed: " + why;
    phase_ = Phase::Failed;
    if (inner_) inner_->close();
    return Status::Error;
  }

  Status inner_failed() {
    error_ = inner_->error();
    if (error_.kind == ErrorKind::None) error_.kind = ErrorKind::Connect;
    error_.message = "HTTP CONNECT via proxy: " + error_.message;
    phase_ = Phase::Failed;
    inner_->close();
    return Status::Error;
  }

  std::unique_ptr<Stream> inner_;
  std::string target_;
  std::string request_;
  size_t sent_ = 0;
  std::string response_;
  std::vector<uint8_t> tunnel_;  // bytes after the header block
  size_t tunnel_pos_ = 0;
  Phase phase_ = Phase::Inner;
  Error error_;
};

}  // namespace

std::unique_ptr<Stream> http_connect(std::unique_ptr<Stream> to_proxy,
                                     const HttpConnectOptions& options) {
  return std::make_unique<HttpConnectStream>(std::move(to_proxy), options);
}

}  // namespace transport::proxy
