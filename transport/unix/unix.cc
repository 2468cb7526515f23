#include "transport/unix/unix.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "transport/tcp/tcp.h"

namespace transport::unix_socket {

namespace {

std::string errno_text(int e) {
  char buf[128];
  const char* s = ::strerror_r(e, buf, sizeof buf);  // GNU: returns a char*
  return s ? std::string(s) : std::string("errno ") + std::to_string(e);
}

// Connects, then hands the connected socket to the TCP stream's I/O, which
// is plain recv/send (MSG_NOSIGNAL) and works on any stream socket.
class UnixStream final : public Stream {
 public:
  explicit UnixStream(std::string path) : path_(std::move(path)) {}
  ~UnixStream() override { close(); }

  int fd() const override { return io_ ? io_->fd() : fd_; }
  Interest interest() const override {
    if (io_) return io_->interest();
    return fd_ >= 0 ? Interest{false, true} : Interest{};
  }

  Status connect() override {
    if (io_) return Status::Ok;
    if (failed_) return Status::Error;
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path_.empty() || path_.size() > kMaxPath) {
      return fail(path_.empty() ? EINVAL : ENAMETOOLONG);
    }
    std::memcpy(a.sun_path, path_.data(), path_.size());
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_.size());
    if (path_[0] == '@') {
      a.sun_path[0] = '\0';  // abstract namespace: no terminating NUL counted
    } else {
      len += 1;
    }
    if (fd_ < 0) {
      fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd_ < 0) return fail(errno);
    }
    for (;;) {
      if (::connect(fd_, reinterpret_cast<const sockaddr*>(&a), len) == 0 || errno == EISCONN) {
        io_ = tcp::adopt(fd_);
        fd_ = -1;
        return Status::Ok;
      }
      if (errno == EINTR) continue;
      // EAGAIN: the listener's backlog is full. Try again later.
      if (errno == EAGAIN || errno == EINPROGRESS) return Status::WouldBlock;
      return fail(errno);
    }
  }
  bool connected() const override { return io_ != nullptr; }

  IoResult read(std::span<uint8_t> buf) override {
    if (!io_) return {Status::Error, 0};
    return io_->read(buf);
  }
  IoResult write(std::span<const uint8_t> buf) override {
    if (!io_) return {Status::Error, 0};
    return io_->write(buf);
  }
  IoResult writev(std::span<const std::span<const uint8_t>> bufs) override {
    if (!io_) return {Status::Error, 0};
    return io_->writev(bufs);
  }

  void shutdown_write() override {
    if (io_) io_->shutdown_write();
  }

  void close() override {
    if (io_) io_->close();
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  const Error& error() const override { return io_ ? io_->error() : error_; }

 private:
  Status fail(int err) {
    error_.kind = ErrorKind::Connect;
    error_.sys_errno = err;
    error_.message = "connect to unix:" + path_ + " failed: " + errno_text(err);
    failed_ = true;
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    return Status::Error;
  }

  std::string path_;
  int fd_ = -1;
  bool failed_ = false;
  std::unique_ptr<Stream> io_;  // once connected
  Error error_;
};

}  // namespace

std::unique_ptr<Stream> open(const std::string& path) { return std::make_unique<UnixStream>(path); }

}  // namespace transport::unix_socket
