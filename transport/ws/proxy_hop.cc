#include "transport/ws/proxy_hop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

namespace transport::ws {
namespace {

constexpr size_t kChunk = 64 * 1024;  // bytes relayed per read
constexpr int kMaxRounds = 256;       // relay rounds per call (bounded)

class ProxyHopStream final : public Stream {
 public:
  ProxyHopStream(std::unique_ptr<Stream> tunnel, const Options& o)
      : tunnel_(std::move(tunnel)), o_(o), buf_(kChunk) {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) {
      fail(ErrorKind::Io, errno, std::string("epoll_create1: ") + std::strerror(errno));
      return;
    }
    if (!tunnel_) {
      fail(ErrorKind::Connect, 0, "no proxy tunnel");
      return;
    }
    watch(tunnel_fd_, tunnel_->fd());
  }

  ~ProxyHopStream() override { close(); }

  int fd() const override { return epfd_; }

  Interest interest() const override {
    return {true, want_write_ || (ws_ && ws_->interest().write)};
  }

  Status connect() override {
    drain_events();
    if (phase_ == Phase::Tunnel) {
      const Status s = tunnel_->connect();
      watch(tunnel_fd_, tunnel_->fd());
      if (s == Status::Error) {
        error_ = tunnel_->error();
        phase_ = Phase::Failed;
        return Status::Error;
      }
      if (s == Status::WouldBlock) return Status::WouldBlock;
      if (!start_hop()) return Status::Error;
    }
    for (int i = 0; i < kMaxRounds; ++i) {
      switch (phase_) {
        case Phase::Open: return Status::Ok;
        case Phase::Hop: break;
        default: return Status::Error;
      }
      accept_peer();
      relay();
      const Status s = ws_->connect();
      watch(ws_fd_, ws_->fd());
      if (s == Status::Ok) {
        phase_ = Phase::Open;
        relay();
        return Status::Ok;
      }
      if (s == Status::Error) {
        fail_from_ws();
        return Status::Error;
      }
      if (!relay() && !accept_pending()) return Status::WouldBlock;
    }
    return Status::WouldBlock;
  }

  bool connected() const override { return phase_ == Phase::Open; }

  IoResult read(std::span<uint8_t> buf) override {
    if (phase_ != Phase::Open) return {Status::Error, 0};
    drain_events();
    for (int i = 0; i < kMaxRounds; ++i) {
      relay();
      const IoResult r = ws_->read(buf);
      if (r.status == Status::WouldBlock && relay()) continue;
      if (r.status == Status::Error || r.status == Status::Closed) {
        if (tunnel_failed_) {
          error_ = tunnel_->error();
          phase_ = Phase::Failed;
          return {Status::Error, 0};
        }
        if (r.status == Status::Error) fail_from_ws();
      }
      return r;
    }
    return {Status::WouldBlock, 0};
  }

  IoResult write(std::span<const uint8_t> buf) override {
    const std::span<const uint8_t> one[] = {buf};
    return writev(one);
  }

  IoResult writev(std::span<const std::span<const uint8_t>> bufs) override {
    if (phase_ != Phase::Open) return {Status::Error, 0};
    drain_events();
    IoResult r{Status::WouldBlock, 0};
    for (int i = 0; i < kMaxRounds; ++i) {
      relay();
      r = ws_->writev(bufs);
      const bool moved = relay();
      if (r.status != Status::WouldBlock || !moved) break;
    }
    want_write_ = r.status == Status::WouldBlock;
    if (r.status == Status::Error) {
      if (tunnel_failed_) {
        error_ = tunnel_->error();
        phase_ = Phase::Failed;
      } else {
        fail_from_ws();
      }
    }
    return r;
  }

  void close() override {
    if (ws_) ws_->close();
    ws_.reset();
    for (int* fd : {&peer_, &listener_}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
    if (tunnel_) tunnel_->close();
    if (epfd_ >= 0) ::close(epfd_);
    epfd_ = -1;
    if (phase_ != Phase::Failed) phase_ = Phase::Closed;
  }

  const Error& error() const override { return error_; }

 private:
  enum class Phase : uint8_t { Tunnel, Hop, Open, Failed, Closed };

  void fail(ErrorKind kind, int err, std::string message) {
    error_.kind = kind;
    error_.sys_errno = err;
    error_.message = std::move(message);
    phase_ = Phase::Failed;
  }

  void fail_from_ws() {
    if (tunnel_failed_) {
      error_ = tunnel_->error();
    } else {
      error_ = ws_->error();
      if (error_.kind == ErrorKind::None) error_ = {ErrorKind::Io, 0, "WebSocket connection closed"};
    }
    phase_ = Phase::Failed;
  }

  // Keeps `slot` registered as `fd` (edge-triggered: every readiness change
  // of any descriptor wakes the reactor through epfd_).
  void watch(int& slot, int fd) {
    if (epfd_ < 0) return;
    if (slot >= 0 && slot != fd) ::epoll_ctl(epfd_, EPOLL_CTL_DEL, slot, nullptr);
    slot = -1;
    if (fd < 0) return;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.fd = fd;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0 && errno == EEXIST)
      ::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);
    slot = fd;
  }

  // Empties epfd_'s ready list; the work itself is done by relay() and the
  // WebSocket stream, which try every descriptor.
  void drain_events() {
    if (epfd_ < 0) return;
    std::array<epoll_event, 8> evs{};
    for (int i = 0; i < 16; ++i) {
      const int n = ::epoll_wait(epfd_, evs.data(), static_cast<int>(evs.size()), 0);
      if (n < static_cast<int>(evs.size())) break;
    }
  }

  bool start_hop() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listener_, 1) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      fail(ErrorKind::Io, errno,
           std::string("cannot open the local WebSocket hop: ") + std::strerror(errno));
      return false;
    }
    watch(listener_fd_, listener_);
    Options w = o_;
    w.connect_address = "127.0.0.1";
    w.connect_port = ntohs(a.sin_port);
    w.bind_address.clear();  // the tunnel's TCP connection is the one bound
    ws_ = open(w);
    watch(ws_fd_, ws_->fd());
    phase_ = Phase::Hop;
    return true;
  }

  bool accept_pending() const { return peer_ < 0 && listener_ >= 0 && ws_ && ws_->fd() >= 0; }

  // Takes libwebsockets' connection from the listener; anyone else's is
  // closed. Then the listener goes.
  void accept_peer() {
    if (peer_ >= 0 || listener_ < 0 || !ws_) return;
    for (int i = 0; i < 8; ++i) {
      sockaddr_in from{};
      socklen_t len = sizeof from;
      const int fd = ::accept4(listener_, reinterpret_cast<sockaddr*>(&from), &len,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      sockaddr_in mine{};
      socklen_t mlen = sizeof mine;
      const int wfd = ws_->fd();
      if (wfd < 0 || ::getsockname(wfd, reinterpret_cast<sockaddr*>(&mine), &mlen) != 0 ||
          mine.sin_port != from.sin_port || mine.sin_addr.s_addr != from.sin_addr.s_addr) {
        ::close(fd);
        continue;
      }
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      peer_ = fd;
      watch(peer_fd_, peer_);
      watch(listener_fd_, -1);
      ::close(listener_);
      listener_ = -1;
      return;
    }
  }

  // Moves bytes both ways between the loopback connection and the tunnel
  // until neither side can take or give more. True when any moved.
  bool relay() {
    if (peer_ < 0) return false;
    bool moved = false;
    for (int i = 0; i < kMaxRounds && !tunnel_failed_; ++i) {  // libwebsockets -> tunnel
      if (up_off_ < up_.size()) {
        const IoResult r = tunnel_->write({up_.data() + up_off_, up_.size() - up_off_});
        if (r.status == Status::Ok) {
          up_off_ += r.bytes;
          moved = true;
          continue;
        }
        if (r.status == Status::Error) tunnel_lost();
        break;
      }
      if (peer_eof_) break;
      const ssize_t n = ::recv(peer_, buf_.data(), buf_.size(), 0);
      if (n > 0) {
        up_.assign(buf_.data(), buf_.data() + n);
        up_off_ = 0;
        moved = true;
      } else {
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) peer_eof_ = true;
        break;
      }
    }
    for (int i = 0; i < kMaxRounds; ++i) {  // tunnel -> libwebsockets
      if (down_off_ < down_.size()) {
        const ssize_t n =
            ::send(peer_, down_.data() + down_off_, down_.size() - down_off_, MSG_NOSIGNAL);
        if (n > 0) {
          down_off_ += static_cast<size_t>(n);
          moved = true;
          continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
        down_.clear();  // libwebsockets' side is gone
        down_off_ = 0;
        break;
      }
      if (tunnel_eof_ || tunnel_failed_) break;
      const IoResult r = tunnel_->read(buf_);
      if (r.status == Status::Ok) {
        down_.assign(buf_.data(), buf_.data() + r.bytes);
        down_off_ = 0;
        moved = true;
        continue;
      }
      if (r.status == Status::Closed) {
        tunnel_eof_ = true;
        ::shutdown(peer_, SHUT_WR);  // libwebsockets sees the end too
      } else if (r.status == Status::Error) {
        tunnel_lost();
      }
      break;
    }
    return moved;
  }

  void tunnel_lost() {
    tunnel_failed_ = true;
    ::shutdown(peer_, SHUT_RDWR);
  }

  std::unique_ptr<Stream> tunnel_;
  Options o_;
  std::unique_ptr<Stream> ws_;
  Phase phase_ = Phase::Tunnel;
  int epfd_ = -1;
  int listener_ = -1;
  int peer_ = -1;  // our end of the loopback connection from libwebsockets
  // What epfd_ watches.
  int tunnel_fd_ = -1, ws_fd_ = -1, listener_fd_ = -1, peer_fd_ = -1;
  std::vector<uint8_t> buf_;
  std::vector<uint8_t> up_, down_;
  size_t up_off_ = 0, down_off_ = 0;
  bool peer_eof_ = false, tunnel_eof_ = false, tunnel_failed_ = false;
  bool want_write_ = false;
  Error error_;
};

}  // namespace

std::unique_ptr<Stream> open_through(std::unique_ptr<Stream> tunnel, const Options& options) {
  return std::make_unique<ProxyHopStream>(std::move(tunnel), options);
}

}  // namespace transport::ws
