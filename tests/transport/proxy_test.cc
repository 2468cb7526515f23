// Proxy streams (transport/proxy: HTTP CONNECT and SOCKS5) against real
// proxies on free loopback ports -- tinyproxy and microsocks, started here and
// stopped by pid -- tunnelling to an echo server the test runs on a thread;
// plus fake proxies (a thread answering canned bytes) for the edge cases the
// real ones do not produce on demand (tunnel bytes in the same read as the
// HTTP header block, a SOCKS5 reply split across reads).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/support/process.h"
#include "transport/proxy/http_connect.h"
#include "transport/proxy/socks5.h"
#include "transport/tcp/tcp.h"


using transport::ErrorKind;
using transport::Status;
using namespace std::chrono_literals;
namespace proxy = transport::proxy;

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kStep = 10000ms;  // limit for one connect / exchange (sanitizers are slow)

// A listening socket on 127.0.0.1 and a port the kernel picked.
int listen_loopback(uint16_t* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd, 16) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

using itest::pick_free_port;
using itest::port_accepts;
using itest::require_binary;
std::string slurp(const std::string& path) { return itest::read_file(path); }
std::string temp_dir() { return itest::make_temp_dir("proxy-test"); }

// Echoes every byte back on every connection, from a thread; stopped (and
// joined) when destroyed, or after 60 s at most. Also listens on [::1] with
// the same port when it can, for a "localhost" that resolves to ::1 first.
class EchoServer {
 public:
  EchoServer() {
    fds_.push_back(listen_loopback(&port_));
    int fd6 = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd6 >= 0) {
      int one = 1;
      ::setsockopt(fd6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_addr = in6addr_loopback;
      a.sin6_port = htons(port_);
      if (::bind(fd6, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd6, 16) == 0)
        fds_.push_back(fd6);
      else
        ::close(fd6);
    }
    listeners_ = fds_.size();
    thread_ = std::thread([this] { run(); });
  }
  ~EchoServer() {
    stop_ = true;
    thread_.join();
    for (int fd : fds_) ::close(fd);
  }
  uint16_t port() const { return port_; }

 private:
  void run() {
    const auto deadline = Clock::now() + 60s;
    while (!stop_ && Clock::now() < deadline) {
      std::vector<pollfd> p;
      for (int fd : fds_) p.push_back({fd, POLLIN, 0});
      if (::poll(p.data(), p.size(), 20) <= 0) continue;
      for (size_t i = 0; i < p.size(); ++i) {
        if (!p[i].revents) continue;
        if (i < listeners_) {
          int c = ::accept4(p[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
          if (c >= 0) fds_.push_back(c);
          continue;
        }
        char buf[4096];
        ssize_t n = ::recv(p[i].fd, buf, sizeof buf, 0);
        if (n > 0) {
          (void)::send(p[i].fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL);
        } else {
          ::close(p[i].fd);
          fds_[i] = -1;
        }
      }
      std::erase(fds_, -1);
    }
  }

  uint16_t port_ = 0;
  std::vector<int> fds_;  // listeners first, then connections (thread-owned)
  size_t listeners_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A fake proxy: accepts one connection and plays a script of steps (read
// exactly N bytes / read until a delimiter / send bytes / pause), recording
// what it read; then keeps the connection open until destroyed. Bounded.
struct Step {
  enum Kind { ReadN, ReadUntil, Send, Pause, Close } kind;
  size_t n = 0;
  std::string data;
};
Step read_n(size_t n) { return {Step::ReadN, n, {}}; }
Step read_until(std::string d) { return {Step::ReadUntil, 0, std::move(d)}; }
Step send(std::string d) { return {Step::Send, 0, std::move(d)}; }
Step pause_ms(size_t ms) { return {Step::Pause, ms, {}}; }
Step close_conn() { return {Step::Close, 0, {}}; }

class FakeProxy {
 public:
  explicit FakeProxy(std::vector<Step> script) : script_(std::move(script)) {
    listen_fd_ = listen_loopback(&port_);
    thread_ = std::thread([this] { run(); });
  }
  ~FakeProxy() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }
  // What the client sent, once the script is done (waits up to kStep).
  std::string received() {
    const auto deadline = Clock::now() + kStep;
    while (!done_ && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
    std::lock_guard<std::mutex> l(mu_);
    return received_;
  }

 private:
  bool wait_readable(int fd, const Clock::time_point& deadline) {
    while (!stop_ && Clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) return true;
    }
    return false;
  }

  void run() {
    const auto deadline = Clock::now() + 30s;
    int c = -1;
    if (wait_readable(listen_fd_, deadline))
      c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    std::string got;
    for (const Step& s : script_) {
      if (c < 0) break;
      if (s.kind == Step::Send) {
        (void)::send(c, s.data.data(), s.data.size(), MSG_NOSIGNAL);
      } else if (s.kind == Step::Pause) {
        std::this_thread::sleep_for(std::chrono::milliseconds(s.n));
      } else if (s.kind == Step::Close) {
        ::close(c);
        c = -1;
      } else {
        const size_t want = s.kind == Step::ReadN ? got.size() + s.n : 0;
        for (int i = 0; i < 100000; ++i) {
          if (s.kind == Step::ReadN && got.size() >= want) break;
          if (s.kind == Step::ReadUntil && got.find(s.data) != std::string::npos) break;
          if (!wait_readable(c, deadline)) break;
          char b = 0;
          if (::recv(c, &b, 1, 0) != 1) break;  // byte by byte: never read ahead
          got += b;
        }
      }
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      received_ = got;
    }
    done_ = true;
    while (!stop_ && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
    if (c >= 0) ::close(c);
  }

  std::vector<Step> script_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false}, done_{false};
  std::mutex mu_;
  std::string received_;
  std::thread thread_;
};

Status connect_blocking(transport::Stream& s, std::chrono::milliseconds limit = kStep) {
  const auto deadline = Clock::now() + limit;
  for (int i = 0; i < 100000; ++i) {
    Status st = s.connect();
    if (st != Status::WouldBlock) return st;
    if (Clock::now() > deadline) return st;
    pollfd p{s.fd(), 0, 0};
    if (s.interest().read) p.events |= POLLIN;
    if (s.interest().write) p.events |= POLLOUT;
    ::poll(&p, 1, 100);
  }
  return Status::WouldBlock;
}

// Reads until `n` bytes arrived (or Closed/Error/time out).
std::string read_n(transport::Stream& s, size_t n) {
  std::string out;
  std::vector<uint8_t> buf(4096);
  const auto deadline = Clock::now() + kStep;
  for (int i = 0; i < 100000 && out.size() < n && Clock::now() < deadline; ++i) {
    auto r = s.read(buf);
    if (r.status == Status::Ok) {
      out.append(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r.bytes));
      continue;
    }
    if (r.status != Status::WouldBlock)
      return out + "<status " + std::to_string(static_cast<int>(r.status)) + ">";
    pollfd p{s.fd(), POLLIN, 0};
    ::poll(&p, 1, 50);
  }
  return out;
}

void write_all(transport::Stream& s, const std::string& data) {
  size_t off = 0;
  const auto deadline = Clock::now() + kStep;
  for (int i = 0; i < 100000 && off < data.size() && Clock::now() < deadline; ++i) {
    auto r = s.write({reinterpret_cast<const uint8_t*>(data.data()) + off, data.size() - off});
    if (r.status == Status::Ok) {
      off += r.bytes;
      continue;
    }
    REQUIRE(r.status == Status::WouldBlock);
    pollfd p{s.fd(), POLLOUT, 0};
    ::poll(&p, 1, 50);
  }
  REQUIRE(off == data.size());
}

void round_trip(transport::Stream& s) {
  std::string data = "hello through the proxy\n";
  for (int i = 0; i < 2000; ++i) data += static_cast<char>('a' + i % 26);  // > one segment
  write_all(s, data);
  CHECK(read_n(s, data.size()) == data);
}

void wait_for_port(uint16_t port, itest::Process& child, const std::string& log) {
  const auto deadline = Clock::now() + kStep;
  while (!port_accepts(port)) {
    if (!child.running()) FAIL("the proxy exited: " + slurp(log));
    if (Clock::now() > deadline) FAIL("the proxy did not listen in time: " + slurp(log));
    std::this_thread::sleep_for(10ms);
  }
}

// tinyproxy in the foreground (-d) on a free port.
class Tinyproxy {
 public:
  Tinyproxy(const std::vector<uint16_t>& connect_ports, bool auth) {
    const std::string bin = require_binary("tinyproxy");
    dir_ = temp_dir();
    port_ = pick_free_port();
    const std::string conf = dir_ + "/tinyproxy.conf";
    std::ofstream f(conf);
    f << "Listen 127.0.0.1\nPort " << port_ << "\nAllow 127.0.0.1\nTimeout 30\n"
      << "LogFile \"" << dir_ << "/tinyproxy.log\"\nLogLevel Info\nMaxClients 20\n";
    for (uint16_t p : connect_ports) f << "ConnectPort " << p << "\n";
    if (auth) f << "BasicAuth user pass\n";
    f.close();
    log_ = dir_ + "/out.log";
    child_ = std::make_unique<itest::Process>(
        itest::Process::Spec({bin, "-d", "-c", conf}).out_err(log_));
    wait_for_port(port_, *child_, log_);
  }
  uint16_t port() const { return port_; }

 private:
  std::string dir_, log_;
  uint16_t port_ = 0;
  std::unique_ptr<itest::Process> child_;
};

class Microsocks {
 public:
  explicit Microsocks(bool auth) {
    const std::string bin = require_binary("microsocks");
    const std::string dir = temp_dir();
    port_ = pick_free_port();
    std::vector<std::string> argv{bin, "-i", "127.0.0.1", "-p", std::to_string(port_)};
    if (auth) argv.insert(argv.end(), {"-u", "user", "-P", "pass"});
    log_ = dir + "/microsocks.log";
    child_ = std::make_unique<itest::Process>(itest::Process::Spec(argv).out_err(log_));
    wait_for_port(port_, *child_, log_);
  }
  uint16_t port() const { return port_; }

 private:
  std::string log_;
  uint16_t port_ = 0;
  std::unique_ptr<itest::Process> child_;
};

std::unique_ptr<transport::Stream> to(uint16_t port) {
  return transport::tcp::open({"127.0.0.1", port});
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::string bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s += static_cast<char>(b);
  return s;
}

}  // namespace

// ---------------------------------------------------------------- HTTP CONNECT

TEST_CASE("http connect: base64") {
  CHECK(proxy::base64("") == "");
  CHECK(proxy::base64("f") == "Zg==");
  CHECK(proxy::base64("fo") == "Zm8=");
  CHECK(proxy::base64("foo") == "Zm9v");
  CHECK(proxy::base64("user:pass") == "dXNlcjpwYXNz");
}

TEST_CASE("http connect: tinyproxy without auth round-trips bytes to the echo server") {
  EchoServer echo;
  Tinyproxy tp({echo.port()}, false);
  auto s = proxy::http_connect(to(tp.port()), {"127.0.0.1", echo.port(), {}, {}});
  CHECK_FALSE(s->connected());
  REQUIRE(connect_blocking(*s) == Status::Ok);
  CHECK(s->connected());
  CHECK(s->connect() == Status::Ok);
  CHECK(s->error().kind == ErrorKind::None);
  round_trip(*s);
  s->close();
  s->close();  // idempotent
}

TEST_CASE("http connect: tinyproxy with BasicAuth") {
  EchoServer echo;
  const uint16_t closed = pick_free_port();
  Tinyproxy tp({echo.port(), closed}, true);

  SECTION("right credentials work") {
    auto s = proxy::http_connect(to(tp.port()), {"127.0.0.1", echo.port(), "user", "pass"});
    REQUIRE(connect_blocking(*s) == Status::Ok);
    round_trip(*s);
  }
  SECTION("no credentials: 407") {
    auto s = proxy::http_connect(to(tp.port()), {"127.0.0.1", echo.port(), {}, {}});
    REQUIRE(connect_blocking(*s) == Status::Error);
    CHECK(s->error().kind == ErrorKind::Connect);
    CHECK(contains(s->error().message, "407"));
    CHECK(contains(s->error().message, "proxy authentication required"));
    CHECK(contains(s->error().message, "127.0.0.1:" + std::to_string(echo.port())));
    CHECK(s->connect() == Status::Error);  // stays failed
    CHECK_FALSE(s->connected());
  }
  SECTION("wrong password: tinyproxy 1.11 answers 401") {
    auto s = proxy::http_connect(to(tp.port()), {"127.0.0.1", echo.port(), "user", "wrong"});
    REQUIRE(connect_blocking(*s) == Status::Error);
    CHECK(s->error().kind == ErrorKind::Connect);
    CHECK((contains(s->error().message, "401") || contains(s->error().message, "407")));
  }
  SECTION("an allowed port where nothing listens: tinyproxy answers 500") {
    auto s = proxy::http_connect(to(tp.port()), {"127.0.0.1", closed, "user", "pass"});
    REQUIRE(connect_blocking(*s) == Status::Error);
    CHECK(s->error().kind == ErrorKind::Connect);
    CHECK(contains(s->error().message, "500"));
    CHECK(contains(s->error().message, "127.0.0.1:" + std::to_string(closed)));
  }
}

TEST_CASE("http connect: a port not in ConnectPort -> 403") {
  EchoServer echo;
  Tinyproxy tp({echo.port()}, false);
  const uint16_t other = pick_free_port();
  auto s = proxy::http_connect(to(tp.port()), {"127.0.0.1", other, {}, {}});
  REQUIRE(connect_blocking(*s) == Status::Error);
  CHECK(s->error().kind == ErrorKind::Connect);
  CHECK(contains(s->error().message, "403"));
  CHECK(contains(s->error().message, "Access violation"));
}

TEST_CASE("http connect: the proxy itself unreachable keeps the inner error") {
  auto s = proxy::http_connect(to(pick_free_port()), {"example.com", 1883, {}, {}});
  REQUIRE(connect_blocking(*s) == Status::Error);
  CHECK(s->error().kind == ErrorKind::Connect);
  CHECK(s->error().sys_errno == ECONNREFUSED);
}

TEST_CASE("http connect (fake proxy): tunnel bytes in the same read as the header block") {
  FakeProxy fp({read_until("\r\n\r\n"),
                send("HTTP/1.1 200 Connection established\r\nX-A: b\r\n\r\nTUNNEL-BYTES"),
                read_n(4), send("pong")});
  auto s = proxy::http_connect(to(fp.port()), {"broker.example", 8883, "user", "pass"});
  REQUIRE(connect_blocking(*s) == Status::Ok);
  CHECK(s->interest().read);
  std::vector<uint8_t> buf(64);
  auto r = s->read(buf);  // served from what came with the headers
  REQUIRE(r.status == Status::Ok);
  CHECK(std::string(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r.bytes)) ==
        "TUNNEL-BYTES");
  write_all(*s, "ping");
  CHECK(read_n(*s, 4) == "pong");
  CHECK(fp.received() ==
        "CONNECT broker.example:8883 HTTP/1.1\r\nHost: broker.example:8883\r\n"
        "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\nping");
}

TEST_CASE("http connect (fake proxy): IPv6 literal in brackets, answer split across reads") {
  FakeProxy fp({read_until("\r\n\r\n"), send("HTTP/1.0 20"), pause_ms(30), send("0 OK\r"),
                pause_ms(30), send("\n\r\n")});
  auto s = proxy::http_connect(to(fp.port()), {"::1", 1883, {}, {}});
  REQUIRE(connect_blocking(*s) == Status::Ok);
  CHECK(fp.received() == "CONNECT [::1]:1883 HTTP/1.1\r\nHost: [::1]:1883\r\n\r\n");
}

TEST_CASE("http connect (fake proxy): 502 names the target") {
  FakeProxy fp({read_until("\r\n\r\n"), send("HTTP/1.1 502 Bad Gateway\r\n\r\n")});
  auto s = proxy::http_connect(to(fp.port()), {"broker.example", 1883, {}, {}});
  REQUIRE(connect_blocking(*s) == Status::Error);
  CHECK(contains(s->error().message, "the proxy could not reach broker.example:1883"));
  CHECK(contains(s->error().message, "502 Bad Gateway"));
}

TEST_CASE("http connect (fake proxy): malformed answer") {
  FakeProxy fp({read_until("\r\n\r\n"), send("SSH-2.0-OpenSSH\r\n\r\n")});
  auto s = proxy::http_connect(to(fp.port()), {"broker.example", 1883, {}, {}});
  REQUIRE(connect_blocking(*s) == Status::Error);
  CHECK(s->error().kind == ErrorKind::Connect);
  CHECK(contains(s->error().message, "malformed"));
  CHECK(contains(s->error().message, "SSH-2.0-OpenSSH"));
}

TEST_CASE("http connect (fake proxy): the proxy closes without answering") {
  FakeProxy fp({read_until("\r\n\r\n"), close_conn()});
  auto s = proxy::http_connect(to(fp.port()), {"broker.example", 1883, {}, {}});
  REQUIRE(connect_blocking(*s) == Status::Error);
  CHECK(s->error().kind == ErrorKind::Connect);
  CHECK(contains(s->error().message, "closed the connection"));
}

TEST_CASE("http connect (fake proxy): header block larger than the limit") {
  FakeProxy fp({read_until("\r\n\r\n"),
                send("HTTP/1.1 200 OK\r\nX: " + std::string(proxy::kMaxResponseHeader, 'x'))});
  auto s = proxy::http_connect(to(fp.port()), {"broker.example", 1883, {}, {}});
  REQUIRE(connect_blocking(*s) == Status::Error);
  CHECK(contains(s->error().message, "no end of headers"));
}

// ---------------------------------------------------------------------- SOCKS5

TEST_CASE("socks5: microsocks without auth round-trips by name and by IPv4 literal") {
  EchoServer echo;
  Microsocks ms(false);
  for (const char* host : {"localhost", "127.0.0.1"}) {
    INFO(host);
    auto s = proxy::socks5(to(ms.port()), {host, echo.port(), {}, {}});
    REQUIRE(connect_blocking(*s) == Status::Ok);
    CHECK(s->connected());
    round_trip(*s);
  }
}

TEST_CASE("socks5: microsocks with user/pass") {
  EchoServer echo;
  Microsocks ms(true);
  SECTION("right credentials work") {
    auto s = proxy::socks5(to(ms.port()), {"localhost", echo.port(), "user", "pass"});
    REQUIRE(connect_blocking(*s) == Status::Ok);
    round_trip(*s);
  }
  SECTION("wrong password: authentication refused") {
    auto s = proxy::socks5(to(ms.port()), {"localhost", echo.port(), "user", "wrong"});
    REQUIRE(connect_blocking(*s) == Status::Error);
    CHECK(s->error().kind == ErrorKind::Connect);
    CHECK(contains(s->error().message, "authentication refused"));
  }
  SECTION("no credentials: no acceptable method (0xFF)") {
    auto s = proxy::socks5(to(ms.port()), {"localhost", echo.port(), {}, {}});
    REQUIRE(connect_blocking(*s) == Status::Error);
    CHECK(contains(s->error().message, "no acceptable authentication method (0xFF)"));
  }
}

TEST_CASE("socks5: microsocks to a closed port -> reply 0x05 connection refused") {
  Microsocks ms(false);
  const uint16_t closed = pick_free_port();
  auto s = proxy::socks5(to(ms.port()), {"127.0.0.1", closed, {}, {}});
  REQUIRE(connect_blocking(*s) == Status::Error);
  CHECK(s->error().kind == ErrorKind::Connect);
  CHECK(contains(s->error().message, "reply 0x05 (connection refused)"));
  CHECK(contains(s->error().message, "127.0.0.1:" + std::to_string(closed)));
}

TEST_CASE("socks5 (fake proxy): a reply split across reads, tunnel bytes right after it") {
  // Greeting, request for a name (ATYP 3), reply with a domain BND.ADDR.
  FakeProxy fp({read_n(4), send(bytes({5, 2})), read_n(1 + 1 + 4 + 1 + 4),
                send(bytes({1, 0})), read_n(4 + 1 + 14 + 2), send(bytes({5, 0})), pause_ms(30),
                send(bytes({0, 3, 9})), pause_ms(30), send("local"), pause_ms(30),
                send("host" + bytes({0x07, 0x5B}) + "TUNNEL"), read_n(4), send("pong")});
  auto s = proxy::socks5(to(fp.port()), {"broker.example", 8883, "user", "pass"});
  REQUIRE(connect_blocking(*s) == Status::Ok);
  CHECK(read_n(*s, 6) == "TUNNEL");
  write_all(*s, "ping");
  CHECK(read_n(*s, 4) == "pong");
  CHECK(fp.received() == bytes({5, 2, 0, 2}) + bytes({1, 4}) + "user" + bytes({4}) + "pass" +
                             bytes({5, 1, 0, 3, 14}) + "broker.example" + bytes({0x22, 0xB3}) +
                             "ping");
}

TEST_CASE("socks5 (fake proxy): IPv6 literal as ATYP 4, IPv6 BND.ADDR") {
  std::string reply = bytes({5, 0, 0, 4}) + std::string(16, '\0') + bytes({0, 1});
  FakeProxy fp({read_n(3), send(bytes({5, 0})), read_n(4 + 16 + 2), send(reply + "X")});
  auto s = proxy::socks5(to(fp.port()), {"[::1]", 1883, {}, {}});
  REQUIRE(connect_blocking(*s) == Status::Ok);
  CHECK(read_n(*s, 1) == "X");
  CHECK(fp.received() == bytes({5, 1, 0}) + bytes({5, 1, 0, 4}) + std::string(15, '\0') +
                             bytes({1, 0x07, 0x5B}));
}

TEST_CASE("socks5 (fake proxy): error replies name the code") {
  const std::pair<int, const char*> cases[] = {{1, "general SOCKS server failure"},
                                               {2, "connection not allowed by ruleset"},
                                               {3, "network unreachable"},
                                               {4, "host unreachable"}};
  for (auto [code, text] : cases) {
    INFO(code);
    FakeProxy fp({read_n(3), send(bytes({5, 0})), read_n(4 + 4 + 2),
                  send(bytes({5, code, 0, 1, 0, 0, 0, 0, 0, 0}))});
    auto s = proxy::socks5(to(fp.port()), {"10.1.2.3", 1883, {}, {}});
    REQUIRE(connect_blocking(*s) == Status::Error);
    CHECK(contains(s->error().message, "reply 0x0" + std::to_string(code) + " (" + text + ")"));
  }
}

TEST_CASE("socks5 (fake proxy): not a SOCKS5 proxy / closes early") {
  SECTION("HTTP answer to the greeting") {
    FakeProxy fp({read_n(3), send("HTTP/1.1 400 Bad Request\r\n\r\n")});
    auto s = proxy::socks5(to(fp.port()), {"broker.example", 1883, {}, {}});
    REQUIRE(connect_blocking(*s) == Status::Error);
    CHECK(contains(s->error().message, "malformed"));
  }
  SECTION("closes after the greeting") {
    FakeProxy fp({read_n(3), close_conn()});
    auto s = proxy::socks5(to(fp.port()), {"broker.example", 1883, {}, {}});
    REQUIRE(connect_blocking(*s) == Status::Error);
    CHECK(contains(s->error().message, "closed the connection"));
  }
}
