// Options against a real mosquitto: the outgoing rate limit (messages and
// bytes per second; no busy loop while disconnected), auto_resubscribe after
// a broker restart that lost the session, update_options() with the right
// password after refusals (reconnect_on_fatal_refusal), Connection::event_fd()
// with poll(2) and try_next(), and the example programs run as child
// processes.
#include <dirent.h>
#include <poll.h>
#include <unistd.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "mqtt/client.h"
#include "tests/integration/support/broker.h"
#include "tests/integration/support/events.h"
#include "tests/integration/support/process.h"

using namespace itest;
using mqtt::QoS;

namespace {

const char* version_name(mqtt::ProtocolVersion v) {
  return v == mqtt::ProtocolVersion::V5 ? "5" : "3.1.1";
}

// Subscribes `c` (whose consumer runs elsewhere, e.g. a Pump) and waits for
// the SUBACK through the token.
void subscribe_and_wait(mqtt::Client& c, const std::string& filter, QoS qos) {
  auto tok = c.subscribe(filter, qos);
  REQUIRE(tok.ok());
  auto done = tok->wait_for(10s);
  REQUIRE(done);
  REQUIRE(done->ok());
}

// Publishes `count` QoS 0 messages of `payload_size` bytes from a client with
// `limit` to a subscriber client; returns the seconds from the first
// publish() call until the last message arrived at the subscriber (and until
// the last message's token completed, whichever is later). -1 on a timeout.
double timed_burst(Broker& broker, const mqtt::RateLimit& limit, int count, size_t payload_size,
                   const std::string& label) {
  const std::string topic = "rate/" + unique_id(label);

  std::atomic<int> received{0};
  auto sub_pair = mqtt::Client::create(client_options("rate-sub", broker.port()), 256);
  mqtt::Client& sub = sub_pair.first;
  REQUIRE(wait_connack(sub_pair.second, 10s));
  Pump sub_pump(sub_pair.second, [&](const mqtt::Event& e) {
    if (e.publish() && topic_of(*e.publish()) == topic) received.fetch_add(1);
  });
  subscribe_and_wait(sub, topic, QoS::AtMostOnce);

  auto o = client_options("rate-pub", broker.port());
  o.rate_limit = limit;
  // Room for every request: publish() never blocks on a full lane here.
  auto pub_pair = mqtt::Client::create(o, static_cast<size_t>(count) + 16);
  mqtt::Client& pub = pub_pair.first;
  std::string seen;
  auto ack = wait_connack(pub_pair.second, 10s, &seen);
  INFO("publisher events:\n" << seen);
  REQUIRE(ack);
  Pump pub_pump(pub_pair.second);

  const std::string payload(payload_size, 'r');
  mqtt::Token last;
  const auto t0 = Clock::now();
  for (int i = 0; i < count; ++i) {
    if (i + 1 == count) {
      auto t = pub.publish_tracked(topic, QoS::AtMostOnce, false, payload);
      REQUIRE(t.ok());
      last = *t;
    } else {
      REQUIRE(pub.publish(topic, QoS::AtMostOnce, false, payload).ok());
    }
  }
  const double queued_ms = ms_since(t0);
  auto done = last.wait_for(30s);
  const double token_ms = ms_since(t0);
  REQUIRE(done);
  CHECK(done->ok());
  const bool all = sub_pump.wait_for([&] { return received.load() >= count; }, 30s);
  const double arrived_ms = ms_since(t0);
  std::printf("rate limit [%s]: %d x %zu B QoS 0: queued in %.1f ms, last token %.1f ms, "
              "all %d arrived %.1f ms\n",
              label.c_str(), count, payload_size, queued_ms, token_ms, received.load(),
              arrived_ms);
  std::fflush(stdout);
  CHECK(all);
  CHECK(received.load() == count);
  if (!all) return -1;

  REQUIRE(pub.disconnect().ok());
  REQUIRE(sub.disconnect().ok());
  CHECK(pub_pump.wait_until([](const Pump::Stats& s) { return s.ended; }, 10s));
  CHECK(sub_pump.wait_until([](const Pump::Stats& s) { return s.ended; }, 10s));
  return std::max(token_ms, arrived_ms) / 1000.0;
}

// Reads until an incoming PUBLISH on `topic`, publishing one QoS 1 message
// to it from `other` every `period` meanwhile (so that a subscription made
// at any point of the wait gets one). At most `rounds` rounds.
std::optional<mqtt::Event> publish_until_received(mqtt::Client& other, mqtt::Connection& conn,
                                                  const std::string& topic, int rounds,
                                                  std::chrono::milliseconds period,
                                                  std::string* seen) {
  for (int i = 0; i < rounds; ++i) {
    REQUIRE(other.publish(topic, QoS::AtLeastOnce, false, "after-restart-" + std::to_string(i))
                .ok());
    auto ev = next_until(
        conn, [&](const mqtt::Event& e) { return e.publish() && topic_of(*e.publish()) == topic; },
        period, seen);
    if (ev) return ev;
  }
  return std::nullopt;
}

// Everything that is waiting now, taken with try_next(); bounded.
std::vector<mqtt::Event> drain(mqtt::Connection& conn) {
  std::vector<mqtt::Event> out;
  for (int i = 0; i < 10000; ++i) {
    auto ev = conn.try_next();
    if (!ev) break;
    out.push_back(std::move(*ev));
  }
  return out;
}

// poll(2) on the event fd: true when readable within `timeout_ms`.
bool fd_readable(int fd, int timeout_ms) {
  pollfd p{};
  p.fd = fd;
  p.events = POLLIN;
  int r = -1;
  for (int i = 0; i < 100; ++i) {
    r = ::poll(&p, 1, timeout_ms);
    if (r >= 0 || errno != EINTR) break;
  }
  REQUIRE(r >= 0);
  return r > 0 && (p.revents & POLLIN) != 0;
}

// Polls the event fd (bounded) until readable, then takes one event with
// try_next(). nullopt when the fd never became readable in `timeout`.
std::optional<mqtt::Event> poll_then_take(mqtt::Connection& conn, std::chrono::milliseconds timeout,
                                          std::string* seen) {
  const auto deadline = Clock::now() + timeout;
  for (int i = 0; i < 1000; ++i) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    if (!fd_readable(conn.event_fd(), static_cast<int>(std::min<int64_t>(left.count(), 1000))))
      continue;
    auto ev = conn.try_next();
    // Readable means an event waits: try_next() must yield it.
    CHECK(ev);
    if (ev) {
      if (seen) *seen += describe(*ev) + "\n";
      return ev;
    }
  }
  return std::nullopt;
}

struct ExampleRun {
  std::string output;
  std::string status;
  bool exited = false;
  int exit_code = -1;
  double seconds = 0;
};

// Runs an example binary against 127.0.0.1:port; killed (by pid) after 60 s.
ExampleRun run_example(const std::string& name, uint16_t port) {
  // A data dependency of examples_test (tests/integration/BUILD).
  const std::string bin = runfile("examples/" + name);
  INFO("example binary " << bin);
  REQUIRE(::access(bin.c_str(), X_OK) == 0);
  const std::string out = make_temp_dir("example-" + name) + "/output.txt";
  ExampleRun run;
  const auto t0 = Clock::now();
  Process p(Process::Spec({bin, "127.0.0.1", std::to_string(port)}).out_err(out));
  const bool finished = p.wait_exit(60s);
  if (!finished) p.stop(SIGKILL, 5s);
  run.seconds = ms_since(t0) / 1000.0;
  run.output = read_file(out);
  run.status = p.describe_status();
  if (finished && p.status() && WIFEXITED(*p.status())) {
    run.exited = true;
    run.exit_code = WEXITSTATUS(*p.status());
  }
  std::printf("example %s: %s after %.2f s\n", name.c_str(), run.status.c_str(), run.seconds);
  std::fflush(stdout);
  return run;
}

// CPU time (user + system, in seconds) of this process's thread named
// `name`, from /proc; -1 if no thread has that name.
double thread_cpu_seconds(const std::string& name) {
  DIR* dir = ::opendir("/proc/self/task");
  if (!dir) return -1;
  double result = -1;
  for (int i = 0; i < 10000; ++i) {
    const dirent* e = ::readdir(dir);
    if (!e) break;
    if (e->d_name[0] == '.') continue;
    const std::string task = std::string("/proc/self/task/") + e->d_name;
    std::ifstream comm(task + "/comm");
    std::string got;
    std::getline(comm, got);
    if (got != name) continue;
    std::ifstream stat(task + "/stat");
    std::string line;
    std::getline(stat, line);
    // Fields after "(comm)": state is field 3, utime 14, stime 15.
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int f = 3; f <= 15 && rest >> field; ++f) {
      if (f == 14) utime = std::stoull(field);
      if (f == 15) stime = std::stoull(field);
    }
    result = static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
    break;
  }
  ::closedir(dir);
  return result;
}

}  // namespace

TEST_CASE("rate limit: messages per second", "[integration]") {
  Watchdog watchdog("rate limit (messages) test", 180s);
  Broker broker;

  mqtt::RateLimit limited;
  limited.messages_per_second = 100;
  limited.burst_messages = 10;
  // 60 messages, 10 at once, then 50 at 100/s: about 0.5 s.
  const double with_limit = timed_burst(broker, limited, 60, 16, "100 msg/s, burst 10");
  const double without = timed_burst(broker, mqtt::RateLimit{}, 60, 16, "unlimited");
  std::printf("rate limit: 60 messages took %.3f s at 100 msg/s (burst 10), %.3f s unlimited\n",
              with_limit, without);
  std::fflush(stdout);
  REQUIRE(with_limit > 0);
  REQUIRE(without > 0);
  CHECK(with_limit >= 0.4);
  // Loose upper bounds: a noisy, possibly sanitized, 2-core machine.
  CHECK(with_limit < 10.0);
  CHECK(without < with_limit / 2);
}

TEST_CASE("rate limit: bytes per second", "[integration]") {
  Watchdog watchdog("rate limit (bytes) test", 180s);
  Broker broker;

  mqtt::RateLimit limited;
  limited.bytes_per_second = 20000;
  // About one message at once (each PUBLISH is a little over 1 KB).
  limited.burst_bytes = 2000;
  // 30 x ~1 KB at 20 KB/s after a 2 KB burst: about 1.45 s.
  const double with_limit = timed_burst(broker, limited, 30, 1000, "20 KB/s, burst 2 KB");
  const double without = timed_burst(broker, mqtt::RateLimit{}, 30, 1000, "unlimited");
  std::printf("rate limit: 30 x 1 KB took %.3f s at 20 KB/s (burst 2 KB), %.3f s unlimited\n",
              with_limit, without);
  std::fflush(stdout);
  REQUIRE(with_limit > 0);
  REQUIRE(without > 0);
  CHECK(with_limit >= 1.0);
  CHECK(with_limit < 20.0);
  CHECK(without < with_limit / 2);
}

TEST_CASE("rate limit: no busy loop while disconnected with a limited publish pending",
          "[integration]") {
  // Regression (29a04fb): the limiter's wake-up, left in the past by the
  // drop, made the reactor poll with timeout 0 through the whole backoff.
  Watchdog watchdog("rate limit spin test", 60s);
  Broker broker;
  auto o = client_options("rate-spin", broker.port());
  o.rate_limit.messages_per_second = 50;
  o.rate_limit.burst_messages = 1;
  o.backoff.initial = std::chrono::milliseconds(5000);
  o.backoff.max = std::chrono::milliseconds(5000);
  o.backoff.jitter = 0;
  const std::string thread = "mqtt-spin-chk";
  o.reactor_thread_name = thread;
  auto [c, conn] = mqtt::Client::create(o, 256);
  CHECK(thread_cpu_seconds(thread) >= 0);  // named by the time create() returns
  REQUIRE(wait_connack(conn, 10s));
  for (int i = 0; i < 200; ++i) REQUIRE(c.publish("rate/spin", QoS::AtLeastOnce, false, "x").ok());
  // The limiter now holds the next publish (about 10 sent by the stop).
  std::this_thread::sleep_for(200ms);
  broker.stop();
  REQUIRE(eventually([&] { return c.snapshot().state != mqtt::Snapshot::State::Connected; }, 10s));
  const double before = thread_cpu_seconds(thread);
  REQUIRE(before >= 0);
  std::this_thread::sleep_for(1500ms);
  const double used = thread_cpu_seconds(thread) - before;
  std::printf("rate limit: the reactor used %.3f s of CPU in 1.5 s of backoff\n", used);
  std::fflush(stdout);
  // A spinning reactor takes most of a core (0.6 s or more); a waiting one none.
  CHECK(used < 0.3);
}

TEST_CASE("auto_resubscribe after a broker restart that lost the session", "[integration]") {
  auto version = GENERATE(mqtt::ProtocolVersion::V311, mqtt::ProtocolVersion::V5);
  auto resubscribe = GENERATE(true, false);
  INFO("MQTT " << version_name(version) << ", auto_resubscribe " << resubscribe);
  Watchdog watchdog("auto_resubscribe test", 120s);
  Broker broker;  // not persistent: a restart loses every session

  const std::string topic = "resub/" + unique_id("t");
  auto o = client_options("resub", broker.port(), version);
  o.clean_session = true;
  o.auto_resubscribe = resubscribe;
  o.backoff.initial = std::chrono::milliseconds(100);
  o.backoff.max = std::chrono::milliseconds(300);
  auto [c, conn] = mqtt::Client::create(o, 64);
  std::string seen;
  REQUIRE(wait_connack(conn, 10s, &seen));

  // The other client, whose events a pump takes (it reconnects by itself).
  auto other_pair = mqtt::Client::create(client_options("resub-pub", broker.port(), version), 64);
  mqtt::Client& other = other_pair.first;
  REQUIRE(wait_connack(other_pair.second, 10s));
  Pump other_pump(other_pair.second);

  // Subscribed, and it works before the restart.
  auto tok = c.subscribe(topic, QoS::AtLeastOnce);
  REQUIRE(tok.ok());
  REQUIRE(next_until(conn, [](const mqtt::Event& e) { return suback_of(e) != nullptr; }, 10s,
                     &seen));
  auto sub_done = tok->wait_for(5s);
  REQUIRE(sub_done);
  REQUIRE(sub_done->ok());
  {
    auto ev = publish_until_received(other, conn, topic, 20, 250ms, &seen);
    INFO("events:\n" << seen);
    REQUIRE(ev);
  }

  broker.restart();  // SIGTERM, no persistence: the sessions are gone
  const auto restarted = Clock::now();

  // The consumer keeps reading: the error, then the new CONNACK.
  std::string after;
  auto ev = next_until(conn, [](const mqtt::Event& e) { return connack_of(e) != nullptr; }, 20s,
                       &after);
  INFO("events after the restart:\n" << after);
  REQUIRE(ev);
  const auto* ack = connack_of(*ev);
  REQUIRE(ack->reason_code == mqtt::ReasonCode::Success);
  CHECK_FALSE(ack->session_present);
  std::printf("auto_resubscribe=%d MQTT %s: reconnected %.0f ms after the restart\n", resubscribe,
              version_name(version), ms_since(restarted));
  // The other client must be back as well before it publishes.
  // (Its first CONNACK was read before the pump started.)
  REQUIRE(other_pump.wait_until([](const Pump::Stats& s) { return s.connacks >= 1; }, 20s));

  if (resubscribe) {
    // No subscribe() by the test: the library subscribes again by itself.
    auto got = publish_until_received(other, conn, topic, 40, 250ms, &after);
    std::printf("auto_resubscribe=1 MQTT %s: message arrived %.0f ms after the restart\n",
                version_name(version), ms_since(restarted));
    REQUIRE(got);
    CHECK(payload_of(*got->publish()).rfind("after-restart-", 0) == 0);
    // Whether the internal SUBACK shows as an event is not specified: print it.
    std::printf("auto_resubscribe=1 MQTT %s: SUBACK event after the reconnect: %s\n",
                version_name(version), after.find("SubAck") != std::string::npos ? "yes" : "no");
  } else {
    // Publishing for about 1 s: nothing arrives, nothing is resubscribed.
    auto got = publish_until_received(other, conn, topic, 10, 100ms, &after);
    CHECK_FALSE(got);
    auto late = next_until(
        conn, [&](const mqtt::Event& e) { return e.publish() != nullptr || suback_of(e); }, 500ms,
        &after);
    CHECK_FALSE(late);
  }

  REQUIRE(c.disconnect().ok());
  std::optional<mqtt::ConnectionError> end;
  CHECK(wait_end(conn, 10s, &end, &after));
  REQUIRE(other.disconnect().ok());
  CHECK(other_pump.wait_until([](const Pump::Stats& s) { return s.ended; }, 10s));
}

TEST_CASE("update_options: the right password after refusals connects at the next attempt",
          "[integration]") {
  auto version = GENERATE(mqtt::ProtocolVersion::V311, mqtt::ProtocolVersion::V5);
  INFO("MQTT " << version_name(version));
  Watchdog watchdog("update_options test", 120s);
  BrokerOptions bo;
  bo.username = "bob";
  bo.password = "r1ght";
  Broker broker(bo);

  auto o = client_options("update", broker.port(), version);
  o.set_credentials("bob", "wr0ng");
  o.reconnect_on_fatal_refusal = true;
  // A steady 500 ms between attempts: time enough to update the options.
  o.backoff.initial = std::chrono::milliseconds(500);
  o.backoff.max = std::chrono::milliseconds(500);
  o.backoff.multiplier = 1.0;
  o.backoff.jitter = 0.0;
  auto [c, conn] = mqtt::Client::create(o, 16);

  // Two refusals: it keeps trying.
  std::string seen;
  for (int i = 0; i < 2; ++i) {
    auto ev = next_until(conn, [](const mqtt::Event& e) { return e.error() != nullptr; }, 10s,
                         &seen);
    INFO("events:\n" << seen);
    if (!ev) {
      // Stalled: say where the loop stands.
      auto snap = c.snapshot();
      INFO("no refusal " << i + 1 << " within 10 s: state " << mqtt::to_string(snap.state)
           << ", " << snap.connection_attempts << " attempts, " << snap.queued_events
           << " events queued\nbroker log:\n" << broker.log());
      REQUIRE(ev);
    }
    const auto& err = *ev->error();
    INFO("error: " << mqtt::describe(err));
    CHECK(err.code == mqtt::ConnectionErrorCode::ConnectionRefused);
    CHECK((err.reason_code == mqtt::ReasonCode::BadUserNameOrPassword ||
           err.reason_code == mqtt::ReasonCode::NotAuthorized));
    CHECK_FALSE(err.terminal);
  }
  CHECK_FALSE(conn.ended());
  const uint64_t attempts_before = c.snapshot().connection_attempts;
  CHECK(attempts_before == 2);

  // The error has been taken; the next attempt is at least 500 ms away.
  o.password = "r1ght";
  REQUIRE(c.update_options(o).ok());

  std::string after;
  auto ev = next_until(
      conn,
      [](const mqtt::Event& e) { return connack_of(e) != nullptr || e.error() != nullptr; }, 15s,
      &after);
  INFO("events after update_options:\n" << after);
  {
    auto snap = c.snapshot();
    INFO("after update_options: state " << mqtt::to_string(snap.state) << ", "
         << snap.connection_attempts << " attempts\nbroker log:\n" << broker.log());
    REQUIRE(ev);
  }
  // The very next attempt connects: no further refusal first.
  REQUIRE(connack_of(*ev));
  CHECK(connack_of(*ev)->reason_code == mqtt::ReasonCode::Success);
  CHECK(c.snapshot().connection_attempts == attempts_before + 1);
  CHECK(broker.log_count("disconnected, not authorised") == 2);

  auto tok = c.publish_tracked("update/ok", QoS::AtLeastOnce, false, "hi");
  REQUIRE(tok.ok());
  REQUIRE(next_until(conn, [](const mqtt::Event& e) {
    return e.incoming() && e.incoming()->type() == mqtt::codec::PacketType::PubAck;
  }, 10s, &after));
  auto done = tok->wait_for(5s);
  REQUIRE(done);
  CHECK(done->ok());
  REQUIRE(c.disconnect().ok());
  std::optional<mqtt::ConnectionError> end;
  CHECK(wait_end(conn, 10s, &end, &after));
  REQUIRE(end);
  CHECK(end->code == mqtt::ConnectionErrorCode::Disconnected);
}

TEST_CASE("event_fd with poll(2), try_next() and ended()", "[integration]") {
  Watchdog watchdog("event_fd test", 120s);
  Broker broker;
  auto [c, conn] = mqtt::Client::create(client_options("eventfd", broker.port()), 32);
  const int fd = conn.event_fd();
  REQUIRE(fd >= 0);
  CHECK(conn.event_fd() == fd);  // the same fd every time

  std::string seen;
  auto first = poll_then_take(conn, 10s, &seen);
  INFO("events:\n" << seen);
  REQUIRE(first);
  REQUIRE(connack_of(*first));
  CHECK(connack_of(*first)->reason_code == mqtt::ReasonCode::Success);
  for (auto& e : drain(conn)) seen += describe(e) + "\n";
  // Nothing waits: not readable, and try_next() says so.
  CHECK_FALSE(fd_readable(fd, 0));
  CHECK_FALSE(conn.try_next());
  CHECK_FALSE(conn.ended());

  // A round trip: SUBACK, PUBACK and the message itself, each announced by
  // the fd.
  const std::string topic = "eventfd/" + unique_id("t");
  REQUIRE(c.subscribe(topic, QoS::AtLeastOnce).ok());
  auto suback = poll_then_take(conn, 10s, &seen);
  REQUIRE(suback);
  REQUIRE(suback_of(*suback));
  REQUIRE(c.publish(topic, QoS::AtLeastOnce, false, "hello").ok());
  bool got_publish = false, got_puback = false;
  for (int i = 0; i < 20 && !(got_publish && got_puback); ++i) {
    auto ev = poll_then_take(conn, 10s, &seen);
    REQUIRE(ev);
    if (ev->publish()) {
      got_publish = true;
      CHECK(payload_of(*ev->publish()) == "hello");
    }
    if (ev->incoming() && ev->incoming()->type() == mqtt::codec::PacketType::PubAck)
      got_puback = true;
  }
  CHECK(got_publish);
  CHECK(got_puback);
  for (auto& e : drain(conn)) seen += describe(e) + "\n";
  CHECK_FALSE(fd_readable(fd, 0));
  CHECK_FALSE(conn.try_next());
  CHECK_FALSE(conn.ended());

  // The end: Disconnected, then nothing more.
  REQUIRE(c.disconnect().ok());
  std::optional<mqtt::ConnectionError> final_error;
  for (int i = 0; i < 20 && !final_error; ++i) {
    auto ev = poll_then_take(conn, 10s, &seen);
    REQUIRE(ev);
    if (ev->error()) final_error = *ev->error();
  }
  REQUIRE(final_error);
  CHECK(final_error->code == mqtt::ConnectionErrorCode::Disconnected);
  CHECK(final_error->terminal);
  // "True once the final event has been returned".
  CHECK(conn.ended());
  CHECK_FALSE(conn.try_next());
  CHECK_FALSE(conn.next_for(200ms));
  CHECK(conn.ended());
  auto late = c.publish("eventfd/late", QoS::AtMostOnce, false, "x");
  REQUIRE_FALSE(late.ok());
  CHECK(late.error().code == mqtt::ClientError::Code::Closed);
}

// Hidden ("[.examples]"): they need the example binaries in the runfiles, which
// only examples_test has; it runs them with the argument "[examples]".
TEST_CASE("example sync_pubsub runs against a broker", "[integration][.examples]") {
  Watchdog watchdog("sync_pubsub example", 120s);
  Broker broker;
  auto run = run_example("sync_pubsub", broker.port());
  INFO("status: " << run.status << "\noutput:\n" << run.output << "\nbroker log:\n" << broker.log());
  CHECK(run.exited);
  CHECK(run.exit_code == 0);
  CHECK(run.output.find("received 10 of 10 messages") != std::string::npos);
}

TEST_CASE("example dispatch_by_filter runs against a broker", "[integration][.examples]") {
  Watchdog watchdog("dispatch_by_filter example", 120s);
  Broker broker;
  auto run = run_example("dispatch_by_filter", broker.port());
  INFO("status: " << run.status << "\noutput:\n" << run.output << "\nbroker log:\n" << broker.log());
  CHECK(run.exited);
  CHECK(run.exit_code == 0);
  CHECK(run.output.find("2 temperatures, 1 alarms") != std::string::npos);
}

TEST_CASE("example request_response runs against a broker", "[integration][.examples]") {
  Watchdog watchdog("request_response example", 120s);
  Broker broker;
  auto run = run_example("request_response", broker.port());
  INFO("status: " << run.status << "\noutput:\n" << run.output << "\nbroker log:\n" << broker.log());
  CHECK(run.exited);
  CHECK(run.exit_code == 0);
  CHECK(run.output.find("answered 5 of 5 requests") != std::string::npos);
  CHECK(run.output.find("req-2: charlie -> CHARLIE") != std::string::npos);
}
