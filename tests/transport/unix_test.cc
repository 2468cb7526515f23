// Unix domain socket transport (//transport) against listening sockets the
// test makes: filesystem paths and the abstract namespace.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "transport/unix/unix.h"

using transport::Status;
using namespace std::chrono_literals;

namespace {

// A short folder under /tmp: $TEST_TMPDIR is usually longer than a socket
// path may be (107 bytes). Removed with its socket at the end of the scope.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/mqtt-unix-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    ::unlink((path + "/broker.sock").c_str());
    ::rmdir(path.c_str());
  }
};

struct Listener {
  int fd = -1;
  explicit Listener(const std::string& path) {
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.data(), path.size());
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
    if (path[0] == '@') {
      a.sun_path[0] = '\0';
    } else {
      len += 1;
    }
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), len) == 0);
    REQUIRE(::listen(fd, 8) == 0);
  }
  ~Listener() { ::close(fd); }
  int accept() { return ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC); }
};

Status connect_blocking(transport::Stream& s, std::chrono::milliseconds limit = 5000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (int i = 0; i < 10000; ++i) {
    Status st = s.connect();
    if (st != Status::WouldBlock) return st;
    if (std::chrono::steady_clock::now() > deadline) return st;
    pollfd p{s.fd(), 0, 0};
    if (s.interest().read) p.events |= POLLIN;
    if (s.interest().write) p.events |= POLLOUT;
    ::poll(&p, 1, 100);
  }
  return Status::WouldBlock;
}

std::string read_some(transport::Stream& s) {
  std::vector<uint8_t> buf(4096);
  for (int i = 0; i < 100; ++i) {
    auto r = s.read(buf);
    if (r.status == Status::Ok) return std::string(buf.begin(), buf.begin() + r.bytes);
    if (r.status != Status::WouldBlock) return "<status " + std::to_string(static_cast<int>(r.status)) + ">";
    pollfd p{s.fd(), POLLIN, 0};
    ::poll(&p, 1, 50);
  }
  return "<timeout>";
}

void exchange(const std::string& path) {
  Listener l(path);
  auto s = transport::unix_socket::open(path);
  REQUIRE(connect_blocking(*s) == Status::Ok);
  CHECK(s->connected());
  const int peer = l.accept();
  REQUIRE(peer >= 0);
  const std::string hello = "hello over unix";
  auto w = s->write({reinterpret_cast<const uint8_t*>(hello.data()), hello.size()});
  REQUIRE(w.status == Status::Ok);
  char buf[64];
  const ssize_t n = ::recv(peer, buf, sizeof buf, 0);
  REQUIRE(n == static_cast<ssize_t>(hello.size()));
  CHECK(std::string(buf, static_cast<size_t>(n)) == hello);
  REQUIRE(::send(peer, "back", 4, 0) == 4);
  CHECK(read_some(*s) == "back");
  ::close(peer);
  std::vector<uint8_t> rb(16);
  Status last = Status::WouldBlock;
  for (int i = 0; i < 100 && last == Status::WouldBlock; ++i) {
    last = s->read(rb).status;
    if (last == Status::WouldBlock) ::usleep(10000);
  }
  CHECK(last == Status::Closed);
  s->close();
  s->close();  // idempotent
}

}  // namespace

TEST_CASE("unix socket: connect, write, read, peer close") {
  TempDir dir;
  exchange(dir.path + "/broker.sock");
}

TEST_CASE("unix socket: abstract namespace (leading @)") {
  exchange("@mqtt-unix-test-" + std::to_string(::getpid()));
}

TEST_CASE("unix socket: a missing socket fails with ENOENT and says which path") {
  TempDir dir;
  const std::string path = dir.path + "/nobody.sock";
  auto s = transport::unix_socket::open(path);
  CHECK(s->connect() == Status::Error);
  CHECK(s->error().kind == transport::ErrorKind::Connect);
  CHECK(s->error().sys_errno == ENOENT);
  CHECK(s->error().message.find(path) != std::string::npos);
  CHECK(s->connect() == Status::Error);  // stays failed
}

TEST_CASE("unix socket: a path that does not fit sockaddr_un fails with ENAMETOOLONG") {
  auto s = transport::unix_socket::open("/" + std::string(transport::unix_socket::kMaxPath, 'x'));
  CHECK(s->connect() == Status::Error);
  CHECK(s->error().sys_errno == ENAMETOOLONG);
  auto e = transport::unix_socket::open("");
  CHECK(e->connect() == Status::Error);
  CHECK(e->error().sys_errno == EINVAL);
}
