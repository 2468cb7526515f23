// The I/O thread: one epoll instance, a Waker, and the drivers of the
// connections it hosts. See waker.h for the sleep/wake handshake.
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
  std::vector<std::unique_ptr<runtime::Driver>> drivers_;  // reactor thread only
  std::thread thread_;
};

}  // namespace mqtt::detail
