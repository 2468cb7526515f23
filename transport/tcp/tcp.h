// TCP implementation of transport::Stream.
//
// Host names: a numeric address (IPv4/IPv6 literal) is used directly. Any
// other name is resolved with getaddrinfo() on a short-lived resolver thread
// (getaddrinfo blocks), whose completion makes fd() readable, so the reactor
// never blocks on DNS. Addresses are tried in order until one connects.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

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
};

// Starts connecting (never blocks). Call connect() on the result until it
// returns Ok or Error.
std::unique_ptr<Stream> open(const Options& options);

// Wraps an already connected, non-blocking socket (tests, adopted sockets).
std::unique_ptr<Stream> adopt(int fd);

}  // namespace transport::tcp
