// Test harness for the session: a recording observer, helpers that decode
// what the session wrote and feed it broker packets.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "mqtt/codec/decoder.h"
#include "mqtt/codec/encoder.h"
#include "mqtt/session/session.h"

namespace session_test {

using namespace mqtt;
using namespace mqtt::session;
using namespace std::chrono_literals;
using codec::PacketType;

struct Recorder : SessionObserver {
  std::vector<Outgoing> outgoing;
  std::vector<PacketType> incoming;
  std::vector<std::vector<uint8_t>> incoming_raw;
  // The topic of each incoming PUBLISH as reported (resolved from a Topic
  // Alias when the broker sent one).
  std::vector<std::string> incoming_topics;
  std::vector<std::pair<uint32_t, uint32_t>> resets;
  bool record = true;  // false: count only (no allocation)
  size_t incoming_count = 0, outgoing_count = 0;
  void on_incoming(std::span<const uint8_t> raw, const codec::Packet& p) override {
    ++incoming_count;
    if (!record) return;
    incoming.push_back(codec::packet_type(p));
    incoming_raw.emplace_back(raw.begin(), raw.end());
    if (const auto* pub = std::get_if<codec::Publish>(&p)) incoming_topics.emplace_back(pub->topic);
  }
  void on_outgoing(const Outgoing& o) override {
    ++outgoing_count;
    if (record) outgoing.push_back(o);
  }
  std::vector<ResetInfo> reset_infos;
  struct Failure {
    Request::Kind kind;
    QoS qos;
    uint16_t packet_id;
    std::string topic;
    RequestError reason;
    std::string message;
  };
  std::vector<Failure> failures;
  void on_session_reset(const ResetInfo& info) override {
    resets.emplace_back(info.dropped_publishes, info.dropped_pubrels);
    reset_infos.push_back(info);
  }
  // Session store records (SessionConfig::store), with their bytes copied.
  struct Stored {
    StoreEvent::Type type;
    uint64_t seq;
    uint16_t packet_id;
    std::vector<uint8_t> bytes;
    bool tracked;
  };
  std::vector<Stored> store;
  void on_store(const StoreEvent& e) override {
    store.push_back(Stored{e.type, e.seq, e.packet_id, {e.bytes.begin(), e.bytes.end()},
                           e.completion && *e.completion});
  }
  void on_request_failed(const FailedRequest& f) override {
    failures.push_back(Failure{f.kind, f.qos, f.packet_id, std::string(f.topic), f.reason,
                               std::string(f.message)});
  }
};

// A packet the session wrote, with the bytes its views point into.
struct Sent {
  std::vector<uint8_t> raw;
  codec::Packet packet;
  PacketType type() const { return codec::packet_type(packet); }
  template <class T>
  const T& as() const {
    return std::get<T>(packet);
  }
};
using SentList = std::vector<std::unique_ptr<Sent>>;

inline std::vector<PacketType> types(const SentList& l) {
  std::vector<PacketType> t;
  for (const auto& s : l) t.push_back(s->type());
  return t;
}

inline std::shared_ptr<mqtt::detail::CompletionState> token() {
  return std::make_shared<mqtt::detail::CompletionState>();
}

inline const TimePoint T0 = TimePoint{} + std::chrono::hours(1);

struct Harness {
  SessionConfig cfg;
  Recorder obs;
  Session s;
  TimePoint now = T0;

  explicit Harness(SessionConfig c = {}) : cfg(c), s(c, obs) {}
  ProtocolVersion v() const { return cfg.version; }

  // Decodes and consumes everything in the output.
  SentList take() {
    SentList out;
    auto bytes = s.output();
    std::vector<uint8_t> copy(bytes.begin(), bytes.end());
    size_t pos = 0;
    codec::DecodeOptions opts;
    opts.version = cfg.version;
    while (pos < copy.size()) {
      codec::Packet p;
      auto r = codec::decode(std::span<const uint8_t>(copy).subspan(pos), opts, p);
      REQUIRE(r.status == codec::DecodeStatus::Ok);
      auto sent = std::make_unique<Sent>();
      sent->raw.assign(copy.begin() + pos, copy.begin() + pos + r.consumed);
      auto r2 = codec::decode(sent->raw, opts, sent->packet);
      REQUIRE(r2.status == codec::DecodeStatus::Ok);
      out.push_back(std::move(sent));
      pos += r.consumed;
    }
    s.consume_output(copy.size(), now);
    return out;
  }

  std::vector<uint8_t> encode(const codec::Packet& p) {
    auto n = codec::encoded_size(p, cfg.version);
    REQUIRE(n.ok());
    std::vector<uint8_t> b(*n);
    auto w = codec::encode(p, cfg.version, b);
    REQUIRE(w.ok());
    return b;
  }

  Result<size_t, ConnectionError> feed(const codec::Packet& p) {
    auto b = encode(p);
    return s.handle_input(b, now);
  }
  void feed_ok(const codec::Packet& p) {
    auto b = encode(p);
    auto r = s.handle_input(b, now);
    if (!r.ok()) FAIL("handle_input failed: " << describe(r.error()));
    REQUIRE(*r == b.size());
  }

  codec::Connect connect_packet(std::string_view client_id = "client") {
    codec::Connect c;
    c.client_id = client_id;
    c.clean_start = false;
    return c;
  }

  // begin_connection + CONNACK; returns what the session wrote after CONNACK.
  SentList connect(bool session_present = false, codec::Properties props = {}) {
    s.begin_connection(connect_packet(), now, now + 10s);
    auto c = take();
    REQUIRE(c.size() == 1);
    REQUIRE(c[0]->type() == PacketType::Connect);
    codec::ConnAck ack;
    ack.session_present = session_present;
    ack.properties = props;
    feed_ok(ack);
    REQUIRE(s.state() == SessionState::Connected);
    return take();
  }

  Request publish(std::string_view topic, QoS qos, std::string_view payload = "x",
                  bool retain = false) {
    codec::Publish p;
    p.topic = topic;
    p.qos = qos;
    p.retain = retain;
    p.payload = codec::as_bytes(payload);
    auto r = make_publish_request(p, cfg.version);
    REQUIRE(r.ok());
    r->completion = token();
    return std::move(*r);
  }
  // Submits a publish; returns its token.
  std::shared_ptr<mqtt::detail::CompletionState> pub(std::string_view topic, QoS qos,
                                                      std::string_view payload = "x") {
    Request r = publish(topic, qos, payload);
    auto t = r.completion;
    s.submit(std::move(r), now);
    return t;
  }

  Request subscribe(std::vector<std::string_view> filters, QoS qos = QoS::AtLeastOnce) {
    codec::Subscribe sub;
    for (auto f : filters) sub.subscriptions.push_back(codec::Subscription{f, qos});
    auto r = make_subscribe_request(sub, cfg.version);
    REQUIRE(r.ok());
    r->completion = token();
    return std::move(*r);
  }
  Request unsubscribe(std::vector<std::string_view> filters) {
    codec::Unsubscribe u;
    u.filters = filters;
    auto r = make_unsubscribe_request(u, cfg.version);
    REQUIRE(r.ok());
    r->completion = token();
    return std::move(*r);
  }
};

inline SessionConfig v5config() {
  SessionConfig c;
  c.version = ProtocolVersion::V5;
  return c;
}

}  // namespace session_test
