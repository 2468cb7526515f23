// MQTT 5 Topic Aliases end to end.
// - Outgoing automatic aliases through mosquitto 2.0.11 (max_topic_alias,
//   default 10): a tap between the publisher and the broker shows the
//   aliases on the wire, and a second client receives every message with its
//   topic. mosquitto 2.0.11 never sends aliases to clients, so:
// - Incoming aliases come from the scripted broker: resolved topics in the
//   events, DISCONNECT 0x94 above our maximum, mappings gone after a
//   reconnect (0x82).
// - A caller's alias above the broker's maximum fails its token, or is a
//   RequestFailed event when untracked.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mqtt/client.h"
#include "mqtt/codec/decoder.h"
#include "mqtt/codec/encoder.h"
#include "tests/integration/support/broker.h"
#include "tests/integration/support/events.h"
#include "tests/integration/support/scripted_broker.h"

using namespace itest;
using mqtt::ConnectionErrorCode;
using mqtt::QoS;
using mqtt::RequestError;

namespace {

std::chrono::seconds watchdog_limit() { return under_tsan() ? 180s : 90s; }

// A TCP tap between one client and a broker: forwards both ways (one
// connection at a time) and keeps what the client sent.
class Tap {
 public:
  explicit Tap(uint16_t target) : target_(target) {
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(listen_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(listen_, 4) == 0);
    socklen_t n = sizeof a;
    REQUIRE(::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &n) == 0);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~Tap() {
    stop_ = true;
    thread_.join();
    ::close(listen_);
  }
  Tap(const Tap&) = delete;
  Tap& operator=(const Tap&) = delete;

  uint16_t port() const { return port_; }
  std::vector<uint8_t> client_bytes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return up_;
  }

 private:
  static bool write_all(int fd, const uint8_t* p, size_t n) {
    while (n > 0) {
      const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }
  int connect_target() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(target_);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }
  void run() {
    int client = -1, server = -1;
    auto close_pair = [&] {
      if (client >= 0) ::close(client);
      if (server >= 0) ::close(server);
      client = server = -1;
    };
    uint8_t buf[16384];
    while (!stop_) {
      pollfd fds[3] = {{listen_, POLLIN, 0}, {client, POLLIN, 0}, {server, POLLIN, 0}};
      if (::poll(fds, 3, 50) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        const int c = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) {
          close_pair();
          client = c;
          server = connect_target();
          if (server < 0) close_pair();
        }
        continue;
      }
      if (client >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
        const ssize_t n = ::recv(client, buf, sizeof buf, 0);
        if (n <= 0 || !write_all(server, buf, static_cast<size_t>(n))) {
          close_pair();
          continue;
        }
        std::lock_guard<std::mutex> lock(mu_);
        up_.insert(up_.end(), buf, buf + n);
      }
      if (server >= 0 && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) {
        const ssize_t n = ::recv(server, buf, sizeof buf, 0);
        if (n <= 0 || !write_all(client, buf, static_cast<size_t>(n))) close_pair();
      }
    }
    close_pair();
  }

  uint16_t target_;
  int listen_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<uint8_t> up_;
  std::thread thread_;
};

// The PUBLISHes in a client's byte stream, as a broker resolves them.
struct WireStats {
  size_t publishes = 0;
  size_t with_topic_and_alias = 0;  // a mapping set
  size_t alias_only = 0;            // empty topic
  size_t plain = 0;                 // no alias
  uint16_t highest_alias = 0;
  size_t wire_bytes = 0;     // as sent
  size_t plain_bytes = 0;    // the same PUBLISHes with their topics and no alias
  bool unresolved = false;   // an alias-only PUBLISH with no mapping
};

WireStats read_publishes(const std::vector<uint8_t>& bytes) {
  WireStats w;
  std::map<uint16_t, std::string> aliases;
  mqtt::codec::DecodeOptions opts;
  opts.version = mqtt::ProtocolVersion::V5;
  opts.max_packet_size = 1u << 20;
  size_t pos = 0;
  while (pos < bytes.size()) {
    mqtt::codec::Packet p;
    const auto r = mqtt::codec::decode(std::span<const uint8_t>(bytes).subspan(pos), opts, p);
    if (r.status != mqtt::codec::DecodeStatus::Ok) break;
    pos += r.consumed;
    auto* pub = std::get_if<mqtt::codec::Publish>(&p);
    if (!pub) continue;
    ++w.publishes;
    w.wire_bytes += r.consumed;
    std::string topic(pub->topic);
    if (auto a = pub->properties.topic_alias) {
      w.highest_alias = std::max(w.highest_alias, *a);
      if (topic.empty()) {
        ++w.alias_only;
        if (!aliases.count(*a)) w.unresolved = true;
        topic = aliases[*a];
      } else {
        ++w.with_topic_and_alias;
        aliases[*a] = topic;
      }
    } else {
      ++w.plain;
    }
    mqtt::codec::Publish plain = *pub;
    plain.topic = topic;
    plain.properties.topic_alias.reset();
    w.plain_bytes += mqtt::codec::encoded_size(mqtt::codec::Packet(plain), opts.version).value();
  }
  return w;
}

std::unique_ptr<ScriptedPeer> accept_connect(ScriptedBroker& sb, Bytes* connect = nullptr) {
  auto peer = sb.accept(10s);
  REQUIRE(peer != nullptr);
  std::string why;
  auto c = peer->expect_connect(10s, &why);
  INFO("scripted broker: " << why);
  REQUIRE(c);
  if (connect) *connect = *c;
  return peer;
}

// Reads events until a connection error; counts the PUBLISHes before it.
std::optional<mqtt::Event> until_error(mqtt::Connection& conn, size_t& publishes, std::string& seen) {
  publishes = 0;
  return next_until(
      conn,
      [&](const mqtt::Event& e) {
        if (e.publish()) ++publishes;
        return e.error() != nullptr;
      },
      5s, &seen);
}

}  // namespace

TEST_CASE("automatic topic aliases through mosquitto: aliases on the wire, every message arrives with its topic",
          "[integration][topic_alias]") {
  Watchdog watchdog("topic alias (mosquitto)", watchdog_limit());
  Broker broker;  // mosquitto's max_topic_alias: 10 (its default)
  Tap tap(broker.port());

  auto so = client_options("ta-sub", broker.port(), mqtt::ProtocolVersion::V5);
  so.topic_alias_maximum = 10;  // mosquitto 2.0.11 uses none towards clients anyway
  auto [sub, subconn] = mqtt::Client::create(so, 256);
  std::string seen;
  REQUIRE(wait_connack(subconn, 10s, &seen));
  auto st = sub.subscribe("ta/#", QoS::ExactlyOnce);
  REQUIRE(st.ok());
  REQUIRE(next_until(subconn, [](const mqtt::Event& e) { return suback_of(e) != nullptr; }, 10s, &seen));

  auto po = client_options("ta-pub", tap.port(), mqtt::ProtocolVersion::V5);
  po.auto_topic_aliases = 32;  // above the broker's 10: its maximum is the limit
  auto [pub, pubconn] = mqtt::Client::create(po, 256);
  auto ack = wait_connack(pubconn, 10s, &seen);
  INFO("publisher events:\n" << seen);
  REQUIRE(ack);
  std::printf("[topic alias] mosquitto's CONNACK Topic Alias Maximum: %s\n",
              ack->properties.topic_alias_maximum
                  ? std::to_string(*ack->properties.topic_alias_maximum).c_str()
                  : "absent");
  REQUIRE(ack->properties.topic_alias_maximum == std::optional<uint16_t>(10));
  Pump pubpump(pubconn);

  // 8 hot topics that keep their aliases, and 6 cold ones taking turns on
  // the 2 aliases left (the LRU replaces them).
  std::vector<std::string> topics;
  for (int i = 0; i < 14; ++i) {
    topics.push_back("ta/" + std::string(70, static_cast<char>('a' + i)) + "/" + std::to_string(i));
  }
  std::vector<std::string> sent;  // payloads name their topic
  std::vector<mqtt::Token> tokens;
  for (int round = 0; round < 12; ++round) {
    for (int i = 0; i < 8; ++i) sent.push_back(topics[static_cast<size_t>(i)]);
    sent.push_back(topics[8 + static_cast<size_t>(round % 6)]);
  }
  for (size_t n = 0; n < sent.size(); ++n) {
    const std::string payload = sent[n] + "#" + std::to_string(n);
    auto t = pub.publish_tracked(sent[n], static_cast<QoS>(n % 3), false, payload);
    REQUIRE(t.ok());
    tokens.push_back(*t);
  }
  for (auto& t : tokens) {
    auto done = t.wait_for(20s);
    REQUIRE(done);
    CHECK(done->ok());
  }

  // The subscriber gets every message, with the topic it was published to.
  size_t got = 0, wrong = 0, aliased_in = 0;
  seen.clear();
  while (got < sent.size()) {
    auto ev = next_until(subconn, [](const mqtt::Event& e) { return e.publish() != nullptr; }, 10s, &seen);
    INFO("subscriber events:\n" << seen);
    REQUIRE(ev);
    const auto* p = ev->publish();
    const std::string payload = payload_of(*p);
    const std::string topic = topic_of(*p);
    if (payload.substr(0, payload.find('#')) != topic) ++wrong;
    if (p->properties.topic_alias) ++aliased_in;
    ++got;
  }
  CHECK(wrong == 0);
  CHECK(pubpump.stats().errors.empty());

  const WireStats w = read_publishes(tap.client_bytes());
  std::printf("[topic alias] mosquitto: %zu PUBLISH from the publisher: %zu plain, %zu topic+alias, "
              "%zu alias only (highest alias %u); %zu bytes on the wire, %zu without aliases: "
              "%zu saved (%.1f per message); %zu of %zu delivered with an alias\n",
              w.publishes, w.plain, w.with_topic_and_alias, w.alias_only,
              static_cast<unsigned>(w.highest_alias), w.wire_bytes, w.plain_bytes,
              w.plain_bytes - w.wire_bytes,
              static_cast<double>(w.plain_bytes - w.wire_bytes) / static_cast<double>(w.publishes),
              aliased_in, got);
  CHECK(w.publishes == sent.size());
  CHECK(w.plain == 0);
  CHECK(w.alias_only >= 8 * 11);           // the hot topics after their first round
  CHECK(w.with_topic_and_alias >= 8 + 6);  // each topic's first use, and replacements
  CHECK(w.highest_alias == 10);            // never above the broker's maximum
  CHECK_FALSE(w.unresolved);
  CHECK(w.wire_bytes < w.plain_bytes);
  pubpump.stop();
}

TEST_CASE("incoming topic aliases from a scripted broker: resolved topics, 0x94 above our maximum, "
          "reset on reconnect",
          "[integration][topic_alias]") {
  Watchdog watchdog("topic alias (scripted broker)", watchdog_limit());
  ScriptedBroker sb;
  auto o = client_options("ta-in", sb.port(), mqtt::ProtocolVersion::V5);
  o.topic_alias_maximum = 4;
  auto pair = mqtt::Client::create(o, 64);
  mqtt::Connection& conn = pair.second;

  Bytes connect;
  auto peer = accept_connect(sb, &connect);
  {
    mqtt::codec::Packet p;
    mqtt::codec::DecodeOptions opts;
    opts.version = mqtt::ProtocolVersion::V5;
    REQUIRE(mqtt::codec::decode(connect, opts, p).status == mqtt::codec::DecodeStatus::Ok);
    CHECK(std::get<mqtt::codec::Connect>(p).properties.topic_alias_maximum ==
          std::optional<uint16_t>(4));
  }
  REQUIRE(peer->send(connack_v5(false, 0)));
  const std::string topic(120, 't');
  REQUIRE(peer->send(publish_v5(topic, "one", 1, 1, uint16_t{4})));
  REQUIRE(peer->send(publish_v5("", "two", 2, 2, uint16_t{4})));
  REQUIRE(peer->send(publish_v5("", "three", 0, 0, uint16_t{4})));
  std::vector<std::pair<std::string, std::string>> got;
  std::string seen;
  for (int i = 0; i < 3; ++i) {
    auto ev = next_until(conn, [](const mqtt::Event& e) { return e.publish() != nullptr; }, 5s, &seen);
    INFO("events:\n" << seen);
    REQUIRE(ev);
    got.emplace_back(topic_of(*ev->publish()), payload_of(*ev->publish()));
  }
  CHECK(got == std::vector<std::pair<std::string, std::string>>{
                   {topic, "one"}, {topic, "two"}, {topic, "three"}});
  auto puback = peer->read_until_type(4, 5s);  // PUBACK for id 1
  REQUIRE(puback);
  auto pubrec = peer->read_until_type(5, 5s);  // PUBREC for id 2
  REQUIRE(pubrec);

  // Alias 5 is above the 4 we announced: DISCONNECT 0x94, nothing delivered.
  REQUIRE(peer->send(publish_v5("x", "bad", 0, 0, uint16_t{5})));
  size_t publishes = 0;
  auto err = until_error(conn, publishes, seen);
  auto disc = peer->read_until_type(14, 5s);
  std::printf("[topic alias] alias above our maximum: %s; broker got %s\n",
              err ? describe(*err).c_str() : "no error", disc ? describe_packet(*disc).c_str() : "nothing");
  REQUIRE(err);
  CHECK(err->error()->code == ConnectionErrorCode::ProtocolViolation);
  CHECK(publishes == 0);
  REQUIRE(disc);
  CHECK(disconnect_reason(*disc) == std::optional<uint8_t>(0x94));

  // The client reconnects (once the error was taken and next() called
  // again); alias 4 means nothing on the new connection [MQTT-3.3.2-7]: an
  // empty topic with it is a Protocol Error (0x82).
  CHECK_FALSE(conn.try_next());
  auto peer2 = accept_connect(sb);
  REQUIRE(peer2->send(connack_v5(false, 0)));
  REQUIRE(peer2->send(publish_v5("", "stale", 0, 0, uint16_t{4})));
  err = until_error(conn, publishes, seen);
  disc = peer2->read_until_type(14, 5s);
  REQUIRE(err);
  CHECK(err->error()->code == ConnectionErrorCode::ProtocolViolation);
  CHECK(publishes == 0);
  REQUIRE(disc);
  CHECK(disconnect_reason(*disc) == std::optional<uint8_t>(0x82));
}

TEST_CASE("a caller's Topic Alias: sent within the broker's maximum, refused above it (token or "
          "RequestFailed)",
          "[integration][topic_alias]") {
  Watchdog watchdog("topic alias (caller's alias)", watchdog_limit());
  ScriptedBroker sb;
  auto o = client_options("ta-out", sb.port(), mqtt::ProtocolVersion::V5);
  auto [client, conn] = mqtt::Client::create(o, 64);
  auto peer = accept_connect(sb);
  ConnAckProps props;
  props.topic_alias_maximum = 3;
  REQUIRE(peer->send(connack_v5(false, 0, props)));
  std::string seen;
  REQUIRE(wait_connack(conn, 5s, &seen));

  mqtt::Properties alias3;
  alias3.topic_alias = 3;
  REQUIRE(client.publish("caller/topic", QoS::AtMostOnce, false, "a", alias3).ok());
  REQUIRE(client.publish("", QoS::AtMostOnce, false, "b", alias3).ok());
  auto first = peer->read_until_type(3, 5s);
  auto second = peer->read_until_type(3, 5s);
  REQUIRE(first);
  REQUIRE(second);
  CHECK(publish_topic(*first) == std::optional<std::string>("caller/topic"));
  CHECK(publish_topic(*second) == std::optional<std::string>(""));

  mqtt::Properties alias4;
  alias4.topic_alias = 4;
  auto t = client.publish_tracked("caller/other", QoS::AtLeastOnce, false, "c", alias4);
  REQUIRE(t.ok());  // accepted at the call; the session knows the broker's limit
  auto done = t->wait_for(5s);
  REQUIRE(done);
  CHECK(done->error == RequestError::TopicAliasInvalid);
  REQUIRE(client.publish("caller/untracked", QoS::AtMostOnce, false, "d", alias4).ok());
  auto ev = next_until(conn, [](const mqtt::Event& e) { return e.request_failed() != nullptr; }, 5s, &seen);
  INFO("events:\n" << seen);
  REQUIRE(ev);
  CHECK(ev->request_failed()->reason == RequestError::TopicAliasInvalid);
  CHECK(ev->request_failed()->topic == "caller/untracked");

  mqtt::Properties alias0;
  alias0.topic_alias = 0;
  auto bad = client.publish("caller/zero", QoS::AtMostOnce, false, "e", alias0);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == mqtt::ClientError::Code::InvalidRequest);
}
