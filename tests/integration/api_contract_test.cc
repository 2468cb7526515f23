// The API contract as a careless caller meets it (issue "Hardening", cases
// 2, 5, 6, 9, 10, 11 and 14): limits checked at the call with a clear
// error, "infinite" durations that mean "no limit", misuse that aborts
// loudly, resource exhaustion reported as a value, and the request forms a
// program with many outstanding requests needs. Real mosquitto where a
// broker is needed; a closed port where none is.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <functional>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "mqtt/client.h"
#include "tests/integration/support/broker.h"
#include "tests/integration/support/events.h"
#include "tests/integration/support/relay.h"

using namespace itest;
using mqtt::QoS;

namespace {

// A loopback port nothing listens on: every connect is refused at once.
uint16_t closed_port() { return pick_free_port(); }

bool is_error(const std::optional<mqtt::Event>& e, mqtt::ConnectionErrorCode code) {
  return e && e->error() && e->error()->code == code;
}

// Runs `body` in a forked child; returns its wait status. The child's stderr
// goes to `err` (read after it ended). Only async-signal-safe use of the
// parent's state in the child: it starts its own threads.
int run_in_child(const std::function<int()>& body, std::string* err, std::chrono::seconds limit) {
  int pipefd[2];
  REQUIRE(::pipe(pipefd) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(pipefd[0]);
    ::dup2(pipefd[1], 2);
    // Catch2's handlers would report the child's abort as a test failure.
    std::signal(SIGABRT, SIG_DFL);
    const int devnull = ::open("/dev/null", O_WRONLY);
    if (devnull >= 0) ::dup2(devnull, 1);
    ::alarm(static_cast<unsigned>(limit.count()));  // never outlive the test
    int rc = 1;
    try {
      rc = body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: exception: %s\n", e.what());
    }
    std::fflush(stderr);
    ::_exit(rc);
  }
  ::close(pipefd[1]);
  std::string out;
  char buf[512];
  for (;;) {
    const ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (err) *err = out;
  return status;
}

}  // namespace

// --- case 2: capacity ---

TEST_CASE("case 2: capacity above kMaxCapacity, or 0, is refused with a clear error",
          "[integration][hardening][case2]") {
  auto o = client_options("capacity", closed_port());
  for (size_t bad : {size_t{0}, mqtt::Client::kMaxCapacity + 1, size_t{1} << 32, size_t{1} << 60,
                     std::numeric_limits<size_t>::max()}) {
    INFO("capacity " << bad);
    auto r = mqtt::Client::try_create(o, bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == mqtt::CreateError::Code::InvalidCapacity);
    CHECK(r.error().message.find("capacity") != std::string::npos);
    CHECK_THROWS_AS(mqtt::Client::create(o, bad), std::invalid_argument);
  }
}

TEST_CASE("case 2: the largest capacity works: requests and events flow",
          "[integration][hardening][case2]") {
  Broker broker;
  auto o = client_options("maxcap", broker.port());
  auto [c, conn] = mqtt::Client::create(o, mqtt::Client::kMaxCapacity);
  REQUIRE(wait_connack(conn, 10s));
  auto sub = c.subscribe("cap/t", QoS::AtLeastOnce);
  REQUIRE(sub.ok());
  REQUIRE(sub->wait_for(10s));
  REQUIRE(c.publish("cap/t", QoS::AtLeastOnce, false, "hello").ok());
  auto got = next_until(conn, [](const mqtt::Event& e) { return e.publish() != nullptr; }, 10s);
  REQUIRE(got);
  CHECK(payload_of(*got->publish()) == "hello");
  // Subscribing with the lane near its bound does not block forever.
  for (int i = 0; i < 100; ++i) REQUIRE(c.try_subscribe("cap/x", QoS::AtMostOnce).ok());
}

// --- case 9: validation at the call ---

TEST_CASE("case 9: invalid options are refused at create and by update_options",
          "[integration][hardening][case9]") {
  auto o = client_options("invalid", closed_port());
  o.keep_alive = std::chrono::seconds(-5);
  auto r = mqtt::Client::try_create(o, 4);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == mqtt::CreateError::Code::InvalidOptions);
  CHECK(r.error().message.find("keep_alive") != std::string::npos);
  CHECK_THROWS_AS(mqtt::Client::create(o, 4), std::invalid_argument);
  o.keep_alive = std::chrono::seconds(65536);
  CHECK_FALSE(mqtt::Client::try_create(o, 4).ok());
  o.keep_alive = std::chrono::seconds(65535);
  CHECK(mqtt::Client::try_create(o, 4).ok());

  auto good = client_options("invalid2", closed_port());
  auto [c, conn] = mqtt::Client::create(good, 4);
  auto bad = good;
  bad.keep_alive = std::chrono::seconds(-1);
  auto u = c.update_options(bad);
  REQUIRE_FALSE(u.ok());
  CHECK(u.error().code == mqtt::ClientError::Code::InvalidRequest);
  bad = good;
  bad.connect_timeout = std::chrono::milliseconds(-1);
  CHECK_FALSE(c.update_options(bad).ok());
  CHECK(c.update_options(good).ok());
}

TEST_CASE("case 9: ack of packet id 0 and more than 65535 filters are InvalidRequest",
          "[integration][hardening][case9]") {
  auto o = client_options("invalidreq", closed_port());
  o.manual_acks = true;
  auto [c, conn] = mqtt::Client::create(o, 4);
  mqtt::codec::Publish p;
  p.topic = "t";
  p.qos = QoS::AtLeastOnce;
  p.packet_id = 0;
  auto a = c.ack(p);
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().code == mqtt::ClientError::Code::InvalidRequest);
  CHECK(a.error().codec_error == mqtt::codec::CodecError::ZeroPacketIdentifier);
  CHECK_FALSE(c.try_ack(p).ok());
  p.qos = QoS::AtMostOnce;  // QoS 0: nothing to acknowledge, a no-op
  CHECK(c.ack(p).ok());

  std::vector<mqtt::SubscribeFilter> many(65536, mqtt::SubscribeFilter{"a/b", QoS::AtMostOnce});
  auto s = c.subscribe_many(many);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == mqtt::ClientError::Code::InvalidRequest);
  CHECK(s.error().codec_error == mqtt::codec::CodecError::TooManyFilters);
  CHECK_FALSE(c.try_subscribe_many(many).ok());
  std::vector<std::string_view> filters(65536, "a/b");
  auto us = c.unsubscribe_many(filters);
  REQUIRE_FALSE(us.ok());
  CHECK(us.error().codec_error == mqtt::codec::CodecError::TooManyFilters);
  CHECK_FALSE(c.subscribe_many({}).ok());  // no filter at all
}

// --- case 6: durations that mean "no limit" ---

TEST_CASE("case 6: max() durations mean no limit, never an overflow",
          "[integration][hardening][case6]") {
  Watchdog watchdog("durations test", 60s);
  Broker broker;
  Relay relay(broker.port());
  auto o = client_options("forever", relay.port());
  o.connect_timeout = std::chrono::milliseconds::max();
  o.ping_timeout = std::chrono::milliseconds::max();
  o.backoff.max = std::chrono::milliseconds::max();
  o.backoff.reset_after = std::chrono::milliseconds::max();
  o.consumer_wait = mqtt::WaitStrategy::SpinThenBlock;
  o.spin_for = std::chrono::microseconds::max();
  auto [c, conn] = mqtt::Client::create(o, 16);
  // connect_timeout = max(): connects (it used to never connect).
  auto ack = conn.next_for(std::chrono::nanoseconds::max());
  REQUIRE(ack);
  REQUIRE(connack_of(*ack));

  // A QoS 1 publish held up by a stalled link: wait_for(max()) waits.
  relay.pause();
  auto t = c.publish_tracked("forever/t", QoS::AtLeastOnce, false, "x");
  REQUIRE(t.ok());
  std::atomic<bool> waited{false};
  std::optional<mqtt::Completion> result;
  std::thread waiter([&] {
    result = t->wait_for(std::chrono::nanoseconds::max());
    waited = true;
  });
  JoinGuard guard(waiter);
  // disconnect(max()): the unacked QoS 1 is awaited, not dropped.
  REQUIRE(c.disconnect(std::chrono::milliseconds::max()).ok());
  std::this_thread::sleep_for(400ms);
  CHECK_FALSE(waited);
  CHECK_FALSE(t->ready());
  CHECK_FALSE(conn.ended());
  relay.resume();
  std::optional<mqtt::ConnectionError> end;
  REQUIRE(wait_end(conn, 20s, &end));
  REQUIRE(end);
  CHECK(end->code == mqtt::ConnectionErrorCode::Disconnected);
  waiter.join();
  REQUIRE(result);
  CHECK(result->ok());
}

TEST_CASE("case 6: backoff.max = max() still backs off; next_for(max()) waits for the event",
          "[integration][hardening][case6]") {
  auto o = client_options("backoffmax", closed_port());
  o.backoff.initial = std::chrono::milliseconds(100);
  o.backoff.max = std::chrono::milliseconds::max();
  o.backoff.multiplier = 1.0;
  o.backoff.jitter = 0.0;
  auto [c, conn] = mqtt::Client::create(o, 4);
  auto t0 = Clock::now();
  auto e1 = conn.next_for(std::chrono::nanoseconds::max());
  REQUIRE(is_error(e1, mqtt::ConnectionErrorCode::Io));
  auto e2 = conn.next_for(std::chrono::nanoseconds::max());
  REQUIRE(is_error(e2, mqtt::ConnectionErrorCode::Io));
  auto e3 = conn.next_for(std::chrono::nanoseconds::max());
  REQUIRE(is_error(e3, mqtt::ConnectionErrorCode::Io));
  // Two backoff waits of 100 ms each (it used to be zero).
  CHECK(ms_since(t0) >= 190);
  REQUIRE(c.disconnect(std::chrono::milliseconds(-5)).ok());  // negative = now
  std::optional<mqtt::ConnectionError> end;
  REQUIRE(wait_end(conn, 5s, &end));
  CHECK(end->code == mqtt::ConnectionErrorCode::Disconnected);
}

TEST_CASE("case 6: a reactor spinning with spin_for = max() still works",
          "[integration][hardening][case6]") {
  Broker broker;
  auto o = client_options("spinmax", broker.port());
  o.reactor_wait = mqtt::WaitStrategy::SpinThenBlock;
  o.spin_for = std::chrono::microseconds::max();
  auto [c, conn] = mqtt::Client::create(o, 16);
  REQUIRE(wait_connack(conn, 10s));
  REQUIRE(c.subscribe("spin/t", QoS::AtMostOnce).ok());
  REQUIRE(c.disconnect(std::chrono::seconds(2)).ok());
  std::optional<mqtt::ConnectionError> end;
  REQUIRE(wait_end(conn, 10s, &end));
  CHECK(end->code == mqtt::ConnectionErrorCode::Disconnected);
}

// --- case 10: one consumer ---

TEST_CASE("case 10: next() from two threads at once aborts with a message naming the misuse",
          "[integration][hardening][case10]") {
  std::string err;
  const int status = run_in_child(
      [] {
        // A listener that never answers: the connection waits for CONNACK
        // and no event comes, so the first next() blocks.
        const int l = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 3;
        socklen_t len = sizeof a;
        ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
        ::listen(l, 4);
        auto o = client_options("twoconsumers", ntohs(a.sin_port));
        auto [c, conn] = mqtt::Client::create(o, 4);
        std::thread first([&conn] { (void)conn.next_for(std::chrono::seconds(20)); });
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        (void)conn.try_next();  // the second consumer: must abort here
        first.join();
        return 0;  // not reached
      },
      &err, 60s);
  INFO("child stderr: " << err);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
  CHECK(err.find("two threads at once") != std::string::npos);
}

TEST_CASE("case 10: one consumer at a time from different threads is fine",
          "[integration][hardening][case10]") {
  auto o = client_options("handover", closed_port());
  auto [c, conn] = mqtt::Client::create(o, 4);
  auto e1 = conn.next_for(5s);
  REQUIRE(e1);
  std::optional<mqtt::Event> e2;
  std::thread other([&] { e2 = conn.next_for(5s); });
  other.join();
  REQUIRE(e2);
}

// --- case 11: out of descriptors ---

TEST_CASE("case 11: out of file descriptors: a value from try_create, a documented exception "
          "from create, never a half-built connection",
          "[integration][hardening][case11]") {
  std::string err;
  const int status = run_in_child(
      [] {
        auto o = client_options("nofd", pick_free_port());
        auto shared = mqtt::Reactor::create({});
        rlimit old{};
        ::getrlimit(RLIMIT_NOFILE, &old);
        // Use up every descriptor below a tight limit.
        rlimit tight = old;
        tight.rlim_cur = 64;
        if (::setrlimit(RLIMIT_NOFILE, &tight) != 0) return 10;
        std::vector<int> fds;
        for (int i = 0; i < 200; ++i) {
          int fd = ::dup(0);
          if (fd < 0) break;
          fds.push_back(fd);
        }
        int failures = 0;
        // Own reactor: its eventfd/epoll cannot be had.
        auto r1 = mqtt::Client::try_create(o, 4);
        if (r1.ok() || r1.error().code != mqtt::CreateError::Code::Resources ||
            r1.error().sys_errno != EMFILE) {
          std::fprintf(stderr, "own reactor: expected Resources/EMFILE\n");
          ++failures;
        }
        // Inspected once descriptors are back (UBSan's vptr check needs one).
        std::exception_ptr thrown;
        try {
          (void)mqtt::Client::create(o, 4);
        } catch (...) {
          thrown = std::current_exception();
        }
        // Shared reactor: a connection needs no descriptor to be created (its
        // eventfd comes with the first event_fd(), which says -1 now).
        auto r2 = mqtt::Client::try_create(o, 4, shared);
        if (!r2.ok()) {
          std::fprintf(stderr, "shared reactor: %s\n", r2.error().message.c_str());
          ++failures;
        } else if (r2.value().second.event_fd() != -1) {
          std::fprintf(stderr, "shared reactor: event_fd() without descriptors: expected -1\n");
          ++failures;
        }
        for (int fd : fds) ::close(fd);
        ::setrlimit(RLIMIT_NOFILE, &old);
        // Descriptors are back: a later event_fd() gets one.
        if (r2.ok() && r2.value().second.event_fd() < 0) {
          std::fprintf(stderr, "shared reactor: event_fd() after raising the limit: -1\n");
          ++failures;
        }
        try {
          if (thrown) std::rethrow_exception(thrown);
          std::fprintf(stderr, "create did not throw\n");
          ++failures;
        } catch (const std::system_error& e) {
          if (e.code().value() != EMFILE) ++failures;
        }
        // The shared reactor is intact: a connection on it works now.
        auto r3 = mqtt::Client::try_create(o, 4, shared);
        if (!r3.ok()) {
          std::fprintf(stderr, "after raising the limit: %s\n", r3.error().message.c_str());
          ++failures;
        } else {
          auto& [c, conn] = r3.value();
          if (conn.event_fd() < 0) ++failures;
          auto e = conn.next_for(std::chrono::seconds(5));
          if (!e || !e->error()) {
            std::fprintf(stderr, "no event from the connection on the shared reactor\n");
            ++failures;
          }
          (void)c;
        }
        return failures == 0 ? 0 : 20 + failures;
      },
      &err, 60s);
  INFO("child stderr: " << err);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

// --- case 5: update_options needing a new session ---

TEST_CASE("case 5: update_options changing max_inflight reports SessionReset (OptionsChanged) "
          "and each untracked in-flight publish",
          "[integration][hardening][case5]") {
  Watchdog watchdog("options-changed reset", 60s);
  Broker broker;
  Relay relay(broker.port());
  auto o = client_options("optreset", relay.port());
  o.max_inflight = 10;
  o.keep_alive = std::chrono::seconds(30);
  auto [c, conn] = mqtt::Client::create(o, 64);
  REQUIRE(wait_connack(conn, 10s));
  relay.pause();
  for (int i = 0; i < 3; ++i) {
    REQUIRE(c.publish("opt/t" + std::to_string(i), QoS::AtLeastOnce, false, "x").ok());
  }
  REQUIRE(eventually([&] { return c.snapshot().inflight_publishes == 3; }, 5s));
  auto changed = o;
  changed.max_inflight = 20;
  REQUIRE(c.update_options(changed).ok());
  relay.kill();  // the connection drops; the next attempt applies the options
  relay.start();
  std::optional<mqtt::SessionReset> reset;
  std::vector<mqtt::RequestFailed> failed;
  auto got = next_until(
      conn,
      [&](const mqtt::Event& e) {
        if (auto* r = e.session_reset()) reset = *r;
        if (auto* f = e.request_failed()) failed.push_back(*f);
        return connack_of(e) != nullptr;
      },
      15s);
  REQUIRE(got);
  REQUIRE(reset);
  CHECK(reset->cause == mqtt::SessionReset::Cause::OptionsChanged);
  CHECK(reset->dropped_publishes == 3);
  uint64_t n = 0;
  for (const auto& f : failed) {
    CHECK(f.reason == mqtt::RequestError::SessionReset);
    CHECK(f.kind == mqtt::RequestFailed::Kind::Publish);
    n += f.count;
  }
  CHECK(n == 3);
}

// --- case 14: the missing forms ---

TEST_CASE("case 14: try_subscribe_many, unsubscribe_many, try_unsubscribe_many, wait_any, "
          "disconnect_tracked",
          "[integration][hardening][case14]") {
  Watchdog watchdog("request forms", 60s);
  Broker broker;
  auto o = client_options("forms", broker.port(), mqtt::ProtocolVersion::V5);
  auto [c, conn] = mqtt::Client::create(o, 64);
  Pump pump(conn);
  REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.connacks >= 1; }, 10s));

  std::array<mqtt::SubscribeFilter, 2> filters{mqtt::SubscribeFilter{"forms/a", QoS::AtLeastOnce},
                                               mqtt::SubscribeFilter{"forms/b", QoS::ExactlyOnce}};
  auto sub = c.try_subscribe_many(filters);
  REQUIRE(sub.ok());
  auto sr = sub->wait_for(10s);
  REQUIRE(sr);
  CHECK(sr->ok());
  CHECK(sr->reason_codes ==
        std::vector<mqtt::ReasonCode>{mqtt::ReasonCode::GrantedQoS1, mqtt::ReasonCode::GrantedQoS2});

  // wait_any over several outstanding tokens: one index per completion.
  std::vector<mqtt::Token> tokens;
  for (int i = 0; i < 5; ++i) {
    auto t = c.publish_tracked("forms/a", QoS::AtLeastOnce, false, "m" + std::to_string(i));
    REQUIRE(t.ok());
    tokens.push_back(*t);
  }
  std::vector<bool> seen(tokens.size(), false);
  for (int round = 0; round < 5; ++round) {
    std::vector<mqtt::Token> pending;
    std::vector<size_t> index;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (!seen[i]) {
        pending.push_back(tokens[i]);
        index.push_back(i);
      }
    }
    auto any = mqtt::wait_any(pending, 10s);
    REQUIRE(any);
    REQUIRE(pending[*any].ready());
    seen[index[*any]] = true;
  }
  for (auto& t : tokens) CHECK(t.wait().ok());
  CHECK_FALSE(mqtt::wait_any({}, 10ms));
  // A token that never completes: wait_any times out.
  {
    Broker quiet;
    Relay relay(quiet.port());
    auto q = client_options("forms-quiet", relay.port());
    auto [qc, qconn] = mqtt::Client::create(q, 8);
    REQUIRE(wait_connack(qconn, 10s));
    relay.pause();
    auto stuck = qc.publish_tracked("x", QoS::AtLeastOnce, false, "x");
    REQUIRE(stuck.ok());
    std::array<mqtt::Token, 1> one{*stuck};
    auto t0 = Clock::now();
    CHECK_FALSE(mqtt::wait_any(one, 200ms));
    CHECK(ms_since(t0) >= 190);
    relay.resume();
    CHECK(mqtt::wait_any(one, 10s) == std::optional<size_t>(0));
  }

  std::array<std::string_view, 2> unfilters{"forms/a", "forms/b"};
  auto un = c.unsubscribe_many(unfilters);
  REQUIRE(un.ok());
  auto ur = un->wait_for(10s);
  REQUIRE(ur);
  CHECK(ur->ok());
  CHECK(ur->reason_codes.size() == 2);
  auto un2 = c.try_unsubscribe_many(unfilters);
  REQUIRE(un2.ok());
  REQUIRE(un2->wait_for(10s));

  // disconnect_tracked: learn the end without reading events.
  auto d = c.disconnect_tracked(std::chrono::seconds(5));
  REQUIRE(d.ok());
  auto dr = d->wait_for(10s);
  REQUIRE(dr);
  CHECK(dr->ok());
  REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.ended; }, 10s));
  // Every later call says Closed.
  auto late = c.disconnect_tracked();
  REQUIRE_FALSE(late.ok());
  CHECK(late.error().code == mqtt::ClientError::Code::Closed);
}

TEST_CASE("case 14: disconnect_tracked fails when the loop ends without a full drain",
          "[integration][hardening][case14]") {
  auto o = client_options("forms-fail", closed_port());
  auto [c, conn] = mqtt::Client::create(o, 4);
  auto d = c.disconnect_tracked(std::chrono::milliseconds(100));
  REQUIRE(d.ok());
  // Nobody reads events: the token still completes.
  auto r = d->wait_for(5s);
  REQUIRE(r);
  CHECK(r->error == mqtt::RequestError::ConnectionClosed);
}
