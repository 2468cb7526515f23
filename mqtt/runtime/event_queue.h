// The bounded single-producer single-consumer event queue (reactor ->
// consumer), with an eventfd that is readable while events wait.
//
// BlockingReaderWriterCircularBuffer(n) holds exactly n. Our own seq_cst
// `count_` drives the eventfd (written when the queue turns non-empty, read
// when it turns empty, then re-checked) and the reactor's wake-up: when the
// reactor waits for the consumer (queue full, or an error event to be taken)
// it sets `want_progress`, and the consumer wakes it after its next take.
// The eventfd is created and maintained only once someone asks for it
// (fd()), so a consumer that just blocks in pop() costs no descriptor and no
// eventfd system calls. If that eventfd() fails (out of descriptors), fd()
// returns -1, valid() turns false and error() has its errno; the queue itself
// keeps working, and a later fd() tries again.
#pragma once

#include <readerwriterqueue/readerwritercircularbuffer.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>

#include "mqtt/options.h"
#include "mqtt/runtime/spin_budget.h"
#include "mqtt/runtime/waker.h"
#include "mqtt/session/deadline.h"

namespace mqtt::runtime {

template <class T>
class EventQueue {
 public:
  // Throws std::bad_alloc when the ring cannot be allocated (moodycamel
  // does not check its malloc: we try the same size first).
  EventQueue(size_t capacity, std::shared_ptr<Waker> waker)
      : capacity_(capacity == 0 ? 1 : capacity),
        buf_(checked_capacity(capacity_)),
        waker_(std::move(waker)) {}
  ~EventQueue() {
    if (efd_ >= 0) ::close(efd_);
  }
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;

  // False when the last fd() could not create the eventfd (out of
  // descriptors); true before any fd() call and once one succeeded.
  bool valid() const { return efd_errno_.load(std::memory_order_acquire) == 0; }
  // errno of the failed eventfd() (0: none failed, or a later one succeeded).
  int error() const { return efd_errno_.load(std::memory_order_acquire); }
  size_t capacity() const { return capacity_; }
  size_t size() const {
    const int64_t n = count_.load(std::memory_order_seq_cst);
    return n > 0 ? static_cast<size_t>(n) : 0;
  }
  bool full() const { return size() >= capacity_; }
  // Events pushed / taken so far.
  uint64_t pushed() const { return pushed_; }
  uint64_t taken() const { return taken_.load(std::memory_order_seq_cst); }

  // --- producer (reactor) ---
  // false when full (`item` untouched).
  bool try_push(T& item) {
    if (!buf_.try_enqueue(std::move(item))) return false;
    ++pushed_;
    if (count_.fetch_add(1, std::memory_order_seq_cst) == 0 &&
        fd_enabled_.load(std::memory_order_seq_cst)) {
      signal_fd();
    }
    return true;
  }
  // Ask to be woken (through the Waker) after the consumer's next take.
  void want_progress() { want_progress_.store(true, std::memory_order_seq_cst); }

  // --- consumer ---
  // `out`: a T, or anything a T can be move-assigned to (a std::optional<T>
  // the caller returns: the event moves once, out of the ring).
  template <class U>
  bool try_pop(U& out) {
    if (!buf_.try_dequeue(out)) {
      if (fd_enabled_.load(std::memory_order_acquire)) clear_fd_if_empty();
      return false;
    }
    after_pop();
    return true;
  }
  // SpinThenBlock spins for an adaptive budget of at most `spin_for`
  // (spin_budget.h) before it blocks.
  template <class U>
  void pop(U& out, WaitStrategy wait, std::chrono::microseconds spin_for) {
    using std::chrono::steady_clock;
    if (wait == WaitStrategy::Spin) {
      for (;;) {
        if (buf_.try_dequeue(out)) {
          after_pop();
          return;
        }
      }
    }
    if (wait == WaitStrategy::SpinThenBlock) {
      spin_.limit(spin_for);
      const auto t0 = steady_clock::now();
      if (spin_.now().count() > 0) {
        const auto until = mqtt::detail::saturating_add(t0, spin_.now());
        for (uint32_t i = 0;; ++i) {
          if (buf_.try_dequeue(out)) {
            spin_.paid();
            after_pop();
            return;
          }
          if ((i & 63) == 63 && steady_clock::now() >= until) break;
        }
      }
      buf_.wait_dequeue(out);
      if (steady_clock::now() - t0 <= spin_.max()) {
        spin_.paid();  // a longer spin would have caught it
      } else {
        spin_.wasted();
      }
      after_pop();
      return;
    }
    buf_.wait_dequeue(out);
    after_pop();
  }
  // The current SpinThenBlock budget in ns (consumer thread; for tests).
  int64_t spin_budget_ns() const { return spin_.now().count(); }
  template <class U>
  bool pop_for(U& out, std::chrono::nanoseconds timeout) {
    if (timeout <= std::chrono::nanoseconds::zero()) return try_pop(out);
    if (timeout >= mqtt::detail::kForever) {
      pop(out, WaitStrategy::Block, {});
      return true;
    }
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
    if (us == 0) us = 1;
    if (!buf_.wait_dequeue_timed(out, static_cast<std::int64_t>(us))) return false;
    after_pop();
    return true;
  }
  // The readiness descriptor, created by the first call (any thread); enables
  // its upkeep. -1 when eventfd() fails (see valid()/error()); the next call
  // tries again.
  int fd() {
    if (fd_enabled_.load(std::memory_order_acquire)) return efd_;
    std::lock_guard<std::mutex> lock(fd_mu_);
    if (fd_enabled_.load(std::memory_order_acquire)) return efd_;
    const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) {
      efd_errno_.store(errno, std::memory_order_release);
      return -1;
    }
    efd_ = fd;  // published by the store below
    efd_errno_.store(0, std::memory_order_release);
    fd_enabled_.store(true, std::memory_order_seq_cst);
    if (count_.load(std::memory_order_seq_cst) > 0) signal_fd();
    return efd_;
  }

 private:
  static size_t checked_capacity(size_t n) {
    if (n > SIZE_MAX / 2 / sizeof(T)) throw std::bad_alloc();
    void* probe = std::malloc(n * sizeof(T) + alignof(T));
    if (probe == nullptr) throw std::bad_alloc();
    std::free(probe);
    return n;
  }

  void after_pop() {
    taken_.fetch_add(1, std::memory_order_seq_cst);
    if (count_.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
        fd_enabled_.load(std::memory_order_seq_cst)) {
      clear_fd_if_empty();
    }
    if (want_progress_.load(std::memory_order_seq_cst) &&
        want_progress_.exchange(false, std::memory_order_seq_cst) && waker_) {
      waker_->wake();
    }
  }
  void clear_fd_if_empty() {
    uint64_t v;
    ssize_t n = ::read(efd_, &v, sizeof v);
    (void)n;
    // The reactor may have pushed between our decrement and the read, and
    // its write may have been swallowed by the read: re-arm.
    if (count_.load(std::memory_order_seq_cst) > 0) signal_fd();
  }
  void signal_fd() {
    uint64_t one = 1;
    ssize_t n = ::write(efd_, &one, sizeof one);
    (void)n;
  }

  size_t capacity_;
  moodycamel::BlockingReaderWriterCircularBuffer<T> buf_;
  int efd_ = -1;  // written once, before fd_enabled_ turns true
  std::atomic<int> efd_errno_{0};
  std::mutex fd_mu_;  // serialises the creation in fd()
  std::shared_ptr<Waker> waker_;
  // Signed: a take may run before the push that made it possible is counted.
  std::atomic<int64_t> count_{0};
  std::atomic<uint64_t> taken_{0};
  uint64_t pushed_ = 0;  // reactor only
  std::atomic<bool> fd_enabled_{false};
  std::atomic<bool> want_progress_{false};
  SpinBudget spin_{std::chrono::microseconds::max()};  // consumer only; limited per call
};

}  // namespace mqtt::runtime
