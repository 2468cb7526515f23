#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/support/process.h"
#include "transport/tcp/resolver.h"
#include "transport/tcp/tcp.h"

using transport::Status;
using namespace std::chrono_literals;

namespace {

struct Listener {
  int fd = -1;
  uint16_t port = 0;
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, 8) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~Listener() { ::close(fd); }
  int accept() { return ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC); }
};

// Drives connect() the way a reactor would: wait on fd()/interest(), retry.
Status connect_blocking(transport::Stream& s, std::chrono::milliseconds limit = 5000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    Status st = s.connect();
    if (st != Status::WouldBlock) return st;
    if (std::chrono::steady_clock::now() > deadline) return st;
    pollfd p{s.fd(), 0, 0};
    if (s.interest().read) p.events |= POLLIN;
    if (s.interest().write) p.events |= POLLOUT;
    ::poll(&p, 1, 100);
  }
}

std::string read_some(transport::Stream& s) {
  std::vector<uint8_t> buf(4096);
  for (int i = 0; i < 100; ++i) {
    auto r = s.read(buf);
    if (r.status == Status::Ok) return std::string(buf.begin(), buf.begin() + r.bytes);
    if (r.status != Status::WouldBlock) return "<" + std::to_string(static_cast<int>(r.status)) + ">";
    pollfd p{s.fd(), POLLIN, 0};
    ::poll(&p, 1, 50);
  }
  return "<timeout>";
}

}  // namespace

TEST_CASE("tcp: connects to a numeric address, exchanges bytes both ways, sees close") {
  Listener l;
  auto s = transport::tcp::open({"127.0.0.1", l.port});
  REQUIRE(connect_blocking(*s) == Status::Ok);
  CHECK(s->connected());
  int peer = l.accept();
  REQUIRE(peer >= 0);

  std::string msg = "hello";
  auto w = s->write({reinterpret_cast<const uint8_t*>(msg.data()), msg.size()});
  REQUIRE(w.status == Status::Ok);
  CHECK(w.bytes == 5);
  char buf[16] = {};
  CHECK(::recv(peer, buf, sizeof buf, 0) == 5);
  CHECK(std::string(buf, 5) == "hello");

  // writev gathers
  std::string a = "ab", b = "cde";
  std::span<const uint8_t> parts[] = {{reinterpret_cast<const uint8_t*>(a.data()), a.size()},
                                      {reinterpret_cast<const uint8_t*>(b.data()), b.size()}};
  auto wv = s->writev(parts);
  REQUIRE(wv.status == Status::Ok);
  CHECK(wv.bytes == 5);
  CHECK(::recv(peer, buf, sizeof buf, 0) == 5);
  CHECK(std::string(buf, 5) == "abcde");

  // nothing to read yet: WouldBlock, never blocks
  std::vector<uint8_t> rb(64);
  CHECK(s->read(rb).status == Status::WouldBlock);
  REQUIRE(::send(peer, "xyz", 3, 0) == 3);
  CHECK(read_some(*s) == "xyz");

  ::close(peer);
  std::string r;
  for (int i = 0; i < 100; ++i) {
    auto rr = s->read(rb);
    if (rr.status == Status::Closed) {
      r = "closed";
      break;
    }
    pollfd p{s->fd(), POLLIN, 0};
    ::poll(&p, 1, 50);
  }
  CHECK(r == "closed");
  s->close();
  CHECK(s->fd() == -1);
  s->close();  // idempotent
}

TEST_CASE("tcp: writing to a reset peer is an error value, not SIGPIPE") {
  Listener l;
  auto s = transport::tcp::open({"127.0.0.1", l.port});
  REQUIRE(connect_blocking(*s) == Status::Ok);
  int peer = l.accept();
  linger lg{1, 0};
  ::setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  ::close(peer);  // RST
  std::vector<uint8_t> data(65536, 'x');
  Status last = Status::Ok;
  for (int i = 0; i < 200 && last != Status::Error; ++i) {
    last = s->write(data).status;
    if (last == Status::WouldBlock) {
      pollfd p{s->fd(), POLLOUT, 0};
      ::poll(&p, 1, 20);
    }
    std::vector<uint8_t> rb(16);
    auto rr = s->read(rb);
    if (rr.status == Status::Error) last = Status::Error;
  }
  CHECK(last == Status::Error);
  CHECK(s->error().kind == transport::ErrorKind::Io);
  CHECK(s->error().sys_errno != 0);
}

TEST_CASE("tcp: connection refused is reported with errno") {
  uint16_t port;
  {
    Listener l;
    port = l.port;
  }  // closed: nothing listens there now
  auto s = transport::tcp::open({"127.0.0.1", port});
  CHECK(connect_blocking(*s) == Status::Error);
  CHECK(s->error().kind == transport::ErrorKind::Connect);
  CHECK(s->error().sys_errno == ECONNREFUSED);
}

TEST_CASE("tcp: host names are resolved off the calling thread") {
  Listener l;
  auto s = transport::tcp::open({"localhost", l.port});
  // open() returned at once; the resolver's fd becomes readable when done.
  Status st = connect_blocking(*s);
  if (st == Status::Ok) {
    int peer = l.accept();
    CHECK(peer >= 0);
    ::close(peer);
  } else {
    // localhost may resolve to ::1 first with no IPv6 listener; all addresses
    // are tried, so failing here means every one was refused.
    CHECK(s->error().kind == transport::ErrorKind::Connect);
  }
}

TEST_CASE("tcp: an unresolvable host name is a Dns error") {
  // A 70-character label is not a valid DNS name: getaddrinfo fails without
  // sending a query (tests send no traffic off this machine; a lookup of an
  // unknown but valid name would ask the system's DNS server).
  const std::string name = std::string(70, 'a') + ".example";
  auto s = transport::tcp::open({name, 1883});
  CHECK(connect_blocking(*s, 20000ms) == Status::Error);
  CHECK(s->error().kind == transport::ErrorKind::Dns);
  CHECK_FALSE(s->error().message.empty());
}

TEST_CASE("resolver: numeric addresses resolve synchronously") {
  transport::tcp::ResolveResult r;
  REQUIRE(transport::tcp::resolve_numeric("127.0.0.1", 80, r));
  CHECK(r.error == 0);
  REQUIRE(r.addresses.size() >= 1);
  CHECK(r.addresses[0].family == AF_INET);
  REQUIRE(transport::tcp::resolve_numeric("[::1]", 80, r));
  CHECK(r.addresses[0].family == AF_INET6);
  CHECK_FALSE(transport::tcp::resolve_numeric("example.invalid", 80, r));
}

TEST_CASE("tcp: bind_address picks the local address; a wrong one fails clearly") {
  Listener l;
  transport::tcp::Options o{"127.0.0.1", l.port};
  o.bind_address = "127.0.0.2";  // any 127/8 address is local on lo
  auto s = transport::tcp::open(o);
  REQUIRE(connect_blocking(*s) == Status::Ok);
  sockaddr_in peer{};
  socklen_t len = sizeof peer;
  const int fd = ::accept4(l.fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
  REQUIRE(fd >= 0);
  char text[32];
  CHECK(std::string(::inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text)) == "127.0.0.2");
  ::close(fd);

  o.bind_address = "not-an-address";
  auto bad = transport::tcp::open(o);
  CHECK(connect_blocking(*bad) == Status::Error);
  CHECK(bad->error().message.find("not an IP address") != std::string::npos);

  o.bind_address = "::1";  // IPv6 source for an IPv4 destination
  auto other = transport::tcp::open(o);
  CHECK(connect_blocking(*other) == Status::Error);
  CHECK(other->error().sys_errno == EAFNOSUPPORT);
}

// --- Happy Eyeballs (RFC 8305) and the resolver pool ---

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

sockaddr_in v4(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

// A listening socket on ip:port (port 0: any); -1 when the address is taken.
int listen_on(const char* ip, uint16_t port, int backlog) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = v4(ip, port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, backlog) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

uint16_t port_of(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// A black hole without privileges: a listener whose accept queue is full.
// Linux drops the SYNs it cannot queue (no RST), so a connect to it stays
// pending, as to an address whose packets a firewall DROPs. (The real DROP
// rule, in a network namespace, is in tests/integration/netns_test.cc.)
struct BlackHole {
  int fd = -1;
  std::vector<int> fillers;
  BlackHole(const char* ip, uint16_t port) {
    fd = listen_on(ip, port, 0);
    if (fd < 0) return;
    // With backlog 0 one connection fills the queue; check that the next
    // one really hangs.
    for (int i = 0; i < 4; ++i) {
      int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      sockaddr_in a = v4(ip, port);
      ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
      pollfd p{c, POLLOUT, 0};
      if (::poll(&p, 1, 200) == 0) {  // pending: the hole works
        ::close(c);
        return;
      }
      fillers.push_back(c);
    }
    FAIL("could not fill the accept queue of " << ip << ":" << port);
  }
  ~BlackHole() {
    for (int c : fillers) ::close(c);
    if (fd >= 0) ::close(fd);
  }
};

// A listener on 127.0.0.1:P and a black hole on 127.0.0.2:P (same port: a
// pre-resolved address list has one port).
struct HoleAndListener {
  int listener = -1;
  uint16_t port = 0;
  std::optional<BlackHole> hole;
  HoleAndListener() {
    for (int i = 0; i < 20 && !hole; ++i) {
      listener = listen_on("127.0.0.1", 0, 8);
      REQUIRE(listener >= 0);
      port = port_of(listener);
      hole.emplace("127.0.0.2", port);
      if (hole->fd < 0) {
        hole.reset();
        ::close(listener);
        listener = -1;
      }
    }
    REQUIRE(hole);
  }
  ~HoleAndListener() {
    if (listener >= 0) ::close(listener);
  }
};

std::string peer_ip(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return "<none>";
  char text[32];
  return ::inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
}

transport::tcp::Address addr(const char* ip) {
  transport::tcp::ResolveResult r;
  REQUIRE(transport::tcp::resolve_numeric(ip, 1883, r));
  return r.addresses.at(0);
}

}  // namespace

TEST_CASE("happy eyeballs: families interleave, starting with the first address's") {
  using transport::tcp::interleave_families;
  auto text = [](const std::vector<transport::tcp::Address>& v) {
    std::string s;
    for (const auto& a : v) s += transport::tcp::to_string(a) + " ";
    return s;
  };
  CHECK(text(interleave_families({addr("::1"), addr("::2"), addr("::3"), addr("10.0.0.1"),
                                  addr("10.0.0.2")})) ==
        "[::1]:1883 10.0.0.1:1883 [::2]:1883 10.0.0.2:1883 [::3]:1883 ");
  CHECK(text(interleave_families({addr("10.0.0.1"), addr("10.0.0.2"), addr("::1")})) ==
        "10.0.0.1:1883 [::1]:1883 10.0.0.2:1883 ");
  CHECK(text(interleave_families({addr("10.0.0.1"), addr("10.0.0.2")})) ==
        "10.0.0.1:1883 10.0.0.2:1883 ");
  CHECK(interleave_families({}).empty());
}

TEST_CASE("happy eyeballs: a black-holed first address costs attempt_delay, not the timeout") {
  HoleAndListener net;
  for (auto delay : {150ms, 600ms}) {
    INFO("attempt_delay " << delay.count() << " ms");
    transport::tcp::Options o{"twin.test", net.port};
    o.addresses = {"127.0.0.2", "127.0.0.1"};  // the black hole first
    o.attempt_delay = delay;
    const size_t fds_before = itest::count_dir_entries("/proc/self/fd");
    const auto t0 = Clock::now();
    auto s = transport::tcp::open(o);
    REQUIRE(connect_blocking(*s, 5000ms) == Status::Ok);
    const double took = ms_since(t0);
    CHECK(took >= static_cast<double>(delay.count()) - 5);
    CHECK(took < static_cast<double>(delay.count()) + 1000);
    CHECK(peer_ip(s->fd()) == "127.0.0.1");
    // The pending attempt, the epoll set and the timer are closed: only the
    // winning socket is left.
    CHECK(itest::count_dir_entries("/proc/self/fd") == fds_before + 1);
    int peer = ::accept4(net.listener, nullptr, nullptr, SOCK_CLOEXEC);
    CHECK(peer >= 0);
    ::close(peer);
    s->close();
    CHECK(itest::count_dir_entries("/proc/self/fd") == fds_before);
  }
}

TEST_CASE("happy eyeballs: attempt_delay 0 races every address; max() tries one at a time") {
  HoleAndListener net;
  transport::tcp::Options o{"twin.test", net.port};
  o.addresses = {"127.0.0.2", "127.0.0.1"};
  o.attempt_delay = 0ms;
  auto t0 = Clock::now();
  auto s = transport::tcp::open(o);
  REQUIRE(connect_blocking(*s, 5000ms) == Status::Ok);
  CHECK(ms_since(t0) < 200);
  CHECK(peer_ip(s->fd()) == "127.0.0.1");

  o.attempt_delay = std::chrono::milliseconds::max();
  auto one_at_a_time = transport::tcp::open(o);
  t0 = Clock::now();
  CHECK(connect_blocking(*one_at_a_time, 1000ms) == Status::WouldBlock);  // stuck on the hole
  CHECK(ms_since(t0) >= 990);
}

TEST_CASE("happy eyeballs: a refused address moves on at once, without waiting the delay") {
  int l = listen_on("127.0.0.1", 0, 8);
  REQUIRE(l >= 0);
  const uint16_t port = port_of(l);
  transport::tcp::Options o{"twin.test", port};
  o.addresses = {"127.0.0.2", "127.0.0.1"};  // nothing listens on 127.0.0.2: RST
  o.attempt_delay = 5000ms;
  const auto t0 = Clock::now();
  auto s = transport::tcp::open(o);
  REQUIRE(connect_blocking(*s, 5000ms) == Status::Ok);
  CHECK(ms_since(t0) < 1000);
  CHECK(peer_ip(s->fd()) == "127.0.0.1");
  ::close(l);
}

TEST_CASE("happy eyeballs: when every address fails, the error lists each with its errno") {
  uint16_t port;
  {
    Listener l;
    port = l.port;
  }  // nothing listens there now
  transport::tcp::Options o{"twin.test", port};
  o.addresses = {"127.0.0.2", "127.0.0.3"};
  auto s = transport::tcp::open(o);
  REQUIRE(connect_blocking(*s) == Status::Error);
  CHECK(s->error().kind == transport::ErrorKind::Connect);
  CHECK(s->error().sys_errno == ECONNREFUSED);
  const std::string p = std::to_string(port);
  CHECK(s->error().message == "connect to twin.test:" + p + " failed on every address: 127.0.0.2:" +
                                  p + ": Connection refused; 127.0.0.3:" + p +
                                  ": Connection refused");

  o.addresses = {"127.0.0.1", "not-an-ip"};
  auto bad = transport::tcp::open(o);
  CHECK(connect_blocking(*bad) == Status::Error);
  CHECK(bad->error().message == "address 'not-an-ip' is not an IP literal");
}

TEST_CASE("resolver: lookups run on pool threads that are gone once idle") {
  const size_t tasks_before = itest::count_dir_entries("/proc/self/task");
  {
    std::vector<std::unique_ptr<transport::tcp::AsyncResolver>> lookups;
    for (int i = 0; i < 20; ++i) {
      lookups.push_back(std::make_unique<transport::tcp::AsyncResolver>("localhost", 1883));
    }
    CHECK(transport::tcp::resolver_threads() <= transport::tcp::kMaxResolverThreads);
    const auto deadline = Clock::now() + 10s;
    for (auto& r : lookups) {
      while (!r->ready() && Clock::now() < deadline) {
        pollfd p{r->fd(), POLLIN, 0};
        ::poll(&p, 1, 50);
      }
      REQUIRE(r->ready());
      CHECK(r->result().error == 0);
      CHECK_FALSE(r->result().addresses.empty());
    }
    // Abandoned lookups never wait for their worker.
    for (int i = 0; i < 20; ++i) {
      const auto t0 = Clock::now();
      { transport::tcp::AsyncResolver dropped("localhost", 1883); }
      CHECK(ms_since(t0) < 50);
    }
  }
  const auto deadline = Clock::now() + 5s;
  while ((transport::tcp::resolver_threads() > 0 ||
          itest::count_dir_entries("/proc/self/task") > tasks_before) &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  CHECK(transport::tcp::resolver_threads() == 0);
  CHECK(itest::count_dir_entries("/proc/self/task") == tasks_before);
}
