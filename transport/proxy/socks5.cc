#include "transport/proxy/socks5.h"

#include <arpa/inet.h>

#include <cstdio>
#include <vector>

#include "transport/proxy/handshake_stream.h"

namespace transport::proxy {

std::string socks5_reply_text(uint8_t code) {
  switch (code) {
    case 0x00: return "succeeded";
    case 0x01: return "general SOCKS server failure";
    case 0x02: return "connection not allowed by ruleset";
    case 0x03: return "network unreachable";
    case 0x04: return "host unreachable";
    case 0x05: return "connection refused";
    case 0x06: return "TTL expired";
    case 0x07: return "command not supported";
    case 0x08: return "address type not supported";
    default: return "unassigned reply code";
  }
}

namespace {

std::string hex(uint8_t v) {
  char b[8];
  std::snprintf(b, sizeof b, "0x%02X", v);
  return b;
}

class Socks5Stream final : public detail::HandshakeStream {
 public:
  Socks5Stream(std::unique_ptr<Stream> inner, Socks5Options o)
      : HandshakeStream(std::move(inner), "SOCKS5 connect", o.target_host, o.target_port),
        o_(std::move(o)) {}

 private:
  enum class Awaiting : uint8_t { Method, Auth, Reply };

  void send_awaiting(std::vector<uint8_t> bytes, Awaiting next) {
    awaiting_ = next;
    send(std::move(bytes));
  }

  void on_sent() override {
    in_.clear();
    need_ = 2;  // every answer starts with at least 2 bytes
  }

  Status start() override {
    if (o_.username && (o_.username->empty() || o_.username->size() > 255 ||
                        o_.password.value_or("").size() > 255)) {
      return fail("username and password must be 1..255 and 0..255 bytes (RFC 1929)");
    }
    if (o_.username) {
      send_awaiting({0x05, 0x02, 0x00, 0x02}, Awaiting::Method);
    } else {
      send_awaiting({0x05, 0x01, 0x00}, Awaiting::Method);
    }
    return Status::Ok;
  }

  Status receive() override {
    const size_t have = in_.size();
    in_.resize(need_);
    const IoResult r = inner().read({in_.data() + have, need_ - have});
    if (r.status != Status::Ok) in_.resize(have);
    if (r.status == Status::WouldBlock) return Status::WouldBlock;
    if (r.status == Status::Closed) {
      return fail(std::string("the proxy closed the connection ") +
                  (awaiting_ == Awaiting::Method
                       ? "after the greeting (is it a SOCKS5 proxy?)"
                       : awaiting_ == Awaiting::Auth ? "during authentication"
                                                     : "before answering CONNECT"));
    }
    if (r.status != Status::Ok) return inner_failed();
    in_.resize(have + r.bytes);
    if (in_.size() < need_) return Status::Ok;
    return on_answer();
  }

  Status send_request() {
    std::vector<uint8_t> req{0x05, 0x01, 0x00};
    std::string host = o_.target_host;
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
    uint8_t a4[4];
    uint8_t a6[16];
    if (::inet_pton(AF_INET, host.c_str(), a4) == 1) {
      req.push_back(0x01);
      req.insert(req.end(), a4, a4 + 4);
    } else if (::inet_pton(AF_INET6, host.c_str(), a6) == 1) {
      req.push_back(0x04);
      req.insert(req.end(), a6, a6 + 16);
    } else {
      if (host.empty() || host.size() > 255) return fail("the host name must be 1..255 bytes long");
      req.push_back(0x03);
      req.push_back(static_cast<uint8_t>(host.size()));
      req.insert(req.end(), host.begin(), host.end());
    }
    req.push_back(static_cast<uint8_t>(o_.target_port >> 8));
    req.push_back(static_cast<uint8_t>(o_.target_port & 0xff));
    send_awaiting(std::move(req), Awaiting::Reply);
    return Status::Ok;
  }

  Status on_answer() {
    switch (awaiting_) {
      case Awaiting::Method: {
        if (in_[0] != 0x05)
          return fail("malformed answer to the greeting (version " + hex(in_[0]) +
                      "; is it a SOCKS5 proxy?)");
        const uint8_t method = in_[1];
        if (method == 0x00) return send_request();
        if (method == 0x02 && o_.username) {
          std::vector<uint8_t> auth{0x01};
          const std::string pass = o_.password.value_or("");
          auth.push_back(static_cast<uint8_t>(o_.username->size()));
          auth.insert(auth.end(), o_.username->begin(), o_.username->end());
          auth.push_back(static_cast<uint8_t>(pass.size()));
          auth.insert(auth.end(), pass.begin(), pass.end());
          send_awaiting(std::move(auth), Awaiting::Auth);
          return Status::Ok;
        }
        if (method == 0xFF)
          return fail(std::string("no acceptable authentication method (0xFF); offered ") +
                      (o_.username ? "none and username/password" : "none only"));
        return fail("the proxy chose an authentication method that was not offered (" +
                    hex(method) + ")");
      }
      case Awaiting::Auth: {
        if (in_[0] != 0x01)
          return fail("malformed answer to authentication (version " + hex(in_[0]) + ")");
        if (in_[1] != 0x00)
          return fail("authentication refused (status " + hex(in_[1]) + ") for user \"" +
                      *o_.username + "\"");
        return send_request();
      }
      case Awaiting::Reply: {
        if (in_[0] != 0x05)
          return fail("malformed reply to CONNECT (version " + hex(in_[0]) + ")");
        if (in_[1] != 0x00)
          return fail("the proxy could not connect to " + target() + ": reply " + hex(in_[1]) +
                      " (" + socks5_reply_text(in_[1]) + ")");
        if (need_ == 2) {  // then VER REP RSV ATYP + the first address byte
          need_ = 5;
          return Status::Ok;
        }
        if (need_ == 5) {
          size_t total = 0;
          switch (in_[3]) {
            case 0x01: total = 4 + 4 + 2; break;
            case 0x04: total = 4 + 16 + 2; break;
            case 0x03: total = 4 + 1 + in_[4] + 2; break;
            default:
              return fail("malformed reply to CONNECT (address type " + hex(in_[3]) + ")");
          }
          if (total > in_.size()) {
            need_ = total;
            return Status::Ok;
          }
        }
        in_ = {};
        open();  // the reply was read exactly: no tunnel bytes taken
        return Status::Ok;
      }
    }
    return fail("internal state error");
  }

  Socks5Options o_;
  std::vector<uint8_t> in_;
  size_t need_ = 0;
  Awaiting awaiting_ = Awaiting::Method;
};

}  // namespace

std::unique_ptr<Stream> socks5(std::unique_ptr<Stream> to_proxy, const Socks5Options& options) {
  return std::make_unique<Socks5Stream>(std::move(to_proxy), options);
}

}  // namespace transport::proxy
