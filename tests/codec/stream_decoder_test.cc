// StreamDecoder and decode() over streams of many packets.
#include "tests/codec/test_util.h"

namespace mqtt::codec {
namespace {

using test::ack;
using test::ByteVec;
using test::encode_ok;
using test::hex;
using test::opts;
using test::sub;

constexpr auto V311 = ProtocolVersion::V311;
constexpr auto V5 = ProtocolVersion::V5;

const std::string kBigPayload(20000, 'z');  // needs a 3-byte Remaining Length

// Many different packets; CONNECT first (it announces its own version).
std::vector<Packet> sample_packets(ProtocolVersion v) {
  std::vector<Packet> out;
  Connect c;
  c.protocol_version = v;
  c.client_id = "stream";
  c.username = "u";
  c.password = as_bytes("p");
  Will w;
  w.topic = "will";
  w.payload = as_bytes("gone");
  w.qos = QoS::AtLeastOnce;
  c.will = w;
  if (v == V5) c.properties.session_expiry_interval = 30;
  out.push_back(c);
  ConnAck ca;
  ca.session_present = true;
  out.push_back(ca);
  Publish p0;
  p0.topic = "a/b";
  p0.payload = as_bytes("qos0");
  out.push_back(p0);
  Publish p1;
  p1.topic = "a/c";
  p1.qos = QoS::AtLeastOnce;
  p1.packet_id = 1;
  p1.payload = as_bytes(kBigPayload);
  if (v == V5) {
    p1.properties.subscription_identifiers = {1, 2};
    p1.properties.user_properties = {{"k", "v"}, {"k", "w"}};
  }
  out.push_back(p1);
  Publish p2;
  p2.topic = "x";
  p2.qos = QoS::ExactlyOnce;
  p2.packet_id = 2;
  p2.retain = true;
  out.push_back(p2);
  out.push_back(ack<PubAck>(1));
  out.push_back(ack<PubRec>(2));
  out.push_back(ack<PubRel>(2));
  out.push_back(ack<PubComp>(2));
  if (v == V5) out.push_back(ack<PubAck>(3, ReasonCode::NoMatchingSubscribers));
  Subscribe s;
  s.packet_id = 4;
  s.subscriptions = {sub("a/#", QoS::AtLeastOnce), sub("+/b")};
  out.push_back(s);
  SubAck sa;
  sa.packet_id = 4;
  sa.reason_codes = {ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError};
  out.push_back(sa);
  Unsubscribe u;
  u.packet_id = 5;
  u.filters = {"a/#"};
  out.push_back(u);
  UnsubAck ua;
  ua.packet_id = 5;
  if (v == V5) ua.reason_codes = {ReasonCode::Success};
  out.push_back(ua);
  out.push_back(PingReq{});
  out.push_back(PingResp{});
  if (v == V5) {
    Auth a;
    a.reason_code = ReasonCode::ContinueAuthentication;
    a.properties.authentication_method = "m";
    out.push_back(a);
    Disconnect d;
    d.reason_code = ReasonCode::ServerShuttingDown;
    out.push_back(d);
  }
  out.push_back(Disconnect{});
  return out;
}

ByteVec encode_all(const std::vector<Packet>& pkts, ProtocolVersion v,
                   std::vector<size_t>* sizes = nullptr) {
  ByteVec stream;
  for (const auto& p : pkts) {
    ByteVec b = encode_ok(p, v);
    if (sizes) sizes->push_back(b.size());
    stream.insert(stream.end(), b.begin(), b.end());
  }
  return stream;
}

// Drains every packet the decoder has; REQUIREs no error. Each decoded packet
// is re-encoded immediately (its views are only valid until the next call).
void drain(StreamDecoder& d, ProtocolVersion v, std::vector<ByteVec>& out) {
  for (;;) {
    Packet p;
    auto r = d.next(p);
    INFO("error " << Catch::Detail::stringify(r.error) << " at " << r.error_offset);
    REQUIRE(r.status != DecodeStatus::Error);
    if (r.status == DecodeStatus::NeedMore) return;
    out.push_back(encode_ok(p, v));
  }
}

TEST_CASE("StreamDecoder: byte-at-a-time equals whole-stream", "[stream]") {
  for (auto v : {V311, V5}) {
    INFO("version " << int(v));
    auto pkts = sample_packets(v);
    std::vector<size_t> sizes;
    ByteVec stream = encode_all(pkts, v, &sizes);
    std::vector<ByteVec> expected;
    for (const auto& p : pkts) expected.push_back(encode_ok(p, v));

    StreamDecoder whole(opts(v));
    CHECK(whole.options().version == v);
    whole.feed(stream);
    CHECK(whole.buffered() == stream.size());
    std::vector<ByteVec> got_whole;
    drain(whole, v, got_whole);
    CHECK(got_whole == expected);
    CHECK(whole.buffered() == 0);

    StreamDecoder bytewise(opts(v));
    std::vector<ByteVec> got_bytes;
    size_t pkt_index = 0, pkt_end = sizes[0];
    for (size_t i = 0; i < stream.size(); ++i) {
      bytewise.feed(std::span<const uint8_t>(&stream[i], 1));
      size_t before = got_bytes.size();
      drain(bytewise, v, got_bytes);
      // A packet comes out exactly when its last byte has been fed.
      if (i + 1 == pkt_end) {
        CHECK(got_bytes.size() == before + 1);
        if (++pkt_index < sizes.size()) pkt_end += sizes[pkt_index];
      } else {
        CHECK(got_bytes.size() == before);
      }
    }
    CHECK(got_bytes == expected);
    CHECK(bytewise.buffered() == 0);
  }
}

TEST_CASE("StreamDecoder: irregular fragments", "[stream]") {
  auto pkts = sample_packets(V5);
  ByteVec stream = encode_all(pkts, V5);
  std::vector<ByteVec> expected;
  for (const auto& p : pkts) expected.push_back(encode_ok(p, V5));
  for (size_t chunk : {2u, 3u, 7u, 64u, 1000u, 4096u}) {
    INFO("chunk " << chunk);
    StreamDecoder d(opts(V5));
    std::vector<ByteVec> got;
    for (size_t i = 0; i < stream.size(); i += chunk) {
      size_t n = std::min(chunk, stream.size() - i);
      d.feed(std::span<const uint8_t>(stream.data() + i, n));
      drain(d, V5, got);
    }
    CHECK(got == expected);
  }
}

TEST_CASE("StreamDecoder: decoded packets equal the originals", "[stream]") {
  auto pkts = sample_packets(V5);
  ByteVec stream = encode_all(pkts, V5);
  StreamDecoder d(opts(V5));
  d.feed(stream);
  for (const auto& expected : pkts) {
    Packet p;
    auto r = d.next(p);
    REQUIRE(r.status == DecodeStatus::Ok);
    CHECK(p == expected);
  }
  Packet p;
  CHECK(d.next(p).status == DecodeStatus::NeedMore);
}

TEST_CASE("StreamDecoder: set_version switches the decoding version", "[stream]") {
  StreamDecoder d;  // default: 3.1.1
  CHECK(d.options().version == V311);
  d.feed(hex("40 03 00 01 10"));  // 5.0 PUBACK with reason code: TrailingBytes in 3.1.1
  d.set_version(V5);
  CHECK(d.options().version == V5);
  Packet p;
  auto r = d.next(p);
  REQUIRE(r.status == DecodeStatus::Ok);
  REQUIRE(std::holds_alternative<PubAck>(p));
  CHECK(std::get<PubAck>(p).reason_code == ReasonCode::NoMatchingSubscribers);
}

TEST_CASE("StreamDecoder: errors are sticky and offsets count from the stream start",
          "[stream][errors]") {
  StreamDecoder d(opts(V311));
  ByteVec good = hex("C0 00 D0 00");
  d.feed(good);
  Packet p;
  REQUIRE(d.next(p).status == DecodeStatus::Ok);
  REQUIRE(d.next(p).status == DecodeStatus::Ok);
  d.feed(hex("62 02 00 01"));  // PUBREL ok
  REQUIRE(d.next(p).status == DecodeStatus::Ok);
  d.feed(hex("60 02 00 01"));  // PUBREL with flags 0000 at stream offset 8
  auto r = d.next(p);
  REQUIRE(r.status == DecodeStatus::Error);
  CHECK(r.error == CodecError::InvalidFixedHeaderFlags);
  CHECK(r.error_offset == 8);
  d.feed(hex("C0 00"));
  auto r2 = d.next(p);
  CHECK(r2.status == DecodeStatus::Error);
  CHECK(r2.error == CodecError::InvalidFixedHeaderFlags);
  CHECK(r2.error_offset == 8);
}

TEST_CASE("StreamDecoder: body error offset from the stream start", "[stream][errors]") {
  StreamDecoder d(opts(V311));
  d.feed(hex("C0 00"));
  d.feed(hex("30 05 00 03 61 2F 23"));  // wildcard topic, topic field at stream offset 4
  Packet p;
  REQUIRE(d.next(p).status == DecodeStatus::Ok);
  auto r = d.next(p);
  REQUIRE(r.status == DecodeStatus::Error);
  CHECK(r.error == CodecError::WildcardInTopicName);
  CHECK(test::in_range(r.error_offset, 4, 8));
}

TEST_CASE("StreamDecoder: too-large packet rejected from the fixed header",
          "[stream][limits]") {
  StreamDecoder d(opts(V311, 64));
  d.feed(hex("30"));
  Packet p;
  CHECK(d.next(p).status == DecodeStatus::NeedMore);
  d.feed(hex("80 01"));  // Remaining Length 128: 131 bytes > 64
  auto r = d.next(p);
  REQUIRE(r.status == DecodeStatus::Error);
  CHECK(r.error == CodecError::PacketTooLarge);
}

TEST_CASE("decode(): NeedMore on every proper prefix of every packet", "[stream]") {
  for (auto v : {V311, V5}) {
    for (const auto& pk : sample_packets(v)) {
      ByteVec b = encode_ok(pk, v);
      INFO("packet " << test::to_hex(std::span<const uint8_t>(b.data(), std::min<size_t>(b.size(), 16))));
      // Checking every prefix of the 20 kB PUBLISH is quadratic; sample it.
      size_t step = b.size() > 1000 ? 97 : 1;
      for (size_t n = 0; n < b.size(); n += step) {
        Packet p;
        auto r = decode(std::span<const uint8_t>(b.data(), n), opts(v), p);
        if (r.status != DecodeStatus::NeedMore) {
          FAIL_CHECK("prefix " << n << " of " << b.size() << " not NeedMore");
          break;
        }
        CHECK(r.consumed == 0);
      }
    }
  }
}

TEST_CASE("decode(): consecutive packets in one buffer via consumed", "[stream]") {
  for (auto v : {V311, V5}) {
    auto pkts = sample_packets(v);
    std::vector<size_t> sizes;
    ByteVec stream = encode_all(pkts, v, &sizes);
    std::span<const uint8_t> rest(stream);
    for (size_t i = 0; i < pkts.size(); ++i) {
      Packet p;
      auto r = decode(rest, opts(v), p);
      REQUIRE(r.status == DecodeStatus::Ok);
      CHECK(r.consumed == sizes[i]);
      CHECK(p == pkts[i]);
      rest = rest.subspan(r.consumed);
    }
    CHECK(rest.empty());
  }
}

TEST_CASE("zero copy: PUBLISH topic and payload point into the input", "[stream][zerocopy]") {
  Publish pub;
  pub.topic = "zero/copy";
  pub.qos = QoS::AtLeastOnce;
  pub.packet_id = 9;
  pub.payload = as_bytes("payload bytes");
  for (auto v : {V311, V5}) {
    ByteVec stream = encode_all({PingReq{}, pub}, v);
    const uint8_t* base = stream.data();
    Packet p;
    auto r = decode(std::span<const uint8_t>(stream).subspan(2), opts(v), p);
    REQUIRE(r.status == DecodeStatus::Ok);
    REQUIRE(std::holds_alternative<Publish>(p));
    const auto& got = std::get<Publish>(p);
    const char* cbase = reinterpret_cast<const char*>(base);
    // PINGREQ (2) + fixed header (2) + topic length (2)
    CHECK(got.topic.data() == cbase + 6);
    CHECK(got.topic == "zero/copy");
    size_t payload_at = 6 + 9 + 2 + (v == V5 ? 1 : 0);
    CHECK(got.payload.data() == base + payload_at);
    CHECK(got.payload.size() == 13);
    CHECK(got.payload.data() + got.payload.size() == base + stream.size());
  }
  SECTION("StreamDecoder: views point into its buffer, not into a copy per packet") {
    ByteVec stream = encode_all({pub}, V5);
    StreamDecoder d(opts(V5));
    d.feed(stream);
    Packet p;
    REQUIRE(d.next(p).status == DecodeStatus::Ok);
    const auto& got = std::get<Publish>(p);
    CHECK(got.topic == "zero/copy");
    CHECK(as_string(got.payload) == "payload bytes");
    // Topic and payload are adjacent in one buffer, as on the wire.
    CHECK(reinterpret_cast<const uint8_t*>(got.topic.data()) + 9 + 2 + 1 ==
          got.payload.data());
  }
}

}  // namespace
}  // namespace mqtt::codec
