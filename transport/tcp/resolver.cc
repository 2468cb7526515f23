#include "transport/tcp/resolver.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace transport::tcp {

namespace {

void fill(const addrinfo* list, ResolveResult& out) {
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_socktype != SOCK_STREAM) continue;
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    Address a;
    std::memcpy(&a.addr, ai->ai_addr, ai->ai_addrlen);
    a.len = ai->ai_addrlen;
    a.family = ai->ai_family;
    out.addresses.push_back(a);
  }
}

int lookup(const std::string& host, uint16_t port, int flags, ResolveResult& out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = flags | AI_NUMERICSERV;
  addrinfo* list = nullptr;
  const std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
  if (rc == 0) {
    fill(list, out);
    ::freeaddrinfo(list);
    if (out.addresses.empty()) rc = EAI_NONAME;
  } else if (rc == EAI_SYSTEM) {
    out.sys_errno = errno;
  }
  out.error = rc;
  return rc;
}

}  // namespace

bool resolve_numeric(const std::string& host, uint16_t port, ResolveResult& out) {
  out = ResolveResult{};
  // Bracketed IPv6 literals ("[::1]") are accepted too.
  std::string h = host;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  int rc = lookup(h, port, AI_NUMERICHOST, out);
  if (rc == EAI_NONAME) {
    out = ResolveResult{};
    return false;
  }
  return true;
}

struct AsyncResolver::State {
  int efd = -1;
  std::atomic<bool> done{false};
  ResolveResult result;
  ~State() {
    if (efd >= 0) ::close(efd);
  }
};

AsyncResolver::AsyncResolver(std::string host, uint16_t port)
    : state_(std::make_shared<State>()) {
  state_->efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  auto finish = [](State& s) {
    s.done.store(true, std::memory_order_release);
    uint64_t one = 1;
    if (s.efd >= 0) {
      ssize_t n = ::write(s.efd, &one, sizeof one);
      (void)n;
    }
  };
  try {
    std::thread([s = state_, host = std::move(host), port, finish]() {
      lookup(host, port, AI_ADDRCONFIG, s->result);
      finish(*s);
    }).detach();
  } catch (...) {
    state_->result.error = EAI_SYSTEM;
    state_->result.sys_errno = EAGAIN;
    finish(*state_);
  }
}

AsyncResolver::~AsyncResolver() = default;

int AsyncResolver::fd() const { return state_->efd; }
bool AsyncResolver::ready() const { return state_->done.load(std::memory_order_acquire); }
const ResolveResult& AsyncResolver::result() const { return state_->result; }

}  // namespace transport::tcp
