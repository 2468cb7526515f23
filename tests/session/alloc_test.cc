// Steady-state QoS 0 publish and receive must not allocate inside the session.
#include <atomic>
#include <cstdlib>
#include <new>

#include "mqtt/session/packet_ids.h"
#include "tests/session/harness.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<size_t> g_allocs{0};
}  // namespace

#if defined(__SANITIZE_ADDRESS__)
// AddressSanitizer owns operator new/delete: no counting under --config=asan.
constexpr bool kCounting = false;
#else
constexpr bool kCounting = true;
void* operator new(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#endif

using namespace session_test;

TEST_CASE("steady-state QoS 0 publish and receive do not allocate") {
  if (!kCounting) {
    WARN("allocation counting disabled under AddressSanitizer");
    return;
  }
  Harness h;
  h.connect();
  codec::Publish in;
  in.topic = "in/topic";
  in.payload = codec::as_bytes("payload");
  const std::vector<uint8_t> incoming = h.encode(in);

  constexpr int kRounds = 200;
  std::vector<Request> reqs;
  for (int i = 0; i < kRounds + 20; ++i) {
    Request r = h.publish("out/topic", QoS::AtMostOnce, "hello");
    r.completion.reset();
    reqs.push_back(std::move(r));
  }
  // Warm up: buffers reach their working capacity.
  for (int i = 0; i < 20; ++i) {
    h.s.submit(std::move(reqs[static_cast<size_t>(i)]), h.now);
    REQUIRE(h.s.handle_input(incoming, h.now).ok());
    h.s.consume_output(h.s.output().size(), h.now);
  }
  // Also partial writes: consume part, then the rest.
  h.obs.record = false;
  const size_t in_before = h.obs.incoming_count, out_before = h.obs.outgoing_count;
  g_allocs = 0;
  g_counting = true;
  for (int i = 20; i < kRounds + 20; ++i) {
    h.s.submit(std::move(reqs[static_cast<size_t>(i)]), h.now);
    auto r = h.s.handle_input(incoming, h.now);
    const bool ok = r.ok();
    const size_t n = h.s.output().size();
    h.s.consume_output(n / 2, h.now);
    h.s.consume_output(n - n / 2, h.now);
    if (!ok) break;
  }
  g_counting = false;
  CHECK(g_allocs.load() == 0);
  CHECK(h.obs.incoming_count - in_before == kRounds);
  CHECK(h.obs.outgoing_count - out_before == kRounds);
  CHECK(h.s.connected());
}

TEST_CASE("steady-state untracked QoS 1 publish and its PUBACK do not allocate") {
  if (!kCounting) {
    WARN("allocation counting disabled under AddressSanitizer");
    return;
  }
  Harness h;
  h.connect();
  constexpr int kRounds = 200;
  std::vector<Request> reqs;
  for (int i = 0; i < kRounds + 20; ++i) {
    Request r = h.publish("out/topic", QoS::AtLeastOnce, "hello");
    r.completion.reset();
    reqs.push_back(std::move(r));
  }
  // The PUBACKs for ids 1..100 (the default window), encoded up front.
  std::vector<std::vector<uint8_t>> acks;
  for (uint16_t id = 1; id <= 100; ++id) {
    codec::PubAck a;
    a.packet_id = id;
    acks.push_back(h.encode(a));
  }
  auto round = [&](int i) {
    h.s.submit(std::move(reqs[static_cast<size_t>(i)]), h.now);
    // Ids cycle through the window: the i-th publish takes id (i % 100) + 1.
    const auto& ack = acks[static_cast<size_t>(i % 100)];
    auto r = h.s.handle_input(ack, h.now);
    h.s.consume_output(h.s.output().size(), h.now);
    return r.ok() && *r == ack.size();
  };
  for (int i = 0; i < 20; ++i) REQUIRE(round(i));
  h.obs.record = false;
  g_allocs = 0;
  g_counting = true;
  bool ok = true;
  for (int i = 20; i < kRounds + 20 && ok; ++i) ok = round(i);
  g_counting = false;
  CHECK(ok);
  CHECK(g_allocs.load() == 0);
  CHECK(h.s.stats().inflight_publishes == 0);
  CHECK(h.s.stats().unknown_acks == 0);
}

TEST_CASE("steady-state topic aliases (MQTT 5) do not allocate: incoming resolved, outgoing hits and LRU misses") {
  if (!kCounting) {
    WARN("allocation counting disabled under AddressSanitizer");
    return;
  }
  SessionConfig c = v5config();
  c.topic_alias_maximum = 4;
  c.auto_topic_aliases = 2;
  Harness h(c);
  codec::Properties props;
  props.topic_alias_maximum = 2;
  h.connect(false, props);
  // Incoming: the broker maps alias 3 once, then sends the alias alone.
  codec::Publish map;
  map.topic = "incoming/topic/with/a/name/longer/than/the/small/string/buffer";
  map.payload = codec::as_bytes("payload");
  map.properties.topic_alias = 3;
  REQUIRE(h.s.handle_input(h.encode(map), h.now).ok());
  codec::Publish aliased = map;
  aliased.topic = {};
  const std::vector<uint8_t> incoming = h.encode(aliased);

  // Outgoing: two topics that keep their aliases (hits), then three in turn
  // over two aliases (every one a miss: the LRU replaces one each time).
  const std::string a(80, 'a'), b(80, 'b'), x(80, 'x'), y(80, 'y'), z(80, 'z');
  const std::string* hits[] = {&a, &b};
  const std::string* misses[] = {&x, &y, &z};
  constexpr int kRounds = 300;
  std::vector<Request> reqs;
  for (int i = 0; i < kRounds + 30; ++i) {
    const bool miss = (i / 30) % 2 == 1;
    const std::string& t = miss ? *misses[i % 3] : *hits[i % 2];
    Request r = h.publish(t, QoS::AtMostOnce, "hello");
    r.completion.reset();
    reqs.push_back(std::move(r));
  }
  auto round = [&](int i) {
    h.s.submit(std::move(reqs[static_cast<size_t>(i)]), h.now);
    auto r = h.s.handle_input(incoming, h.now);
    h.s.consume_output(h.s.output().size(), h.now);
    return r.ok();
  };
  for (int i = 0; i < 60; ++i) REQUIRE(round(i));  // warm up: a stretch of hits, one of misses
  h.obs.record = false;
  g_allocs = 0;
  g_counting = true;
  bool ok = true;
  for (int i = 60; i < kRounds + 30 && ok; ++i) ok = round(i);
  g_counting = false;
  CHECK(ok);
  CHECK(g_allocs.load() == 0);
  CHECK(h.s.connected());
}

TEST_CASE("IdSet and PublishWindow allocate on first use only, then never again") {
  using mqtt::session::detail::IdSet;
  using mqtt::session::detail::PublishWindow;
  IdSet set;
  CHECK_FALSE(set.allocated());
  CHECK_FALSE(set.test(5));
  CHECK_FALSE(set.erase(5));
  set.clear();
  CHECK_FALSE(set.allocated());
  CHECK(set.insert(5));
  CHECK(set.allocated());
  CHECK_FALSE(set.insert(5));
  CHECK(set.test(5));
  CHECK(set.size() == 1);
  CHECK(set.insert(65535));
  CHECK(set.insert(0));
  set.clear();
  CHECK(set.size() == 0);
  CHECK_FALSE(set.test(5));
  CHECK_FALSE(set.test(65535));

  PublishWindow w(4);
  CHECK(w.find(1) == nullptr);
  CHECK(w.find(4) == nullptr);
  w.release(2);  // a free id: nothing happens
  CHECK(w.count() == 0);
  REQUIRE(w.allocate() == 1);  // the slots come now
  CHECK(w.find(1) != nullptr);
  CHECK(w.find(5) == nullptr);
  w.release(1);

  if (!kCounting) return;
  g_allocs = 0;
  g_counting = true;
  for (int i = 0; i < 100; ++i) {
    set.insert(static_cast<uint16_t>(i * 601));
    set.erase(static_cast<uint16_t>(i * 601));
    const uint16_t id = w.allocate();
    w.release(id);
  }
  set.clear();
  g_counting = false;
  CHECK(g_allocs.load() == 0);
}
