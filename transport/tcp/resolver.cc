#include "transport/tcp/resolver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <system_error>
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

struct AsyncResolver::State {
  std::string host;
  uint16_t port = 0;
  int efd = -1;
  std::atomic<bool> done{false};
  ResolveResult result;  // written before `done` (release), read after (acquire)
  ~State() {
    if (efd >= 0) ::close(efd);
  }
  void finish() {
    done.store(true, std::memory_order_release);
    uint64_t one = 1;
    if (efd >= 0) {
      ssize_t n = ::write(efd, &one, sizeof one);
      (void)n;
    }
  }
  void fail(int err) {
    result = ResolveResult{};
    result.error = EAI_SYSTEM;
    result.sys_errno = err;
    finish();
  }
};

namespace {

using Job = std::shared_ptr<AsyncResolver::State>;

// The process-wide pool (see resolver.h). Never destroyed: it must outlive
// every reactor, whatever the order of static destruction; shutdown() at
// exit joins its threads and refuses later lookups.
class Pool {
 public:
  static Pool& instance() {
    static Pool* const pool = [] {
      auto* p = new Pool;
      std::atexit([] { instance().shutdown(); });
      ::pthread_atfork([] { instance().mu_.lock(); },
                       [] { instance().mu_.unlock(); },
                       [] { instance().after_fork_in_child(); });
      return p;
    }();
    return *pool;
  }

  // Queues `job`; false (job untouched) when it cannot run: exiting, or no
  // worker could be started and none is running.
  bool submit(const Job& job, int& err) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      err = ESHUTDOWN;
      return false;
    }
    reap_locked();
    queue_.push_back(job);
    if (running_ < kMaxResolverThreads) {
      try {
        workers_.emplace_back();
        Worker& w = workers_.back();
        w.thread = std::thread([this, &w] { run(w); });
        ++running_;
      } catch (const std::system_error& e) {
        workers_.pop_back();
        if (running_ == 0) {
          queue_.pop_back();
          err = e.code().value() ? e.code().value() : EAGAIN;
          return false;
        }
      }
    }
    return true;
  }

  // Drops `job` if it has not started (it never will then).
  void cancel(const Job& job) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find(queue_.begin(), queue_.end(), job);
    if (it != queue_.end()) queue_.erase(it);
  }

  size_t threads() {
    std::lock_guard<std::mutex> lock(mu_);
    return running_;
  }

  // At exit: nothing new starts, queued lookups fail, workers are joined
  // (each after the lookup it is in, if any).
  void shutdown() {
    std::list<Worker> workers;
    std::deque<Job> queued;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      queued.swap(queue_);
      workers.swap(workers_);
    }
    for (const Job& j : queued) j->fail(ESHUTDOWN);
    for (Worker& w : workers) {
      if (w.thread.joinable()) w.thread.join();
    }
  }

 private:
  struct Worker {
    std::thread thread;
    bool done = false;  // under mu_: the thread is about to return
  };

  void run(Worker& self) {
    for (;;) {
      Job job;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (queue_.empty()) {
          self.done = true;
          --running_;
          return;
        }
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      ResolveResult r;
      lookup(job->host, job->port, AI_ADDRCONFIG, r);
      job->result = std::move(r);
      job->finish();
    }
  }

  // Joins the workers that have returned (their join is immediate).
  void reap_locked() {
    for (auto it = workers_.begin(); it != workers_.end();) {
      if (it->done) {
        it->thread.join();
        it = workers_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // The child of fork() has none of the parent's threads: forget them (their
  // std::thread objects are leaked, never joined nor destroyed) and the
  // lookups they would have run.
  void after_fork_in_child() {
    new std::list<Worker>(std::move(workers_));
    workers_.clear();
    queue_.clear();
    running_ = 0;
    mu_.unlock();
  }

  std::mutex mu_;
  std::deque<Job> queue_;
  std::list<Worker> workers_;  // stable addresses: each thread holds its entry
  size_t running_ = 0;         // workers that have not returned
  bool stopping_ = false;
};

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

std::string to_string(const Address& a) {
  char text[INET6_ADDRSTRLEN] = {};
  if (a.family == AF_INET6) {
    const auto* s = reinterpret_cast<const sockaddr_in6*>(&a.addr);
    ::inet_ntop(AF_INET6, &s->sin6_addr, text, sizeof text);
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(s->sin6_port));
  }
  if (a.family == AF_INET) {
    const auto* s = reinterpret_cast<const sockaddr_in*>(&a.addr);
    ::inet_ntop(AF_INET, &s->sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(ntohs(s->sin_port));
  }
  return "<family " + std::to_string(a.family) + ">";
}

std::vector<Address> interleave_families(const std::vector<Address>& in) {
  if (in.empty()) return {};
  std::vector<Address> first, other;
  for (const Address& a : in) (a.family == in[0].family ? first : other).push_back(a);
  std::vector<Address> out;
  out.reserve(in.size());
  for (size_t i = 0; i < std::max(first.size(), other.size()); ++i) {
    if (i < first.size()) out.push_back(first[i]);
    if (i < other.size()) out.push_back(other[i]);
  }
  return out;
}

size_t resolver_threads() { return Pool::instance().threads(); }

AsyncResolver::AsyncResolver(std::string host, uint16_t port)
    : state_(std::make_shared<State>()) {
  state_->host = std::move(host);
  state_->port = port;
  state_->efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (state_->efd < 0) {
    state_->fail(errno);
    return;
  }
  int err = 0;
  if (!Pool::instance().submit(state_, err)) state_->fail(err);
}

AsyncResolver::~AsyncResolver() {
  if (!ready()) Pool::instance().cancel(state_);
}

int AsyncResolver::fd() const { return state_->efd; }
bool AsyncResolver::ready() const { return state_->done.load(std::memory_order_acquire); }
const ResolveResult& AsyncResolver::result() const { return state_->result; }

}  // namespace transport::tcp
