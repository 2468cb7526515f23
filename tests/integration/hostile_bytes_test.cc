// The real mqtt::Client against a scripted broker that sends exactly the
// bytes a case needs (issue 13, section 2): every malformed packet of the
// codec's malformed cases and the fuzz corpus (after CONNACK and as the
// CONNACK itself), packets a broker never sends, oversize lengths,
// unsolicited, duplicate and mismatched acks, a slow drip, a CONNACK that
// never comes or comes too slowly. Cases already in hostile_broker_test.cc
// (PUBLISH before CONNACK, floods from a broker that never reads, topic alias
// abuse, ...) are not repeated.
//
// Every wait is bounded and a Watchdog ends the process if a library call
// blocks forever. Measured times are printed ("[bytes] ...").
#include <catch2/catch.hpp>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "mqtt/client.h"
#include "mqtt/codec/error.h"
#include "mqtt/event.h"
#include "mqtt/options.h"
#include "mqtt/token.h"
#include "tests/integration/support/events.h"
#include "tests/integration/support/scripted_broker.h"

using namespace itest;
using mqtt::ConnectionErrorCode;
using mqtt::ProtocolVersion;
using mqtt::QoS;
using mqtt::RequestError;
using mqtt::codec::CodecError;
using std::chrono::milliseconds;

namespace {

using Code = ConnectionErrorCode;
using E = CodecError;

std::chrono::seconds watchdog_limit() { return under_tsan() ? 240s : 120s; }

milliseconds slack() {
  if (under_tsan()) return 2000ms;
  if (under_asan()) return 1000ms;
  return 300ms;
}

Bytes hex(std::string_view s) {
  Bytes out;
  int hi = -1;
  for (char c : s) {
    int v = (c >= '0' && c <= '9') ? c - '0'
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                     : -1;
    if (v < 0) continue;
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Bytes connack_for(ProtocolVersion v, bool session_present = false) {
  return v == ProtocolVersion::V5 ? connack_v5(session_present, 0)
                                  : connack_v311(session_present, 0);
}

Bytes publish_for(ProtocolVersion v, std::string_view topic, std::string_view payload, uint8_t qos,
                  uint16_t id) {
  return v == ProtocolVersion::V5 ? publish_v5(topic, payload, qos, id)
                                  : publish_v311(topic, payload, qos, id);
}

const char* name_of(ProtocolVersion v) { return v == ProtocolVersion::V5 ? "MQTT 5" : "3.1.1"; }

// Options for the scripted broker: reconnects come fast (the table runs
// every row on one client, which reconnects after each).
mqtt::MqttOptions fast_options(const std::string& prefix, uint16_t port, ProtocolVersion v) {
  auto o = client_options(prefix, port, v);
  o.backoff.initial = 5ms;
  o.backoff.max = 20ms;
  return o;
}

// Accepts the client's connection and reads its CONNECT (REQUIREs both).
std::unique_ptr<ScriptedPeer> accept_connect(ScriptedBroker& sb, milliseconds timeout = 5000ms) {
  auto peer = sb.accept(timeout);
  REQUIRE(peer != nullptr);  // the client did not (re)connect to the scripted broker
  std::string why;
  auto c = peer->expect_connect(timeout, &why);
  INFO("scripted broker: " << why);
  REQUIRE(c);
  return peer;
}

// The broker reads the client's QoS 1 PUBLISH on `topic` and acks it; the
// token then completes with success.
void ack_and_complete(ScriptedPeer& peer, const mqtt::Token& token, const std::string& topic) {
  auto pub = peer.read_until_type(3, 3s);
  REQUIRE(pub);
  CHECK(publish_topic(*pub) == std::optional<std::string>(topic));
  auto id = publish_packet_id(*pub);
  REQUIRE(id);
  REQUIRE(peer.send(puback(*id)));
  auto done = token.wait_for(3s);
  REQUIRE(done);
  CHECK(done->ok());
}

// What the broker read until the client closed the connection.
struct Drained {
  std::vector<Bytes> packets;
  bool closed = false;
  std::string text() const {
    std::string s;
    for (const auto& p : packets) s += describe_packet(p) + " ";
    return s;
  }
  std::optional<uint8_t> disconnect() const {
    for (const auto& p : packets)
      if (auto r = disconnect_reason(p)) return r;
    return std::nullopt;
  }
};

Drained drain_until_closed(ScriptedPeer& peer, milliseconds timeout) {
  Drained d;
  auto deadline = Clock::now() + timeout;
  for (int i = 0; i < 1000 && Clock::now() < deadline; ++i) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    auto p = peer.read_packet(left);
    if (!p) break;
    d.packets.push_back(std::move(*p));
  }
  d.closed = peer.closed() || peer.wait_closed(100ms);
  return d;
}

// Events up to the first ConnectionError: the CONNACKs and other incoming
// packets seen before it. Then one try_next(): the loop reconnects only
// once the consumer polls again after taking the error (Connection::next()),
// and nothing may follow the error before that.
struct UntilError {
  std::optional<mqtt::ConnectionError> error;
  size_t connacks = 0;
  size_t other_incoming = 0;
  std::string seen;
  bool event_after_error = false;
};

UntilError until_error(mqtt::Connection& conn, milliseconds timeout) {
  UntilError u;
  auto ev = next_until(
      conn,
      [&](const mqtt::Event& e) {
        if (connack_of(e)) ++u.connacks;
        else if (e.incoming()) ++u.other_incoming;
        return e.error() != nullptr;
      },
      timeout, &u.seen);
  if (ev) u.error = *ev->error();
  if (auto extra = conn.try_next()) {
    u.event_after_error = true;
    u.seen += "(after the error) " + describe(*extra) + "\n";
  }
  return u;
}

// ------------------------------------------------------------ the bad table

// One packet the broker must not send. `codec` is the CodecError the
// decoder reports (none: it decodes, and the session refuses it).
struct Bad {
  const char* what;
  const char* bytes;
  Code code;
  std::optional<CodecError> codec;
  bool as_connack = true;  // also sent in place of the CONNACK
  uint8_t v5_reason = 0;   // the client's DISCONNECT reason (0: from `code`)
};

constexpr Code MAL = Code::MalformedPacket;
constexpr Code PROTO = Code::ProtocolViolation;
constexpr Code BIG = Code::PacketTooLarge;

// From tests/codec/malformed_test.cc (the packets a broker can send) and
// tests/fuzz/corpus (bad_remaining_length, bad_utf8_topic), for 3.1.1.
const Bad kBad311[] = {
    {"Remaining Length with a 5th byte (fuzz corpus)", "30 FF FF FF FF 7F", MAL, E::MalformedRemainingLength},
    {"continuation bit on the 4th length byte", "30 80 80 80 80", MAL, E::MalformedRemainingLength},
    {"packet type 0", "00 00", MAL, E::InvalidPacketType},
    {"AUTH in 3.1.1", "F0 00", MAL, E::InvalidPacketType},
    {"PUBREL flags 0000", "60 02 00 01", MAL, E::InvalidFixedHeaderFlags},
    {"PUBREL flags 0011", "63 02 00 01", MAL, E::InvalidFixedHeaderFlags},
    {"PUBACK flags 0001", "41 02 00 01", MAL, E::InvalidFixedHeaderFlags},
    {"PUBCOMP flags 1000", "78 02 00 01", MAL, E::InvalidFixedHeaderFlags},
    {"CONNACK flags 1000", "28 02 00 00", MAL, E::InvalidFixedHeaderFlags},
    {"SUBACK flags 0010", "92 03 00 01 00", MAL, E::InvalidFixedHeaderFlags},
    {"UNSUBACK flags 0010", "B2 02 00 01", MAL, E::InvalidFixedHeaderFlags},
    {"DISCONNECT flags 0010", "E2 00", MAL, E::InvalidFixedHeaderFlags},
    {"PUBLISH QoS 3", "36 05 00 01 74 00 01", MAL, E::InvalidQoS},
    {"topic length past the end", "30 03 00 05 61", MAL, E::LengthExceedsPacket},
    {"QoS 1 PUBLISH without packet id", "32 03 00 01 74", MAL, E::LengthExceedsPacket},
    {"PUBACK with a 1-byte body", "40 01 00", MAL, E::LengthExceedsPacket},
    {"CONNACK with a 1-byte body", "20 01 00", MAL, E::LengthExceedsPacket},
    {"PINGRESP with a body", "D0 01 00", MAL, E::TrailingBytes},
    {"PUBACK with a reason code (3.1.1)", "40 03 00 01 00", MAL, E::TrailingBytes},
    {"PUBREL with a reason code (3.1.1)", "62 03 00 01 00", MAL, E::TrailingBytes},
    {"CONNACK with properties (3.1.1)", "20 03 00 00 00", MAL, E::TrailingBytes},
    {"UNSUBACK with a reason code (3.1.1)", "B0 03 00 01 00", MAL, E::TrailingBytes},
    {"ill-formed UTF-8 topic (fuzz corpus)", "30 06 00 02 C3 28 68 69", MAL, E::InvalidUtf8},
    {"topic 0xFF", "30 03 00 01 FF", MAL, E::InvalidUtf8},
    {"overlong UTF-8 topic", "30 04 00 02 C0 AF", MAL, E::InvalidUtf8},
    {"U+0000 in the topic", "30 05 00 03 61 00 62", MAL, E::Utf8NullCharacter},
    {"surrogate in the topic", "30 05 00 03 ED A0 80", MAL, E::Utf8Surrogate},
    {"wildcard in the topic", "30 05 00 03 61 2F 23", PROTO, E::WildcardInTopicName},
    {"empty topic", "30 02 00 00", PROTO, E::EmptyTopicName},
    {"CONNACK flags 0x02", "20 02 02 00", MAL, E::InvalidConnAckFlags},
    {"CONNACK flags 0x80", "20 02 80 00", MAL, E::InvalidConnAckFlags},
    {"PUBLISH packet id 0", "32 05 00 01 74 00 00", PROTO, E::ZeroPacketIdentifier},
    {"PUBACK packet id 0", "40 02 00 00", PROTO, E::ZeroPacketIdentifier},
    {"PUBREL packet id 0", "62 02 00 00", PROTO, E::ZeroPacketIdentifier},
    {"SUBACK packet id 0", "90 03 00 00 00", PROTO, E::ZeroPacketIdentifier},
    {"UNSUBACK packet id 0", "B0 02 00 00", PROTO, E::ZeroPacketIdentifier},
    {"CONNACK return code 6", "20 02 00 06", PROTO, E::InvalidReasonCode},
    {"CONNACK return code 0x80", "20 02 00 80", PROTO, E::InvalidReasonCode},
    {"SUBACK return code 3", "90 03 00 01 03", PROTO, E::InvalidReasonCode},
    {"SUBACK return code 0x87 (MQTT 5 only)", "90 03 00 01 87", PROTO, E::InvalidReasonCode},
    {"Remaining Length 0 in two bytes", "D0 80 00", MAL, E::NonMinimalVariableByteInteger},
    {"Remaining Length 3 in two bytes", "30 83 00 00 01 74", MAL, E::NonMinimalVariableByteInteger},
    {"Remaining Length 127 in two bytes", "30 FF 00", MAL, E::NonMinimalVariableByteInteger},
    {"4-byte Remaining Length maximum", "30 FF FF FF 7F", BIG, E::PacketTooLarge},
    // Well-formed, but not from a broker (or not now).
    {"CONNECT from the broker", "10 0C 00 04 4D 51 54 54 04 02 00 3C 00 00", PROTO, std::nullopt},
    {"SUBSCRIBE from the broker", "82 06 00 01 00 01 61 00", PROTO, std::nullopt},
    {"UNSUBSCRIBE from the broker", "A2 05 00 01 00 01 61", PROTO, std::nullopt},
    {"PINGREQ from the broker", "C0 00", PROTO, std::nullopt},
    {"DISCONNECT from the broker (3.1.1)", "E0 00", PROTO, std::nullopt},
    {"second CONNACK", "20 02 00 00", PROTO, std::nullopt, /*as_connack=*/false},
};

const Bad kBad5[] = {
    {"Remaining Length with a 5th byte", "C0 80 80 80 80 01", MAL, E::MalformedRemainingLength},
    {"continuation bit on the 4th length byte", "30 80 80 80 80", MAL, E::MalformedRemainingLength},
    {"packet type 0", "00 00", MAL, E::InvalidPacketType},
    {"PUBREL flags 0100", "64 02 00 01", MAL, E::InvalidFixedHeaderFlags},
    {"PUBREC flags 0010", "52 02 00 01", MAL, E::InvalidFixedHeaderFlags},
    {"PINGRESP flags 1000", "D8 00", MAL, E::InvalidFixedHeaderFlags},
    {"DISCONNECT flags 0001", "E1 00", MAL, E::InvalidFixedHeaderFlags},
    {"AUTH flags 0001", "F1 00", MAL, E::InvalidFixedHeaderFlags},
    {"PUBLISH QoS 3", "3F 06 00 01 74 00 01 00", MAL, E::InvalidQoS},
    {"property length past the end", "40 05 00 01 80 05 1F", MAL, E::LengthExceedsPacket},
    {"string property past the end", "40 07 00 01 80 03 1F 00 09", MAL, E::LengthExceedsPacket},
    {"AUTH reason code without property length", "F0 01 18", MAL, E::LengthExceedsPacket},
    {"PUBACK with a trailing byte", "40 05 00 01 00 00 FF", MAL, E::TrailingBytes},
    {"CONNACK with a trailing byte", "20 04 00 00 00 FF", MAL, E::TrailingBytes},
    {"DISCONNECT with a trailing byte", "E0 03 00 00 FF", MAL, E::TrailingBytes},
    {"surrogate in the topic", "30 08 00 05 78 2F ED BF BF 00", MAL, E::Utf8Surrogate},
    {"U+0000 in a user property key", "40 0B 00 01 00 07 26 00 01 00 00 01 76", MAL, E::Utf8NullCharacter},
    {"0xFF in a user property value", "40 0B 00 01 00 07 26 00 01 6B 00 01 FF", MAL, E::InvalidUtf8},
    {"wildcard in the topic", "30 06 00 03 61 2B 62 00", PROTO, E::WildcardInTopicName},
    {"empty topic without alias", "30 03 00 00 00", PROTO, E::EmptyTopicName},
    {"empty topic, other properties", "30 08 00 00 05 02 00 00 00 0A", PROTO, E::EmptyTopicName},
    {"CONNACK flags 0xFE", "20 03 FE 00 00", MAL, E::InvalidConnAckFlags},
    {"PUBLISH packet id 0", "34 06 00 01 74 00 00 00", PROTO, E::ZeroPacketIdentifier},
    {"PUBREC packet id 0", "50 02 00 00", PROTO, E::ZeroPacketIdentifier},
    {"PUBCOMP packet id 0", "70 03 00 00 00", PROTO, E::ZeroPacketIdentifier},
    {"CONNACK reason 0x04", "20 03 00 04 00", PROTO, E::InvalidReasonCode},
    {"CONNACK reason 0x10", "20 03 00 10 00", PROTO, E::InvalidReasonCode},
    {"PUBACK reason 0x04", "40 03 00 01 04", PROTO, E::InvalidReasonCode},
    {"PUBACK reason 0x92", "40 03 00 01 92", PROTO, E::InvalidReasonCode},
    {"PUBREC reason 0x01", "50 03 00 01 01", PROTO, E::InvalidReasonCode},
    {"PUBREL reason 0x10", "62 03 00 01 10", PROTO, E::InvalidReasonCode},
    {"PUBCOMP reason 0x87", "70 03 00 01 87", PROTO, E::InvalidReasonCode},
    {"SUBACK reason 0x11", "90 04 00 01 00 11", PROTO, E::InvalidReasonCode},
    {"UNSUBACK reason 0x01", "B0 04 00 01 00 01", PROTO, E::InvalidReasonCode},
    {"DISCONNECT reason 0x18", "E0 01 18", PROTO, E::InvalidReasonCode},
    {"DISCONNECT reason 0x84", "E0 01 84", PROTO, E::InvalidReasonCode},
    {"DISCONNECT reason 0x04 (client only)", "E0 01 04", PROTO, E::InvalidReasonCode},
    {"AUTH reason 0x19 (client only)", "F0 06 19 04 15 00 01 61", PROTO, E::InvalidReasonCode},
    {"AUTH reason 0x04", "F0 02 04 00", PROTO, E::InvalidReasonCode},
    {"DISCONNECT with Session Expiry (client only)", "E0 07 00 05 11 00 00 00 0A", MAL, E::PropertyNotAllowed},
    {"property length in 5 bytes", "30 0A 00 01 74 80 80 80 80 01 00 00", MAL, E::MalformedVariableByteInteger},
    {"Subscription Identifier in 5 bytes", "30 0A 00 01 74 06 0B FF FF FF FF 01", MAL, E::MalformedVariableByteInteger},
    {"property length 0 in two bytes", "30 05 00 01 74 80 00", MAL, E::NonMinimalVariableByteInteger},
    {"CONNACK property length in two bytes", "20 04 00 00 80 00", MAL, E::NonMinimalVariableByteInteger},
    {"Subscription Identifier 1 in two bytes", "30 07 00 01 74 03 0B 81 00", MAL, E::NonMinimalVariableByteInteger},
    {"AUTH without Authentication Method", "F0 02 18 00", PROTO, E::MissingAuthenticationMethod},
    {"CONNACK with Receive Maximum twice", "20 09 00 00 06 21 00 0A 21 00 0A", PROTO, E::DuplicateProperty},
    {"CONNACK with Receive Maximum 0", "20 06 00 00 03 21 00 00", PROTO, E::InvalidPropertyValue},
    {"PUBLISH with Topic Alias 0", "30 07 00 01 74 03 23 00 00", PROTO, std::nullopt, true, 0x94},
    {"4-byte Remaining Length maximum", "30 FF FF FF 7F", BIG, E::PacketTooLarge},
    {"CONNECT from the broker", "10 0D 00 04 4D 51 54 54 05 02 00 3C 00 00 00", PROTO, std::nullopt},
    {"SUBSCRIBE from the broker", "82 07 00 01 00 00 01 61 00", PROTO, std::nullopt},
    {"UNSUBSCRIBE from the broker", "A2 06 00 01 00 00 01 61", PROTO, std::nullopt},
    {"PINGREQ from the broker", "C0 00", PROTO, std::nullopt},
    // [MQTT-4.12.0-6]: no AUTH unless the CONNECT named a method.
    {"AUTH without enhanced authentication", "F0 06 18 04 15 00 01 61", PROTO, std::nullopt},
    {"second CONNACK", "20 03 00 00 00", PROTO, std::nullopt, /*as_connack=*/false},
};

uint8_t expected_v5_reason(const Bad& b) {
  if (b.v5_reason) return b.v5_reason;
  return b.code == MAL ? 0x81 : b.code == BIG ? 0x95 : 0x82;
}

}  // namespace

TEST_CASE("[bytes] every malformed or misplaced packet ends the connection with its named error",
          "[integration][hostile-bytes][malformed]") {
  const auto version = GENERATE(ProtocolVersion::V311, ProtocolVersion::V5);
  const bool v5 = version == ProtocolVersion::V5;
  Watchdog watchdog(std::string("malformed table, ") + name_of(version), watchdog_limit());
  const std::span<const Bad> table = v5 ? std::span<const Bad>(kBad5) : std::span<const Bad>(kBad311);

  ScriptedBroker sb;
  auto pair = mqtt::Client::create(fast_options("bytes-bad", sb.port(), version), 64);
  mqtt::Connection& conn = pair.second;
  const auto t0 = Clock::now();
  double worst_ms = 0;
  size_t runs = 0;
  // After the CONNACK in one write; after it one byte per write (the error
  // found in a packet that arrives in pieces); in place of the CONNACK.
  enum class Placement { AfterConnack, Dripped, AsConnack };
  for (const Bad& bad : table) {
    for (const Placement where : {Placement::AfterConnack, Placement::Dripped,
                                  Placement::AsConnack}) {
      if (where == Placement::AsConnack && !bad.as_connack) continue;
      const bool after_connack = where != Placement::AsConnack;
      INFO(name_of(version) << ": " << bad.what << " [" << bad.bytes << "] "
                            << (where == Placement::AfterConnack ? "after CONNACK"
                                : where == Placement::Dripped
                                    ? "after CONNACK, one byte per write"
                                    : "as the CONNACK"));
      auto peer = accept_connect(sb);
      const auto t = Clock::now();
      const Bytes bytes = hex(bad.bytes);
      if (where == Placement::AfterConnack) {
        REQUIRE(peer->send(cat(connack_for(version), bytes)));
      } else if (where == Placement::Dripped) {
        REQUIRE(peer->send(connack_for(version)));
        // May fail part way: the client closes as soon as it sees the
        // error (from the first byte for bad fixed header flags).
        (void)peer->send_drip(bytes, 1, 1ms);
      } else {
        REQUIRE(peer->send(bytes));
      }
      UntilError u = until_error(conn, 3s);
      const double ms = ms_since(t);
      worst_ms = std::max(worst_ms, ms);
      ++runs;
      INFO("events:\n" << u.seen);
      REQUIRE(u.error);  // no error within 3 s
      CHECK(u.error->code == bad.code);
      CHECK(u.error->codec_error == bad.codec.value_or(CodecError{}));
      CHECK_FALSE(u.error->terminal);  // the client reconnects (the next accept)
      CHECK(u.connacks == (after_connack ? 1u : 0u));
      CHECK(u.other_incoming == 0);  // nothing of the bad packet reached the consumer
      CHECK_FALSE(u.event_after_error);
      // The client closes; on MQTT 5, once connected, after a DISCONNECT
      // naming the reason (spec 4.13.1: a client SHOULD send one); never on
      // 3.1.1 (no reason codes) or before CONNACK (the library's choice).
      Drained d = drain_until_closed(*peer, 3s);
      INFO("broker received: " << d.text());
      CHECK(d.closed);
      if (v5 && after_connack) {
        CHECK(d.disconnect() == std::optional<uint8_t>(expected_v5_reason(bad)));
      } else {
        CHECK_FALSE(d.disconnect());
      }
    }
  }
  std::printf("[bytes] %s: %zu malformed/misplaced packets x placements = %zu connections in "
              "%.0f ms (slowest error %.1f ms)\n",
              name_of(version), table.size(), runs, ms_since(t0), worst_ms);
  // The connection still works after all of them.
  auto peer = accept_connect(sb);
  REQUIRE(peer->send(connack_for(version)));
  REQUIRE(wait_connack(conn, 3s));
  auto tok = pair.first.publish_tracked("bytes/after", QoS::AtLeastOnce, false, "ok");
  REQUIRE(tok.ok());
  ack_and_complete(*peer, tok.value(), "bytes/after");
}

TEST_CASE("[bytes] oversize Remaining Lengths: the limit, one byte above, the header alone",
          "[integration][hostile-bytes][oversize]") {
  const auto version = GENERATE(ProtocolVersion::V311, ProtocolVersion::V5);
  const bool v5 = version == ProtocolVersion::V5;
  Watchdog watchdog(std::string("oversize, ") + name_of(version), watchdog_limit());
  ScriptedBroker sb;
  auto o = fast_options("bytes-big", sb.port(), version);
  o.max_incoming_packet_size = 1024;
  auto pair = mqtt::Client::create(o, 64);
  mqtt::Connection& conn = pair.second;

  // A QoS 0 PUBLISH of exactly `total` bytes on topic "big".
  auto publish_of_size = [&](size_t total) {
    const size_t overhead = publish_for(version, "big", "", 0, 0).size();
    // 2-byte Remaining Length for these sizes (128..16383).
    return publish_for(version, "big", std::string(total - overhead - 1, 'x'), 0, 0);
  };
  {
    INFO("exactly max_incoming_packet_size: delivered");
    auto peer = accept_connect(sb);
    Bytes at_limit = publish_of_size(1024);
    REQUIRE(at_limit.size() == 1024);
    REQUIRE(peer->send(cat(connack_for(version), at_limit)));
    std::string seen;
    auto ev = next_until(conn, [](const mqtt::Event& e) { return e.publish() || e.error(); }, 3s,
                         &seen);
    INFO("events:\n" << seen);
    REQUIRE(ev);
    REQUIRE(ev->publish());
    CHECK(ev->publish()->payload.size() == at_limit.size() - (v5 ? 9 : 8));

    INFO("one byte above: PacketTooLarge");
    Bytes above = publish_of_size(1025);
    REQUIRE(above.size() == 1025);
    REQUIRE(peer->send(above));
    UntilError u = until_error(conn, 3s);
    INFO("events:\n" << u.seen);
    REQUIRE(u.error);
    CHECK(u.error->code == Code::PacketTooLarge);
    CHECK(u.error->codec_error == E::PacketTooLarge);
    CHECK(u.other_incoming == 0);
    Drained d = drain_until_closed(*peer, 3s);
    CHECK(d.closed);
    CHECK(d.disconnect() == (v5 ? std::optional<uint8_t>(0x95) : std::nullopt));
  }
  for (const char* header : {"30 D0 0F", "30 FF FF FF 7F"}) {
    INFO("only the fixed header [" << header << "]; the body never comes: refused at once");
    auto peer = accept_connect(sb);
    REQUIRE(peer->send(connack_for(version)));
    REQUIRE(wait_connack(conn, 3s));
    const auto t = Clock::now();
    REQUIRE(peer->send(hex(header)));
    UntilError u = until_error(conn, 3s);
    const double ms = ms_since(t);
    std::printf("[bytes] %s: header [%s] above the 1024-byte limit refused after %.1f ms\n",
                name_of(version), header, ms);
    INFO("events:\n" << u.seen);
    REQUIRE(u.error);
    CHECK(u.error->code == Code::PacketTooLarge);
    CHECK(ms < static_cast<double>((200ms + slack()).count()));
    Drained d = drain_until_closed(*peer, 3s);
    CHECK(d.closed);
  }
  {
    INFO("a 5th Remaining Length byte: MalformedPacket, not PacketTooLarge");
    auto peer = accept_connect(sb);
    REQUIRE(peer->send(cat(connack_for(version), hex("30 80 80 80 80 01"))));
    UntilError u = until_error(conn, 3s);
    INFO("events:\n" << u.seen);
    REQUIRE(u.error);
    CHECK(u.error->code == Code::MalformedPacket);
    CHECK(u.error->codec_error == E::MalformedRemainingLength);
  }
}

TEST_CASE("[bytes] unsolicited, duplicate and mismatched acks are ignored; the session goes on",
          "[integration][hostile-bytes][acks]") {
  const auto version = GENERATE(ProtocolVersion::V311, ProtocolVersion::V5);
  const bool v5 = version == ProtocolVersion::V5;
  Watchdog watchdog(std::string("acks, ") + name_of(version), watchdog_limit());
  ScriptedBroker sb;
  auto pair = mqtt::Client::create(fast_options("bytes-acks", sb.port(), version), 64);
  mqtt::Client& client = pair.first;
  mqtt::Connection& conn = pair.second;
  Pump pump(conn);
  auto peer = accept_connect(sb);
  REQUIRE(peer->send(connack_for(version)));
  REQUIRE(pump.wait_until([](const Pump::Stats& s) { return s.connacks == 1; }, 3s));

  // Acks for ids never used. Spec: acks for unknown ids are not a protocol
  // error the client must act on; the library ignores them (session.cc), and
  // answers PUBREC with PUBREL (MQTT 5: 0x92) and PUBREL with PUBCOMP
  // (0x92) so the broker can release its state [MQTT-4.3.3-11].
  REQUIRE(peer->send(cat(cat(cat(puback(101), pubrec(102)), cat(pubcomp(103), pubrel(104))),
                         cat(v5 ? suback_v5(105, {0}) : suback_v311(105, {0}),
                             v5 ? unsuback_v5(106, {0}) : unsuback_v311(106)))));
  auto rel = peer->read_until_type(6, 3s);
  REQUIRE(rel);
  CHECK(leading_packet_id(*rel) == std::optional<uint16_t>(102));
  CHECK(ack_reason(*rel) == std::optional<uint8_t>(v5 ? 0x92 : 0x00));
  auto comp = peer->read_until_type(7, 3s);
  REQUIRE(comp);
  CHECK(leading_packet_id(*comp) == std::optional<uint16_t>(104));
  CHECK(ack_reason(*comp) == std::optional<uint8_t>(v5 ? 0x92 : 0x00));

  // QoS 1: a PUBACK with the wrong id and a PUBREC (wrong type) leave the
  // token pending; the right PUBACK completes it; a duplicate is ignored.
  auto q1 = client.publish_tracked("acks/q1", QoS::AtLeastOnce, false, "one");
  REQUIRE(q1.ok());
  auto p1 = peer->read_until_type(3, 3s);
  REQUIRE(p1);
  const uint16_t id1 = *publish_packet_id(*p1);
  REQUIRE(peer->send(cat(puback(static_cast<uint16_t>(id1 + 1000)), pubrec(id1))));
  auto wrong_rel = peer->read_until_type(6, 3s);  // PUBREC for a QoS 1 id: PUBREL 0x92
  REQUIRE(wrong_rel);
  CHECK(ack_reason(*wrong_rel) == std::optional<uint8_t>(v5 ? 0x92 : 0x00));
  CHECK_FALSE(q1.value().wait_for(100ms));
  REQUIRE(peer->send(cat(puback(id1), puback(id1))));
  auto d1 = q1.value().wait_for(3s);
  REQUIRE(d1);
  CHECK(d1->ok());

  // QoS 2: PUBACK (wrong type) and PUBCOMP before PUBREC are ignored; PUBREC
  // gets PUBREL, a duplicate PUBREC gets it again, PUBCOMP completes, a
  // duplicate PUBCOMP is ignored.
  auto q2 = client.publish_tracked("acks/q2", QoS::ExactlyOnce, false, "two");
  REQUIRE(q2.ok());
  auto p2 = peer->read_until_type(3, 3s);
  REQUIRE(p2);
  const uint16_t id2 = *publish_packet_id(*p2);
  REQUIRE(peer->send(cat(puback(id2), pubcomp(id2))));
  CHECK_FALSE(q2.value().wait_for(100ms));
  REQUIRE(peer->send(cat(pubrec(id2), pubrec(id2))));
  for (int i = 0; i < 2; ++i) {
    auto r = peer->read_until_type(6, 3s);
    REQUIRE(r);
    CHECK(leading_packet_id(*r) == std::optional<uint16_t>(id2));
    CHECK(ack_reason(*r) == std::optional<uint8_t>(0));
  }
  CHECK_FALSE(q2.value().wait_for(50ms));
  REQUIRE(peer->send(cat(pubcomp(id2), pubcomp(id2))));
  auto d2 = q2.value().wait_for(3s);
  REQUIRE(d2);
  CHECK(d2->ok());

  // SUBSCRIBE: a SUBACK for another id and an UNSUBACK for its id leave it
  // pending; its SUBACK completes it.
  auto sub = client.subscribe("acks/sub", QoS::AtLeastOnce);
  REQUIRE(sub.ok());
  auto s = peer->read_until_type(8, 3s);
  REQUIRE(s);
  const uint16_t sid = *leading_packet_id(*s);
  REQUIRE(peer->send(cat(v5 ? suback_v5(sid + 1, {1}) : suback_v311(sid + 1, {1}),
                         v5 ? unsuback_v5(sid, {0}) : unsuback_v311(sid))));
  CHECK_FALSE(sub.value().wait_for(100ms));
  REQUIRE(peer->send(v5 ? suback_v5(sid, {1}) : suback_v311(sid, {1})));
  auto ds = sub.value().wait_for(3s);
  REQUIRE(ds);
  CHECK(ds->ok());

  // A SUBACK with a code for each of 2 filters for a 1-filter SUBSCRIBE
  // [MQTT-3.8.4-6]: that token fails with ProtocolError; the connection stays.
  auto sub2 = client.subscribe("acks/sub2", QoS::AtLeastOnce);
  REQUIRE(sub2.ok());
  auto s2 = peer->read_until_type(8, 3s);
  REQUIRE(s2);
  const uint16_t sid2 = *leading_packet_id(*s2);
  REQUIRE(peer->send(v5 ? suback_v5(sid2, {1, 1}) : suback_v311(sid2, {1, 1})));
  auto ds2 = sub2.value().wait_for(3s);
  REQUIRE(ds2);
  CHECK(ds2->error == RequestError::ProtocolError);

  // An incoming QoS 2 PUBLISH, then a PUBREL for another id: PUBCOMP 0x92
  // for that one, and the message is delivered once.
  REQUIRE(peer->send(publish_for(version, "acks/in", "in2", 2, 9)));
  auto rec = peer->read_until_type(5, 3s);
  REQUIRE(rec);
  CHECK(leading_packet_id(*rec) == std::optional<uint16_t>(9));
  REQUIRE(peer->send(cat(pubrel(10), cat(pubrel(9), pubrel(9)))));
  // PUBREL 10: unknown; PUBREL 9: releases the message; PUBREL 9 again: the
  // first released the id, so unknown now (the broker may resend PUBREL).
  const std::pair<uint16_t, uint8_t> comps[] = {
      {10, v5 ? 0x92 : 0}, {9, 0}, {9, v5 ? 0x92 : 0}};
  for (auto [want_id, want_reason] : comps) {
    auto c = peer->read_until_type(7, 3s);
    REQUIRE(c);
    CHECK(leading_packet_id(*c) == std::optional<uint16_t>(want_id));
    CHECK(ack_reason(*c) == std::optional<uint8_t>(want_reason));
  }

  CHECK(pump.wait_until([](const Pump::Stats& st) { return st.publishes >= 1; }, 3s));
  std::this_thread::sleep_for(100ms);
  auto st = pump.stats();
  INFO("events:\n" << pump.log_text());
  CHECK(st.errors.empty());  // none of it ended the connection
  CHECK(st.publishes == 1);
  CHECK(st.connacks == 1);
  std::printf("[bytes] %s: unsolicited/duplicate/mismatched acks: %zu events, no error\n",
              name_of(version), st.events);
  pump.stop();
}

TEST_CASE("[bytes] a slow drip: a valid stream one byte at a time is delivered exactly",
          "[integration][hostile-bytes][drip]") {
  const auto version = GENERATE(ProtocolVersion::V311, ProtocolVersion::V5);
  const bool v5 = version == ProtocolVersion::V5;
  Watchdog watchdog(std::string("slow drip, ") + name_of(version), watchdog_limit());
  ScriptedBroker sb;
  auto pair = mqtt::Client::create(fast_options("bytes-drip", sb.port(), version), 64);
  mqtt::Connection& conn = pair.second;
  auto peer = accept_connect(sb);

  ConnAckProps props;
  props.receive_maximum = 7;
  props.topic_alias_maximum = 3;
  props.maximum_packet_size = 4096;
  const std::string long_payload(300, 'L');  // 2-byte Remaining Length
  Bytes stream = v5 ? connack_v5(false, 0, props) : connack_v311(false, 0);
  stream = cat(stream, publish_for(version, "drip/0", "zero", 0, 0));
  stream = cat(stream, publish_for(version, "drip/1", "one", 1, 1));
  stream = cat(stream, publish_for(version, "drip/2", "two", 2, 2));
  stream = cat(stream, publish_for(version, "drip/3", long_payload, 0, 0));
  stream = cat(stream, pingresp());
  const auto t0 = Clock::now();
  REQUIRE(peer->send_drip(stream, 1, 1ms));
  REQUIRE(peer->send_drip(pubrel(2), 1, 5ms));
  const double drip_ms = ms_since(t0);

  std::vector<std::pair<std::string, std::string>> got;
  std::string seen;
  size_t connacks = 0;
  auto ev = next_until(
      conn,
      [&](const mqtt::Event& e) {
        if (connack_of(e)) ++connacks;
        if (const auto* p = e.publish()) got.emplace_back(topic_of(*p), payload_of(*p));
        return e.error() != nullptr || got.size() == 4;
      },
      5s, &seen);
  INFO("events:\n" << seen);
  REQUIRE(ev);
  REQUIRE_FALSE(ev->error());
  CHECK(connacks == 1);
  const std::vector<std::pair<std::string, std::string>> want = {
      {"drip/0", "zero"}, {"drip/1", "one"}, {"drip/2", "two"}, {"drip/3", long_payload}};
  CHECK(got == want);
  if (v5) CHECK(pair.first.snapshot().inflight_window == 7);  // Receive Maximum was read
  // The client's answers: PUBACK 1, PUBREC 2, PUBCOMP 2.
  auto a1 = peer->read_until_type(4, 3s);
  REQUIRE(a1);
  CHECK(leading_packet_id(*a1) == std::optional<uint16_t>(1));
  auto c2 = peer->read_until_type(7, 3s);
  REQUIRE(c2);
  CHECK(leading_packet_id(*c2) == std::optional<uint16_t>(2));
  auto late = conn.next_for(100ms);
  CHECK_FALSE((late && late->error()));
  std::printf("[bytes] %s: %zu bytes dripped 1 byte/ms in %.0f ms, all 4 PUBLISH delivered\n",
              name_of(version), stream.size() + 4, drip_ms);
}

TEST_CASE("[bytes] a CONNACK that never comes, or comes too slowly, ends in ConnectTimeout; "
          "the client reconnects and the queued publish goes out",
          "[integration][hostile-bytes][connack]") {
  const auto version = GENERATE(ProtocolVersion::V311, ProtocolVersion::V5);
  const bool v5 = version == ProtocolVersion::V5;
  Watchdog watchdog(std::string("no CONNACK, ") + name_of(version), watchdog_limit());
  ScriptedBroker sb;
  auto o = fast_options("bytes-connack", sb.port(), version);
  o.connect_timeout = 500ms;
  auto pair = mqtt::Client::create(o, 64);
  mqtt::Client& client = pair.first;
  mqtt::Connection& conn = pair.second;

  // Queued while connecting; must survive both timeouts.
  auto tok = client.publish_tracked("connack/queued", QoS::AtLeastOnce, false, "q");
  REQUIRE(tok.ok());

  // 1. Silence after CONNECT.
  auto peer = accept_connect(sb);
  auto t = Clock::now();
  UntilError u = until_error(conn, 3s);
  double ms = ms_since(t);
  INFO("events:\n" << u.seen);
  REQUIRE(u.error);
  CHECK(u.error->code == Code::ConnectTimeout);
  CHECK_FALSE(u.error->terminal);
  CHECK(ms >= 400);
  CHECK(ms <= static_cast<double>((500ms + slack()).count()));
  CHECK(drain_until_closed(*peer, 3s).closed);
  std::printf("[bytes] %s: no CONNACK: ConnectTimeout after %.0f ms (connect_timeout 500 ms)\n",
              name_of(version), ms);

  // 2. The CONNACK dripped over 1 s: each byte comes, the whole is too slow.
  auto slow_peer = accept_connect(sb);
  ConnAckProps props;
  props.receive_maximum = 5;
  const Bytes slow = v5 ? connack_v5(false, 0, props) : connack_v311(false, 0);
  const auto gap = milliseconds(1000 / (slow.size() - 1));
  t = Clock::now();
  std::thread dripper([&] { slow_peer->send_drip(slow, 1, gap); });
  JoinGuard join(dripper);  // stops once the client closed (a send fails)
  u = until_error(conn, 3s);
  ms = ms_since(t);
  INFO("events:\n" << u.seen);
  REQUIRE(u.error);
  CHECK(u.error->code == Code::ConnectTimeout);
  CHECK(u.connacks == 0);
  CHECK(ms <= static_cast<double>((500ms + slack()).count()));
  std::printf("[bytes] %s: CONNACK at 1 byte/%lld ms (%zu bytes): ConnectTimeout after %.0f ms\n",
              name_of(version), static_cast<long long>(gap.count()), slow.size(), ms);

  // 3. The CONNACK split byte by byte within the timeout: connected; the
  // publish queued since the start is sent and completes.
  peer = accept_connect(sb);
  t = Clock::now();
  REQUIRE(peer->send_drip(slow, 1, 20ms));
  REQUIRE(wait_connack(conn, 3s));
  std::printf("[bytes] %s: CONNACK split byte by byte (20 ms apart): connected after %.0f ms\n",
              name_of(version), ms_since(t));
  ack_and_complete(*peer, tok.value(), "connack/queued");
}

TEST_CASE("[bytes] after a malformed packet every tracked token ends: resumed or reset",
          "[integration][hostile-bytes][tokens]") {
  const auto version = GENERATE(ProtocolVersion::V311, ProtocolVersion::V5);
  const bool resume = GENERATE(true, false);
  Watchdog watchdog(std::string("tokens, ") + name_of(version), watchdog_limit());
  ScriptedBroker sb;
  auto o = fast_options("bytes-tokens", sb.port(), version);
  o.clean_session = false;
  auto pair = mqtt::Client::create(o, 64);
  mqtt::Client& client = pair.first;
  mqtt::Connection& conn = pair.second;
  auto peer = accept_connect(sb);
  REQUIRE(peer->send(connack_for(version)));
  REQUIRE(wait_connack(conn, 3s));

  // One tracked QoS 1, one tracked QoS 2, one untracked QoS 1 and a
  // subscribe, all unanswered; then garbage.
  auto t1 = client.publish_tracked("tok/1", QoS::AtLeastOnce, false, "1");
  auto t2 = client.publish_tracked("tok/2", QoS::ExactlyOnce, false, "2");
  REQUIRE(client.publish("tok/u", QoS::AtLeastOnce, false, "u").ok());
  auto ts = client.subscribe("tok/s", QoS::AtLeastOnce);
  REQUIRE((t1.ok() && t2.ok() && ts.ok()));
  std::vector<Bytes> got;
  REQUIRE(peer->read_until_type(8, 3s, &got));
  REQUIRE(peer->send(hex("30 FF FF FF FF 7F")));
  UntilError u = until_error(conn, 3s);
  REQUIRE(u.error);
  CHECK(u.error->code == Code::MalformedPacket);

  peer = accept_connect(sb);
  REQUIRE(peer->send(connack_for(version, resume)));
  std::string seen;
  std::vector<mqtt::RequestFailed> failed;
  size_t resets = 0;
  const bool v5 = version == ProtocolVersion::V5;
  std::vector<Bytes> before_sub;
  auto s = peer->read_until_type(8, 3s, &before_sub);  // SUBSCRIBE resent either way (session.cc)
  REQUIRE(s);
  if (resume) {
    // Resent with DUP, before anything else [MQTT-4.4.0-1]; acked now, every
    // token completes.
    std::vector<uint16_t> ids;
    for (const auto& p : before_sub) {
      if (packet_type(p) != 3) continue;
      CHECK((p[0] & 0x08) != 0);  // DUP
      ids.push_back(*publish_packet_id(p));
    }
    REQUIRE(ids.size() == 3);
    REQUIRE(peer->send(cat(cat(puback(ids[0]), pubrec(ids[1])), puback(ids[2]))));
    REQUIRE(peer->read_until_type(6, 3s));
    REQUIRE(peer->send(pubcomp(ids[1])));
  } else {
    CHECK(before_sub.empty());  // the old session's publishes are gone
  }
  REQUIRE(peer->send(v5 ? suback_v5(*leading_packet_id(*s), {1})
                        : suback_v311(*leading_packet_id(*s), {1})));
  for (auto* tok : {&t1, &t2, &ts}) {
    auto d = tok->value().wait_for(3s);
    REQUIRE(d);  // every tracked token ends
    if (resume) {
      CHECK(d->ok());
    } else if (tok == &ts) {
      CHECK(d->ok());
    } else {
      CHECK(d->error == RequestError::SessionReset);
    }
  }
  // The untracked publish: with no resume its loss is an event.
  next_until(
      conn,
      [&](const mqtt::Event& e) {
        if (const auto* f = e.request_failed()) failed.push_back(*f);
        if (e.session_reset()) ++resets;
        return false;
      },
      300ms, &seen);
  INFO("events:\n" << seen);
  if (resume) {
    CHECK(failed.empty());
    CHECK(resets == 0);
  } else {
    CHECK(resets == 1);
    REQUIRE(failed.size() == 1);  // the untracked QoS 1 publish, as an event
    CHECK(failed[0].kind == mqtt::RequestFailed::Kind::Publish);
    CHECK(failed[0].reason == RequestError::SessionReset);
  }
  std::printf("[bytes] %s, session present %d: tokens ended; %zu RequestFailed, %zu "
              "SessionReset events\n",
              name_of(version), resume ? 1 : 0, failed.size(), resets);
}
