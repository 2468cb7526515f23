#include "transport/proxy/socks5.h"

#include <arpa/inet.h>

#include <cstdio>
#include <vector>

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

class Socks5Stream final : public Stream {
 public:
  Socks5Stream(std::unique_ptr<Stream> inner, Socks5Options o)
      : inner_(std::move(inner)), o_(std::move(o)) {
    const bool v6 = o_.target_host.find(':') != std::string::npos &&
                    !o_.target_host.starts_with('[');
    target_ = (v6 ? "[" + o_.target_host + "]" : o_.target_host) + ":" +
              std::to_string(o_.target_port);
  }
  ~Socks5Stream() override { close(); }

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
          if (st == Status::Error) return inner_failed();
          if (st != Status::Ok) return st;
          if (!start_greeting()) return Status::Error;
          break;
        }
        case Phase::Sending: {
          const IoResult r = inner_->write({out_.data() + sent_, out_.size() - sent_});
          if (r.status == Status::WouldBlock) return Status::WouldBlock;
          if (r.status == Status::Closed) return failed("the proxy closed the connection");
          if (r.status != Status::Ok) return inner_failed();
          sent_ += r.bytes;
          if (sent_ == out_.size()) {
            in_.clear();
            need_ = 2;  // every answer starts with at least 2 bytes
            phase_ = Phase::Receiving;
          }
          break;
        }
        case Phase::Receiving: {
          const size_t have = in_.size();
          in_.resize(need_);
          const IoResult r = inner_->read({in_.data() + have, need_ - have});
          if (r.status != Status::Ok) in_.resize(have);
          if (r.status == Status::WouldBlock) return Status::WouldBlock;
          if (r.status == Status::Closed) {
            return failed(std::string("the proxy closed the connection ") +
                        (awaiting_ == Awaiting::Method
                             ? "after the greeting (is it a SOCKS5 proxy?)"
                             : awaiting_ == Awaiting::Auth ? "during authentication"
                                                           : "before answering CONNECT"));
          }
          if (r.status != Status::Ok) return inner_failed();
          in_.resize(have + r.bytes);
          if (in_.size() < need_) break;
          if (!on_answer()) return Status::Error;
          break;
        }
      }
    }
    return Status::WouldBlock;  // bounded: yield to the reactor, call again
  }

  bool connected() const override { return phase_ == Phase::Open; }

  IoResult read(std::span<uint8_t> buf) override {
    if (phase_ != Phase::Open) return {Status::Error, 0};
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
  enum class Awaiting : uint8_t { Method, Auth, Reply };

  void send(std::vector<uint8_t> bytes, Awaiting next) {
    out_ = std::move(bytes);
    sent_ = 0;
    awaiting_ = next;
    phase_ = Phase::Sending;
  }

  bool start_greeting() {
    if (o_.username && (o_.username->empty() || o_.username->size() > 255 ||
                        o_.password.value_or("").size() > 255)) {
      fail("username and password must be 1..255 and 0..255 bytes (RFC 1929)");
      return false;
    }
    if (o_.username) {
      send({0x05, 0x02, 0x00, 0x02}, Awaiting::Method);
    } else {
      send({0x05, 0x01, 0x00}, Awaiting::Method);
    }
    return true;
  }

  bool send_request() {
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
      if (host.empty() || host.size() > 255) {
        fail("the host name must be 1..255 bytes long");
        return false;
      }
      req.push_back(0x03);
      req.push_back(static_cast<uint8_t>(host.size()));
      req.insert(req.end(), host.begin(), host.end());
    }
    req.push_back(static_cast<uint8_t>(o_.target_port >> 8));
    req.push_back(static_cast<uint8_t>(o_.target_port & 0xff));
    send(std::move(req), Awaiting::Reply);
    return true;
  }

  bool on_answer() {
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
          send(std::move(auth), Awaiting::Auth);
          return true;
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
          return fail("the proxy could not connect to " + target_ + ": reply " + hex(in_[1]) +
                      " (" + socks5_reply_text(in_[1]) + ")");
        if (need_ == 2) {  // then VER REP RSV ATYP + the first address byte
          need_ = 5;
          return true;
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
            return true;
          }
        }
        out_.clear();
        in_.clear();
        phase_ = Phase::Open;
        return true;
      }
    }
    return fail("internal state error");
  }

  bool fail(const std::string& why) {
    error_.kind = ErrorKind::Connect;
    error_.sys_errno = 0;
    error_.message = "SOCKS5 connect to " + target_ + " via proxy failed: " + why;
    phase_ = Phase::Failed;
    if (inner_) inner_->close();
    return false;
  }

  Status failed(const std::string& why) {
    fail(why);
    return Status::Error;
  }

  Status inner_failed() {
    error_ = inner_->error();
    if (error_.kind == ErrorKind::None) error_.kind = ErrorKind::Connect;
    error_.message = "SOCKS5 via proxy: " + error_.message;
    phase_ = Phase::Failed;
    inner_->close();
    return Status::Error;
  }

  std::unique_ptr<Stream> inner_;
  Socks5Options o_;
  std::string target_;
  std::vector<uint8_t> out_;
  size_t sent_ = 0;
  std::vector<uint8_t> in_;
  size_t need_ = 0;
  Awaiting awaiting_ = Awaiting::Method;
  Phase phase_ = Phase::Inner;
  Error error_;
};

}  // namespace

std::unique_ptr<Stream> socks5(std::unique_ptr<Stream> to_proxy, const Socks5Options& options) {
  return std::make_unique<Socks5Stream>(std::move(to_proxy), options);
}

}  // namespace transport::proxy
