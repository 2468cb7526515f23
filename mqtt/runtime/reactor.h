// The I/O thread: one epoll instance, a Waker, and the drivers of the
// connections it hosts. See waker.h for the sleep/wake handshake.
//
// A round polls only the drivers that may have work: those whose socket
// epoll reported, those that were busy in the last round, those whose
// deadline passed (a timer heap keyed by Driver::deadline()), new ones, and,
// after the Waker fired (a user thread or a consumer changed something, we
// do not know for which connection), those whose has_external_work() says
// so. An idle connection costs nothing per round; a message on one of 10,000
// connections polls that one.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mqtt/client.h"
#include "mqtt/runtime/driver.h"
#include "mqtt/runtime/waker.h"

namespace mqtt::detail {

struct ReactorImpl {
  explicit ReactorImpl(Reactor::Options options);
  // Ends every hosted connection (Shutdown) and joins the thread.
  ~ReactorImpl();
  ReactorImpl(const ReactorImpl&) = delete;
  ReactorImpl& operator=(const ReactorImpl&) = delete;

  // Any thread: hands a connection over to the reactor thread.
  void add(std::unique_ptr<runtime::Driver> driver);
  int epoll_fd() const { return epfd_; }
  // False when a descriptor or the thread could not be had (error_errno(),
  // error()); such a reactor runs nothing and must be dropped.
  bool ok() const { return error_errno_ == 0 && error_.empty(); }
  int error_errno() const { return error_errno_; }
  const std::string& error() const { return error_; }

  std::shared_ptr<runtime::Waker> waker;

 private:
  void run();

  Reactor::Options opts_;
  int epfd_ = -1;
  int error_errno_ = 0;
  std::string error_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::unique_ptr<runtime::Driver>> inbox_;  // guarded by mu_
  std::atomic<bool> inbox_pending_{false};
  // --- reactor thread only ---
  void adopt_inbox();
  void enqueue(runtime::Driver* d);  // poll it in the next round (once)
  void scan_external_work();         // enqueue the drivers with has_external_work()
  void remove(runtime::Driver* d);   // drops a finished driver
  // The timer heap (min-heap on Driver::sched.key, positions in sched.heap_pos).
  void heap_set(runtime::Driver* d, runtime::TimePoint key);
  void heap_swap(size_t a, size_t b);
  void heap_up(size_t i);
  void heap_down(size_t i);

  std::vector<std::unique_ptr<runtime::Driver>> drivers_;
  std::vector<runtime::Driver*> heap_;
  std::vector<runtime::Driver*> run_;   // to poll in the coming round
  std::vector<runtime::Driver*> next_;  // the round being polled (swapped with run_)
  // With more drivers than this, the Waker stays armed (sleeping = true)
  // while the reactor is awake too, so that every request made while it
  // polls fires the eventfd, instead of a re-check of every driver before
  // each sleep. See run().
  static constexpr size_t kRecheckAllUpTo = 32;
  bool armed_ = false;  // the Waker is armed and nothing since was missed
  std::thread thread_;
};

}  // namespace mqtt::detail
