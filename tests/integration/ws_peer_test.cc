// The WebSocket MQTT peers themselves (support/ws_peer.h, tests/peers/
// ws_peer.js), checked without the client library: a raw TCP (or OpenSSL)
// socket sends the HTTP upgrade request and masked WebSocket frames built by
// hand, carrying MQTT packets built by hand. Every read has a deadline.
#include "tests/integration/support/certs.h"
#include "tests/integration/support/ws_peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/integration/support/broker.h"
#include "tests/integration/support/process.h"

using namespace itest;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Bytes = std::vector<uint8_t>;

namespace {

// --- MQTT packets, by hand ------------------------------------------------

void put_varint(Bytes& out, size_t n) {
  do {
    uint8_t b = n % 128;
    n /= 128;
    if (n) b |= 0x80;
    out.push_back(b);
  } while (n);
}

void put_str(Bytes& out, const std::string& s) {
  out.push_back(static_cast<uint8_t>(s.size() >> 8));
  out.push_back(static_cast<uint8_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

Bytes packet(uint8_t first, const Bytes& body) {
  Bytes p{first};
  put_varint(p, body.size());
  p.insert(p.end(), body.begin(), body.end());
  return p;
}

// CONNECT, clean session/start, keepalive 60 s; level 4 = 3.1.1, 5 = MQTT 5.
Bytes mqtt_connect(const std::string& client_id, uint8_t level) {
  Bytes b;
  put_str(b, "MQTT");
  b.push_back(level);
  b.push_back(0x02);
  b.push_back(0);
  b.push_back(60);
  if (level == 5) b.push_back(0);  // no properties
  put_str(b, client_id);
  return packet(0x10, b);
}

Bytes mqtt_subscribe(uint16_t id, const std::string& filter) {
  Bytes b{static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)};
  put_str(b, filter);
  b.push_back(0);  // QoS 0
  return packet(0x82, b);
}

Bytes mqtt_publish(const std::string& topic, const Bytes& payload) {
  Bytes b;
  put_str(b, topic);
  b.insert(b.end(), payload.begin(), payload.end());
  return packet(0x30, b);
}

// --- A WebSocket client over a raw socket (optionally TLS) -----------------

struct Frame {
  uint8_t opcode = 0;
  Bytes payload;
};

class WsClient {
 public:
  // Connects to 127.0.0.1:port; with ca_file, TLS verified against it
  // (host name localhost). I/O on the socket times out after 5 s.
  explicit WsClient(uint16_t port, const std::string& ca_file = "") {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + " failed: " +
                               std::strerror(errno));
    if (!ca_file.empty()) {
      ctx_ = SSL_CTX_new(TLS_client_method());
      if (!ctx_ || SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr) != 1)
        throw std::runtime_error("cannot load " + ca_file);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
      ssl_ = SSL_new(ctx_);
      SSL_set_fd(ssl_, fd_);
      SSL_set_tlsext_host_name(ssl_, "localhost");
      SSL_set1_host(ssl_, "localhost");
      if (SSL_connect(ssl_) != 1) {
        char err[256];
        ERR_error_string_n(ERR_get_error(), err, sizeof err);
        throw std::runtime_error(std::string("TLS handshake failed: ") + err);
      }
    }
  }
  ~WsClient() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  void write_all(const uint8_t* data, size_t n) {
    size_t off = 0;
    for (int i = 0; i < 1000000 && off < n; ++i) {
      long w = ssl_ ? SSL_write(ssl_, data + off, static_cast<int>(n - off))
                    : ::send(fd_, data + off, n - off, MSG_NOSIGNAL);
      if (w <= 0) throw std::runtime_error("write failed");
      off += static_cast<size_t>(w);
    }
  }
  void write_all(const std::string& s) {
    write_all(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }

  // Up to n bytes; 0 on EOF, timeout (5 s) or error.
  size_t read_some(uint8_t* buf, size_t n) {
    long r = ssl_ ? SSL_read(ssl_, buf, static_cast<int>(n)) : ::recv(fd_, buf, n, 0);
    return r > 0 ? static_cast<size_t>(r) : 0;
  }

  // Sends the upgrade request; returns the response head (through the blank
  // line). Bytes after it stay buffered for read_frame.
  std::string upgrade(const std::string& path, const std::vector<std::string>& extra_headers = {},
                      const std::string& protocols = "mqtt") {
    std::string req = "GET " + path + " HTTP/1.1\r\n" +
                      "Host: 127.0.0.1\r\n"
                      "Upgrade: websocket\r\n"
                      "Connection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n";
    if (!protocols.empty()) req += "Sec-WebSocket-Protocol: " + protocols + "\r\n";
    for (const auto& h : extra_headers) req += h + "\r\n";
    req += "\r\n";
    write_all(req);
    auto deadline = Clock::now() + 5s;
    while (Clock::now() < deadline) {
      auto end = buffered_.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::string head = buffered_.substr(0, end + 4);
        buffered_.erase(0, end + 4);
        return head;
      }
      uint8_t buf[4096];
      size_t n = read_some(buf, sizeof buf);
      if (n == 0) break;
      buffered_.append(reinterpret_cast<char*>(buf), n);
    }
    return buffered_;  // incomplete: the caller's checks fail and show it
  }

  // One masked frame (FIN set), as a client must send.
  void send_frame(uint8_t opcode, const Bytes& payload) {
    Bytes f{static_cast<uint8_t>(0x80 | opcode)};
    size_t n = payload.size();
    if (n < 126) {
      f.push_back(static_cast<uint8_t>(0x80 | n));
    } else if (n < 65536) {
      f.push_back(0x80 | 126);
      f.push_back(static_cast<uint8_t>(n >> 8));
      f.push_back(static_cast<uint8_t>(n));
    } else {
      f.push_back(0x80 | 127);
      for (int i = 7; i >= 0; --i) f.push_back(static_cast<uint8_t>(n >> (8 * i)));
    }
    const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    f.insert(f.end(), mask, mask + 4);
    size_t start = f.size();
    f.insert(f.end(), payload.begin(), payload.end());
    for (size_t i = 0; i < n; ++i) f[start + i] ^= mask[i % 4];
    write_all(f.data(), f.size());
  }
  void send_binary(const Bytes& payload) { send_frame(0x2, payload); }

  // The next frame, or nullopt on EOF/timeout (deadline `timeout`).
  std::optional<Frame> read_frame(std::chrono::milliseconds timeout = 5000ms) {
    auto deadline = Clock::now() + timeout;
    auto need = [&](size_t n) {
      while (buffered_.size() < n) {
        if (Clock::now() >= deadline) return false;
        std::vector<uint8_t> buf(std::max<size_t>(65536, n - buffered_.size()));
        size_t got = read_some(buf.data(), std::min(buf.size(), n - buffered_.size()));
        if (got == 0) return false;
        buffered_.append(reinterpret_cast<char*>(buf.data()), got);
      }
      return true;
    };
    auto byte = [&](size_t i) { return static_cast<uint8_t>(buffered_[i]); };
    if (!need(2)) return std::nullopt;
    size_t header = 2;
    uint64_t len = byte(1) & 0x7f;
    if (byte(1) & 0x80) throw std::runtime_error("server frame is masked");
    if (len == 126) {
      if (!need(4)) return std::nullopt;
      len = (uint64_t{byte(2)} << 8) | byte(3);
      header = 4;
    } else if (len == 127) {
      if (!need(10)) return std::nullopt;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | byte(2 + i);
      header = 10;
    }
    if (!need(header + len)) return std::nullopt;
    Frame f;
    if (!(byte(0) & 0x80)) throw std::runtime_error("fragmented server frame (not expected here)");
    f.opcode = byte(0) & 0x0f;
    f.payload.assign(buffered_.begin() + static_cast<long>(header),
                     buffered_.begin() + static_cast<long>(header + len));
    buffered_.erase(0, header + len);
    return f;
  }

  // The next whole MQTT packet from the binary messages (a message may hold
  // part of a packet or several), or nullopt on close/EOF/timeout.
  std::optional<Bytes> read_mqtt(std::chrono::milliseconds timeout = 5000ms) {
    auto deadline = Clock::now() + timeout;
    while (true) {
      // Complete packet in mqtt_?
      if (mqtt_.size() >= 2) {
        size_t len = 0, mult = 1, i = 1;
        bool complete_len = false;
        for (; i < mqtt_.size() && i < 5; ++i) {
          len += (mqtt_[i] & 0x7f) * mult;
          mult *= 128;
          if (!(mqtt_[i] & 0x80)) {
            complete_len = true;
            break;
          }
        }
        if (complete_len && mqtt_.size() >= i + 1 + len) {
          Bytes p(mqtt_.begin(), mqtt_.begin() + static_cast<long>(i + 1 + len));
          mqtt_.erase(mqtt_.begin(), mqtt_.begin() + static_cast<long>(i + 1 + len));
          return p;
        }
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left <= 0ms) return std::nullopt;
      auto f = read_frame(left);
      if (!f) return std::nullopt;
      last_opcode_ = f->opcode;
      if (f->opcode == 0x8) return std::nullopt;  // close
      if (f->opcode != 0x2) continue;             // ping/pong/text: not MQTT
      binary_messages_++;
      mqtt_.insert(mqtt_.end(), f->payload.begin(), f->payload.end());
    }
  }

  int binary_messages() const { return binary_messages_; }
  uint8_t last_opcode() const { return last_opcode_; }

  // True when the server closes (close frame or EOF) within `timeout`.
  bool closed_within(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      auto f = read_frame(left);
      if (!f) return Clock::now() < deadline;  // EOF before the deadline
      if (f->opcode == 0x8) return true;
    }
    return false;
  }

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string buffered_;
  Bytes mqtt_;
  int binary_messages_ = 0;
  uint8_t last_opcode_ = 0;
};

std::string status_line(const std::string& head) { return head.substr(0, head.find("\r\n")); }

// RFC 6455's sample key "dGhlIHNhbXBsZSBub25jZQ==" must be answered with this.
constexpr const char* kSampleAccept = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

bool has_header(const std::string& head, const std::string& line) {
  // Header names are case-insensitive; ws writes them as below.
  return head.find("\r\n" + line + "\r\n") != std::string::npos;
}

// Upgrade + CONNECT on a fresh connection; the CONNACK (or nullopt).
std::optional<Bytes> connect_mqtt(WsClient& c, const std::string& path, uint8_t level,
                                  const std::string& id) {
  std::string head = c.upgrade(path);
  if (status_line(head) != "HTTP/1.1 101 Switching Protocols") return std::nullopt;
  c.send_binary(mqtt_connect(id, level));
  return c.read_mqtt();
}

}  // namespace

TEST_CASE("aedes over ws: upgrade, CONNECT/CONNACK, subscribe and publish", "[ws_peer]") {
  WsPeer peer;
  INFO(peer.log());
  CHECK(peer.url() == "ws://127.0.0.1:" + std::to_string(peer.port()) + "/mqtt");

  WsClient c(peer.port());
  std::string head = c.upgrade("/mqtt", {"Authorization: Basic dXNlcjpwYXNz", "X-Test-Header: hello"});
  INFO(head);
  REQUIRE(status_line(head) == "HTTP/1.1 101 Switching Protocols");
  CHECK(has_header(head, kSampleAccept));
  CHECK(has_header(head, "Sec-WebSocket-Protocol: mqtt"));

  c.send_binary(mqtt_connect("ws-peer-test", 4));
  auto connack = c.read_mqtt();
  REQUIRE(connack);
  CHECK(*connack == Bytes{0x20, 0x02, 0x00, 0x00});
  // aedes writes a packet in pieces; the peer joins them into one message.
  CHECK(c.binary_messages() == 1);

  c.send_binary(mqtt_subscribe(1, "ws/t"));
  auto suback = c.read_mqtt();
  REQUIRE(suback);
  CHECK(*suback == Bytes{0x90, 0x03, 0x00, 0x01, 0x00});

  c.send_binary(mqtt_publish("ws/t", {'h', 'i'}));
  auto pub = c.read_mqtt();
  REQUIRE(pub);
  CHECK(*pub == mqtt_publish("ws/t", {'h', 'i'}));

  // Each upgrade request is one log line with its headers.
  auto ups = peer.upgrades();
  REQUIRE(ups.size() == 1);
  CHECK(ups[0].rfind("upgrade /mqtt ", 0) == 0);
  CHECK(ups[0].find(" authorization=Basic dXNlcjpwYXNz") != std::string::npos);
  CHECK(ups[0].find(" x-test-header=hello") != std::string::npos);
  CHECK(ups[0].find(" sec-websocket-protocol=mqtt") != std::string::npos);
  CHECK(peer.log_count("open /mqtt protocol=mqtt") == 1);
}

TEST_CASE("a path other than the configured one gets HTTP 400", "[ws_peer]") {
  WsPeerOptions o;
  o.path = "/custom/mqtt";
  WsPeer peer(o);
  INFO(peer.log());
  {
    WsClient c(peer.port());
    std::string head = c.upgrade("/mqtt");
    INFO(head);
    CHECK(status_line(head) == "HTTP/1.1 400 Bad Request");
  }
  {
    WsClient c(peer.port());
    auto connack = connect_mqtt(c, "/custom/mqtt?x=1", 4, "custom-path");
    REQUIRE(connack);
    CHECK(*connack == Bytes{0x20, 0x02, 0x00, 0x00});
  }
  CHECK(peer.log_count("refused /mqtt 400") == 1);
  CHECK(peer.log_count("upgrade /custom/mqtt?x=1 ") == 1);
}

TEST_CASE("no subprotocol selected when none offered or when told so", "[ws_peer]") {
  {
    WsPeer peer;
    WsClient c(peer.port());
    std::string head = c.upgrade("/mqtt", {}, "");
    INFO(head);
    CHECK(status_line(head) == "HTTP/1.1 101 Switching Protocols");
    CHECK(head.find("Sec-WebSocket-Protocol") == std::string::npos);
  }
  {
    WsPeerOptions o;
    o.subprotocol = "";
    WsPeer peer(o);
    WsClient c(peer.port());
    std::string head = c.upgrade("/mqtt", {}, "mqtt");
    INFO(head);
    CHECK(status_line(head) == "HTTP/1.1 101 Switching Protocols");
    CHECK(head.find("Sec-WebSocket-Protocol") == std::string::npos);
  }
}

TEST_CASE("bridge mode: MQTT 5 and 3.1.1 over ws to a real mosquitto", "[ws_peer]") {
  Broker broker;
  WsPeerOptions o;
  o.mode = WsPeer::Mode::bridge;
  o.target_port = broker.port();
  WsPeer peer(o);
  INFO(peer.log());
  INFO(broker.log());

  {
    WsClient c(peer.port());
    auto connack = connect_mqtt(c, "/mqtt", 5, "ws-bridge-v5");
    REQUIRE(connack);
    REQUIRE(connack->size() >= 5);
    CHECK((*connack)[0] == 0x20);
    CHECK((*connack)[3] == 0x00);  // reason code: success
  }
  WsClient c(peer.port(), "");
  auto connack = connect_mqtt(c, "/mqtt", 4, "ws-bridge-v311");
  REQUIRE(connack);
  CHECK(*connack == Bytes{0x20, 0x02, 0x00, 0x00});
  c.send_binary(mqtt_subscribe(7, "bridge/t"));
  auto suback = c.read_mqtt();
  REQUIRE(suback);
  CHECK(*suback == Bytes{0x90, 0x03, 0x00, 0x07, 0x00});
  CHECK(broker.log_count("ws-bridge-v5") >= 1);

  // The broker going away closes the WebSocket side too.
  broker.stop();
  CHECK(c.closed_within(5s));
  CHECK(peer.running());
}

TEST_CASE("wss: TLS with a test CA, aedes and bridge", "[ws_peer]") {
  const std::string certs = make_test_certs();
  WsPeerOptions o;
  o.cert_file = certs + "/server.crt";
  o.key_file = certs + "/server.key";
  {
    WsPeer peer(o);
    INFO(peer.log());
    CHECK(peer.url("localhost") == "wss://localhost:" + std::to_string(peer.port()) + "/mqtt");
    WsClient c(peer.port(), certs + "/ca.crt");
    auto connack = connect_mqtt(c, "/mqtt", 4, "wss-aedes");
    REQUIRE(connack);
    CHECK(*connack == Bytes{0x20, 0x02, 0x00, 0x00});
  }
  Broker broker;
  o.mode = WsPeer::Mode::bridge;
  o.target_port = broker.port();
  WsPeer peer(o);
  INFO(peer.log());
  WsClient c(peer.port(), certs + "/ca.crt");
  auto connack = connect_mqtt(c, "/mqtt", 5, "wss-bridge");
  REQUIRE(connack);
  CHECK((*connack)[0] == 0x20);
  CHECK((*connack)[3] == 0x00);
}

TEST_CASE("restart keeps the port; connections are cut", "[ws_peer]") {
  WsPeer peer;
  const uint16_t port = peer.port();
  const pid_t first_pid = peer.pid();
  WsClient before(port);
  REQUIRE(connect_mqtt(before, "/mqtt", 4, "before-restart"));

  peer.restart();
  INFO(peer.log());
  CHECK(peer.port() == port);
  CHECK(peer.pid() != first_pid);
  CHECK(before.closed_within(5s));
  WsClient after(port);
  auto connack = connect_mqtt(after, "/mqtt", 4, "after-restart");
  REQUIRE(connack);
  CHECK(*connack == Bytes{0x20, 0x02, 0x00, 0x00});
  CHECK(peer.log_count("--- ws_peer run 1 ---") == 1);
  CHECK(peer.log_count("stopping") == 1);  // SIGTERM reached it

  peer.stop();
  CHECK_FALSE(peer.running());
  CHECK_FALSE(port_accepts(port));
  peer.start();
  CHECK(peer.port() == port);
  CHECK(port_accepts(port));
}

TEST_CASE("a 5 MiB message goes through aedes and back", "[ws_peer]") {
  WsPeer peer;
  INFO(peer.log());
  WsClient c(peer.port());
  REQUIRE(connect_mqtt(c, "/mqtt", 4, "big"));
  c.send_binary(mqtt_subscribe(1, "big/t"));
  REQUIRE(c.read_mqtt());
  Bytes payload(5u << 20);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i * 31 + 7);
  const Bytes sent = mqtt_publish("big/t", payload);
  c.send_binary(sent);
  auto got = c.read_mqtt(10s);
  REQUIRE(got);
  CHECK(got->size() == sent.size());
  CHECK(*got == sent);
}

TEST_CASE("a message above max_payload closes with 1009", "[ws_peer]") {
  WsPeerOptions o;
  o.max_payload = 1024;
  WsPeer peer(o);
  INFO(peer.log());
  WsClient c(peer.port());
  REQUIRE(connect_mqtt(c, "/mqtt", 4, "too-big"));
  c.send_binary(mqtt_publish("t", Bytes(2048, 'x')));
  auto f = c.read_frame();
  REQUIRE(f);
  CHECK(f->opcode == 0x8);
  REQUIRE(f->payload.size() >= 2);
  CHECK(((f->payload[0] << 8) | f->payload[1]) == 1009);
}

TEST_CASE("missing npm packages fail with a hint to run tools/setup.sh", "[ws_peer]") {
  const std::string empty = make_temp_dir("no-node-modules");
  ::setenv("MQTT_TEST_NODE_MODULES", empty.c_str(), 1);
  std::string message;
  try {
    WsPeer peer;
  } catch (const std::exception& e) {
    message = e.what();
  }
  ::unsetenv("MQTT_TEST_NODE_MODULES");
  INFO(message);
  CHECK(message.find("tools/setup.sh") != std::string::npos);
  CHECK(message.find(empty) != std::string::npos);
}

TEST_CASE("npm packages other than the pinned versions fail with the same hint", "[ws_peer]") {
  // A node_modules whose ws is not the version its package.json pins.
  const std::string root = make_temp_dir("stale-node-modules");
  write_file(root + "/package.json", R"({"dependencies": {"ws": "8.23.1", "aedes": "0.51.3"}})");
  REQUIRE(::mkdir((root + "/node_modules").c_str(), 0755) == 0);
  for (const char* pkg : {"ws", "aedes"}) {
    REQUIRE(::mkdir((root + "/node_modules/" + pkg).c_str(), 0755) == 0);
    write_file(root + "/node_modules/" + pkg + "/package.json", R"({"version": "0.0.1"})");
  }
  ::setenv("MQTT_TEST_NODE_MODULES", (root + "/node_modules").c_str(), 1);
  std::string message;
  try {
    WsPeer peer;
  } catch (const std::exception& e) {
    message = e.what();
  }
  ::unsetenv("MQTT_TEST_NODE_MODULES");
  INFO(message);
  CHECK(message.find("ws 0.0.1 is installed but") != std::string::npos);
  CHECK(message.find("tools/setup.sh") != std::string::npos);
}
