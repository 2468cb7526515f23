#include "mqtt/runtime/reactor.h"

#include "mqtt/session/deadline.h"

#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <string>

namespace mqtt::detail {

using runtime::Clock;
using runtime::TimePoint;

ReactorImpl::ReactorImpl(Reactor::Options options)
    : waker(std::make_shared<runtime::Waker>()), opts_(std::move(options)) {
  // Failures are recorded, not thrown (errors as values; Reactor::create
  // turns them into std::system_error).
  if (!waker->valid()) {
    error_errno_ = waker->error();
    error_ = "mqtt reactor: cannot create its eventfd";
    return;
  }
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) {
    error_errno_ = errno;
    error_ = "mqtt reactor: cannot create its epoll descriptor";
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the waker
  ::epoll_ctl(epfd_, EPOLL_CTL_ADD, waker->fd(), &ev);
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::system_error& e) {
    error_errno_ = e.code().value();
    error_ = std::string("mqtt reactor: cannot start its thread: ") + e.what();
  }
}

ReactorImpl::~ReactorImpl() {
  stop_.store(true, std::memory_order_seq_cst);
  waker->signal();
  if (thread_.joinable()) thread_.join();
  if (epfd_ >= 0) ::close(epfd_);
}

void ReactorImpl::add(std::unique_ptr<runtime::Driver> driver) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    inbox_.push_back(std::move(driver));
  }
  inbox_pending_.store(true, std::memory_order_seq_cst);
  waker->signal();
}

void ReactorImpl::run() {
  {
    std::string name = opts_.thread_name.substr(0, 15);
    if (!name.empty()) pthread_setname_np(pthread_self(), name.c_str());
    if (opts_.cpu >= 0 && opts_.cpu < CPU_SETSIZE) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(opts_.cpu, &set);
      pthread_setaffinity_np(pthread_self(), sizeof set, &set);  // best effort
    }
  }
  const auto spin_ns = mqtt::detail::saturating_cast<std::chrono::nanoseconds>(opts_.spin_for);
  constexpr int kMaxEvents = 64;
  epoll_event evs[kMaxEvents];
  TimePoint last_activity = Clock::now();
  for (;;) {
    try {
      if (inbox_pending_.exchange(false, std::memory_order_seq_cst)) {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& d : inbox_) drivers_.push_back(std::move(d));
        inbox_.clear();
      }
      const bool stopping = stop_.load(std::memory_order_seq_cst);
      TimePoint now = Clock::now();
      for (auto& d : drivers_) {
        if (stopping) d->force_shutdown(now);
        d->poll(now);
      }
      drivers_.erase(std::remove_if(drivers_.begin(), drivers_.end(),
                                    [&](const auto& d) { return stopping || d->finished(); }),
                     drivers_.end());
      if (stopping) break;

      TimePoint deadline = TimePoint::max();
      bool busy = false;
      for (auto& d : drivers_) {
        deadline = std::min(deadline, d->deadline());
        busy = busy || d->busy();
      }
      int timeout_ms = -1;
      if (busy) {
        timeout_ms = 0;
      } else if (deadline != TimePoint::max()) {
        now = Clock::now();
        if (deadline <= now) {
          timeout_ms = 0;
        } else {
          auto ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
          timeout_ms = static_cast<int>(std::min<int64_t>(ms, 3600 * 1000));
        }
      }
      if (busy) last_activity = now;
      if (timeout_ms != 0) {
        if (opts_.wait == WaitStrategy::Spin) {
          timeout_ms = 0;
        } else if (opts_.wait == WaitStrategy::SpinThenBlock &&
                   Clock::now() - last_activity < spin_ns) {
          timeout_ms = 0;
        }
      }
      if (timeout_ms != 0) {
        // May sleep: announce it, then re-check everything a producer or
        // the consumer could have changed (seq_cst on both sides).
        waker->set_sleeping(true);
        bool work = stop_.load(std::memory_order_seq_cst) ||
                    inbox_pending_.load(std::memory_order_seq_cst);
        for (auto& d : drivers_) {
          if (work) break;
          work = d->has_external_work();
        }
        if (work) {
          waker->set_sleeping(false);
          timeout_ms = 0;
        }
      }
      const int n = ::epoll_wait(epfd_, evs, kMaxEvents, timeout_ms);
      waker->set_sleeping(false);
      for (int i = 0; i < n; ++i) {
        if (evs[i].data.ptr == nullptr) {
          waker->drain();
        } else {
          static_cast<runtime::Driver*>(evs[i].data.ptr)->on_ready(evs[i].events);
        }
      }
      if (n > 0) last_activity = Clock::now();
    } catch (...) {
      // Drivers catch their own failures; this is a last resort (e.g. no
      // memory for the driver list). Keep the thread alive and retry.
    }
  }
}

}  // namespace mqtt::detail
