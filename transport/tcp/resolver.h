// Asynchronous getaddrinfo() for the TCP transport: the reactor never blocks
// on a name lookup. Internal to the TCP transport; public for its tests.
//
// Threads. getaddrinfo() blocks and cannot be interrupted, so lookups run on a
// small process-wide pool of JOINABLE worker threads (at most
// kMaxResolverThreads). A worker starts when a lookup is queued and ends as
// soon as the queue is empty: an idle process has no resolver thread. The
// result comes back through an eventfd that a reactor waits on with epoll.
//
//   AsyncResolver r("broker.example", 1883);   // queued; never blocks
//   wait until r.fd() is readable (or poll r.ready()), then read r.result()
//
// Abandoning a lookup (destroying its AsyncResolver, e.g. when the connect
// timeout expires or the Client goes away) never waits: a lookup still queued
// is dropped before it starts; one already running finishes on its worker and
// its result is thrown away.
//
// Exit. The first lookup registers an atexit() handler that drops what is
// queued and joins every worker, so no resolver thread outlives the process's
// static destruction (a detached thread could still be inside the C library
// then). A lookup still running at exit delays the exit until getaddrinfo()
// returns: at most the system resolver's own timeout (/etc/resolv.conf
// `timeout` x `attempts` per name server; 5 s x 2 by default). After fork()
// the child starts with an empty pool.
#pragma once

#include <netdb.h>
#include <sys/socket.h>

#include <cstddef>
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

// Most worker threads the pool runs at once; more lookups wait in its queue.
inline constexpr size_t kMaxResolverThreads = 8;

// Resolves a numeric host (IPv4/IPv6 literal) at once. False when `host` is
// not numeric (then use AsyncResolver).
bool resolve_numeric(const std::string& host, uint16_t port, ResolveResult& out);

// "127.0.0.1:1883", "[::1]:1883".
std::string to_string(const Address& a);

// RFC 8305 section 4: the addresses reordered so that the families alternate,
// starting with the family of the first one (getaddrinfo's RFC 6724 order
// puts IPv6 first when the host can use it); the order within a family is
// kept.
std::vector<Address> interleave_families(const std::vector<Address>& in);

// Resolver worker threads alive now (for tests and diagnostics).
size_t resolver_threads();

class AsyncResolver {
 public:
  // Queues the lookup on the pool. If no worker can be started (and none is
  // running), or the process is exiting, the result is ready at once with
  // EAI_SYSTEM.
  AsyncResolver(std::string host, uint16_t port);
  // Never waits: see "Abandoning a lookup" above.
  ~AsyncResolver();
  AsyncResolver(const AsyncResolver&) = delete;
  AsyncResolver& operator=(const AsyncResolver&) = delete;

  // Readable once the result is ready.
  int fd() const;
  bool ready() const;
  // Valid once ready().
  const ResolveResult& result() const;

  struct State;  // shared with the worker that runs the lookup

 private:
  std::shared_ptr<State> state_;
};

}  // namespace transport::tcp
