#include "transport/tcp/tcp.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "transport/tcp/resolver.h"

namespace transport::tcp {

namespace {

std::string errno_text(int e) {
  char buf[128];
  // GNU strerror_r returns a char*.
  const char* s = ::strerror_r(e, buf, sizeof buf);
  return s ? std::string(s) : std::string("errno ") + std::to_string(e);
}

class TcpStream final : public Stream {
 public:
  explicit TcpStream(Options o) : opts_(std::move(o)) {
    ResolveResult numeric;
    if (resolve_numeric(opts_.host, opts_.port, numeric)) {
      if (numeric.error != 0) {
        fail_dns(numeric);
        return;
      }
      addresses_ = std::move(numeric.addresses);
      phase_ = Phase::Connecting;
      start_next_address();
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
    if (phase_ == Phase::Resolving) return resolver_->fd();
    return fd_;
  }

  Interest interest() const override {
    switch (phase_) {
      case Phase::Resolving: return {true, false};
      case Phase::Connecting: return {false, true};
      case Phase::Connected: return {true, false};
      default: return {};
    }
  }

  Status connect() override {
    for (;;) {
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
          addresses_ = r.addresses;
          resolver_.reset();
          phase_ = Phase::Connecting;
          start_next_address();
          continue;
        }
        case Phase::Connecting: {
          if (fd_ < 0) {  // start_next_address found nothing to try
            phase_ = Phase::Failed;
            return Status::Error;
          }
          // connect() again on the same socket reports progress without
          // blocking: 0 / EISCONN when done, EINPROGRESS / EALREADY while
          // pending, the failure otherwise.
          const Address& a = addresses_[next_address_ - 1];
          int rc = ::connect(fd_, reinterpret_cast<const sockaddr*>(&a.addr), a.len);
          if (rc == 0 || errno == EISCONN) {
            phase_ = Phase::Connected;
            return Status::Ok;
          }
          if (errno == EINPROGRESS || errno == EALREADY || errno == EINTR) {
            return Status::WouldBlock;
          }
          // Find the real reason (connect() may report ECONNREFUSED itself).
          int err = errno;
          int so_error = 0;
          socklen_t len = sizeof so_error;
          if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &so_error, &len) == 0 && so_error != 0) {
            err = so_error;
          }
          record_connect_error(err);
          close_fd();
          start_next_address();
          continue;
        }
      }
    }
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

  void close() override {
    close_fd();
    resolver_.reset();
    if (phase_ != Phase::Failed) phase_ = Phase::Closed;
  }

  const Error& error() const override { return error_; }

 private:
  enum class Phase : uint8_t { Resolving, Connecting, Connected, Failed, Closed };

  void fail_dns(const ResolveResult& r) {
    error_.kind = ErrorKind::Dns;
    error_.sys_errno = r.error == EAI_SYSTEM ? r.sys_errno : r.error;
    error_.message = "cannot resolve '" + opts_.host + "': " +
                     (r.error == EAI_SYSTEM ? errno_text(r.sys_errno)
                                            : std::string(::gai_strerror(r.error)));
    phase_ = Phase::Failed;
  }

  void record_connect_error(int err) {
    error_.kind = ErrorKind::Connect;
    error_.sys_errno = err;
    error_.message = "connect to " + opts_.host + ":" + std::to_string(opts_.port) +
                     " failed: " + errno_text(err);
  }

  IoResult io_error(int err) {
    error_.kind = ErrorKind::Io;
    error_.sys_errno = err;
    error_.message = errno_text(err);
    phase_ = Phase::Failed;
    return {Status::Error, 0};
  }

  // Opens a socket for the next address and starts a non-blocking connect.
  // Leaves fd_ == -1 when no address is left (connect() then fails).
  void start_next_address() {
    while (next_address_ < addresses_.size()) {
      const Address& a = addresses_[next_address_++];
      int fd = ::socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
      if (fd < 0) {
        record_connect_error(errno);
        continue;
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
      if (!opts_.bind_address.empty() && !bind_local(fd, a.family)) {
        ::close(fd);
        continue;
      }
      int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len);
      if (rc == 0 || errno == EINPROGRESS || errno == EINTR) {
        fd_ = fd;
        return;
      }
      record_connect_error(errno);
      ::close(fd);
    }
    if (error_.kind == ErrorKind::None) {
      error_.kind = ErrorKind::Connect;
      error_.message = "no address to connect to for " + opts_.host;
    }
  }

  // Binds `fd` to opts_.bind_address (port 0). False, with error_ set, when
  // the address is not a literal, is of another family, or cannot be bound.
  bool bind_local(int fd, int family) {
    ResolveResult local;
    if (!resolve_numeric(opts_.bind_address, 0, local) || local.error != 0 ||
        local.addresses.empty()) {
      error_.kind = ErrorKind::Connect;
      error_.sys_errno = EINVAL;
      error_.message = "bind address '" + opts_.bind_address + "' is not an IP address";
      return false;
    }
    for (const Address& l : local.addresses) {
      if (l.family != family) continue;
      if (::bind(fd, reinterpret_cast<const sockaddr*>(&l.addr), l.len) == 0) return true;
      const int err = errno;
      error_.kind = ErrorKind::Connect;
      error_.sys_errno = err;
      error_.message = "bind to " + opts_.bind_address + " failed: " + errno_text(err);
      return false;
    }
    error_.kind = ErrorKind::Connect;
    error_.sys_errno = EAFNOSUPPORT;
    error_.message = "bind address " + opts_.bind_address + " is not of the family of " +
                     opts_.host + "'s address";
    return false;
  }

  void close_fd() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  Options opts_;
  int fd_ = -1;
  Phase phase_ = Phase::Failed;
  std::optional<AsyncResolver> resolver_;
  std::vector<Address> addresses_;
  size_t next_address_ = 0;
  Error error_;
};

}  // namespace

std::unique_ptr<Stream> open(const Options& options) {
  return std::make_unique<TcpStream>(options);
}

std::unique_ptr<Stream> adopt(int fd) { return std::make_unique<TcpStream>(fd); }

}  // namespace transport::tcp
