#include "transport/tcp/tcp.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "transport/tcp/resolver.h"

namespace transport::tcp {

namespace {

using Clock = std::chrono::steady_clock;

std::string errno_text(int e) {
  char buf[128];
  // GNU strerror_r returns a char*.
  const char* s = ::strerror_r(e, buf, sizeof buf);
  return s ? std::string(s) : std::string("errno ") + std::to_string(e);
}

class TcpStream final : public Stream {
 public:
  explicit TcpStream(Options o) : opts_(std::move(o)) {
    if (!opts_.addresses.empty()) {
      std::vector<Address> given;
      for (const std::string& a : opts_.addresses) {
        ResolveResult r;
        if (!resolve_numeric(a, opts_.port, r) || r.error != 0 || r.addresses.empty()) {
          error_ = {ErrorKind::Connect, EINVAL, "address '" + a + "' is not an IP literal"};
          phase_ = Phase::Failed;
          return;
        }
        given.push_back(r.addresses.front());
      }
      begin_connecting(std::move(given));
      if (phase_ == Phase::Connecting) (void)advance_attempts();  // starts the first
      return;
    }
    ResolveResult numeric;
    if (resolve_numeric(opts_.host, opts_.port, numeric)) {
      if (numeric.error != 0) {
        fail_dns(numeric);
        return;
      }
      begin_connecting(std::move(numeric.addresses));
      if (phase_ == Phase::Connecting) (void)advance_attempts();  // starts the first
    } else {
      resolver_.emplace(opts_.host, opts_.port);
      phase_ = Phase::Resolving;
    }
  }

  explicit TcpStream(int fd) : fd_(fd), phase_(Phase::Connected) {
    int flags = ::fcntl(fd_, F_GETFL, 0);
    if (flags >= 0) ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
  }

  ~TcpStream() override { close(); }

  int fd() const override {
    switch (phase_) {
      case Phase::Resolving: return resolver_->fd();
      case Phase::Connecting:
        if (multi_) return ep_;
        return attempts_.empty() ? -1 : attempts_.front().fd;
      default: return fd_;
    }
  }

  Interest interest() const override {
    switch (phase_) {
      case Phase::Resolving: return {true, false};
      // The inner epoll set (several addresses) is readable when one of its
      // sockets or its timer is ready; a lone socket is writable once its
      // connect completes or fails.
      case Phase::Connecting: return multi_ ? Interest{true, false} : Interest{false, true};
      case Phase::Connected: return {true, false};
      default: return {};
    }
  }

  Status connect() override {
    switch (phase_) {
      case Phase::Connected: return Status::Ok;
      case Phase::Failed:
      case Phase::Closed: return Status::Error;
      case Phase::Resolving: {
        if (!resolver_->ready()) return Status::WouldBlock;
        const ResolveResult& r = resolver_->result();
        if (r.error != 0) {
          fail_dns(r);
          resolver_.reset();
          return Status::Error;
        }
        std::vector<Address> found = r.addresses;
        resolver_.reset();
        begin_connecting(std::move(found));
        if (phase_ == Phase::Failed) return Status::Error;
        return advance_attempts();
      }
      case Phase::Connecting: return advance_attempts();
    }
    return Status::Error;
  }

  bool connected() const override { return phase_ == Phase::Connected; }

  IoResult read(std::span<uint8_t> buf) override {
    if (phase_ != Phase::Connected) return {Status::Error, 0};
    for (;;) {
      ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
      if (n > 0) return {Status::Ok, static_cast<size_t>(n)};
      if (n == 0) return {buf.empty() ? Status::Ok : Status::Closed, 0};
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {Status::WouldBlock, 0};
      return io_error(errno);
    }
  }

  IoResult write(std::span<const uint8_t> buf) override {
    if (phase_ != Phase::Connected) return {Status::Error, 0};
    if (buf.empty()) return {Status::Ok, 0};
    for (;;) {
      // MSG_NOSIGNAL: a reset peer must not raise SIGPIPE in the process.
      ssize_t n = ::send(fd_, buf.data(), buf.size(), MSG_NOSIGNAL);
      if (n >= 0) return {Status::Ok, static_cast<size_t>(n)};
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {Status::WouldBlock, 0};
      return io_error(errno);
    }
  }

  IoResult writev(std::span<const std::span<const uint8_t>> bufs) override {
    if (phase_ != Phase::Connected) return {Status::Error, 0};
    iovec iov[64];
    size_t n_iov = 0;
    for (auto b : bufs) {
      if (b.empty()) continue;
      if (n_iov == 64) break;
      iov[n_iov].iov_base = const_cast<uint8_t*>(b.data());
      iov[n_iov].iov_len = b.size();
      ++n_iov;
    }
    if (n_iov == 0) return {Status::Ok, 0};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = n_iov;
    for (;;) {
      ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (n >= 0) return {Status::Ok, static_cast<size_t>(n)};
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {Status::WouldBlock, 0};
      return io_error(errno);
    }
  }

  void shutdown_write() override {
    if (fd_ >= 0 && phase_ == Phase::Connected) ::shutdown(fd_, SHUT_WR);
  }

  void close() override {
    close_attempts();
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    resolver_.reset();
    if (phase_ != Phase::Failed) phase_ = Phase::Closed;
  }

  const Error& error() const override { return error_; }

 private:
  enum class Phase : uint8_t { Resolving, Connecting, Connected, Failed, Closed };

  struct Attempt {
    int fd = -1;
    size_t index = 0;  // into addresses_
  };

  struct Failure {
    size_t index;
    int err;
    std::string message;  // the whole message, as reported for a lone address
  };

  void fail_dns(const ResolveResult& r) {
    error_.kind = ErrorKind::Dns;
    error_.sys_errno = r.error == EAI_SYSTEM ? r.sys_errno : r.error;
    error_.message = "cannot resolve '" + opts_.host + "': " +
                     (r.error == EAI_SYSTEM ? errno_text(r.sys_errno)
                                            : std::string(::gai_strerror(r.error)));
    phase_ = Phase::Failed;
  }

  IoResult io_error(int err) {
    error_.kind = ErrorKind::Io;
    error_.sys_errno = err;
    error_.message = errno_text(err);
    phase_ = Phase::Failed;
    return {Status::Error, 0};
  }

  std::string peer() const { return opts_.host + ":" + std::to_string(opts_.port); }

  // Several addresses need a way to wait on several sockets and a timer
  // through the ONE descriptor that fd() exposes: an epoll set of our own.
  // An epoll descriptor is itself pollable (readable while any member is
  // ready), so the reactor's epoll waits on it like on any socket, and a
  // timerfd in the set wakes it when the next attempt is due. Members are
  // edge-triggered and the set is drained on every connect() call, so it
  // never stays ready by itself (the reactor registers it edge-triggered).
  void begin_connecting(std::vector<Address> found) {
    addresses_ = interleave_families(found);
    phase_ = Phase::Connecting;
    multi_ = addresses_.size() > 1;
    if (!multi_) return;
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    timer_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    if (ep_ < 0 || timer_ < 0 || ::epoll_ctl(ep_, EPOLL_CTL_ADD, timer_, &ev) != 0) {
      const int err = errno;
      close_attempts();
      error_ = {ErrorKind::Connect, err,
                "connect to " + peer() + " failed: cannot wait on several addresses: " +
                    errno_text(err)};
      phase_ = Phase::Failed;
    }
  }

  // Checks the pending attempts, starts the due ones; Ok when one connected.
  Status advance_attempts() {
    drain_wakeups();
    for (;;) {
      const Clock::time_point now = Clock::now();
      for (size_t i = 0; i < attempts_.size();) {
        const int err = progress(attempts_[i]);
        if (err == 0) {
          win(i);
          return Status::Ok;
        }
        if (err == EINPROGRESS) {
          ++i;
          continue;
        }
        failures_.push_back({attempts_[i].index, err,
                             "connect to " + peer() + " failed: " + errno_text(err)});
        drop_attempt(attempts_[i].fd);
        attempts_.erase(attempts_.begin() + static_cast<std::ptrdiff_t>(i));
      }
      // The next address: at once when nothing is pending (the last attempt
      // failed), else once the attempt delay has passed.
      if (next_address_ >= addresses_.size()) break;
      if (!attempts_.empty() && now < next_start_) break;
      start_next_address(now);  // consumes one address: the loop ends
    }
    if (attempts_.empty()) {
      fail_all();
      return Status::Error;
    }
    arm_timer();
    return Status::WouldBlock;
  }

  // 0 once connected, EINPROGRESS while pending, else the failure's errno.
  // connect() again on the same socket reports progress without blocking: 0
  // or EISCONN when done, EINPROGRESS / EALREADY while pending, the failure
  // otherwise (SO_ERROR holds the real reason).
  int progress(const Attempt& a) const {
    const Address& ad = addresses_[a.index];
    if (::connect(a.fd, reinterpret_cast<const sockaddr*>(&ad.addr), ad.len) == 0 ||
        errno == EISCONN) {
      return 0;
    }
    if (errno == EINPROGRESS || errno == EALREADY || errno == EINTR) return EINPROGRESS;
    int err = errno;
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (::getsockopt(a.fd, SOL_SOCKET, SO_ERROR, &so_error, &len) == 0 && so_error != 0) {
      err = so_error;
    }
    return err;
  }

  // Opens a socket for the next address and starts a non-blocking connect.
  // A failure to even start is recorded and the address consumed.
  void start_next_address(Clock::time_point now) {
    const size_t index = next_address_++;
    const Address& a = addresses_[index];
    int fd = ::socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) {
      const int err = errno;
      failures_.push_back({index, err, "connect to " + peer() + " failed: " + errno_text(err)});
      return;
    }
    if (opts_.nodelay) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (opts_.send_buffer > 0) {
      ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &opts_.send_buffer, sizeof(int));
    }
    if (opts_.receive_buffer > 0) {
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &opts_.receive_buffer, sizeof(int));
    }
    if (!opts_.bind_address.empty()) {
      if (std::optional<Failure> f = bind_local(fd, a.family, index)) {
        failures_.push_back(std::move(*f));
        ::close(fd);
        return;
      }
    }
    int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len);
    if (rc != 0 && errno != EINPROGRESS && errno != EINTR) {
      const int err = errno;
      failures_.push_back({index, err, "connect to " + peer() + " failed: " + errno_text(err)});
      ::close(fd);
      return;
    }
    if (multi_) {
      epoll_event ev{};
      ev.events = EPOLLOUT | EPOLLET;
      if (::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        const int err = errno;
        failures_.push_back({index, err, "connect to " + peer() + " failed: " + errno_text(err)});
        ::close(fd);
        return;
      }
    }
    attempts_.push_back({fd, index});
    // Saturating: attempt_delay may be milliseconds::max().
    const auto room = std::chrono::duration_cast<std::chrono::milliseconds>(
        Clock::time_point::max() - now);
    next_start_ = now + std::clamp(opts_.attempt_delay, std::chrono::milliseconds::zero(), room);
  }

  // Binds `fd` to opts_.bind_address (port 0). The failure when the address
  // is not a literal, is of another family, or cannot be bound.
  std::optional<Failure> bind_local(int fd, int family, size_t index) {
    ResolveResult local;
    if (!resolve_numeric(opts_.bind_address, 0, local) || local.error != 0 ||
        local.addresses.empty()) {
      return Failure{index, EINVAL,
                     "bind address '" + opts_.bind_address + "' is not an IP address"};
    }
    for (const Address& l : local.addresses) {
      if (l.family != family) continue;
      if (::bind(fd, reinterpret_cast<const sockaddr*>(&l.addr), l.len) == 0) return std::nullopt;
      const int err = errno;
      return Failure{index, err, "bind to " + opts_.bind_address + " failed: " + errno_text(err)};
    }
    return Failure{index, EAFNOSUPPORT,
                   "bind address " + opts_.bind_address + " is not of the family of " +
                       opts_.host + "'s address"};
  }

  // Every address failed: one address reports its own message; several list
  // each address with its error. sys_errno is the last failure's.
  void fail_all() {
    phase_ = Phase::Failed;
    error_.kind = ErrorKind::Connect;
    if (failures_.empty()) {
      error_.message = "no address to connect to for " + opts_.host;
      close_attempts();
      return;
    }
    error_.sys_errno = failures_.back().err;
    if (addresses_.size() == 1) {
      error_.message = failures_.back().message;
    } else {
      error_.message = "connect to " + peer() + " failed on every address:";
      for (size_t i = 0; i < failures_.size(); ++i) {
        const Failure& f = failures_[i];
        std::string why = f.message;
        const std::string prefix = "connect to " + peer() + " failed: ";
        if (why.rfind(prefix, 0) == 0) why = why.substr(prefix.size());
        error_.message += (i ? "; " : " ") + to_string(addresses_[f.index]) + ": " + why;
      }
    }
    close_attempts();
  }

  void win(size_t i) {
    fd_ = attempts_[i].fd;
    if (multi_) ::epoll_ctl(ep_, EPOLL_CTL_DEL, fd_, nullptr);
    attempts_.erase(attempts_.begin() + static_cast<std::ptrdiff_t>(i));
    close_attempts();  // the losers, the epoll set and the timer
    phase_ = Phase::Connected;
  }

  void drop_attempt(int fd) {
    if (multi_) ::epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
  }

  // Empties the epoll set's ready list and the timer's count, so that the
  // set becomes readable again only for a new event.
  void drain_wakeups() {
    if (!multi_ || ep_ < 0) return;
    epoll_event evs[16];
    while (::epoll_wait(ep_, evs, 16, 0) == 16) {
    }
    uint64_t expirations = 0;
    ssize_t n = ::read(timer_, &expirations, sizeof expirations);
    (void)n;
  }

  // Wakes the epoll set when the next attempt is due (none left: disarmed).
  void arm_timer() {
    if (!multi_ || timer_ < 0) return;
    itimerspec spec{};
    if (next_address_ < addresses_.size() && next_start_ != Clock::time_point::max()) {
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          next_start_.time_since_epoch())
                          .count();
      // steady_clock is CLOCK_MONOTONIC on Linux; 0 would disarm the timer.
      spec.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
      spec.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
      if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
    }
    ::timerfd_settime(timer_, TFD_TIMER_ABSTIME, &spec, nullptr);
  }

  void close_attempts() {
    for (const Attempt& a : attempts_) ::close(a.fd);
    attempts_.clear();
    if (ep_ >= 0) ::close(ep_);
    if (timer_ >= 0) ::close(timer_);
    ep_ = timer_ = -1;
  }

  Options opts_;
  int fd_ = -1;  // the connected socket
  Phase phase_ = Phase::Failed;
  std::optional<AsyncResolver> resolver_;
  std::vector<Address> addresses_;  // in the order they are tried
  size_t next_address_ = 0;
  std::vector<Attempt> attempts_;  // pending connects
  std::vector<Failure> failures_;
  Clock::time_point next_start_{};
  bool multi_ = false;  // several addresses: ep_ and timer_ in use
  int ep_ = -1;
  int timer_ = -1;
  Error error_;
};

}  // namespace

std::unique_ptr<Stream> open(const Options& options) {
  return std::make_unique<TcpStream>(options);
}

std::unique_ptr<Stream> adopt(int fd) { return std::make_unique<TcpStream>(fd); }

}  // namespace transport::tcp
