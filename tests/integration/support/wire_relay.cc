#include "tests/integration/support/wire_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <variant>

#include "mqtt/codec/decoder.h"
#include "mqtt/codec/packets.h"

namespace itest {

namespace {

using Clock = std::chrono::steady_clock;
using mqtt::codec::PacketType;

constexpr size_t kMaxWaiting = 256 * 1024;  // per direction, before reading stops
constexpr size_t kReadChunk = 64 * 1024;

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

int64_t leading_number(std::span<const uint8_t> payload) {
  int64_t v = -1;
  for (size_t i = 0; i < payload.size() && i < 18; ++i) {
    const uint8_t b = payload[i];
    if (b < '0' || b > '9') break;
    v = (v < 0 ? 0 : v * 10) + (b - '0');
  }
  return v;
}

void hard_close(int fd, bool rst) {
  if (fd < 0) return;
  if (rst) {
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  ::close(fd);
}

// One direction of one connection: bytes read and not yet written, and the
// parser that records what they hold.
struct Lane {
  struct Chunk {
    Clock::time_point due;
    std::vector<uint8_t> bytes;
    size_t off = 0;
  };
  std::deque<Chunk> chunks;
  size_t waiting = 0;
  bool eof = false;       // the source side sent FIN
  bool shut = false;      // FIN forwarded to the destination
  bool parsing = true;    // false after a decode error (relaying goes on)
  double tokens = 0;
  Clock::time_point refilled = Clock::now();
  mqtt::codec::StreamDecoder decoder;
};

struct Conn {
  uint32_t number = 0;
  int cfd = -1;  // client leg
  int bfd = -1;  // broker leg
  uint16_t upstream_port = 0;
  Lane up;    // client -> broker
  Lane down;  // broker -> client
};

}  // namespace

struct WireRelay::Impl {
  uint16_t target = 0;
  uint16_t port = 0;
  int listen_fd = -1;
  int wake_fd = -1;

  std::atomic<int64_t> delay_ms{0};
  std::atomic<double> rate{0};
  std::atomic<bool> paused{false};
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> from_client{0}, from_broker{0}, to_broker{0}, to_client{0};

  mutable std::mutex mu;  // ledger, commands, the connection summary below
  std::condition_variable cv;
  std::vector<WireRecord> records;
  enum class Cmd : uint8_t { None, Cut, Reset };
  Cmd pending = Cmd::None;
  uint64_t cmd_seq = 0, cmd_done = 0;
  size_t cmd_result = 0;
  uint32_t accepted_count = 0;
  std::vector<uint16_t> upstreams;  // open connections' upstream ports

  std::vector<std::unique_ptr<Conn>> conns;  // relay thread only
  std::thread thread;

  void wake() {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
  }

  void record(Conn& c, WireRecord::Dir dir, Lane& lane, std::span<const uint8_t> bytes) {
    if (!lane.parsing) return;
    lane.decoder.feed(bytes);
    for (int i = 0; i < 100000; ++i) {
      mqtt::codec::Packet p;
      auto r = lane.decoder.next(p);
      if (r.status == mqtt::codec::DecodeStatus::NeedMore) return;
      if (r.status == mqtt::codec::DecodeStatus::Error) {
        lane.parsing = false;
        return;
      }
      WireRecord w;
      w.at = Clock::now();
      w.dir = dir;
      w.connection = c.number;
      w.type = mqtt::codec::packet_type(p);
      if (const auto* con = std::get_if<mqtt::codec::Connect>(&p)) {
        c.up.decoder.set_version(con->protocol_version);
        c.down.decoder.set_version(con->protocol_version);
        continue;
      }
      if (const auto* pub = std::get_if<mqtt::codec::Publish>(&p)) {
        w.packet_id = pub->packet_id;
        w.qos = static_cast<uint8_t>(pub->qos);
        w.dup = pub->dup;
        w.topic = std::string(pub->topic);
        w.seq = leading_number(pub->payload);
      } else if (const auto* a = std::get_if<mqtt::codec::PubAck>(&p)) {
        w.packet_id = a->packet_id;
      } else if (const auto* b = std::get_if<mqtt::codec::PubRec>(&p)) {
        w.packet_id = b->packet_id;
      } else if (const auto* d = std::get_if<mqtt::codec::PubRel>(&p)) {
        w.packet_id = d->packet_id;
      } else if (const auto* e = std::get_if<mqtt::codec::PubComp>(&p)) {
        w.packet_id = e->packet_id;
      } else {
        continue;  // CONNACK, PING, SUBSCRIBE...: not needed for the accounting
      }
      std::lock_guard<std::mutex> lock(mu);
      records.push_back(std::move(w));
    }
  }

  void accept_one() {
    const int cfd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) return;
    const int bfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(target);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // Loopback: connect answers at once (refused while the broker is down).
    if (bfd < 0 || ::connect(bfd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
      if (bfd >= 0) ::close(bfd);
      hard_close(cfd, true);
      std::lock_guard<std::mutex> lock(mu);
      ++accepted_count;
      return;
    }
    ::fcntl(bfd, F_SETFL, ::fcntl(bfd, F_GETFL) | O_NONBLOCK);
    int one = 1;
    ::setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(bfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto c = std::make_unique<Conn>();
    c->cfd = cfd;
    c->bfd = bfd;
    sockaddr_in local{};
    socklen_t len = sizeof local;
    ::getsockname(bfd, reinterpret_cast<sockaddr*>(&local), &len);
    c->upstream_port = ntohs(local.sin_port);
    c->up.decoder = mqtt::codec::StreamDecoder(
        mqtt::codec::DecodeOptions{.direction = mqtt::codec::Direction::ClientToServer});
    c->down.decoder = mqtt::codec::StreamDecoder(
        mqtt::codec::DecodeOptions{.direction = mqtt::codec::Direction::ServerToClient});
    std::lock_guard<std::mutex> lock(mu);
    c->number = ++accepted_count;
    conns.push_back(std::move(c));
  }

  // Reads what `from` offers into `lane`. False when the connection must end
  // with a reset (a read error such as ECONNRESET).
  bool read_side(Conn& c, int from, Lane& lane, WireRecord::Dir dir) {
    std::vector<uint8_t> buf(kReadChunk);
    const ssize_t n = ::recv(from, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n == 0) {
      lane.eof = true;
      return true;
    }
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    buf.resize(static_cast<size_t>(n));
    (dir == WireRecord::Dir::ClientToBroker ? from_client : from_broker) += buf.size();
    record(c, dir, lane, buf);
    lane.waiting += buf.size();
    lane.chunks.push_back({Clock::now() + std::chrono::milliseconds(delay_ms.load()), std::move(buf)});
    return true;
  }

  // Writes what is due from `lane` to `to`, within the rate. False on a
  // write error (the connection ends with a reset).
  bool write_side(int to, Lane& lane, std::atomic<uint64_t>& written, Clock::time_point now) {
    const double r = rate.load();
    if (r > 0) {
      const double dt = std::chrono::duration<double>(now - lane.refilled).count();
      lane.tokens = std::min(lane.tokens + dt * r, std::max(r / 20, 1500.0));
    }
    lane.refilled = now;
    for (int i = 0; i < 1000 && !lane.chunks.empty(); ++i) {
      auto& ch = lane.chunks.front();
      if (ch.due > now) break;
      size_t want = ch.bytes.size() - ch.off;
      if (r > 0) {
        if (lane.tokens < 1) break;
        want = std::min(want, static_cast<size_t>(lane.tokens));
      }
      const ssize_t n = ::send(to, ch.bytes.data() + ch.off, want, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      ch.off += static_cast<size_t>(n);
      written += static_cast<uint64_t>(n);
      lane.waiting -= static_cast<size_t>(n);
      if (r > 0) lane.tokens -= static_cast<double>(n);
      if (ch.off < ch.bytes.size()) break;
      lane.chunks.pop_front();
    }
    if (lane.eof && lane.chunks.empty() && !lane.shut) {
      ::shutdown(to, SHUT_WR);
      lane.shut = true;
    }
    return true;
  }

  void close_conn(Conn& c, bool rst) {
    hard_close(c.cfd, rst);
    hard_close(c.bfd, rst);
    c.cfd = c.bfd = -1;
  }

  void run_command(Cmd cmd) {
    size_t n = 0;
    for (auto& c : conns) {
      if (c->cfd < 0) continue;
      ++n;
      if (cmd == Cmd::Cut) {
        ::shutdown(c->cfd, SHUT_RDWR);
        ::shutdown(c->bfd, SHUT_RDWR);
        close_conn(*c, false);
      } else {
        close_conn(*c, true);
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    cmd_result = n;
    cmd_done = cmd_seq;
    pending = Cmd::None;
    cv.notify_all();
  }

  // Time until the next chunk is due or tokens refill, for poll's timeout.
  int next_timeout(Clock::time_point now) const {
    int ms = 50;
    for (const auto& c : conns) {
      for (const Lane* l : {&c->up, &c->down}) {
        if (l->chunks.empty()) continue;
        const auto due = l->chunks.front().due;
        const int d = due <= now ? 1 : static_cast<int>(std::chrono::duration_cast<
                                           std::chrono::milliseconds>(due - now).count()) + 1;
        ms = std::min(ms, rate.load() > 0 ? std::min(d, 5) : d);
      }
    }
    return ms;
  }

  void loop() {
    std::vector<pollfd> fds;
    for (uint64_t turn = 0; !stopping.load(); ++turn) {
      const bool hold = paused.load();
      const auto now = Clock::now();
      fds.clear();
      fds.push_back({listen_fd, POLLIN, 0});
      fds.push_back({wake_fd, POLLIN, 0});
      // While paused the connections are left out: a hung-up socket would
      // report POLLHUP at once on every turn.
      for (size_t i = 0; !hold && i < conns.size(); ++i) {
        const Conn& c = *conns[i];
        short ce = 0, be = 0;
        if (!c.up.eof && c.up.waiting < kMaxWaiting) ce |= POLLIN;
        if (!c.down.eof && c.down.waiting < kMaxWaiting) be |= POLLIN;
        if (!c.down.chunks.empty()) ce |= POLLOUT;
        if (!c.up.chunks.empty()) be |= POLLOUT;
        fds.push_back({c.cfd, ce, 0});
        fds.push_back({c.bfd, be, 0});
      }
      ::poll(fds.data(), fds.size(), hold ? 50 : next_timeout(now));
      if (fds[1].revents & POLLIN) {
        uint64_t v;
        [[maybe_unused]] auto n = ::read(wake_fd, &v, sizeof v);
      }
      Cmd cmd;
      {
        std::lock_guard<std::mutex> lock(mu);
        cmd = pending;
      }
      if (cmd != Cmd::None) run_command(cmd);
      if (!hold) {
        const auto t = Clock::now();
        for (size_t i = 0; i < conns.size(); ++i) {
          Conn& c = *conns[i];
          if (c.cfd < 0) continue;
          const short cr = fds[2 + 2 * i].revents, br = fds[3 + 2 * i].revents;
          bool ok = true;
          if (cr & (POLLIN | POLLHUP | POLLERR))
            ok = read_side(c, c.cfd, c.up, WireRecord::Dir::ClientToBroker);
          if (ok && (br & (POLLIN | POLLHUP | POLLERR)))
            ok = read_side(c, c.bfd, c.down, WireRecord::Dir::BrokerToClient);
          if (ok) ok = write_side(c.bfd, c.up, to_broker, t) && write_side(c.cfd, c.down, to_client, t);
          if (!ok) {
            close_conn(c, true);  // a reset on one leg becomes a reset on the other
          } else if (c.up.shut && c.down.shut) {
            close_conn(c, false);
          }
        }
        if (fds[0].revents & POLLIN) accept_one();
      }
      std::erase_if(conns, [](const std::unique_ptr<Conn>& c) { return c->cfd < 0; });
      std::lock_guard<std::mutex> lock(mu);
      upstreams.clear();
      for (auto& c : conns) upstreams.push_back(c->upstream_port);
    }
    for (auto& c : conns) close_conn(*c, true);
  }

  size_t command(Cmd cmd) {
    std::unique_lock<std::mutex> lock(mu);
    pending = cmd;
    const uint64_t mine = ++cmd_seq;
    wake();
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return cmd_done >= mine; });
    return cmd_result;
  }
};

std::string to_string(const WireRecord& r) {
  std::string s = r.dir == WireRecord::Dir::ClientToBroker ? "c2b #" : "b2c #";
  s += std::to_string(r.connection) + " " + std::string(mqtt::codec::to_string(r.type));
  if (r.type == PacketType::Publish) s += " q" + std::to_string(r.qos);
  s += " pkid " + std::to_string(r.packet_id);
  if (r.dup) s += " dup";
  if (r.type == PacketType::Publish) s += " " + r.topic + " seq " + std::to_string(r.seq);
  return s;
}

WireRelay::WireRelay(uint16_t target_port) : impl_(std::make_unique<Impl>()) {
  impl_->target = target_port;
  impl_->listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (impl_->listen_fd < 0) throw std::runtime_error(errno_text("WireRelay: socket"));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(impl_->listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(impl_->listen_fd, 64) != 0 ||
      ::getsockname(impl_->listen_fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const std::string why = errno_text("WireRelay: bind/listen on 127.0.0.1");
    ::close(impl_->listen_fd);
    throw std::runtime_error(why);
  }
  impl_->port = ntohs(a.sin_port);
  impl_->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl_->wake_fd < 0) {
    ::close(impl_->listen_fd);
    throw std::runtime_error(errno_text("WireRelay: eventfd"));
  }
  impl_->thread = std::thread([this] { impl_->loop(); });
}

WireRelay::~WireRelay() {
  impl_->stopping = true;
  impl_->wake();
  impl_->thread.join();
  ::close(impl_->listen_fd);
  ::close(impl_->wake_fd);
}

uint16_t WireRelay::port() const { return impl_->port; }

void WireRelay::set_delay(std::chrono::milliseconds delay) {
  impl_->delay_ms = std::max<int64_t>(0, delay.count());
  impl_->wake();
}

void WireRelay::set_rate(double bytes_per_second) {
  impl_->rate = std::max(0.0, bytes_per_second);
  impl_->wake();
}

void WireRelay::pause() {
  impl_->paused = true;
  impl_->wake();
}

void WireRelay::resume() {
  impl_->paused = false;
  impl_->wake();
}

size_t WireRelay::cut() { return impl_->command(Impl::Cmd::Cut); }
size_t WireRelay::reset() { return impl_->command(Impl::Cmd::Reset); }

uint32_t WireRelay::accepted() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->accepted_count;
}

size_t WireRelay::open_connections() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->upstreams.size();
}

std::vector<uint16_t> WireRelay::upstream_ports() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->upstreams;
}

std::vector<WireRecord> WireRelay::ledger() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->records;
}

uint64_t WireRelay::bytes_from_client() const { return impl_->from_client.load(); }
uint64_t WireRelay::bytes_from_broker() const { return impl_->from_broker.load(); }
uint64_t WireRelay::bytes_to_broker() const { return impl_->to_broker.load(); }
uint64_t WireRelay::bytes_to_client() const { return impl_->to_client.load(); }

}  // namespace itest
