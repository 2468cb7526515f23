// TCP implementation of transport::Stream.
//
// Host names: a numeric address (IPv4/IPv6 literal) is used directly. Any
// other name is resolved with getaddrinfo() on the resolver pool
// (resolver.h), whose completion makes fd() readable, so the reactor never
// blocks on DNS.
//
// Several addresses (a name with IPv6 and IPv4 addresses, or several of one
// family): Happy Eyeballs, RFC 8305. The families are interleaved (section 4)
// and a new attempt starts every `attempt_delay` while the earlier ones are
// still pending, or at once when one fails; the first to connect wins and
// the others are closed. So one black-holed address costs attempt_delay, not
// the whole connect timeout. The caller's timeout (the driver's
// connect_timeout) bounds the whole connect, resolution included.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "transport/stream.h"

namespace transport::tcp {

struct Options {
  std::string host;
  uint16_t port = 0;
  bool nodelay = true;      // TCP_NODELAY
  int send_buffer = 0;      // SO_SNDBUF if > 0
  int receive_buffer = 0;   // SO_RCVBUF if > 0
  // Local address to bind before connecting (IPv4 or IPv6 literal, port 0);
  // empty: the kernel chooses. Addresses of the other family are skipped.
  std::string bind_address = {};
  // Happy Eyeballs "Connection Attempt Delay" (RFC 8305 section 5): how long
  // an attempt may stay pending before the next address is tried alongside
  // it. 250 ms is the RFC's recommendation; 0 starts every address at once;
  // milliseconds::max() tries one address at a time (the next only when the
  // previous fails).
  std::chrono::milliseconds attempt_delay{250};
  // Non-empty: connect to these IP literals (tried in this order after the
  // family interleaving) instead of resolving `host`, which then only names
  // the peer in messages. For callers that resolved the name themselves, and
  // for tests. A non-literal entry fails the connect (ErrorKind::Connect).
  std::vector<std::string> addresses = {};
};

// Starts connecting (never blocks). Call connect() on the result until it
// returns Ok or Error.
std::unique_ptr<Stream> open(const Options& options);

// Wraps an already connected, non-blocking socket (tests, adopted sockets).
std::unique_ptr<Stream> adopt(int fd);

}  // namespace transport::tcp
