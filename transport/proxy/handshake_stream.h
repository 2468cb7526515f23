// Internal base of the proxy streams (HTTP CONNECT, SOCKS5): connect()
// drives the inner connect, then a handshake of messages sent to and
// answers read from the proxy; once open(), bytes pass through unchanged.
// Subclasses write only their protocol: start() queues the first message,
// receive() reads and parses answers. Not part of the public API.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "transport/stream.h"

namespace transport::proxy::detail {

// "host:port", with an IPv6 literal in brackets.
std::string authority(const std::string& host, uint16_t port);

class HandshakeStream : public Stream {
 public:
  // `name` starts every error message ("HTTP CONNECT", "SOCKS5").
  HandshakeStream(std::unique_ptr<Stream> inner, std::string name, const std::string& host,
                  uint16_t port);
  ~HandshakeStream() override;

  int fd() const final;
  Interest interest() const final;
  Status connect() final;
  bool connected() const final { return phase_ == Phase::Open; }
  IoResult read(std::span<uint8_t> buf) final;
  IoResult write(std::span<const uint8_t> buf) final;
  IoResult writev(std::span<const std::span<const uint8_t>> bufs) final;
  void close() final;
  const Error& error() const final;

 protected:
  // The inner stream is connected: send() the first message, or fail().
  virtual Status start() = 0;
  // Waiting for an answer: read from inner(). WouldBlock when it would block;
  // Ok after progress (a message sent with send(), the tunnel open(), or
  // just bytes taken); Error through fail() / inner_failed().
  virtual Status receive() = 0;
  // The message given to send() has been written; answers are read next.
  virtual void on_sent() {}

  void send(std::vector<uint8_t> bytes);
  // The handshake is done; `leftover` (bytes the proxy sent after its
  // answer) is returned by the first read().
  void open(std::vector<uint8_t> leftover = {});
  // ErrorKind::Connect: "NAME to host:port via proxy failed: why".
  Status fail(const std::string& why);
  // The inner stream failed: its error, prefixed "NAME via proxy: ".
  Status inner_failed();

  Stream& inner() { return *inner_; }
  const std::string& target() const { return target_; }

 private:
  enum class Phase : uint8_t { Inner, Sending, Receiving, Open, Failed, Closed };

  std::unique_ptr<Stream> inner_;
  std::string name_;
  std::string target_;
  std::vector<uint8_t> out_;
  size_t sent_ = 0;
  std::vector<uint8_t> leftover_;
  size_t leftover_pos_ = 0;
  Phase phase_ = Phase::Inner;
  Error error_;
};

}  // namespace transport::proxy::detail
