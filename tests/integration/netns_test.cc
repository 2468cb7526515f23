// Name resolution and Happy Eyeballs for real, in private network and mount
// namespaces (support/netns.h; root): a name whose first address is
// black-holed by an nft DROP rule, and a name server that never answers.
// Issue "Transports", section 5: "Happy Eyeballs with a name whose first
// address is black-holed", "name resolution never stalls other connections
// on a shared reactor, is bounded by the connect timeout, and does not leave
// threads behind".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "mqtt/client.h"
#include "tests/integration/support/broker.h"
#include "tests/integration/support/events.h"
#include "tests/integration/support/netns.h"
#include "tests/integration/support/ws_peer.h"
#include "mqtt/url.h"
#include "transport/tcp/resolver.h"
#include "transport/tcp/tcp.h"

using namespace itest;

namespace {

// What the system resolver answers for `name`, in its order.
std::vector<std::string> resolve(const std::string& name, uint16_t port) {
  transport::tcp::AsyncResolver r(name, port);
  for (int i = 0; i < 400 && !r.ready(); ++i) {
    pollfd p{r.fd(), POLLIN, 0};
    ::poll(&p, 1, 25);
  }
  REQUIRE(r.ready());
  std::vector<std::string> out;
  for (const auto& a : r.result().addresses) out.push_back(transport::tcp::to_string(a));
  return out;
}

// The hosts file of these tests: broker.he.test has a black-holed IPv6
// address first (RFC 6724 puts ::1 before 127.0.0.1) and a working IPv4 one.
const char* kHosts =
    "127.0.0.1 localhost\n"
    "::1 broker.he.test\n"
    "127.0.0.1 broker.he.test\n";

}  // namespace

TEST_CASE("happy eyeballs: a name whose first address is black-holed (nft DROP) connects through "
          "the second after connection_attempt_delay",
          "[integration][netns][happy-eyeballs]") {
  Watchdog watchdog("happy eyeballs by name", 60s);
  enter_private_namespaces();
  replace_file("/etc/hosts", kHosts);
  Broker broker;  // 127.0.0.1 only: ::1 would refuse at once without the DROP
  const std::string port = std::to_string(broker.port());
  nft("add rule inet itest input ip6 daddr ::1 tcp dport " + port + " drop");
  // The resolver gives the black-holed address first.
  CHECK(resolve("broker.he.test", broker.port()) ==
        std::vector<std::string>{"[::1]:" + port, "127.0.0.1:" + port});

  // One address at a time: the black hole eats the whole connect timeout.
  {
    auto o = client_options("he-serial", broker.port());
    o.host = "broker.he.test";
    o.connection_attempt_delay = std::chrono::milliseconds::max();
    o.connect_timeout = 1000ms;
    const auto t0 = Clock::now();
    auto [c, conn] = mqtt::Client::create(o, 16);
    auto e = conn.next_for(5s);
    REQUIRE(e);
    INFO(itest::describe(*e) << " after " << ms_since(t0) << " ms");
    REQUIRE(e->error());
    CHECK(e->error()->code == mqtt::ConnectionErrorCode::ConnectTimeout);
    CHECK(e->error()->broker == "broker.he.test:" + port);
    CHECK(ms_since(t0) >= 990);
  }
  // Happy Eyeballs: IPv4 starts after the attempt delay and wins.
  for (auto delay : {250ms, 100ms}) {
    INFO("connection_attempt_delay " << delay.count() << " ms");
    auto o = client_options("he", broker.port());
    o.host = "broker.he.test";
    o.connect_timeout = 5000ms;
    if (delay != 250ms) o.connection_attempt_delay = delay;  // 250 ms: the default
    const auto t0 = Clock::now();
    auto [c, conn] = mqtt::Client::create(o, 16);
    std::string seen;
    auto ack = next_until(conn, [](const mqtt::Event& e) { return connack_of(e) != nullptr; },
                          5s, &seen);
    const double took = ms_since(t0);
    INFO(seen);
    REQUIRE(ack);
    CHECK(ack->incoming()->broker() == "broker.he.test:" + port);
    CHECK(took >= static_cast<double>(delay.count()) - 5);
    CHECK(took < static_cast<double>(delay.count()) + 1500);
    CHECK(seen.find("Error") == std::string::npos);  // no failed attempt before it
  }
}

TEST_CASE("happy eyeballs: two IPv4 addresses, the first black-holed by nft DROP (transport)",
          "[integration][netns][happy-eyeballs]") {
  enter_private_namespaces();
  Broker broker;
  const std::string port = std::to_string(broker.port());
  // Any 127/8 address is local on lo; 127.0.0.2 is dropped for this port.
  nft("add rule inet itest input ip daddr 127.0.0.2 tcp dport " + port + " drop");
  transport::tcp::Options o{"pair.test", broker.port()};
  o.addresses = {"127.0.0.2", "127.0.0.1"};
  const auto t0 = Clock::now();
  auto s = transport::tcp::open(o);
  transport::Status st = transport::Status::WouldBlock;
  while (st == transport::Status::WouldBlock && ms_since(t0) < 5000) {
    st = s->connect();
    pollfd p{s->fd(), 0, 0};
    if (s->interest().read) p.events |= POLLIN;
    if (s->interest().write) p.events |= POLLOUT;
    ::poll(&p, 1, 50);
  }
  REQUIRE(st == transport::Status::Ok);
  const double took = ms_since(t0);
  CHECK(took >= 245);
  CHECK(took < 1500);
  sockaddr_in peer{};
  socklen_t len = sizeof peer;
  REQUIRE(::getpeername(s->fd(), reinterpret_cast<sockaddr*>(&peer), &len) == 0);
  char text[32];
  CHECK(std::string(::inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text)) == "127.0.0.1");
}

TEST_CASE("dns: a name server that never answers stalls no other connection on the reactor, is "
          "bounded by connect_timeout, and leaves no thread behind",
          "[integration][netns][dns]") {
  Watchdog watchdog("slow dns", 60s);
  enter_private_namespaces();
  replace_file("/etc/hosts", kHosts);
  replace_file("/etc/resolv.conf", "nameserver 127.0.0.1\noptions timeout:2 attempts:1\n");
  // The name server: a UDP socket on 127.0.0.1:53 that reads nothing and
  // answers nothing (the namespace's own port 53).
  const int dns = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  REQUIRE(dns >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(53);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(dns, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);

  Broker broker;
  auto reactor = mqtt::Reactor::create({});
  auto fast_opts = client_options("fast", broker.port());
  auto [fast, fast_conn] = mqtt::Client::create(fast_opts, 64, reactor);
  REQUIRE(wait_connack(fast_conn, 5s));
  auto sub = fast.subscribe("dns/t", mqtt::QoS::AtLeastOnce);
  REQUIRE(sub.ok());
  REQUIRE(sub->wait_for(5s));
  REQUIRE(eventually([] { return transport::tcp::resolver_threads() == 0; }, 5s));
  const size_t tasks_before = count_dir_entries("/proc/self/task");

  {
    auto slow_opts = client_options("slow", broker.port());
    slow_opts.host = "slow.dns.test";
    slow_opts.connect_timeout = 700ms;
    const auto t0 = Clock::now();
    auto [slow, slow_conn] = mqtt::Client::create(slow_opts, 64, reactor);

    // Meanwhile the other client on the same reactor thread goes on.
    double worst = 0;
    for (int i = 0; i < 5; ++i) {
      const auto t = Clock::now();
      auto tok = fast.publish_tracked("dns/t", mqtt::QoS::AtLeastOnce, false, "x");
      REQUIRE(tok.ok());
      REQUIRE(tok->wait_for(2s));
      auto got = next_until(
          fast_conn, [](const mqtt::Event& e) { return e.publish() != nullptr; }, 2s);
      REQUIRE(got);
      worst = std::max(worst, ms_since(t));
    }
    CHECK(worst < 1000);  // blocked by the lookup, it would take 2 s

    // The lookup is cut off by connect_timeout, not by the resolver's 2 s.
    auto e = slow_conn.next_for(5s);
    const double took = ms_since(t0);
    REQUIRE(e);
    REQUIRE(e->error());
    CHECK(e->error()->code == mqtt::ConnectionErrorCode::ConnectTimeout);
    CHECK(e->error()->broker == "slow.dns.test:" + std::to_string(broker.port()));
    CHECK(took >= 690);
    CHECK(took < 1500);
    // The query really went to the silent server.
    char buf[512];
    CHECK(::recv(dns, buf, sizeof buf, 0) > 0);
    CHECK(transport::tcp::resolver_threads() >= 1);  // still inside getaddrinfo()

    // Destroying the client does not wait for the lookup.
    const auto t1 = Clock::now();
    { auto gone = std::move(slow); auto gone_conn = std::move(slow_conn); }
    CHECK(ms_since(t1) < 500);  // waiting for the lookup would take up to 2 s
  }
  // The worker ends when getaddrinfo() gives up (2 s): no thread is left.
  CHECK(eventually([] { return transport::tcp::resolver_threads() == 0; }, 8s));
  CHECK(eventually([&] { return count_dir_entries("/proc/self/task") == tasks_before; }, 2s));
  CHECK(count_dir_entries("/proc/self/task") == tasks_before);
  ::close(dns);
}

TEST_CASE("happy eyeballs: ws:// to a name whose first address is black-holed connects through "
          "the second after the attempt delay",
          "[integration][netns][happy-eyeballs][ws]") {
  Watchdog watchdog("happy eyeballs over WebSocket", 60s);
  enter_private_namespaces();
  replace_file("/etc/hosts", kHosts);
  WsPeer peer;  // aedes on 127.0.0.1 only
  const std::string port = std::to_string(peer.port());
  nft("add rule inet itest input ip6 daddr ::1 tcp dport " + port + " drop");
  auto o = client_options("he-ws", 1);
  REQUIRE(mqtt::apply_url(o, "ws://broker.he.test:" + port + "/mqtt").ok());
  o.connect_timeout = 5000ms;
  const auto t0 = Clock::now();
  auto [c, conn] = mqtt::Client::create(o, 16);
  std::string seen;
  auto ack = next_until(conn, [](const mqtt::Event& e) { return connack_of(e) != nullptr; }, 5s,
                        &seen);
  const double took = ms_since(t0);
  INFO(seen);
  REQUIRE(ack);
  CHECK(took >= 245);
  CHECK(took < 1750);
  CHECK(seen.find("Error") == std::string::npos);
  // The abandoned attempt left nothing behind: exactly one upgrade arrived.
  CHECK(peer.log_count("upgrade /mqtt") == 1);
  REQUIRE(c.disconnect(2s).ok());
}
