// TLS transport (//transport:tls) against real peers on free loopback ports:
// `openssl s_server` (in -rev mode: it sends every line back reversed) and
// mosquitto with a TLS listener. The certificates are made here with the
// openssl CLI in a temp folder. Peers are stopped by pid.
#include "tests/integration/support/process.h"
#include "transport/tls/tls.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "transport/tcp/tcp.h"


using transport::Status;
using namespace std::chrono_literals;
namespace tls = transport::tls;

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kStep = 10000ms;  // limit for one connect / exchange (sanitizers are slow)

using itest::pick_free_port;
using itest::port_accepts;
std::string slurp(const std::string& path) { return itest::read_file(path); }
std::string require_binary(const std::string& name, const std::string& /*package*/) {
  return itest::require_binary(name);
}

// Every certificate the tests use, made once per test process.
struct Certs {
  std::string dir;
  std::string path(const std::string& name) const { return dir + "/" + name; }
};

const Certs& certs() {
  static const Certs c = [] {
    require_binary("openssl", "openssl");
    const char* base = std::getenv("TEST_TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/tls-test-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
    Certs out{buf.data()};
    const std::string script = R"(set -e
cd "$1"
k() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
k ca.key
openssl req -x509 -new -key ca.key -out ca.crt -days 3650 -subj "/CN=Test CA"
k ca2.key
openssl req -x509 -new -key ca2.key -out ca2.crt -days 3650 -subj "/CN=Other CA"
sign() {
  k "$1.key"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2"
  printf 'subjectAltName=%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$4.crt" -CAkey "$4.key" -CAcreateserial -out "$1.crt" \
    -days "$5" -extfile "$1.ext"
}
sign server localhost DNS:localhost,IP:127.0.0.1 ca 365
sign expired localhost DNS:localhost,IP:127.0.0.1 ca -1
sign other other.example DNS:other.example ca 365
sign client client DNS:client ca 365
sign client2 client DNS:client ca2 365
openssl pkey -in client.key -aes256 -passout pass:s3cret -out client-enc.key
mkdir cadir
cp ca.crt cadir/
openssl rehash cadir
)";
    const std::string script_path = out.path("gen.sh");
    std::ofstream(script_path) << script;
    const std::string cmd =
        "/bin/sh " + script_path + " " + out.dir + " > " + out.path("gen.log") + " 2>&1";
    if (std::system(cmd.c_str()) != 0)
      throw std::runtime_error("making certificates failed: " + slurp(out.path("gen.log")));
    return out;
  }();
  return c;
}

// `openssl s_server -rev` on a free loopback port with the given arguments.
class SServer {
 public:
  explicit SServer(const std::vector<std::string>& args) {
    static int counter = 0;
    const std::string openssl = require_binary("openssl", "openssl");
    for (int attempt = 0; attempt < 8; ++attempt) {
      port_ = pick_free_port();
      log_ = certs().path("s_server-" + std::to_string(++counter) + ".log");
      std::vector<std::string> argv = {openssl, "s_server", "-accept",
                                       "127.0.0.1:" + std::to_string(port_), "-rev"};
      argv.insert(argv.end(), args.begin(), args.end());
      child_ = std::make_unique<itest::Process>(itest::Process::Spec(argv).out_err(log_));
      const auto deadline = Clock::now() + kStep;
      while (Clock::now() < deadline && child_->running() &&
             slurp(log_).find("ACCEPT") == std::string::npos)
        std::this_thread::sleep_for(10ms);
      if (slurp(log_).find("ACCEPT") != std::string::npos && child_->running()) return;
      child_->stop();
    }
    FAIL("openssl s_server did not start: " << slurp(log_));
  }
  uint16_t port() const { return port_; }
  std::string log() const { return slurp(log_); }
  void kill() { child_->stop(); }

 private:
  uint16_t port_ = 0;
  std::string log_;
  std::unique_ptr<itest::Process> child_;
};

// The usual server: the localhost certificate (with IP SAN 127.0.0.1).
std::vector<std::string> server_cert(const std::string& name = "server") {
  return {"-cert", certs().path(name + ".crt"), "-key", certs().path(name + ".key")};
}

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::shared_ptr<tls::Context> context(const tls::Options& o) {
  std::string err;
  auto ctx = tls::make_context(o, &err);
  INFO(err);
  REQUIRE(ctx);
  return ctx;
}

tls::Options trusting_ca() {
  tls::Options o;
  o.ca_file = certs().path("ca.crt");
  return o;
}

void wait_for(const transport::Stream& s, int timeout_ms) {
  pollfd p{s.fd(), 0, 0};
  const transport::Interest in = s.interest();
  if (in.read) p.events |= POLLIN;
  if (in.write) p.events |= POLLOUT;
  if (p.fd < 0 || p.events == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
    return;
  }
  ::poll(&p, 1, timeout_ms);
}

// Drives connect() the way a reactor would: wait for interest() on fd().
Status drive_connect(transport::Stream& s) {
  const auto deadline = Clock::now() + kStep;
  for (int i = 0; i < 100000; ++i) {
    Status st = s.connect();
    if (st != Status::WouldBlock || Clock::now() > deadline) return st;
    wait_for(s, 50);
  }
  return Status::WouldBlock;
}

std::unique_ptr<tls::TlsStream> open(uint16_t port, const std::shared_ptr<tls::Context>& ctx,
                                     const std::string& host = "localhost",
                                     const std::string& address = "127.0.0.1") {
  return tls::wrap(transport::tcp::open({address, port}), ctx, host);
}

struct Exchange {
  std::string received;
  size_t sent = 0;
  int write_blocked = 0;    // write() calls that returned WouldBlock
  Status end = Status::Ok;  // Ok: got `expect` bytes; else how reading/writing ended
  std::string error;
};

// Writes `out` and reads until `expect` bytes arrived, both at once (a peer
// that echoes blocks when we do not read), bounded in time.
Exchange exchange(transport::Stream& s, const std::string& out, size_t expect) {
  Exchange x;
  std::vector<uint8_t> buf(64 * 1024);
  const auto deadline = Clock::now() + kStep;
  for (int i = 0; i < 1000000; ++i) {
    bool progress = false;
    if (x.sent < out.size()) {
      auto w =
          s.write({reinterpret_cast<const uint8_t*>(out.data()) + x.sent, out.size() - x.sent});
      if (w.status == Status::Ok) {
        x.sent += w.bytes;
        progress = true;
      } else if (w.status == Status::WouldBlock) {
        ++x.write_blocked;
      } else {
        x.end = w.status;
        x.error = s.error().message;
        return x;
      }
    } else {
      // Push out ciphertext still buffered inside the TLS stream.
      auto w = s.write({});
      if (w.status == Status::Error) {
        x.end = w.status;
        x.error = s.error().message;
        return x;
      }
    }
    for (int j = 0; j < 64 && x.received.size() < expect; ++j) {
      auto r = s.read(buf);
      if (r.status == Status::Ok) {
        x.received.append(reinterpret_cast<const char*>(buf.data()), r.bytes);
        progress = true;
        continue;
      }
      if (r.status != Status::WouldBlock) {
        x.end = r.status;
        x.error = s.error().message;
        return x;
      }
      break;
    }
    if (x.received.size() >= expect && x.sent == out.size()) return x;
    if (Clock::now() > deadline) {
      x.end = Status::WouldBlock;
      x.error = "timeout";
      return x;
    }
    if (!progress) wait_for(s, 50);
  }
  x.end = Status::WouldBlock;
  x.error = "too many rounds";
  return x;
}

std::string reversed_lines(const std::string& text) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(start, nl - start);
    out.append(line.rbegin(), line.rend());
    out += '\n';
    start = nl + 1;
  }
  return out;
}

// A connection that is expected to work: connect, one line there and back.
void expect_echo(transport::Stream& s, const std::string& line = "hello tls") {
  REQUIRE(drive_connect(s) == Status::Ok);
  Exchange x = exchange(s, line + "\n", line.size() + 1);
  INFO(x.error);
  REQUIRE(x.end == Status::Ok);
  CHECK(x.received == reversed_lines(line + "\n"));
}

// connect() fails with ErrorKind::Tls; returns the message.
std::string expect_connect_error(transport::Stream& s) {
  REQUIRE(drive_connect(s) == Status::Error);
  CHECK(s.error().kind == transport::ErrorKind::Tls);
  CHECK_FALSE(s.connected());
  return s.error().message;
}

// MQTT packets for mosquitto.
std::string mqtt_remaining_length(size_t n) {
  std::string out;
  do {
    uint8_t b = n % 128;
    n /= 128;
    if (n > 0) b |= 0x80;
    out += static_cast<char>(b);
  } while (n > 0);
  return out;
}

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s += static_cast<char>(c);
  return s;
}

class Mosquitto {
 public:
  Mosquitto() {
    const std::string binary = require_binary("mosquitto", "mosquitto");
    static int counter = 0;
    for (int attempt = 0; attempt < 8; ++attempt) {
      port_ = pick_free_port();
      const std::string n = std::to_string(++counter);
      const std::string conf = certs().path("mosquitto-" + n + ".conf");
      log_ = certs().path("mosquitto-" + n + ".log");
      std::ofstream(conf) << "user root\n"
                          << "listener " << port_ << " 127.0.0.1\n"
                          << "allow_anonymous true\n"
                          << "cafile " << certs().path("ca.crt") << "\n"
                          << "certfile " << certs().path("server.crt") << "\n"
                          << "keyfile " << certs().path("server.key") << "\n"
                          << "max_queued_messages 0\n";
      child_ = std::make_unique<itest::Process>(
          itest::Process::Spec({binary, "-c", conf}).out_err(log_));
      const auto deadline = Clock::now() + kStep;
      while (Clock::now() < deadline && child_->running() && !port_accepts(port_))
        std::this_thread::sleep_for(10ms);
      if (child_->running() && port_accepts(port_)) return;
      child_->stop();
    }
    FAIL("mosquitto did not start: " << slurp(log_));
  }
  uint16_t port() const { return port_; }
  std::string log() const { return slurp(log_); }

 private:
  uint16_t port_ = 0;
  std::string log_;
  std::unique_ptr<itest::Process> child_;
};

}  // namespace

TEST_CASE("tls: MQTT CONNECT/CONNACK and a 1 MiB PUBLISH round trip through mosquitto") {
  Mosquitto broker;
  auto ctx = context(trusting_ca());
  auto s = open(broker.port(), ctx);
  REQUIRE(drive_connect(*s) == Status::Ok);
  CHECK(s->connected());
  CHECK(s->protocol_version() == "TLSv1.3");

  const std::string connect =
      bytes({0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00});
  Exchange x = exchange(*s, connect, 4);
  INFO(x.error << "\n" << broker.log());
  REQUIRE(x.end == Status::Ok);
  CHECK(x.received == bytes({0x20, 0x02, 0x00, 0x00}));

  // SUBSCRIBE id 1 to "t/big" QoS 0 -> SUBACK 90 03 00 01 00
  const std::string subscribe =
      bytes({0x82, 0x0a, 0x00, 0x01, 0x00, 0x05, 't', '/', 'b', 'i', 'g', 0x00});
  x = exchange(*s, subscribe, 5);
  REQUIRE(x.end == Status::Ok);
  CHECK(x.received == bytes({0x90, 0x03, 0x00, 0x01, 0x00}));

  std::string payload(1 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>((i * 7919) >> 3);
  const std::string topic = bytes({0x00, 0x05, 't', '/', 'b', 'i', 'g'});
  const std::string publish = std::string(1, '\x30') +
                              mqtt_remaining_length(topic.size() + payload.size()) + topic +
                              payload;
  x = exchange(*s, publish, publish.size());
  INFO(x.error);
  REQUIRE(x.end == Status::Ok);
  CHECK(x.sent == publish.size());
  REQUIRE(x.received.size() == publish.size());
  CHECK(x.received == publish);  // our own message, delivered back unchanged

  s->close();
  CHECK(s->fd() == -1);
  s->close();  // idempotent
}

TEST_CASE("tls: trust from a CA file, a hashed CA dir, PEM in memory; wrong CA refused") {
  SServer server(server_cert());
  SECTION("ca_file") {
    auto s = open(server.port(), context(trusting_ca()));
    expect_echo(*s);
  }
  SECTION("ca_dir (openssl rehash)") {
    tls::Options o;
    o.ca_dir = certs().path("cadir");
    auto s = open(server.port(), context(o));
    expect_echo(*s);
  }
  SECTION("ca_pem, together with the system store") {
    tls::Options o;
    o.ca_pem = slurp(certs().path("ca2.crt")) + slurp(certs().path("ca.crt"));
    o.system_store = true;
    auto s = open(server.port(), context(o));
    expect_echo(*s);
  }
  SECTION("an unrelated CA: not trusted, with the verify result") {
    tls::Options o;
    o.ca_file = certs().path("ca2.crt");
    auto s = open(server.port(), context(o));
    const std::string m = expect_connect_error(*s);
    CHECK_THAT(m, Catch::Contains("not trusted") &&
                      Catch::Contains("unable to get local issuer certificate") &&
                      Catch::Contains("CN=localhost at depth 0"));
  }
  SECTION("no CA given: the system store, which does not know our CA") {
    auto s = open(server.port(), context(tls::Options{}));
    CHECK_THAT(expect_connect_error(*s), Catch::Contains("not trusted"));
  }
  SECTION("verify_peer = false accepts it anyway") {
    tls::Options o;
    o.ca_file = certs().path("ca2.crt");
    o.verify_peer = false;
    auto s = open(server.port(), context(o));
    expect_echo(*s);
  }
}

TEST_CASE("tls: bad trust or key material fails at make_context with a reason") {
  std::string err;
  tls::Options o;
  o.ca_file = certs().path("no-such-ca.crt");
  CHECK_FALSE(tls::make_context(o, &err));
  CHECK_THAT(err, Catch::Contains("no-such-ca.crt"));

  o = tls::Options{};
  o.ca_pem = "not a certificate";
  CHECK_FALSE(tls::make_context(o, &err));
  CHECK_THAT(err, Catch::Contains("ca_pem"));

  o = trusting_ca();
  o.cert_file = certs().path("client.crt");
  o.key_file = certs().path("client-enc.key");
  o.key_passphrase = "wrong";
  err.clear();
  CHECK_FALSE(tls::make_context(o, &err));
  CHECK_THAT(err, Catch::Contains("wrong key_passphrase"));

  o.key_passphrase.clear();
  CHECK_FALSE(tls::make_context(o, &err));
  CHECK_THAT(err, Catch::Contains("no key_passphrase"));

  o.key_file = certs().path("client2.key");  // another certificate's key
  CHECK_FALSE(tls::make_context(o, &err));
  CHECK_THAT(err, Catch::Contains("does not match"));

  o.key_file.clear();
  CHECK_FALSE(tls::make_context(o, &err));
  CHECK_THAT(err, Catch::Contains("needs its key"));
}

TEST_CASE("tls: expired certificate refused") {
  SServer server(server_cert("expired"));
  auto s = open(server.port(), context(trusting_ca()));
  CHECK_THAT(expect_connect_error(*s),
             Catch::Contains("has expired") && Catch::Contains("certificate has expired"));
}

TEST_CASE("tls: SNI for host names only, override, host name and IP verification") {
  // Default certificate: other.example. The localhost certificate only for
  // a client that sends SNI "localhost".
  SServer server(server_cert("other") +
                 std::vector<std::string>{"-servername", "localhost", "-cert2",
                                          certs().path("server.crt"), "-key2",
                                          certs().path("server.key")});
  SECTION("host name: SNI sent, so the localhost certificate comes back and matches") {
    auto s = open(server.port(), context(trusting_ca()));
    expect_echo(*s);
  }
  SECTION("IP literal: no SNI (the default certificate comes back), verified as an IP address") {
    auto s = open(server.port(), context(trusting_ca()), "127.0.0.1");
    const std::string m = expect_connect_error(*s);
    CHECK_THAT(m, Catch::Contains("not valid for IP address 127.0.0.1") &&
                      Catch::Contains("IP address mismatch"));
  }
  SECTION(
      "IP literal with an SNI override: sent anyway, localhost certificate matches the IP SAN") {
    tls::Options o = trusting_ca();
    o.sni = "localhost";
    auto s = open(server.port(), context(o), "127.0.0.1");
    expect_echo(*s);
  }
  SECTION(
      "host name with another SNI: the certificate for other.example does not match localhost") {
    tls::Options o = trusting_ca();
    o.sni = "nothing.example";
    auto s = open(server.port(), context(o));
    const std::string m = expect_connect_error(*s);
    CHECK_THAT(m, Catch::Contains("not valid for host name 'localhost'") &&
                      Catch::Contains("hostname mismatch"));
  }
  SECTION("verify_host = false accepts the other host's certificate") {
    tls::Options o = trusting_ca();
    o.sni = "";  // none
    o.verify_host = false;
    auto s = open(server.port(), context(o));
    expect_echo(*s);
  }
}

TEST_CASE("tls: IP literal verified against the certificate's IP SAN") {
  SServer server(server_cert());
  auto s = open(server.port(), context(trusting_ca()), "127.0.0.1");
  expect_echo(*s);
}

TEST_CASE("tls: client certificate required (TLS 1.3)") {
  SServer server(server_cert() + std::vector<std::string>{"-Verify", "1", "-verify_return_error",
                                                          "-CAfile", certs().path("ca.crt")});
  SECTION("ours (files) is accepted") {
    tls::Options o = trusting_ca();
    o.cert_file = certs().path("client.crt");
    o.key_file = certs().path("client.key");
    auto s = open(server.port(), context(o));
    expect_echo(*s);
  }
  SECTION("encrypted key file with its passphrase") {
    tls::Options o = trusting_ca();
    o.cert_file = certs().path("client.crt");
    o.key_file = certs().path("client-enc.key");
    o.key_passphrase = "s3cret";
    auto s = open(server.port(), context(o));
    expect_echo(*s);
  }
  SECTION("certificate and encrypted key as PEM in memory") {
    tls::Options o = trusting_ca();
    o.cert_pem = slurp(certs().path("client.crt"));
    o.key_pem = slurp(certs().path("client-enc.key"));
    o.key_passphrase = "s3cret";
    auto s = open(server.port(), context(o));
    expect_echo(*s);
  }
  SECTION("none: the handshake completes, the first read fails with the reason (not Closed)") {
    auto s = open(server.port(), context(trusting_ca()));
    REQUIRE(drive_connect(*s) == Status::Ok);
    Exchange x = exchange(*s, "hello\n", 6);
    CHECK(x.end == Status::Error);
    CHECK(s->error().kind == transport::ErrorKind::Tls);
    CHECK_THAT(x.error, Catch::Contains("requires a client certificate") &&
                            Catch::Contains("certificate required"));
  }
  SECTION("one from another CA: refused on the first read") {
    tls::Options o = trusting_ca();
    o.cert_file = certs().path("client2.crt");
    o.key_file = certs().path("client2.key");
    auto s = open(server.port(), context(o));
    REQUIRE(drive_connect(*s) == Status::Ok);
    Exchange x = exchange(*s, "hello\n", 6);
    CHECK(x.end == Status::Error);
    CHECK_THAT(x.error, Catch::Contains("refused our client certificate"));
  }
}

TEST_CASE("tls: client certificate required (TLS 1.2): refused in the handshake") {
  SServer server(server_cert() + std::vector<std::string>{"-Verify", "1", "-verify_return_error",
                                                          "-CAfile", certs().path("ca.crt"),
                                                          "-tls1_2"});
  SECTION("none") {
    auto s = open(server.port(), context(trusting_ca()));
    const std::string m = expect_connect_error(*s);
    CHECK_THAT(m, Catch::Contains("refused the TLS handshake") &&
                      Catch::Contains("asked for a client certificate and none is configured"));
  }
  SECTION("ours") {
    tls::Options o = trusting_ca();
    o.cert_file = certs().path("client.crt");
    o.key_file = certs().path("client.key");
    auto s = open(server.port(), context(o));
    expect_echo(*s);
    CHECK(s->protocol_version() == "TLSv1.2");
  }
}

TEST_CASE("tls: ALPN negotiated") {
  SServer server(server_cert() + std::vector<std::string>{"-alpn", "mqtt"});
  tls::Options o = trusting_ca();
  o.alpn = {"x-other", "mqtt"};
  auto s = open(server.port(), context(o));
  expect_echo(*s);
  CHECK(s->alpn_protocol() == "mqtt");
  CHECK(tls::alpn_protocol(*s) == "mqtt");
  s->close();  // s_server serves one connection at a time

  auto plain = open(server.port(), context(trusting_ca()));
  expect_echo(*plain);
  CHECK(plain->alpn_protocol().empty());
}

TEST_CASE("tls: min_version TLS 1.3 against a TLS 1.2 server fails") {
  SServer server(server_cert() + std::vector<std::string>{"-tls1_2"});
  tls::Options o = trusting_ca();
  SECTION("TLS 1.3 minimum") {
    o.min_version = TLS1_3_VERSION;
    auto s = open(server.port(), context(o));
    const std::string m = expect_connect_error(*s);
    CHECK_THAT(m, Catch::Contains("TLS handshake with localhost failed") &&
                      Catch::Contains("protocol version"));
  }
  SECTION("default: TLS 1.2 is negotiated") {
    auto s = open(server.port(), context(o));
    expect_echo(*s);
    CHECK(s->protocol_version() == "TLSv1.2");
  }
}

TEST_CASE("tls: the configure_ctx hook receives the SSL_CTX before use") {
  SServer server(server_cert());
  tls::Options o = trusting_ca();
  int calls = 0;
  o.configure_ctx = [&](void* raw) {
    ++calls;
    REQUIRE(raw != nullptr);
    SSL_CTX_set_max_proto_version(static_cast<SSL_CTX*>(raw), TLS1_2_VERSION);
  };
  auto ctx = context(o);
  CHECK(calls == 1);
  auto s = open(server.port(), ctx);
  expect_echo(*s);
  CHECK(s->protocol_version() == "TLSv1.2");
  CHECK(calls == 1);
}

TEST_CASE("tls: session resumption on the next connection") {
  SServer server(server_cert());
  for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    DYNAMIC_SECTION("version " << std::hex << version) {
      tls::Options o = trusting_ca();
      o.max_version = version;
      auto ctx = context(o);
      auto first = open(server.port(), ctx);
      expect_echo(*first);  // the read also takes the TLS 1.3 tickets
      CHECK_FALSE(first->session_reused());
      first->close();

      auto second = open(server.port(), ctx);
      expect_echo(*second);
      CHECK(second->session_reused());
      CHECK(tls::session_reused(*second));
      second->close();

      // Not with resumption off.
      o.session_resumption = false;
      auto ctx_off = context(o);
      auto a = open(server.port(), ctx_off);
      expect_echo(*a);
      a->close();
      auto b = open(server.port(), ctx_off);
      expect_echo(*b);
      CHECK_FALSE(b->session_reused());
    }
  }
}

TEST_CASE("tls: 1 MiB through s_server -rev (partial writes, buffered ciphertext)") {
  SServer server(server_cert());
  // Small socket buffers: the TCP stream takes part of each record batch and
  // the TLS stream must keep the rest and report WouldBlock until it is out.
  transport::tcp::Options tcp{"127.0.0.1", server.port()};
  tcp.send_buffer = 4096;
  tcp.receive_buffer = 4096;
  auto s = tls::wrap(transport::tcp::open(tcp), context(trusting_ca()), "localhost");
  REQUIRE(drive_connect(*s) == Status::Ok);
  std::string text;
  text.reserve(1 << 20);
  uint32_t seed = 12345;
  while (text.size() < (1u << 20)) {
    for (int i = 0; i < 1023; ++i) {
      seed = seed * 1103515245u + 12345u;
      text += static_cast<char>('a' + (seed >> 16) % 26);
    }
    text += '\n';
  }
  // Write without reading until the stream refuses: the server stops
  // reading once it cannot send its answers, the socket buffers fill up, and
  // ciphertext stays buffered in the TLS stream.
  size_t pre = 0;
  int blocked = 0;
  const auto deadline = Clock::now() + kStep;
  for (int i = 0; i < 100000 && pre < text.size() && blocked == 0 && Clock::now() < deadline; ++i) {
    auto w = s->write({reinterpret_cast<const uint8_t*>(text.data()) + pre, text.size() - pre});
    REQUIRE(w.status != Status::Error);
    REQUIRE(w.status != Status::Closed);
    if (w.status == Status::Ok) pre += w.bytes;
    if (w.status == Status::WouldBlock) ++blocked;
  }
  CHECK(blocked > 0);
  CHECK(pre < text.size());
  CHECK(s->interest().write);  // ciphertext still to send
  Exchange x = exchange(*s, text.substr(pre), text.size());
  INFO(x.error);
  REQUIRE(x.end == Status::Ok);
  CHECK(pre + x.sent == text.size());
  CHECK(x.received.size() == text.size());
  CHECK(x.received == reversed_lines(text));

  // writev gathers small pieces into one write
  const std::string a = "ab", b = "cd\n";
  std::span<const uint8_t> parts[] = {{reinterpret_cast<const uint8_t*>(a.data()), a.size()},
                                      {reinterpret_cast<const uint8_t*>(b.data()), b.size()}};
  auto w = s->writev(parts);
  REQUIRE(w.status == Status::Ok);
  CHECK(w.bytes == 5);
  x = exchange(*s, "", 5);
  REQUIRE(x.end == Status::Ok);
  CHECK(x.received == "dcba\n");
}

TEST_CASE("tls: a server that is not TLS, or closes at once") {
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(lfd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(lfd, 4) == 0);
  socklen_t len = sizeof a;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
  const uint16_t port = ntohs(a.sin_port);
  auto ctx = context(trusting_ca());

  auto s = open(port, ctx);
  Status st = Status::WouldBlock;
  for (int i = 0; i < 100 && st == Status::WouldBlock; ++i) {
    st = s->connect();
    if (st == Status::WouldBlock) wait_for(*s, 10);
    if (s->interest().read) break;  // ClientHello sent
  }
  int peer = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
  REQUIRE(peer >= 0);
  SECTION("HTTP instead of TLS") {
    const char reply[] = "HTTP/1.0 400 Bad Request\r\n\r\n";
    REQUIRE(::send(peer, reply, sizeof reply - 1, MSG_NOSIGNAL) > 0);
    const std::string m = expect_connect_error(*s);
    CHECK_THAT(m, Catch::Contains("TLS handshake with localhost failed: wrong version number"));
  }
  SECTION("closes after reading the ClientHello") {
    char buf[4096];
    pollfd p{peer, POLLIN, 0};
    REQUIRE(::poll(&p, 1, 5000) == 1);
    REQUIRE(::recv(peer, buf, sizeof buf, 0) > 0);
    ::close(peer);
    peer = -1;
    const std::string m = expect_connect_error(*s);
    CHECK_THAT(m, Catch::Contains("closed the connection during the TLS handshake"));
  }
  SECTION("resets") {
    linger l{1, 0};
    ::setsockopt(peer, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(peer);
    peer = -1;
    REQUIRE(drive_connect(*s) == Status::Error);
    CHECK(s->error().kind == transport::ErrorKind::Io);
    CHECK(s->error().sys_errno == ECONNRESET);
    CHECK_THAT(s->error().message, Catch::Contains("TLS handshake with localhost failed"));
  }
  if (peer >= 0) ::close(peer);
  ::close(lfd);
}

TEST_CASE("tls: writing to a peer that is gone is an error value, not SIGPIPE") {
  SServer server(server_cert());
  auto s = open(server.port(), context(trusting_ca()));
  expect_echo(*s);
  server.kill();
  const std::string chunk(16 * 1024, 'x');
  Status st = Status::Ok;
  const auto deadline = Clock::now() + kStep;
  for (int i = 0; i < 1000 && Clock::now() < deadline; ++i) {
    st = s->write({reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size()}).status;
    if (st == Status::Error) break;
    wait_for(*s, 10);  // the FIN, then the RST answering our first write
  }
  REQUIRE(st == Status::Error);
  CHECK(s->error().kind == transport::ErrorKind::Io);
  CHECK((s->error().sys_errno == EPIPE || s->error().sys_errno == ECONNRESET));
}
