// A minimal MQTT broker for the publisher-only scenarios, run as a child
// process (this same binary with --fake-broker) so that its CPU time is not
// counted as the client's: getrusage(RUSAGE_SELF) covers every thread of the
// bench process.
//
// It answers CONNECT with CONNACK (3.1.1 and 5), PUBLISH QoS 1 with PUBACK,
// QoS 2 with PUBREC, PUBREL with PUBCOMP, PINGREQ with PINGRESP, and discards
// everything else (no SUBACK: the fake scenarios do not subscribe). It routes
// nothing. When a connection closes it reports, on its stdout (a pipe to the
// bench), how many PUBLISH packets arrived on it and on which topic:
//   port PORT              once, when listening on 127.0.0.1:PORT
//   published TOPIC COUNT  per connection that carried a PUBLISH
// so that the bench checks delivery at the receiving end.
//
// One thread, poll(), non-blocking sockets; packets are parsed from a buffer
// per connection, so fixed headers and remaining lengths split across reads
// are fine. Bounded: at most kMaxConnections, packets up to kMaxPacket bytes
// (larger ones close the connection), a lifetime given by the parent, and it
// exits when the parent does (PR_SET_PDEATHSIG, and a getppid() check).
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tools/client_bench/bench_common.h"

extern char** environ;

namespace bench {
namespace {

constexpr size_t kMaxConnections = 64;
constexpr uint32_t kMaxPacket = 1 << 20;
constexpr size_t kMaxPendingOutput = 4 << 20;  // stop reading a client that does not read

struct Conn {
  int fd = -1;
  std::string in;   // unparsed bytes
  std::string out;  // responses not yet written
  std::string topic;
  long publishes = 0;
  int version = 4;
  bool closing = false;  // DISCONNECT seen: close once `out` is written
};

void write_line(const std::string& line) {
  const char* p = line.data();
  size_t left = line.size();
  for (int i = 0; i < 100 && left > 0; ++i) {
    ssize_t n = ::write(STDOUT_FILENO, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

uint16_t id_at(const unsigned char* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

void ack(Conn& c, unsigned char type_byte, const unsigned char* id) {
  const char b[4] = {static_cast<char>(type_byte), 2, static_cast<char>(id[0]), static_cast<char>(id[1])};
  c.out.append(b, 4);
}

// Handles one whole packet; false on a malformed one (close).
bool handle(Conn& c, unsigned char first, const unsigned char* body, uint32_t len) {
  switch (first >> 4) {
    case 1: {  // CONNECT: protocol name, then its level
      if (len < 3) return false;
      const uint32_t name = id_at(body);
      if (len < 3 + name) return false;
      c.version = body[2 + name];
      if (c.version == 5) c.out.append("\x20\x03\x00\x00\x00", 5);  // properties: none
      else c.out.append("\x20\x02\x00\x00", 4);
      return true;
    }
    case 3: {  // PUBLISH
      const int qos = (first >> 1) & 3;
      if (qos == 3 || len < 2) return false;
      const uint32_t t = id_at(body);
      if (len < 2 + t + (qos ? 2u : 0u)) return false;
      ++c.publishes;
      if (c.topic.size() != t || std::memcmp(c.topic.data(), body + 2, t) != 0)
        c.topic.assign(reinterpret_cast<const char*>(body + 2), t);
      if (qos == 1) ack(c, 0x40, body + 2 + t);  // PUBACK
      if (qos == 2) ack(c, 0x50, body + 2 + t);  // PUBREC
      return true;
    }
    case 6:  // PUBREL -> PUBCOMP
      if (len < 2) return false;
      ack(c, 0x70, body);
      return true;
    case 12:  // PINGREQ
      c.out.append("\xd0\x00", 2);
      return true;
    case 14:  // DISCONNECT
      c.closing = true;
      return true;
    default:
      return true;
  }
}

// Parses every whole packet in c.in; false when the connection must close.
bool parse(Conn& c) {
  size_t p = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(c.in.data());
  const size_t size = c.in.size();
  bool ok = true;
  while (ok && !c.closing && size - p >= 2) {
    uint32_t len = 0;
    size_t header = 0;
    for (size_t i = 0; i < 4; ++i) {
      if (p + 1 + i >= size) break;  // the rest of the length is not here yet
      const unsigned char b = in[p + 1 + i];
      len |= static_cast<uint32_t>(b & 0x7f) << (7 * i);
      if (!(b & 0x80)) {
        header = 2 + i;
        break;
      }
      if (i == 3) ok = false;  // a fifth length byte: malformed
    }
    if (!ok || len > kMaxPacket) return false;
    if (header == 0 || size - p < header + len) break;  // wait for more
    ok = handle(c, in[p], in + p + header, len);
    p += header + len;
  }
  c.in.erase(0, p);
  return ok;
}

// Writes what it can; false on an error.
bool flush(Conn& c) {
  for (int i = 0; i < 64 && !c.out.empty(); ++i) {
    ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    c.out.erase(0, static_cast<size_t>(n));
  }
  return true;
}

void close_conn(Conn& c) {
  if (c.publishes > 0)
    write_line("published " + (c.topic.empty() ? std::string("-") : c.topic) + " " + std::to_string(c.publishes) +
               "\n");
  ::close(c.fd);
  c.fd = -1;
}

}  // namespace

int fake_broker_main(pid_t parent, int lifetime_seconds) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) return 1;
  signal(SIGPIPE, SIG_IGN);
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0) return 1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t alen = sizeof a;
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(lfd, 16) != 0 ||
      ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &alen) != 0)
    return 1;
  write_line("port " + std::to_string(ntohs(a.sin_port)) + "\n");

  std::vector<Conn> conns;
  std::vector<pollfd> fds;
  std::vector<char> chunk(64 * 1024);
  const auto deadline = Clock::now() + std::chrono::seconds(lifetime_seconds);
  while (Clock::now() < deadline && getppid() == parent) {
    fds.clear();
    fds.push_back({lfd, static_cast<short>(conns.size() < kMaxConnections ? POLLIN : 0), 0});
    for (const auto& c : conns) {
      short ev = c.out.size() < kMaxPendingOutput ? POLLIN : 0;
      if (!c.out.empty()) ev |= POLLOUT;
      fds.push_back({c.fd, ev, 0});
    }
    int n = ::poll(fds.data(), fds.size(), 1000);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    for (size_t i = 0; i < conns.size(); ++i) {
      Conn& c = conns[i];
      const short re = fds[i + 1].revents;
      bool ok = true;
      if (re & (POLLIN | POLLHUP | POLLERR)) {
        // A bounded number of reads per wake-up, so no client starves another.
        for (int r = 0; r < 16 && ok; ++r) {
          ssize_t got = ::recv(c.fd, chunk.data(), chunk.size(), 0);
          if (got < 0 && errno == EINTR) continue;
          if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
          if (got <= 0) {
            ok = false;
            break;
          }
          c.in.append(chunk.data(), static_cast<size_t>(got));
          ok = parse(c);
          if (c.closing || c.out.size() >= kMaxPendingOutput) break;
        }
      }
      if (ok) ok = flush(c);
      if (!ok || (c.closing && c.out.empty())) close_conn(c);
    }
    std::erase_if(conns, [](const Conn& c) { return c.fd < 0; });
    if (fds[0].revents & POLLIN) {
      for (int k = 0; k < 16 && conns.size() < kMaxConnections; ++k) {
        int fd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conns.push_back({});
        conns.back().fd = fd;
      }
    }
  }
  for (auto& c : conns) close_conn(c);
  ::close(lfd);
  return 0;
}

// ---- the bench's side ----

FakeBroker::~FakeBroker() { stop(); }

bool FakeBroker::start(int lifetime_seconds, std::string& error) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return error = "pipe failed", false;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);  // dup2 clears O_CLOEXEC
  const std::string parent = std::to_string(getpid());
  const std::string lifetime = std::to_string(lifetime_seconds);
  char arg0[] = "client_bench";
  char arg1[] = "--fake-broker";
  std::vector<char*> argv = {arg0, arg1, const_cast<char*>(parent.c_str()), const_cast<char*>(lifetime.c_str()),
                             nullptr};
  int rc = posix_spawn(&pid_, "/proc/self/exe", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(p[1]);
  out_fd_ = p[0];
  if (rc != 0) {
    pid_ = 0;
    return error = std::string("posix_spawn: ") + std::strerror(rc), false;
  }
  ::fcntl(out_fd_, F_SETFL, O_NONBLOCK);
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (port_ == 0 && read_some(deadline)) {
  }
  if (port_ == 0) return error = "the fake broker did not report its port", false;
  return true;
}

// Reads what the broker wrote until the deadline or one chunk arrived; false
// at the deadline, on EOF or an error.
bool FakeBroker::read_some(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0 || out_fd_ < 0) return false;
  pollfd f{out_fd_, POLLIN, 0};
  if (::poll(&f, 1, static_cast<int>(left)) <= 0) return true;  // loop re-checks the deadline
  char b[4096];
  ssize_t n = ::read(out_fd_, b, sizeof b);
  if (n <= 0) return n < 0 && (errno == EINTR || errno == EAGAIN);
  lines_.append(b, static_cast<size_t>(n));
  for (size_t nl; (nl = lines_.find('\n')) != std::string::npos; lines_.erase(0, nl + 1)) {
    const std::string line = lines_.substr(0, nl);
    if (line.rfind("port ", 0) == 0) {
      port_ = static_cast<uint16_t>(std::atoi(line.c_str() + 5));
    } else if (line.rfind("published ", 0) == 0) {
      const size_t sp = line.rfind(' ');
      if (sp > 10) counts_[line.substr(10, sp - 10)] += std::atol(line.c_str() + sp + 1);
    }
  }
  return true;
}

long FakeBroker::published(const std::string& topic, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (int i = 0; i < 10000 && !counts_.count(topic); ++i)
    if (!read_some(deadline)) break;
  auto it = counts_.find(topic);
  return it == counts_.end() ? -1 : it->second;
}

void FakeBroker::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    bool reaped = false;
    for (int i = 0; i < 100 && !reaped; ++i) {  // up to 2 s
      reaped = ::waitpid(pid_, &status, WNOHANG) == pid_;
      if (!reaped) ::usleep(20000);
    }
    if (!reaped) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
    pid_ = 0;
  }
  if (out_fd_ >= 0) ::close(out_fd_);
  out_fd_ = -1;
}

}  // namespace bench
