// Asynchronous getaddrinfo(): resolves on a short-lived detached thread and
// signals completion through an eventfd, so a reactor can wait for it with
// epoll. Internal to the TCP transport; public for its tests.
#pragma once

#include <netdb.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace transport::tcp {

struct Address {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = 0;
};

struct ResolveResult {
  int error = 0;  // 0 or an EAI_* code
  int sys_errno = 0;  // for EAI_SYSTEM
  std::vector<Address> addresses;
};

// Resolves a numeric host (IPv4/IPv6 literal) at once. False when `host` is
// not numeric (then use AsyncResolver).
bool resolve_numeric(const std::string& host, uint16_t port, ResolveResult& out);

class AsyncResolver {
 public:
  // Starts resolving on a new detached thread. If the thread cannot be
  // started the result is ready at once with EAI_SYSTEM.
  AsyncResolver(std::string host, uint16_t port);
  // Does not wait: an unfinished lookup completes on its thread and is dropped.
  ~AsyncResolver();
  AsyncResolver(const AsyncResolver&) = delete;
  AsyncResolver& operator=(const AsyncResolver&) = delete;

  // Readable once the result is ready.
  int fd() const;
  bool ready() const;
  // Valid once ready().
  const ResolveResult& result() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace transport::tcp
