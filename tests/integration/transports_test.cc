// Transports other than plain TCP against real mosquitto listeners that the
// test starts itself: a Unix domain socket (issue "Transports", section 4)
// and TLS (section 1; the TLS stream's own options are covered in
// tests/transport/tls_test.cc).
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "mqtt/client.h"
#include "mqtt/url.h"
#include "tests/integration/support/broker.h"
#include "tests/integration/support/certs.h"
#include "tests/integration/support/events.h"
#include "tests/integration/support/ws_peer.h"

using namespace itest;
using mqtt::QoS;

namespace {

// A short folder under /tmp for the socket: $TEST_TMPDIR is usually longer
// than a socket path may be (107 bytes).
struct SocketDir {
  std::string path;
  SocketDir() {
    char tmpl[] = "/tmp/mqtt-sock-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~SocketDir() {
    ::unlink((path + "/mqtt.sock").c_str());
    ::rmdir(path.c_str());
  }
};

}  // namespace

TEST_CASE("unix socket: MQTT round trip through mosquitto's unix listener, both versions",
          "[integration][transport][unix]") {
  Watchdog watchdog("unix socket round trip", 60s);
  SocketDir dir;
  const std::string sock = dir.path + "/mqtt.sock";
  BrokerOptions bo;
  bo.extra_lines = {"listener 0 " + sock};
  Broker broker(bo);
  REQUIRE(eventually([&] { return ::access(sock.c_str(), F_OK) == 0; }, 5s));
  for (auto v : {mqtt::ProtocolVersion::V311, mqtt::ProtocolVersion::V5}) {
    auto o = client_options("unix", 1, v);  // port 1: must not be used
    o.unix_path = sock;
    auto [c, conn] = mqtt::Client::create(o, 32);
    std::string seen;
    REQUIRE(wait_connack(conn, 10s, &seen));
    auto sub = c.subscribe("unix/t", QoS::AtLeastOnce);
    REQUIRE(sub.ok());
    REQUIRE(sub->wait_for(10s));
    REQUIRE(c.publish("unix/t", QoS::AtLeastOnce, false, std::string(100000, 'u')).ok());
    auto got = next_until(conn, [](const mqtt::Event& e) { return e.publish() != nullptr; }, 10s,
                          &seen);
    REQUIRE(got);
    CHECK(payload_of(*got->publish()) == std::string(100000, 'u'));
    REQUIRE(c.disconnect(2s).ok());
    std::optional<mqtt::ConnectionError> end;
    REQUIRE(wait_end(conn, 10s, &end));
    CHECK(end->code == mqtt::ConnectionErrorCode::Disconnected);
  }
}

TEST_CASE("unix socket: a missing socket is an Io error event naming the path",
          "[integration][transport][unix]") {
  SocketDir dir;
  auto o = client_options("unix-missing", 1);
  o.unix_path = dir.path + "/nobody.sock";
  auto [c, conn] = mqtt::Client::create(o, 4);
  auto e = conn.next_for(5s);
  REQUIRE(e);
  REQUIRE(e->error());
  CHECK(e->error()->code == mqtt::ConnectionErrorCode::Io);
  CHECK(e->error()->sys_errno == ENOENT);
  CHECK(e->error()->message.find("unix:" + o.unix_path) != std::string::npos);
  CHECK_FALSE(e->error()->terminal);
}

TEST_CASE("unix socket: a path longer than sockaddr_un allows is refused at create",
          "[integration][transport][unix]") {
  auto o = client_options("unix-long", 1);
  o.unix_path = "/" + std::string(200, 'x');
  auto r = mqtt::Client::try_create(o, 4);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == mqtt::CreateError::Code::InvalidOptions);
  CHECK(r.error().message.find("unix_path") != std::string::npos);
}

namespace {

std::string make_certs() { return make_test_certs(); }

// mosquitto whose one listener speaks TLS (the lines apply to it).
BrokerOptions tls_broker(const std::string& certs) {
  BrokerOptions bo;
  bo.persistence = true;
  bo.extra_lines = {"cafile " + certs + "/ca.crt", "certfile " + certs + "/server.crt",
                    "keyfile " + certs + "/server.key"};
  return bo;
}

}  // namespace

TEST_CASE("tls: mqtts:// round trip through mosquitto's TLS listener, both versions, and a "
          "reconnect after a broker restart",
          "[integration][transport][tls]") {
  Watchdog watchdog("TLS round trip", 90s);
  const std::string certs = make_certs();
  Broker broker(tls_broker(certs));
  for (auto v : {mqtt::ProtocolVersion::V311, mqtt::ProtocolVersion::V5}) {
    auto o = client_options("tls", 1, v);
    REQUIRE(mqtt::apply_url(o, "mqtts://127.0.0.1:" + std::to_string(broker.port())).ok());
    REQUIRE(o.tls);
    o.tls->ca_file = certs + "/ca.crt";  // verified as IP 127.0.0.1
    o.clean_session = false;
    auto [c, conn] = mqtt::Client::create(o, 64);
    Pump pump(conn);
    REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.connacks >= 1; }, 10s));
    auto sub = c.subscribe("tls/t", QoS::AtLeastOnce);
    REQUIRE(sub.ok());
    REQUIRE(sub->wait_for(10s));
    const std::string big(300000, 't');
    auto t = c.publish_tracked("tls/t", QoS::AtLeastOnce, false, big);
    REQUIRE(t.ok());
    auto r = t->wait_for(10s);
    REQUIRE(r);
    CHECK(r->ok());
    REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.publishes >= 1; }, 10s));
    if (v == mqtt::ProtocolVersion::V5) {
      broker.restart();
      REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.connacks >= 2; }, 20s));
      auto t2 = c.publish_tracked("tls/t", QoS::AtLeastOnce, false, "after restart");
      REQUIRE(t2.ok());
      auto r2 = t2->wait_for(10s);
      REQUIRE(r2);
      CHECK(r2->ok());
    }
    REQUIRE(c.disconnect(2s).ok());
    REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.ended; }, 10s));
  }
}

TEST_CASE("tls: an untrusted server certificate is a Tls error event saying so",
          "[integration][transport][tls]") {
  const std::string certs = make_certs();
  Broker broker(tls_broker(certs));
  auto o = client_options("tls-untrusted", broker.port());
  o.tls = mqtt::TlsOptions{};
  o.tls->ca_file = certs + "/other.crt";
  auto [c, conn] = mqtt::Client::create(o, 4);
  auto e = conn.next_for(10s);
  REQUIRE(e);
  REQUIRE(e->error());
  CHECK(e->error()->code == mqtt::ConnectionErrorCode::Tls);
  CHECK(e->error()->message.find("not trusted") != std::string::npos);
  CHECK_FALSE(e->error()->terminal);
}

TEST_CASE("tls: a CA file that cannot be loaded is refused at create and by update_options",
          "[integration][transport][tls]") {
  auto o = client_options("tls-badca", 1);
  o.tls = mqtt::TlsOptions{};
  o.tls->ca_file = "/nonexistent/ca.crt";
  auto r = mqtt::Client::try_create(o, 4);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == mqtt::CreateError::Code::InvalidOptions);
  CHECK(r.error().message.find("TLS") != std::string::npos);
  auto good = client_options("tls-badca2", 1);
  auto [c, conn] = mqtt::Client::create(good, 4);
  auto u = c.update_options(o);
  REQUIRE_FALSE(u.ok());
  CHECK(u.error().code == mqtt::ClientError::Code::InvalidRequest);
}

TEST_CASE("tcp: bind_address and socket buffers reach the connection; a bad bind address is "
          "refused at create",
          "[integration][transport][tcp]") {
  Broker broker;
  auto o = client_options("bind", broker.port());
  o.bind_address = "127.0.0.2";
  o.send_buffer = 256 * 1024;
  o.receive_buffer = 256 * 1024;
  o.tcp_nodelay = false;
  auto [c, conn] = mqtt::Client::create(o, 8);
  REQUIRE(wait_connack(conn, 10s));
  CHECK(eventually([&] { return broker.log_count("New connection from 127.0.0.2") >= 1; }, 5s));
  REQUIRE(c.disconnect(2s).ok());
  std::optional<mqtt::ConnectionError> end;
  REQUIRE(wait_end(conn, 10s, &end));

  auto bad = client_options("bind-bad", broker.port());
  bad.bind_address = "eth0";
  auto r = mqtt::Client::try_create(bad, 4);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("bind_address") != std::string::npos);
  bad.bind_address = "";
  bad.send_buffer = -1;
  CHECK_FALSE(mqtt::Client::try_create(bad, 4).ok());
}

namespace {

// tinyproxy (HTTP CONNECT) or microsocks (SOCKS5) on a free loopback port,
// stopped by pid when the test ends.
class Proxy {
 public:
  enum class Kind { Http, Socks5 };
  Proxy(Kind kind, uint16_t allowed_port, const std::string& user = "",
        const std::string& pass = "") {
    const std::string dir = make_temp_dir("proxy");
    bool fixed = false;
    start_on_free_port(kind == Kind::Http ? "tinyproxy" : "microsocks", port_, fixed,
                       [&](std::string& why) {
                         std::vector<std::string> argv;
                         if (kind == Kind::Http) {
                           std::string conf = "Port " + std::to_string(port_) +
                                              "\nListen 127.0.0.1\nAllow 127.0.0.1\nConnectPort " +
                                              std::to_string(allowed_port) + "\nLogLevel Info\n";
                           if (!user.empty()) conf += "BasicAuth " + user + " " + pass + "\n";
                           write_file(dir + "/tinyproxy.conf", conf);
                           argv = {require_binary("tinyproxy"), "-d", "-c", dir + "/tinyproxy.conf"};
                         } else {
                           argv = {require_binary("microsocks"), "-i", "127.0.0.1", "-p",
                                   std::to_string(port_)};
                           if (!user.empty()) {
                             argv.insert(argv.end(), {"-u", user, "-P", pass});
                           }
                         }
                         process_ = Process(Process::Spec(argv).out_err(dir + "/log"));
                         for (int i = 0; i < 200; ++i) {
                           if (port_accepts(port_)) return true;
                           if (!process_.running()) break;
                           std::this_thread::sleep_for(10ms);
                         }
                         why = read_file(dir + "/log");
                         process_.stop();
                         return false;
                       });
  }
  uint16_t port() const { return port_; }

 private:
  uint16_t port_ = 0;
  Process process_;
};

void round_trip(mqtt::MqttOptions o, const std::string& topic) {
  auto [c, conn] = mqtt::Client::create(o, 32);
  std::string seen;
  REQUIRE(wait_connack(conn, 10s, &seen));
  auto sub = c.subscribe(topic, QoS::AtLeastOnce);
  REQUIRE(sub.ok());
  REQUIRE(sub->wait_for(10s));
  REQUIRE(c.publish(topic, QoS::AtLeastOnce, false, std::string(50000, 'p')).ok());
  auto got = next_until(conn, [](const mqtt::Event& e) { return e.publish() != nullptr; }, 10s,
                        &seen);
  REQUIRE(got);
  CHECK(payload_of(*got->publish()).size() == 50000);
  REQUIRE(c.disconnect(2s).ok());
  std::optional<mqtt::ConnectionError> end;
  REQUIRE(wait_end(conn, 10s, &end));
  CHECK(end->code == mqtt::ConnectionErrorCode::Disconnected);
}

// The first event of a client made with `o` is an error whose message
// contains `needle`.
void first_error_mentions(const mqtt::MqttOptions& o, const std::string& needle) {
  auto [c, conn] = mqtt::Client::create(o, 4);
  auto e = conn.next_for(10s);
  REQUIRE(e);
  REQUIRE(e->error());
  INFO(e->error()->message);
  CHECK(e->error()->message.find(needle) != std::string::npos);
}

}  // namespace

TEST_CASE("proxy: MQTT through tinyproxy (HTTP CONNECT), with and without basic auth",
          "[integration][transport][proxy]") {
  Watchdog watchdog("HTTP CONNECT proxy", 60s);
  Broker broker;
  {
    Proxy proxy(Proxy::Kind::Http, broker.port());
    auto o = client_options("http-proxy", broker.port());
    o.proxy = mqtt::ProxyOptions{mqtt::ProxyOptions::Kind::HttpConnect, "127.0.0.1", proxy.port()};
    round_trip(o, "proxy/http");
  }
  Proxy proxy(Proxy::Kind::Http, broker.port(), "user", "secret");
  auto o = client_options("http-proxy-auth", broker.port());
  o.proxy = mqtt::ProxyOptions{mqtt::ProxyOptions::Kind::HttpConnect, "127.0.0.1", proxy.port(),
                               "user", "secret"};
  round_trip(o, "proxy/http-auth");
  // Wrong password: an error event that names the proxy's answer.
  o.proxy->password = "wrong";
  auto [c, conn] = mqtt::Client::create(o, 4);
  auto e = conn.next_for(10s);
  REQUIRE(e);
  REQUIRE(e->error());
  CHECK(e->error()->code == mqtt::ConnectionErrorCode::Io);
  INFO(e->error()->message);
  CHECK((e->error()->message.find("401") != std::string::npos ||
         e->error()->message.find("407") != std::string::npos));
}

TEST_CASE("proxy: MQTT over TLS through microsocks (SOCKS5), and wrong credentials",
          "[integration][transport][proxy][tls]") {
  Watchdog watchdog("SOCKS5 proxy", 60s);
  const std::string certs = make_certs();
  Broker broker(tls_broker(certs));
  Proxy proxy(Proxy::Kind::Socks5, broker.port(), "user", "secret");
  auto o = client_options("socks-tls", broker.port());
  o.host = "localhost";  // resolved by the proxy; the certificate is for it
  o.tls = mqtt::TlsOptions{};
  o.tls->ca_file = certs + "/ca.crt";
  o.proxy = mqtt::ProxyOptions{mqtt::ProxyOptions::Kind::Socks5, "127.0.0.1", proxy.port(), "user",
                               "secret"};
  round_trip(o, "proxy/socks");
  o.proxy->password = "wrong";
  first_error_mentions(o, "authentication");
}

TEST_CASE("proxy: ws through tinyproxy (HTTP CONNECT) and wss through microsocks (SOCKS5), "
          "over the local hop",
          "[integration][transport][proxy][ws]") {
  Watchdog watchdog("WebSocket through proxies", 60s);
  {
    WsPeer peer;  // aedes
    Proxy proxy(Proxy::Kind::Http, peer.port(), "user", "secret");
    auto o = client_options("ws-http-proxy", 1);
    REQUIRE(mqtt::apply_url(o, peer.url()).ok());
    o.proxy = mqtt::ProxyOptions{mqtt::ProxyOptions::Kind::HttpConnect, "127.0.0.1", proxy.port(),
                                 "user", "secret"};
    round_trip(o, "proxy/ws-http");
    CHECK(peer.log_count("upgrade /mqtt") == 1);
  }
  const std::string certs = make_certs();
  Broker broker;
  WsPeer peer(WsPeerOptions::bridge_to(broker.port(), certs));
  Proxy proxy(Proxy::Kind::Socks5, peer.port(), "user", "secret");
  auto o = client_options("wss-socks", 1, mqtt::ProtocolVersion::V5);
  // "localhost": resolved by the proxy; SNI and the certificate check use it.
  REQUIRE(mqtt::apply_url(o, peer.url("localhost")).ok());
  o.tls->ca_file = certs + "/ca.crt";
  o.proxy = mqtt::ProxyOptions{mqtt::ProxyOptions::Kind::Socks5, "127.0.0.1", proxy.port(), "user",
                               "secret"};
  round_trip(o, "proxy/wss-socks");
  // Wrong credentials: the proxy's refusal, not a WebSocket error.
  o.proxy->password = "wrong";
  first_error_mentions(o, "authentication");
}

TEST_CASE("proxy: a proxy with unix_path is refused at create", "[integration][transport][proxy]") {
  auto o = client_options("proxy-unix", 1);
  o.unix_path = "/tmp/x.sock";
  o.proxy = mqtt::ProxyOptions{mqtt::ProxyOptions::Kind::Socks5, "127.0.0.1", 1080};
  auto r = mqtt::Client::try_create(o, 4);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("proxy") != std::string::npos);
}
