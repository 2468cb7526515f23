// libFuzzer target for the session state machine: a connected
// mqtt::session::Session (no sockets, a fake clock) fed broker bytes in
// arbitrary chunks, interleaved with the client's requests, timeouts and
// reconnects. See docs/fuzzing.md.
//
// Input layout: byte 0 configures the session, the rest is a script of
// operations (an opcode byte, then its arguments; a short input reads 0s).
//   byte 0: bit 0 version (0: 3.1.1, 1: 5), bit 1 manual acks, bit 2
//           auto-resubscribe, bits 3..4 max_inflight {1, 2, 5, 100},
//           bits 5..6 max_incoming_packet_size {32, 300, 4096, 1 MiB},
//           bit 7 keep alive (0: 5 s, 1: off)
//   opcodes (byte % 13):
//     0 raw broker bytes: length byte, then that many bytes
//     1 a broker packet built from the session's state (acks for ids in
//       flight, PUBREL for a received QoS 2, CONNACK, PUBLISH, ...),
//       fed in chunks of a chosen size
//     2 publish (QoS 0/1/2, tracked or not, retain, MQTT 5 topic alias)
//     3 subscribe, 4 unsubscribe
//     5 manual ack of a delivered QoS 1/2 PUBLISH (or of an unknown id)
//     6 time passes (or jumps to next_deadline()); handle_timeout()
//     7 the transport writes part or all of output()
//     8 connection lost, then a new connection (CONNECT written)
//     9 connection lost (no transport until an op 8)
//    10 graceful disconnect request
//    11 input paused / resumed
//    12 fail_all, which ends the script
//
// It aborts with a message when an invariant breaks:
//   - everything the session writes decodes as client packets, each
//     connection's bytes start with CONNECT, and no packet id is reused for a
//     new QoS 1/2 PUBLISH while the broker has not released it;
//   - handle_input() consumes at most what it got, leaves less than one
//     packet of max_incoming_packet_size, and after an error the state is
//     Disconnected (MQTT 5, once connected: the output ends with DISCONNECT);
//   - outgoing QoS 1/2 in flight never exceed max_inflight;
//   - an incoming QoS 2 PUBLISH is not delivered again before its PUBREL;
//   - after fail_all() every token the session took is finished.
// AddressSanitizer (with LeakSanitizer) checks memory.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "mqtt/codec/decoder.h"
#include "mqtt/codec/encoder.h"
#include "mqtt/codec/packets.h"
#include "mqtt/completion.h"
#include "mqtt/session/request.h"
#include "mqtt/session/session.h"

namespace {

namespace codec = mqtt::codec;
using mqtt::ProtocolVersion;
using mqtt::QoS;
using mqtt::ReasonCode;
using mqtt::RequestError;
using mqtt::session::Request;
using mqtt::session::Session;
using mqtt::session::SessionConfig;
using mqtt::session::SessionState;
using mqtt::session::TimePoint;
using codec::PacketType;
using namespace std::chrono_literals;

// SESSION_FUZZ_TRACE=1 prints every step, to read a reproducer.
const bool kTrace = std::getenv("SESSION_FUZZ_TRACE") != nullptr;

void trace(const char* what, long a = -1, long b = -1) {
  if (kTrace) std::fprintf(stderr, "  %s %ld %ld\n", what, a, b);
}

[[noreturn]] void fail(const char* what, long detail = -1) {
  std::fprintf(stderr, "session_fuzz: %s (%ld)\n", what, detail);
  std::abort();
}

constexpr uint16_t kInflight[4] = {1, 2, 5, 100};
constexpr uint32_t kMaxIncoming[4] = {32, 300, 4096, 1024 * 1024};
constexpr std::string_view kTopics[4] = {"a", "a/b", "sensors/1/temp", "x"};
constexpr std::string_view kFilters[4] = {"a/#", "+/b", "sensors/+/temp", "x"};
constexpr uint8_t kAckReasons[4] = {0x00, 0x10, 0x80, 0x97};  // Success, No matching, errors

// The script: bytes read in order, 0 once exhausted.
struct Script {
  std::span<const uint8_t> in;
  size_t pos = 0;
  bool done() const { return pos >= in.size(); }
  uint8_t u8() { return pos < in.size() ? in[pos++] : 0; }
  uint16_t u16() { return static_cast<uint16_t>(u8() << 8 | u8()); }
  std::span<const uint8_t> take(size_t n) {
    n = std::min(n, in.size() - std::min(pos, in.size()));
    auto s = in.subspan(pos, n);
    pos += n;
    return s;
  }
};

// The broker's view of the client's QoS 1/2 publishes and control requests,
// mirrored from what the session writes and what it accepts.
struct Mirror {
  enum class Stage : uint8_t { AwaitAck, AwaitComp };
  struct Pub {
    std::optional<QoS> qos;  // unknown when written outside submit()
    Stage stage;
  };
  std::map<uint16_t, Pub> pubs;           // outgoing, not released by the broker
  std::map<uint16_t, size_t> subscribes;  // id -> filter count
  std::map<uint16_t, size_t> unsubscribes;
  std::vector<std::pair<uint16_t, QoS>> delivered;  // incoming QoS 1/2 (for manual acks)
  std::vector<uint16_t> incoming_qos2;              // PUBREC written: PUBREL may come
  std::optional<QoS> submitting;                    // the QoS of the publish in submit()
  std::map<uint16_t, bool> qos2_held;               // incoming QoS 2 delivered, before PUBREL
};

struct Observer : mqtt::session::SessionObserver {
  Mirror& m;
  explicit Observer(Mirror& mirror) : m(mirror) {}
  void on_incoming(std::span<const uint8_t> raw, const codec::Packet& p) override {
    if (raw.empty() || static_cast<PacketType>(raw[0] >> 4) != codec::packet_type(p))
      fail("on_incoming: raw bytes are not the packet's");
    if (const auto* pub = std::get_if<codec::Publish>(&p)) {
      // Exactly once: not delivered again before its PUBREL [MQTT-4.3.3-10].
      if (pub->qos == QoS::ExactlyOnce && !m.qos2_held.emplace(pub->packet_id, true).second)
        fail("QoS 2 PUBLISH delivered twice before PUBREL", pub->packet_id);
      if (pub->qos != QoS::AtMostOnce && m.delivered.size() < 64)
        m.delivered.emplace_back(pub->packet_id, pub->qos);
      return;
    }
    // Acks release ids as the broker meant them (session.cc's rules).
    if (const auto* a = std::get_if<codec::PubAck>(&p)) {
      auto it = m.pubs.find(a->packet_id);
      if (it != m.pubs.end() && it->second.qos.value_or(QoS::AtLeastOnce) == QoS::AtLeastOnce)
        m.pubs.erase(it);
    } else if (const auto* r = std::get_if<codec::PubRec>(&p)) {
      auto it = m.pubs.find(r->packet_id);
      if (it != m.pubs.end() && it->second.qos.value_or(QoS::ExactlyOnce) == QoS::ExactlyOnce &&
          it->second.stage == Mirror::Stage::AwaitAck) {
        if (static_cast<uint8_t>(r->reason_code) >= 0x80) m.pubs.erase(it);
        else it->second.stage = Mirror::Stage::AwaitComp;
      }
    } else if (const auto* rel = std::get_if<codec::PubRel>(&p)) {
      m.qos2_held.erase(rel->packet_id);
    } else if (const auto* c = std::get_if<codec::PubComp>(&p)) {
      auto it = m.pubs.find(c->packet_id);
      if (it != m.pubs.end() && it->second.stage == Mirror::Stage::AwaitComp) m.pubs.erase(it);
    } else if (const auto* s = std::get_if<codec::SubAck>(&p)) {
      m.subscribes.erase(s->packet_id);
    } else if (const auto* u = std::get_if<codec::UnsubAck>(&p)) {
      m.unsubscribes.erase(u->packet_id);
    }
  }
  // Ids are taken when the session writes a PUBLISH (into its output): a
  // new one must not use an id the broker has not released, a resend (DUP)
  // only one it has not.
  void on_outgoing(const mqtt::Outgoing& o) override {
    if (o.type != mqtt::Outgoing::Type::Publish || o.packet_id == 0) return;
    const bool known = m.pubs.count(o.packet_id) != 0;
    if (o.dup && !known) fail("resent a PUBLISH whose id was released", o.packet_id);
    if (!o.dup && known) fail("packet id reused while in flight", o.packet_id);
    if (!known) m.pubs[o.packet_id] = Mirror::Pub{m.submitting, Mirror::Stage::AwaitAck};
  }
  void on_session_reset(const mqtt::session::ResetInfo&) override {
    m.pubs.clear();  // dropped: their ids are free again
    m.delivered.clear();
    m.incoming_qos2.clear();
    m.qos2_held.clear();
  }
  void on_request_failed(const mqtt::session::FailedRequest& f) override {
    if (f.reason == RequestError::None) fail("on_request_failed without a reason");
  }
};

class Fuzz {
 public:
  Fuzz(SessionConfig cfg, std::span<const uint8_t> script)
      : cfg_(cfg), obs_(mirror_), s_(cfg, obs_), in_{script} {}

  void run() {
    connect();
    feed_packet(codec::ConnAck{}, /*whole=*/true);
    for (int steps = 0; steps < 4096 && !in_.done() && !ended_; ++steps) {
      // After DISCONNECT (Closed) the runtime's loop ends: no reconnect.
      if (s_.state() == SessionState::Closed) break;
      step(in_.u8());
      submit_waiting();
      if (s_.stats().inflight_publishes > cfg_.max_inflight)
        fail("in-flight publishes above max_inflight", s_.stats().inflight_publishes);
    }
    finish();
  }

 private:
  void step(uint8_t op) {
    trace("op", op % 13, static_cast<long>(s_.state()));
    switch (op % 13) {
      case 0: feed_raw(in_.take(in_.u8())); break;
      case 1: broker_packet(); break;
      case 2: publish(); break;
      case 3: subscribe(); break;
      case 4: unsubscribe(); break;
      case 5: manual_ack(); break;
      case 6: time_passes(); break;
      case 7: write_output(); break;
      case 8: lose(); connect(); break;
      case 9: lose(); break;
      case 10: disconnect(); break;
      case 11: s_.set_input_paused(in_.u8() & 1, now_); break;
      default: finish(); break;
    }
  }

  // --- connection ---

  void connect() {
    lose();
    codec::Connect c;
    c.client_id = "fuzz";
    c.clean_start = false;
    s_.begin_connection(c, now_, now_ + 5s);
    transport_ = true;
    codec::DecodeOptions o;
    o.version = cfg_.version;
    o.direction = codec::Direction::ClientToServer;
    wire_.emplace(o);
    first_packet_ = true;
  }

  void lose() {
    if (!transport_) return;
    s_.connection_lost();
    transport_ = false;
    inbuf_.clear();
    wire_.reset();
    mirror_.subscribes.clear();  // resent (new packets) after the next CONNACK
    mirror_.unsubscribes.clear();
  }

  bool up() const {
    return s_.state() == SessionState::Connected || s_.state() == SessionState::Disconnecting;
  }

  // The session ended this connection: check it, then close as the runtime does.
  void connection_error(const mqtt::ConnectionError& e, bool was_connected) {
    if (s_.state() != SessionState::Disconnected && s_.state() != SessionState::Closed)
      fail("state after an error is not Disconnected", static_cast<long>(s_.state()));
    if (e.message.empty()) fail("a connection error without a message");
    if (s_.flush_before_close()) {
      if (cfg_.version != ProtocolVersion::V5 || !was_connected)
        fail("DISCONNECT for an error on 3.1.1 or before CONNACK");
      auto out = s_.output();
      if (out.size() < 3 || out[out.size() - 3] != 0xE0) fail("flush_before_close without DISCONNECT");
      check_written(out);
    }
    lose();
  }

  // --- input ---

  void feed_raw(std::span<const uint8_t> bytes) {
    if (!transport_) return;  // the runtime reads only from a live transport
    inbuf_.insert(inbuf_.end(), bytes.begin(), bytes.end());
    const bool was_connected = up();
    auto r = s_.handle_input(inbuf_, now_);
    if (!r) {
      trace(r.error().message.c_str());
      connection_error(r.error(), was_connected);
      return;
    }
    if (*r > inbuf_.size()) fail("handle_input consumed more than it got", static_cast<long>(*r));
    inbuf_.erase(inbuf_.begin(), inbuf_.begin() + static_cast<std::ptrdiff_t>(*r));
    if (inbuf_.size() >= std::max<size_t>(cfg_.max_incoming_packet_size, 5) + 5)
      fail("handle_input left more than one packet unconsumed", static_cast<long>(inbuf_.size()));
  }

  // Encodes `p` as the broker would and feeds it in chunks of a chosen size.
  void feed_packet(const codec::Packet& p, bool whole = false) {
    auto n = codec::encoded_size(p, cfg_.version, codec::Direction::ServerToClient);
    if (!n) return;  // not a packet this version can carry
    std::vector<uint8_t> bytes(*n);
    if (!codec::encode(p, cfg_.version, bytes, codec::Direction::ServerToClient)) return;
    trace("  broker sends type/first byte", static_cast<long>(codec::packet_type(p)),
          bytes.size() > 3 ? bytes[2] << 8 | bytes[3] : -1);
    size_t chunk = bytes.size();
    if (!whole) {
      const uint8_t c = in_.u8();
      if (c % 8 != 0) chunk = c % 8;
    }
    for (size_t off = 0; off < bytes.size() && transport_; off += chunk)
      feed_raw(std::span<const uint8_t>(bytes).subspan(off, std::min(chunk, bytes.size() - off)));
  }

  template <class Map>
  uint16_t pick_id(const Map& ids, uint8_t b) {
    if (ids.empty() || (b & 0x80)) return static_cast<uint16_t>(1 + b % 8);  // likely unknown
    auto it = ids.begin();
    std::advance(it, b % ids.size());
    return it->first;
  }

  ReasonCode ack_reason(uint8_t b) const {
    return cfg_.version == ProtocolVersion::V5 ? static_cast<ReasonCode>(kAckReasons[b % 4])
                                               : ReasonCode::Success;
  }

  void broker_packet() {
    const uint8_t kind = in_.u8();
    const uint8_t b = in_.u8();
    const bool v5 = cfg_.version == ProtocolVersion::V5;
    switch (kind % 11) {
      case 0: {
        codec::ConnAck c;
        c.session_present = b & 1;
        if (b & 2) c.reason_code = static_cast<ReasonCode>(v5 ? 0x87 : 0x05);  // not authorized
        if (v5 && (b & 4)) c.properties.receive_maximum = static_cast<uint16_t>(1 + (b >> 4));
        if (v5 && (b & 8)) c.properties.maximum_packet_size = 64u + in_.u8();
        if (v5 && (b & 16)) c.properties.topic_alias_maximum = 2;
        if (v5 && (b & 32)) c.properties.maximum_qos = 1;
        feed_packet(c);
        break;
      }
      case 1: {
        codec::PubAck a;
        a.packet_id = pick_id(mirror_.pubs, b);
        a.reason_code = ack_reason(in_.u8());
        feed_packet(a);
        break;
      }
      case 2: {
        codec::PubRec a;
        a.packet_id = pick_id(mirror_.pubs, b);
        a.reason_code = ack_reason(in_.u8());
        feed_packet(a);
        break;
      }
      case 3: {
        codec::PubComp a;
        a.packet_id = pick_id(mirror_.pubs, b);
        feed_packet(a);
        break;
      }
      case 4: {
        codec::PubRel a;
        a.packet_id = mirror_.incoming_qos2.empty() || (b & 0x80)
                          ? static_cast<uint16_t>(1 + b % 8)
                          : mirror_.incoming_qos2[b % mirror_.incoming_qos2.size()];
        feed_packet(a);
        break;
      }
      case 5: {
        codec::SubAck a;
        a.packet_id = pick_id(mirror_.subscribes, b);
        auto it = mirror_.subscribes.find(a.packet_id);
        size_t count = it != mirror_.subscribes.end() ? it->second : 1;
        if (in_.u8() & 1) ++count;  // a wrong count now and then
        for (size_t i = 0; i < count; ++i)
          a.reason_codes.push_back(static_cast<ReasonCode>(i == 1 ? 0x80 : b % 3));
        feed_packet(a);
        break;
      }
      case 6: {
        codec::UnsubAck a;
        a.packet_id = pick_id(mirror_.unsubscribes, b);
        if (v5) {
          auto it = mirror_.unsubscribes.find(a.packet_id);
          const size_t count = it != mirror_.unsubscribes.end() ? it->second : 1;
          for (size_t i = 0; i < count; ++i)
            a.reason_codes.push_back(static_cast<ReasonCode>((b & 1) ? 0x11 : 0x00));
        }
        feed_packet(a);
        break;
      }
      case 7: {
        codec::Publish p;
        p.qos = static_cast<QoS>(b % 3);
        p.dup = p.qos != QoS::AtMostOnce && (b & 4);
        p.retain = b & 8;
        p.topic = kTopics[(b >> 4) % 4];
        if (p.qos != QoS::AtMostOnce) p.packet_id = static_cast<uint16_t>(1 + in_.u8() % 16);
        const std::string payload(in_.u8() % 64, 'p');
        p.payload = codec::as_bytes(payload);
        if (v5 && (b & 0x40)) {
          p.properties.topic_alias = static_cast<uint16_t>(1 + (b >> 7));
          if (b & 0x80) p.topic = "";  // an alias alone: known only if mapped
        }
        if (p.qos == QoS::ExactlyOnce && transport_ && mirror_.incoming_qos2.size() < 64)
          mirror_.incoming_qos2.push_back(p.packet_id);
        feed_packet(p);
        break;
      }
      case 8: feed_packet(codec::PingResp{}); break;
      case 9: {
        codec::Disconnect d;
        d.reason_code = static_cast<ReasonCode>((b & 1) ? 0x8E : 0x00);  // session taken over
        feed_packet(d);
        break;
      }
      default: {
        codec::Auth a;
        a.reason_code = ReasonCode::ContinueAuthentication;
        a.properties.authentication_method = "SCRAM-SHA-256";
        feed_packet(a);
        break;
      }
    }
  }

  // --- output ---

  // Decodes bytes the transport wrote, as the broker would.
  void check_written(std::span<const uint8_t> bytes) {
    if (!wire_) fail("output written without a connection");
    wire_->feed(bytes);
    for (int i = 0; i < 100000; ++i) {
      codec::Packet p;
      auto r = wire_->next(p);
      if (r.status == codec::DecodeStatus::NeedMore) return;
      if (r.status == codec::DecodeStatus::Error)
        fail("the session wrote bytes that do not decode; CodecError", static_cast<long>(r.error));
      const PacketType t = codec::packet_type(p);
      trace("  client wrote type/id", static_cast<long>(t),
            std::holds_alternative<codec::Publish>(p) ? std::get<codec::Publish>(p).packet_id : -1);
      if (first_packet_ != (t == PacketType::Connect)) fail("CONNECT not first, or twice");
      first_packet_ = false;
      if (const auto* sub = std::get_if<codec::Subscribe>(&p)) {
        mirror_.subscribes[sub->packet_id] = sub->subscriptions.size();
      } else if (const auto* u = std::get_if<codec::Unsubscribe>(&p)) {
        mirror_.unsubscribes[u->packet_id] = u->filters.size();
      }
    }
  }

  void write_output() {
    auto out = s_.output();
    if (out.empty()) return;
    if (!transport_) fail("output while no transport", static_cast<long>(out.size()));
    const uint16_t want = in_.u16();
    const size_t n = want == 0 ? out.size() : std::min<size_t>(want, out.size());
    check_written(out.first(n));
    s_.consume_output(n, now_);
  }

  // --- requests ---

  std::shared_ptr<mqtt::detail::CompletionState> track(Request& r, bool tracked) {
    if (!tracked) return nullptr;
    r.completion = std::make_shared<mqtt::detail::CompletionState>();
    tokens_.push_back(r.completion);
    return r.completion;
  }

  void publish() {
    const uint8_t b = in_.u8();
    codec::Publish p;
    p.qos = static_cast<QoS>(b % 3);
    p.retain = b & 8;
    p.topic = kTopics[(b >> 4) % 4];
    const std::string payload(in_.u8() % 200, 'x');
    p.payload = codec::as_bytes(payload);
    if (cfg_.version == ProtocolVersion::V5 && (b & 0x40))
      p.properties.topic_alias = static_cast<uint16_t>(1 + (b >> 7));
    auto r = mqtt::session::make_publish_request(p, cfg_.version);
    if (!r) return;
    if (waiting_.size() >= 32) return;  // the runtime's lane is bounded too
    track(*r, b & 4);
    waiting_.push_back(std::move(*r));
  }

  // The runtime's rule: a publish goes to the session once it has room.
  void submit_waiting() {
    for (int i = 0; i < 64 && !waiting_.empty() && s_.can_send_publish(waiting_.front().qos); ++i) {
      mirror_.submitting = waiting_.front().qos;
      s_.submit(std::move(waiting_.front()), now_);
      mirror_.submitting.reset();
      waiting_.pop_front();
    }
  }

  void subscribe() {
    const uint8_t b = in_.u8();
    codec::Subscribe s;
    for (int i = 0; i <= (b & 1); ++i)
      s.subscriptions.push_back(codec::Subscription{kFilters[(b >> (1 + i)) % 4],
                                                    static_cast<QoS>((b >> 4) % 3)});
    auto r = mqtt::session::make_subscribe_request(s, cfg_.version);
    if (!r) return;
    track(*r, b & 0x80);
    s_.submit(std::move(*r), now_);
  }

  void unsubscribe() {
    const uint8_t b = in_.u8();
    codec::Unsubscribe u;
    u.filters.push_back(kFilters[b % 4]);
    auto r = mqtt::session::make_unsubscribe_request(u, cfg_.version);
    if (!r) return;
    track(*r, b & 0x80);
    s_.submit(std::move(*r), now_);
  }

  void manual_ack() {
    const uint8_t b = in_.u8();
    if (!cfg_.manual_acks) return;  // acks are the session's own then
    auto& d = mirror_.delivered;
    if (d.empty() || (b & 0x80)) {
      s_.submit(mqtt::session::make_ack_request(static_cast<uint16_t>(1 + b % 8),
                                                static_cast<QoS>(1 + (b & 1))),
                now_);
      return;
    }
    const size_t i = b % d.size();
    s_.submit(mqtt::session::make_ack_request(d[i].first, d[i].second), now_);
    d.erase(d.begin() + static_cast<std::ptrdiff_t>(i));
  }

  void disconnect() {
    auto r = mqtt::session::make_disconnect_request(codec::Disconnect{}, cfg_.version);
    if (!r) fail("a plain DISCONNECT request does not build");
    track(*r, in_.u8() & 1);
    s_.submit(std::move(*r), now_, now_ + std::chrono::milliseconds(100 * (1 + in_.u8() % 20)));
  }

  // --- time ---

  void time_passes() {
    const uint8_t b = in_.u8();
    const TimePoint next = s_.next_deadline();
    if ((b & 1) && next != TimePoint::max() && next > now_) {
      now_ = next;
    } else {
      now_ += std::chrono::milliseconds(50 * (1 + (b >> 1)));
    }
    if (!transport_ || now_ < s_.next_deadline()) return;
    const bool was_connected = up();
    auto r = s_.handle_timeout(now_);
    if (!r) connection_error(r.error(), was_connected);
  }

  // --- the end ---

  void finish() {
    if (ended_) return;
    ended_ = true;
    s_.fail_all(RequestError::ConnectionClosed, "fuzz: the loop ends");
    for (size_t i = 0; i < tokens_.size(); ++i) {
      // Never submitted (still waiting for room): the runtime fails those itself.
      bool waiting = false;
      for (const auto& w : waiting_) waiting = waiting || w.completion == tokens_[i];
      if (!waiting && !tokens_[i]->done()) fail("a token is not finished after fail_all", i);
    }
  }

  SessionConfig cfg_;
  Mirror mirror_;
  Observer obs_;
  Session s_;
  Script in_;
  TimePoint now_ = TimePoint{} + std::chrono::hours(1);
  bool transport_ = false;
  bool ended_ = false;
  bool first_packet_ = true;
  std::vector<uint8_t> inbuf_;
  std::optional<codec::StreamDecoder> wire_;
  std::deque<Request> waiting_;
  std::vector<std::shared_ptr<mqtt::detail::CompletionState>> tokens_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t cfg = data[0];
  SessionConfig c;
  c.version = (cfg & 1) ? ProtocolVersion::V5 : ProtocolVersion::V311;
  c.manual_acks = cfg & 2;
  c.auto_resubscribe = cfg & 4;
  c.max_inflight = kInflight[(cfg >> 3) & 3];
  c.max_incoming_packet_size = kMaxIncoming[(cfg >> 5) & 3];
  c.keep_alive = (cfg & 0x80) ? std::chrono::seconds(0) : std::chrono::seconds(5);
  c.ping_timeout = std::chrono::seconds(2);
  c.topic_alias_maximum = (cfg & 1) ? 2 : 0;
  Fuzz f(c, std::span<const uint8_t>(data + 1, size - 1));
  f.run();
  return 0;
}
