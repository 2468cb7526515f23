// Wakes a reactor that may be asleep in epoll_wait, with one eventfd write
// only when it may actually be asleep.
//
// Handshake (all seq_cst): the reactor stores sleeping = true, then re-checks
// every work counter (lane counts, consumer progress...) and only then
// sleeps. A producer first changes a counter (seq_cst read-modify-write),
// then calls wake(), which reads `sleeping`. In the single total order one
// of the two sees the other's write, so no wake-up is lost, and a busy
// reactor (sleeping == false) costs producers no system call.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

namespace mqtt::runtime {

class Waker {
 public:
  Waker() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)), errno_(fd_ < 0 ? errno : 0) {}
  ~Waker() {
    if (fd_ >= 0) ::close(fd_);
  }
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;

  bool valid() const { return fd_ >= 0; }
  int error() const { return errno_; }  // errno of a failed eventfd()
  int fd() const { return fd_; }

  // Producers: after publishing work through a seq_cst RMW.
  void wake() {
    if (sleeping_.load(std::memory_order_seq_cst) &&
        sleeping_.exchange(false, std::memory_order_seq_cst)) {
      signal();
    }
  }
  // Always writes (rare paths: shutdown, new connection).
  void signal() {
    uint64_t one = 1;
    ssize_t n = ::write(fd_, &one, sizeof one);
    (void)n;
    wakes_.fetch_add(1, std::memory_order_relaxed);
  }

  // Reactor side.
  void set_sleeping(bool s) { sleeping_.store(s, std::memory_order_seq_cst); }
  void drain() {
    uint64_t v;
    ssize_t n = ::read(fd_, &v, sizeof v);
    (void)n;
  }
  // eventfd writes so far (for tests and diagnostics).
  uint64_t wakes() const { return wakes_.load(std::memory_order_relaxed); }

 private:
  int fd_;
  int errno_;
  std::atomic<bool> sleeping_{false};
  std::atomic<uint64_t> wakes_{0};
};

}  // namespace mqtt::runtime
