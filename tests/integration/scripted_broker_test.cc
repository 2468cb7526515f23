// Checks the scripted broker (support/scripted_broker.h) with a raw client
// socket: accept, packet framing, the hand-built packets, close/reset, a
// flood that is never read, and a peer that stops reading.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "tests/integration/support/scripted_broker.h"

using namespace itest;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// A raw client socket to 127.0.0.1:port (blocking connect, then I/O bounded
// by poll).
class RawClient {
 public:
  explicit RawClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }
  void write_all(const Bytes& b) {
    size_t off = 0;
    for (int i = 0; i < 100000 && off < b.size(); ++i) {
      ssize_t n = ::send(fd_, b.data() + off, b.size() - off, MSG_NOSIGNAL);
      REQUIRE(n > 0);
      off += static_cast<size_t>(n);
    }
    REQUIRE(off == b.size());
  }
  // Reads exactly n bytes within timeout; fewer on EOF/error/timeout.
  Bytes read_n(size_t n, std::chrono::milliseconds timeout) {
    Bytes out;
    auto deadline = Clock::now() + timeout;
    uint8_t buf[65536];
    for (int i = 0; i < 1'000'000 && out.size() < n && Clock::now() < deadline; ++i) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      ssize_t r = ::recv(fd_, buf, std::min(sizeof buf, n - out.size()), MSG_DONTWAIT);
      if (r <= 0) {
        last_errno_ = r < 0 ? errno : 0;
        eof_ = true;
        break;
      }
      out.insert(out.end(), buf, buf + r);
    }
    return out;
  }
  // Reads (discarding) until nothing arrives for `quiet` or EOF; bounded.
  uint64_t drain(std::chrono::milliseconds quiet, std::chrono::milliseconds limit) {
    uint64_t total = 0;
    auto deadline = Clock::now() + limit;
    uint8_t buf[65536];
    for (int i = 0; i < 10'000'000 && Clock::now() < deadline; ++i) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(quiet.count())) <= 0) break;
      ssize_t r = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (r <= 0) {
        last_errno_ = r < 0 ? errno : 0;
        eof_ = true;
        break;
      }
      total += static_cast<uint64_t>(r);
    }
    return total;
  }
  bool eof() const { return eof_; }
  int last_errno() const { return last_errno_; }

 private:
  int fd_ = -1;
  bool eof_ = false;
  int last_errno_ = 0;
};

// A minimal MQTT CONNECT: protocol `level` (4 or 5), clean start, keep alive
// 30 s, client id "raw".
Bytes connect_packet(uint8_t level) {
  Bytes body{0x00, 0x04, 'M', 'Q', 'T', 'T', level, 0x02, 0x00, 30};
  if (level == 5) body.push_back(0x00);  // no properties
  body.insert(body.end(), {0x00, 0x03, 'r', 'a', 'w'});
  Bytes p{0x10, static_cast<uint8_t>(body.size())};
  p.insert(p.end(), body.begin(), body.end());
  return p;
}

}  // namespace

TEST_CASE("scripted broker: accept times out without a client", "[scripted]") {
  ScriptedBroker sb;
  CHECK(sb.port() != 0);
  auto t0 = Clock::now();
  auto peer = sb.accept(200ms);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  CHECK(peer == nullptr);
  CHECK(ms >= 150);
  CHECK(ms < 2000);
}

TEST_CASE("scripted broker: CONNECT in, CONNACK out", "[scripted]") {
  ScriptedBroker sb;
  RawClient c(sb.port());
  auto peer = sb.accept(5s);
  REQUIRE(peer);
  Bytes connect = connect_packet(4);
  c.write_all(connect);
  std::string why;
  auto got = peer->expect_connect(2s, &why);
  INFO(why);
  REQUIRE(got);
  CHECK(*got == connect);
  auto info = connect_info(*got);
  REQUIRE(info);
  CHECK(info->protocol_level == 4);
  CHECK(info->clean());
  CHECK(info->keep_alive == 30);

  REQUIRE(peer->send(connack_v311(true, 0)));
  CHECK(c.read_n(4, 2s) == Bytes{0x20, 0x02, 0x01, 0x00});

  // Nothing more: read_packet times out, within its bound.
  auto t0 = Clock::now();
  CHECK_FALSE(peer->read_packet(100ms));
  CHECK(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count() < 2000);
  CHECK_FALSE(peer->closed());
}

TEST_CASE("scripted broker: expect_connect refuses another first packet", "[scripted]") {
  ScriptedBroker sb;
  RawClient c(sb.port());
  auto peer = sb.accept(5s);
  REQUIRE(peer);
  c.write_all({0xC0, 0x00});  // PINGREQ
  std::string why;
  CHECK_FALSE(peer->expect_connect(2s, &why));
  CHECK(why.find("PINGREQ") != std::string::npos);
}

TEST_CASE("scripted broker: framing across split and joined writes", "[scripted]") {
  ScriptedBroker sb;
  RawClient c(sb.port());
  auto peer = sb.accept(5s);
  REQUIRE(peer);
  // A 300-byte payload needs a two-byte remaining length.
  Bytes big = publish_v311("a/b", std::string(300, 'x'), 1, 7);
  REQUIRE(big.size() == 1 + 2 + 2 + 3 + 2 + 300);
  CHECK(big[1] == ((big.size() - 3) % 128 | 0x80));
  // Byte by byte, with pauses: read_packet reassembles.
  std::thread writer([&] {
    for (size_t i = 0; i < big.size(); ++i) {
      ::send(c.fd(), &big[i], 1, MSG_NOSIGNAL);
      if (i % 50 == 0) std::this_thread::sleep_for(2ms);
    }
  });
  auto p = peer->read_packet(5s);
  writer.join();
  REQUIRE(p);
  CHECK(*p == big);
  CHECK(packet_type(*p) == 3);
  CHECK(publish_topic(*p) == std::optional<std::string>("a/b"));

  // Three packets in one write come out one by one.
  Bytes joined;
  Bytes sub{0x82, 0x08, 0x00, 0x2A, 0x00, 0x03, 'a', '/', 'b', 0x01};
  Bytes disc5{0xE0, 0x01, 0x94};
  Bytes disc311{0xE0, 0x00};
  for (const Bytes* b : {&sub, &disc5, &disc311}) joined.insert(joined.end(), b->begin(), b->end());
  c.write_all(joined);
  auto s = peer->read_packet(2s);
  REQUIRE(s);
  CHECK(packet_type(*s) == 8);
  CHECK(leading_packet_id(*s) == std::optional<uint16_t>(42));
  auto d = peer->read_packet(2s);
  REQUIRE(d);
  CHECK(disconnect_reason(*d) == std::optional<uint8_t>(0x94));
  auto d2 = peer->read_packet(2s);
  REQUIRE(d2);
  CHECK(disconnect_reason(*d2) == std::optional<uint8_t>(0x00));
  CHECK(describe_packet(*d) == "DISCONNECT(3 bytes, reason 0x94)");

  // read_until_type skips what comes before.
  c.write_all({0xC0, 0x00, 0xC0, 0x00, 0xE0, 0x00});
  std::vector<Bytes> skipped;
  auto d3 = peer->read_until_type(14, 2s, &skipped);
  REQUIRE(d3);
  CHECK(skipped.size() == 2);

  // The client closes: read_packet ends and closed() says so.
  ::shutdown(c.fd(), SHUT_WR);
  CHECK_FALSE(peer->read_packet(2s));
  CHECK(peer->closed());
}

TEST_CASE("scripted broker: hand-built packets", "[scripted]") {
  CHECK(connack_v311(false, 5) == Bytes{0x20, 0x02, 0x00, 0x05});
  ConnAckProps props;
  props.maximum_packet_size = 200;
  props.maximum_qos = 0;
  props.retain_available = 0;
  props.receive_maximum = 10;
  props.topic_alias_maximum = 3;
  CHECK(connack_v5(true, 0, props) ==
        Bytes{0x20, 0x12, 0x01, 0x00, 0x0F,  // flags, rc, properties length 15
              0x21, 0x00, 0x0A, 0x22, 0x00, 0x03, 0x24, 0x00, 0x25, 0x00, 0x27, 0x00, 0x00,
              0x00, 0xC8});
  CHECK(connack_v5(false, 0x87) == Bytes{0x20, 0x03, 0x00, 0x87, 0x00});
  CHECK(publish_v311("t", "hi", 0, 0) == Bytes{0x30, 0x05, 0x00, 0x01, 't', 'h', 'i'});
  CHECK(publish_v311("t", "hi", 1, 0x0102, true) ==
        Bytes{0x33, 0x07, 0x00, 0x01, 't', 0x01, 0x02, 'h', 'i'});
  CHECK(publish_v5("", "p", 0, 0, uint16_t{1}) ==
        Bytes{0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01, 'p'});
  CHECK(publish_v5("t", "p", 1, 9) == Bytes{0x32, 0x07, 0x00, 0x01, 't', 0x00, 0x09, 0x00, 'p'});
  CHECK(puback(0x1234) == Bytes{0x40, 0x02, 0x12, 0x34});
  CHECK(pingresp() == Bytes{0xD0, 0x00});
  CHECK(suback_v311(5, {0x01, 0x80}) == Bytes{0x90, 0x04, 0x00, 0x05, 0x01, 0x80});
  CHECK(suback_v5(5, {0x01}) == Bytes{0x90, 0x04, 0x00, 0x05, 0x00, 0x01});
  CHECK(disconnect_v5(0x94) == Bytes{0xE0, 0x02, 0x94, 0x00});
  CHECK(disconnect_reason(disconnect_v5(0x94)) == std::optional<uint8_t>(0x94));
  CHECK_FALSE(disconnect_reason(pingresp()));
  CHECK(leading_packet_id(puback(77)) == std::optional<uint16_t>(77));
  CHECK(leading_packet_id(suback_v311(78, {0})) == std::optional<uint16_t>(78));
  CHECK_FALSE(leading_packet_id(pingresp()));
  CHECK(packet_type(Bytes{}) == 0);
  CHECK(packet_type_name(packet_type(pingresp())) == "PINGRESP");
  // Remaining length of 2 MB: three bytes.
  Bytes huge = publish_v311("t", std::string(2'000'000, 'z'), 0, 0);
  CHECK(body_offset(huge) == std::optional<size_t>(4));
  auto info = connect_info(connect_packet(5));
  REQUIRE(info);
  CHECK(info->protocol_level == 5);
}

TEST_CASE("scripted broker: close gives EOF, reset gives ECONNRESET", "[scripted]") {
  ScriptedBroker sb;
  {
    RawClient c(sb.port());
    auto peer = sb.accept(5s);
    REQUIRE(peer);
    REQUIRE(peer->send(pingresp()));
    peer->close();
    CHECK(c.drain(2000ms, 5s) == 2);
    CHECK(c.eof());
    CHECK(c.last_errno() == 0);
  }
  {
    RawClient c(sb.port());
    auto peer = sb.accept(5s);
    REQUIRE(peer);
    peer->reset();
    c.drain(2000ms, 5s);
    CHECK(c.eof());
    CHECK(c.last_errno() == ECONNRESET);
  }
  {
    RawClient c(sb.port());
    auto peer = sb.accept(5s);
    REQUIRE(peer);
    ::shutdown(c.fd(), SHUT_RDWR);
    CHECK(peer->wait_closed(2s));
  }
}

TEST_CASE("scripted broker: a flood the client does not read stalls, then drains", "[scripted]") {
  ScriptedBroker sb;
  RawClient c(sb.port());
  auto peer = sb.accept(5s);
  REQUIRE(peer);
  const std::string payload(1024, 'f');
  const uint64_t max_bytes = 64ull * 1024 * 1024;
  peer->flood(
      [&](uint64_t n) {
        return publish_v311("flood", payload, 1, static_cast<uint16_t>(n % 65535 + 1));
      },
      max_bytes, 20s);
  // The client reads nothing: the flood stalls once the kernel buffers are full.
  uint64_t last = 0;
  bool stalled = false;
  for (int i = 0; i < 100 && !stalled; ++i) {
    std::this_thread::sleep_for(100ms);
    uint64_t now = peer->flood_bytes_sent();
    stalled = now > 0 && now == last;
    last = now;
  }
  uint64_t stalled_at = peer->flood_bytes_sent();
  std::printf("[scripted] flood stalled at %llu bytes (%llu packets) with nobody reading\n",
              static_cast<unsigned long long>(stalled_at),
              static_cast<unsigned long long>(peer->flood_packets_sent()));
  CHECK(stalled);
  CHECK(peer->flooding());
  CHECK(stalled_at < max_bytes);
  CHECK(Clock::now() - peer->flood_last_progress() >= 100ms);

  // Reading resumes: everything arrives and the flood ends at max_bytes.
  uint64_t got = c.drain(1000ms, 60s);
  for (int i = 0; i < 200 && peer->flooding(); ++i) std::this_thread::sleep_for(10ms);
  CHECK_FALSE(peer->flooding());
  CHECK(peer->flood_end_reason() == "max_bytes");
  CHECK(got == peer->flood_bytes_sent());
  CHECK(got >= max_bytes);
  CHECK(got % publish_v311("flood", payload, 1, 1).size() == 0);
}

TEST_CASE("scripted broker: flood ends at max_time and on stop", "[scripted]") {
  ScriptedBroker sb;
  RawClient c(sb.port());
  auto peer = sb.accept(5s);
  REQUIRE(peer);
  auto t0 = Clock::now();
  peer->flood(pingresp(), 1ull << 40, 300ms);
  for (int i = 0; i < 300 && peer->flooding(); ++i) std::this_thread::sleep_for(10ms);
  CHECK_FALSE(peer->flooding());
  CHECK(peer->flood_end_reason() == "max_time");
  CHECK(Clock::now() - t0 < 3s);

  peer->flood(pingresp(), 1ull << 40, 60s);
  std::this_thread::sleep_for(50ms);
  t0 = Clock::now();
  peer->stop_flood();
  CHECK(Clock::now() - t0 < 1s);
  CHECK(peer->flood_end_reason() == "stopped");
  // The stream is still whole packets (PINGRESP = 2 bytes).
  CHECK(peer->flood_bytes_sent() % 2 == 0);
}

TEST_CASE("scripted broker: a peer that stops reading backs the client's writes up",
          "[scripted]") {
  const int mss = GENERATE(0, 1024);
  ScriptedBroker sb(/*rcvbuf=*/4096, mss);
  RawClient c(sb.port());
  auto peer = sb.accept(5s);
  REQUIRE(peer);
  peer->stop_reading();
  CHECK_FALSE(peer->read_packet(10ms));
  Bytes chunk(65536, 0x55);
  uint64_t written = 0;
  bool blocked = false;
  auto deadline = Clock::now() + 10s;
  for (int i = 0; i < 100000 && Clock::now() < deadline; ++i) {
    ssize_t n = ::send(c.fd(), chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      written += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // Give the kernel a moment to move data; still blocked -> backed up.
      pollfd p{c.fd(), POLLOUT, 0};
      if (::poll(&p, 1, 200) == 0) {
        blocked = true;
        break;
      }
      continue;
    }
    FAIL("send failed: " << std::strerror(errno));
  }
  std::printf("[scripted] client writes backed up after %llu bytes (peer SO_RCVBUF 4096, "
              "TCP_MAXSEG %d)\n",
              static_cast<unsigned long long>(written), mss);
  CHECK(blocked);
  CHECK(written < 16ull * 1024 * 1024);
  if (mss > 0) CHECK(written < 512ull * 1024);
}
