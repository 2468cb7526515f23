// The pool of incoming packets behind events: nodes are recycled, shared by
// copies, given back from any thread, and outlive the pool's owner.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "mqtt/codec/decoder.h"
#include "mqtt/event.h"
#include "mqtt/runtime/incoming_pool.h"

using namespace mqtt;
using mqtt::runtime::IncomingPool;

namespace {

// A QoS 0 PUBLISH on "t/x" with `payload_size` bytes of 'p' (3.1.1).
std::vector<uint8_t> publish_bytes(size_t payload_size) {
  std::vector<uint8_t> raw = {0x30};
  size_t rem = 5 + payload_size;
  do {
    uint8_t b = rem % 128;
    rem /= 128;
    if (rem) b |= 0x80;
    raw.push_back(b);
  } while (rem);
  for (char c : {'\0', '\3', 't', '/', 'x'}) raw.push_back(static_cast<uint8_t>(c));
  raw.insert(raw.end(), payload_size, 'p');
  return raw;
}

codec::Packet decoded(const std::vector<uint8_t>& raw) {
  codec::Packet p;
  codec::DecodeOptions o;
  o.version = ProtocolVersion::V311;
  REQUIRE(codec::decode(raw, o, p).status == codec::DecodeStatus::Ok);
  return p;
}

}  // namespace

TEST_CASE("incoming pool: a node given back is reused, with no new allocation") {
  auto* pool = IncomingPool::create();
  const auto raw = publish_bytes(10);
  const auto pk = decoded(raw);
  for (int i = 0; i < 100; ++i) {
    Event e(pool->make(raw, pk, ProtocolVersion::V311));
    REQUIRE(e.publish() != nullptr);
    CHECK(e.publish()->topic == "t/x");
    CHECK(e.publish()->payload.size() == 10);
  }
  CHECK(pool->allocated() == 1);
  pool->close();
}

TEST_CASE("incoming pool: copies share the packet, moves keep its views valid") {
  auto* pool = IncomingPool::create();
  const auto raw = publish_bytes(200);  // beyond the inline bytes: heap
  const auto pk = decoded(raw);
  std::optional<Event> a(Event(pool->make(raw, pk, ProtocolVersion::V311)));
  Event b = *a;
  CHECK(b.incoming() == a->incoming());  // shared, not copied
  Event c(std::move(*a));
  a.reset();
  REQUIRE(c.publish() != nullptr);
  CHECK(std::string(reinterpret_cast<const char*>(c.publish()->payload.data()), 3) == "ppp");
  // Both holders alive: a new packet needs a second node.
  Event d(pool->make(raw, pk, ProtocolVersion::V311));
  CHECK(pool->allocated() == 2);
  pool->close();
  // The pool's owner is gone; the events still read their packets.
  CHECK(b.publish()->topic == "t/x");
  CHECK(d.publish()->payload.size() == 200);
}

TEST_CASE("incoming pool: events released on other threads come back to the owner") {
  auto* pool = IncomingPool::create();
  const auto raw = publish_bytes(20);
  const auto pk = decoded(raw);
  for (int round = 0; round < 20; ++round) {
    std::vector<Event> batch;
    for (int i = 0; i < 8; ++i) batch.emplace_back(pool->make(raw, pk, ProtocolVersion::V311));
    std::thread t([b = std::move(batch)]() mutable { b.clear(); });
    t.join();
  }
  CHECK(pool->allocated() == 8);
  pool->close();
}

TEST_CASE("incoming pool: a node does not keep a large packet's heap for small ones") {
  auto* pool = IncomingPool::create();
  const auto big = publish_bytes(200 * 1024);
  const auto big_pk = decoded(big);
  { Event e(pool->make(big, big_pk, ProtocolVersion::V311)); }
  const auto small = publish_bytes(300);
  const auto small_pk = decoded(small);
  Event e(pool->make(small, small_pk, ProtocolVersion::V311));
  CHECK(pool->allocated() == 1);
  CHECK(e.publish()->payload.size() == 300);
  pool->close();
}

TEST_CASE("event: a default event holds nothing; one built from an Incoming owns a copy") {
  Event none;
  CHECK(none.incoming() == nullptr);
  CHECK(none.publish() == nullptr);
  CHECK(none.error() == nullptr);
  const auto raw = publish_bytes(5);
  const auto pk = decoded(raw);
  Incoming in(raw, pk, ProtocolVersion::V311);
  Event e(in);
  REQUIRE(e.publish() != nullptr);
  CHECK(e.incoming() != &in);
  CHECK(e.publish()->topic == "t/x");
}
