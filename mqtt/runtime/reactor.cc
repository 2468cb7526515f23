#include "mqtt/runtime/reactor.h"
#include "mqtt/runtime/spin_budget.h"

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
    // Named (and pinned) from here, so both hold when create() returns.
    const std::string name = opts_.thread_name.substr(0, 15);
    if (!name.empty()) pthread_setname_np(thread_.native_handle(), name.c_str());
    if (opts_.cpu >= 0 && opts_.cpu < CPU_SETSIZE) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(opts_.cpu, &set);
      pthread_setaffinity_np(thread_.native_handle(), sizeof set, &set);  // best effort
    }
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

void ReactorImpl::enqueue(runtime::Driver* d) {
  if (d->sched.queued) return;
  d->sched.queued = true;
  run_.push_back(d);
}

void ReactorImpl::adopt_inbox() {
  std::vector<std::unique_ptr<runtime::Driver>> in;
  {
    std::lock_guard<std::mutex> lock(mu_);
    in.swap(inbox_);
  }
  // Room for every driver in each list up front: enqueue(), the timer heap
  // and the rounds then never allocate (nothing in a round can throw).
  const size_t total = drivers_.size() + in.size();
  drivers_.reserve(total);
  heap_.reserve(total);
  run_.reserve(total);
  next_.reserve(total);
  for (auto& d : in) {
    d->sched.index = drivers_.size();
    runtime::Driver* p = d.get();
    drivers_.push_back(std::move(d));
    enqueue(p);  // a new driver starts connecting in its first poll
  }
}

void ReactorImpl::scan_external_work() {
  for (auto& d : drivers_) {
    if (!d->sched.queued && d->has_external_work()) enqueue(d.get());
  }
}

void ReactorImpl::remove(runtime::Driver* d) {
  heap_set(d, TimePoint::max());
  const size_t i = d->sched.index;
  if (i != drivers_.size() - 1) {
    std::swap(drivers_[i], drivers_.back());
    drivers_[i]->sched.index = i;
  }
  drivers_.pop_back();  // destroys it
}

// --- timer heap ---

void ReactorImpl::heap_swap(size_t a, size_t b) {
  std::swap(heap_[a], heap_[b]);
  heap_[a]->sched.heap_pos = a;
  heap_[b]->sched.heap_pos = b;
}

void ReactorImpl::heap_up(size_t i) {
  while (i > 0) {
    const size_t parent = (i - 1) / 2;
    if (!(heap_[i]->sched.key < heap_[parent]->sched.key)) break;
    heap_swap(i, parent);
    i = parent;
  }
}

void ReactorImpl::heap_down(size_t i) {
  for (;;) {
    const size_t l = 2 * i + 1, r = l + 1;
    size_t m = i;
    if (l < heap_.size() && heap_[l]->sched.key < heap_[m]->sched.key) m = l;
    if (r < heap_.size() && heap_[r]->sched.key < heap_[m]->sched.key) m = r;
    if (m == i) return;
    heap_swap(i, m);
    i = m;
  }
}

// Puts `d` in the heap at `key`, moves it there, or takes it out (max()).
void ReactorImpl::heap_set(runtime::Driver* d, TimePoint key) {
  auto& s = d->sched;
  if (s.heap_pos == SIZE_MAX) {
    if (key == TimePoint::max()) return;
    s.key = key;
    s.heap_pos = heap_.size();
    heap_.push_back(d);
    heap_up(s.heap_pos);
    return;
  }
  if (key == s.key) return;
  const size_t i = s.heap_pos;
  if (key == TimePoint::max()) {
    const size_t last = heap_.size() - 1;
    if (i != last) heap_swap(i, last);
    heap_.pop_back();
    s.heap_pos = SIZE_MAX;
    s.key = TimePoint::max();
    if (i != last) {
      runtime::Driver* moved = heap_[i];
      heap_up(i);
      heap_down(moved->sched.heap_pos);
    }
    return;
  }
  const bool earlier = key < s.key;
  s.key = key;
  if (earlier) {
    heap_up(i);
  } else {
    heap_down(i);
  }
}

void ReactorImpl::run() {
  constexpr int kMaxEvents = 64;
  epoll_event evs[kMaxEvents];
  TimePoint last_activity = Clock::now();
  // SpinThenBlock: an adaptive spin budget (spin_budget.h).
  runtime::SpinBudget spin(opts_.spin_for);
  bool spinning = false;
  for (;;) {
    try {
      if (inbox_pending_.exchange(false, std::memory_order_seq_cst)) adopt_inbox();
      TimePoint now = Clock::now();
      if (stop_.load(std::memory_order_seq_cst)) {
        for (auto& d : drivers_) {
          d->force_shutdown(now);
          d->poll(now);
        }
        run_.clear();
        heap_.clear();
        drivers_.clear();
        break;
      }

      // Drivers whose deadline passed join this round.
      while (!heap_.empty() && heap_.front()->sched.key <= now) {
        runtime::Driver* d = heap_.front();
        heap_set(d, TimePoint::max());
        enqueue(d);
      }
      // The round: each listed driver once. A driver still busy afterwards
      // is listed for the next round (run_ collects them).
      next_.swap(run_);
      for (runtime::Driver* d : next_) {
        d->sched.queued = false;
        d->poll(now);
        if (d->finished()) {
          remove(d);
          continue;
        }
        heap_set(d, d->deadline());
        if (d->busy()) enqueue(d);
      }
      next_.clear();

      const bool busy = !run_.empty();
      const TimePoint deadline = heap_.empty() ? TimePoint::max() : heap_.front()->sched.key;
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
        } else if (opts_.wait == WaitStrategy::SpinThenBlock) {
          if (Clock::now() - last_activity < spin.now()) {
            timeout_ms = 0;
            spinning = true;
          } else if (spinning) {  // the spin ran out with nothing to do
            spinning = false;
            spin.wasted();
          }
        }
      }
      // The sleep/wake handshake (waker.h), in one of two forms:
      // - few drivers: announce the sleep only before sleeping, then
      //   re-check every driver (a request made meanwhile did not fire the
      //   eventfd); requests made while the reactor is awake cost their
      //   producers no system call;
      // - many drivers: that re-check would cost O(drivers) per sleep, so
      //   the Waker stays armed (sleeping = true) all along and is re-armed
      //   right after each wake-up, before the drivers are checked: every
      //   request made after that check fires the eventfd (once per arming),
      //   and only a fired eventfd makes the reactor check the drivers.
      const bool few = drivers_.size() <= kRecheckAllUpTo;
      if (few) {
        // Also when not about to sleep (busy, or a Spin strategy): the
        // eventfd is only fired while the reactor sleeps.
        armed_ = false;
        const bool may_sleep = timeout_ms != 0;
        if (may_sleep) waker->set_sleeping(true);
        bool work = stop_.load(std::memory_order_seq_cst) ||
                    inbox_pending_.load(std::memory_order_seq_cst);
        for (auto& d : drivers_) {
          if (!d->sched.queued && d->has_external_work()) {
            enqueue(d.get());
            work = true;
          }
        }
        if (work && may_sleep) {
          waker->set_sleeping(false);
          timeout_ms = 0;
        }
      } else if (!armed_) {
        waker->set_sleeping(true);
        armed_ = true;
        scan_external_work();
        if (!run_.empty()) timeout_ms = 0;
      }
      const int n = ::epoll_wait(epfd_, evs, kMaxEvents, timeout_ms);
      if (few) waker->set_sleeping(false);
      bool woken = false;
      for (int i = 0; i < n; ++i) {
        if (evs[i].data.ptr == nullptr) {
          waker->drain();
          woken = true;
        } else {
          auto* d = static_cast<runtime::Driver*>(evs[i].data.ptr);
          d->on_ready(evs[i].events);
          enqueue(d);
        }
      }
      if (woken) {
        // Re-arm first (many drivers), then find who has work: a request
        // made after this check fires the eventfd again.
        if (armed_) waker->set_sleeping(true);
        scan_external_work();
      }
      if (n > 0) {
        const TimePoint t = Clock::now();
        if (opts_.wait == WaitStrategy::SpinThenBlock && (spinning || t - last_activity <= spin.max())) {
          spin.paid();
        }
        spinning = false;
        last_activity = t;
      }
    } catch (...) {
      // Drivers catch their own failures; this is a last resort (e.g. no
      // memory for the driver list). Keep the thread alive and retry.
    }
  }
}

}  // namespace mqtt::detail
