#include "transport/proxy/handshake_stream.h"

#include <algorithm>
#include <cstring>

namespace transport::proxy::detail {

std::string authority(const std::string& host, uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos && !host.starts_with('[');
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

HandshakeStream::HandshakeStream(std::unique_ptr<Stream> inner, std::string name,
                                 const std::string& host, uint16_t port)
    : inner_(std::move(inner)), name_(std::move(name)), target_(authority(host, port)) {}

HandshakeStream::~HandshakeStream() { close(); }

int HandshakeStream::fd() const { return inner_ ? inner_->fd() : -1; }

Interest HandshakeStream::interest() const {
  switch (phase_) {
    case Phase::Inner:
    case Phase::Open: return inner_ ? inner_->interest() : Interest{};
    case Phase::Sending: return {false, true};
    case Phase::Receiving: return {true, false};
    default: return {};
  }
}

Status HandshakeStream::connect() {
  for (int step = 0; step < 256; ++step) {
    switch (phase_) {
      case Phase::Open: return Status::Ok;
      case Phase::Failed:
      case Phase::Closed: return Status::Error;
      case Phase::Inner: {
        const Status st = inner_->connect();
        if (st == Status::Error) return inner_failed();
        if (st != Status::Ok) return st;
        if (start() == Status::Error) return Status::Error;
        break;
      }
      case Phase::Sending: {
        const IoResult r = inner_->write({out_.data() + sent_, out_.size() - sent_});
        if (r.status == Status::WouldBlock) return Status::WouldBlock;
        if (r.status == Status::Closed) return fail("the proxy closed the connection");
        if (r.status != Status::Ok) return inner_failed();
        sent_ += r.bytes;
        if (sent_ == out_.size()) {
          phase_ = Phase::Receiving;
          on_sent();
        }
        break;
      }
      case Phase::Receiving: {
        const Status st = receive();
        if (st != Status::Ok) return st;
        break;
      }
    }
  }
  return Status::WouldBlock;  // bounded: yield to the reactor, call again
}

IoResult HandshakeStream::read(std::span<uint8_t> buf) {
  if (phase_ != Phase::Open) return {Status::Error, 0};
  if (leftover_pos_ < leftover_.size()) {
    if (buf.empty()) return {Status::Ok, 0};
    const size_t n = std::min(buf.size(), leftover_.size() - leftover_pos_);
    std::memcpy(buf.data(), leftover_.data() + leftover_pos_, n);
    leftover_pos_ += n;
    if (leftover_pos_ == leftover_.size()) {
      leftover_ = {};
      leftover_pos_ = 0;
    }
    return {Status::Ok, n};
  }
  return inner_->read(buf);
}

IoResult HandshakeStream::write(std::span<const uint8_t> buf) {
  if (phase_ != Phase::Open) return {Status::Error, 0};
  return inner_->write(buf);
}

IoResult HandshakeStream::writev(std::span<const std::span<const uint8_t>> bufs) {
  if (phase_ != Phase::Open) return {Status::Error, 0};
  return inner_->writev(bufs);
}

void HandshakeStream::close() {
  if (inner_) inner_->close();
  if (phase_ != Phase::Failed) phase_ = Phase::Closed;
}

const Error& HandshakeStream::error() const {
  if (error_.kind != ErrorKind::None || !inner_) return error_;
  return inner_->error();
}

void HandshakeStream::send(std::vector<uint8_t> bytes) {
  out_ = std::move(bytes);
  sent_ = 0;
  phase_ = Phase::Sending;
}

void HandshakeStream::open(std::vector<uint8_t> leftover) {
  out_ = {};
  leftover_ = std::move(leftover);
  leftover_pos_ = 0;
  phase_ = Phase::Open;
}

Status HandshakeStream::fail(const std::string& why) {
  error_.kind = ErrorKind::Connect;
  error_.sys_errno = 0;
  error_.message = name_ + " to " + target_ + " via proxy failed: " + why;
  phase_ = Phase::Failed;
  if (inner_) inner_->close();
  return Status::Error;
}

Status HandshakeStream::inner_failed() {
  error_ = inner_->error();
  if (error_.kind == ErrorKind::None) error_.kind = ErrorKind::Connect;
  error_.message = name_ + " via proxy: " + error_.message;
  phase_ = Phase::Failed;
  inner_->close();
  return Status::Error;
}

}  // namespace transport::proxy::detail
