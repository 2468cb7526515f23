// Sessions that survive kill -9 (docs/session-store.md): a child process
// (session_store_child) publishes a numbered QoS 1 or QoS 2 stream through
// a real mosquitto with a FileSessionStore and prints each number once its
// token says "stored". The test kills it with SIGKILL at random points
// (bounded), restarts it with the same client id and store, lets the last
// run finish, and a subscriber with a persistent session, connected
// directly, checks: every message reported stored arrived at least once
// (QoS 1) and exactly once (QoS 2), and no QoS 2 message arrived twice.
// Checked against the suite: with rule 1 off (PUBREL sent before the PUBREC
// record is stored) the QoS 2 cases fail with duplicates (6 runs of 6).
#include <catch2/catch.hpp>

#include <csignal>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>

#include "mqtt/client.h"
#include "mqtt/session/request.h"
#include "mqtt/session_store.h"
#include "tests/integration/support/broker.h"
#include "tests/integration/support/events.h"

namespace {

using namespace std::chrono_literals;
using itest::Clock;

struct Config {
  mqtt::QoS qos;
  mqtt::Durability durability;
  int version;  // 4 or 5
  int total;    // messages over all runs
};

// Waits (10 s at most) until the pump's handler has put something in `v`.
template <class V>
bool wait_nonempty(itest::Pump& pump, std::mutex& mu, const V& v) {
  return pump.wait_for(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return !v.empty();
      },
      10s);
}

// The "S <run> <n>" lines of a child's output.
std::set<std::pair<int, int>> stored_lines(const std::string& path, bool* done = nullptr) {
  std::set<std::pair<int, int>> out;
  std::istringstream in(itest::read_file(path));
  std::string tag;
  for (std::string line; std::getline(in, line);) {
    std::istringstream l(line);
    int run = 0, n = 0;
    if (line == "DONE" && done) *done = true;
    if (l >> tag >> run >> n && tag == "S") out.insert({run, n});
  }
  return out;
}

void run_config(const Config& cfg) {
  const std::string child = itest::runfile("tests/integration/session_store_child");
  itest::BrokerOptions bo;
  // Far above what the test sends (0 = "unlimited" makes mosquitto 2.0.11
  // drop a client with more than 20 QoS 2 messages awaiting PUBREL).
  bo.max_queued_messages = 100000;
  itest::Broker broker(bo);

  // The subscriber: persistent session, QoS 2, counts every payload.
  std::mutex mu;
  std::map<std::string, int> received;
  auto so = itest::client_options("store-sub", broker.port());
  so.clean_session = false;
  auto [sub, sub_conn] = mqtt::Client::create(so, 4096);
  itest::Pump pump(sub_conn, [&](const mqtt::Event& e) {
    if (const auto* p = e.publish()) {
      std::lock_guard<std::mutex> lock(mu);
      ++received[itest::payload_of(*p)];
    }
  });
  auto suback = sub.subscribe("store/#", mqtt::QoS::ExactlyOnce);
  REQUIRE(suback.ok());
  auto granted = suback->wait_for(10s);
  REQUIRE(granted);
  REQUIRE(granted->ok());

  const std::string dir = itest::make_temp_dir("session-store");
  const std::string id = itest::unique_id("store-pub");
  const uint32_t seed = static_cast<uint32_t>(Clock::now().time_since_epoch().count());
  INFO("seed " << seed << ", qos " << static_cast<int>(cfg.qos) << ", durability "
               << mqtt::to_string(cfg.durability) << ", MQTT " << cfg.version);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> kill_after(5, 400);  // newly stored lines

  constexpr int kKills = 3;
  std::set<std::pair<int, int>> stored;  // every (run, n) reported stored
  std::vector<std::string> payload_stored;
  size_t restored_inflight = 0;  // outgoing records found in the store after kills
  int next = 0;
  for (int run = 0; run <= kKills; ++run) {
    const std::string out = dir + "/run" + std::to_string(run) + ".out";
    const std::string err = dir + "/run" + std::to_string(run) + ".err";
    itest::Process p(itest::Process::Spec({child, std::to_string(broker.port()), dir + "/store",
                                           id, std::to_string(static_cast<int>(cfg.qos)),
                                           std::to_string(run), std::to_string(next),
                                           std::to_string(cfg.total),
                                           std::to_string(static_cast<int>(cfg.durability)),
                                           std::to_string(cfg.version)})
                         .out(out)
                         .err(err));
    if (run < kKills) {
      const size_t want = static_cast<size_t>(kill_after(rng));
      // Kill after `want` newly stored lines (or when it is about to finish).
      const bool reached = itest::eventually(
          [&] { return stored_lines(out).size() >= want || !p.running(); }, 30s);
      INFO("run " << run << " stderr: " << itest::read_file(err));
      REQUIRE(reached);
      p.signal(SIGKILL);
      REQUIRE(p.wait_exit(10s));
      // What the next run restores (and must resend).
      auto s = mqtt::FileSessionStore::open(dir + "/store", mqtt::Durability::None);
      REQUIRE(s.ok());
      auto state = (*s)->load(id);
      REQUIRE(state.ok());
      restored_inflight += state->outgoing.size();
    } else {
      const bool exited = p.wait_exit(60s);
      INFO("last run stderr: " << itest::read_file(err));
      REQUIRE(exited);
      REQUIRE(p.status());
      REQUIRE(WIFEXITED(*p.status()));
      REQUIRE(WEXITSTATUS(*p.status()) == 0);
    }
    bool done = false;
    const auto lines = stored_lines(out, &done);
    if (run == kKills) REQUIRE(done);
    for (const auto& l : lines) {
      stored.insert(l);
      next = std::max(next, l.second + 1);
    }
  }
  REQUIRE(next == cfg.total);  // the numbers were all stored, over the runs
  // Stored and not acknowledged before a kill: resent by the next run.
  CHECK(restored_inflight > 0);

  auto all_arrived = [&] {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& [run, n] : stored) {
      if (received.count(std::to_string(run) + ":" + std::to_string(n)) == 0) return false;
    }
    return true;
  };
  const bool arrived = pump.wait_for(all_arrived, 30s);
  std::lock_guard<std::mutex> lock(mu);
  std::vector<std::string> missing, twice;
  for (const auto& [run, n] : stored) {
    const std::string key = std::to_string(run) + ":" + std::to_string(n);
    if (received.count(key) == 0) missing.push_back(key);
  }
  for (const auto& [key, count] : received) {
    if (count > 1) twice.push_back(key);
  }
  INFO("stored " << stored.size() << ", received " << received.size() << " distinct, "
                 << restored_inflight << " in flight at the kills");
  INFO("missing (first): " << (missing.empty() ? "" : missing.front()));
  INFO("received more than once (first): " << (twice.empty() ? "" : twice.front()));
  CHECK(arrived);
  CHECK(missing.empty());
  if (cfg.qos == mqtt::QoS::ExactlyOnce) CHECK(twice.empty());
  pump.stop();
}

}  // namespace

TEST_CASE("kill -9 in a QoS 1 stream: every stored message arrives", "[store]") {
  itest::Watchdog dog("session_store_test QoS 1", 120s);
  run_config({mqtt::QoS::AtLeastOnce, mqtt::Durability::PerBatch, 4, 2000});
}

TEST_CASE("kill -9 in a QoS 2 stream: every stored message arrives exactly once", "[store]") {
  itest::Watchdog dog("session_store_test QoS 2", 120s);
  run_config({mqtt::QoS::ExactlyOnce, mqtt::Durability::PerBatch, 4, 2000});
}

TEST_CASE("kill -9 in an MQTT 5 QoS 2 stream, Durability::None", "[store]") {
  itest::Watchdog dog("session_store_test QoS 2 MQTT 5", 120s);
  run_config({mqtt::QoS::ExactlyOnce, mqtt::Durability::None, 5, 2000});
}

namespace {

// A store whose apply() can be held (to stand for a slow disk) or made to
// fail (a full disk); the state is kept in memory.
class TestStore final : public mqtt::SessionStore {
 public:
  mqtt::Result<mqtt::StoredSession, mqtt::StoreError> load(std::string_view) override {
    std::lock_guard<std::mutex> lock(mu_);
    return state_;
  }
  mqtt::Result<void, mqtt::StoreError> apply(std::string_view,
                                             std::span<const mqtt::StoreRecord> batch) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++applies_;
    cv_.wait_for(lock, 30s, [&] { return !hold_; });
    if (fail_) return mqtt::unexpected(mqtt::StoreError{mqtt::StoreError::Code::Io, 28, "disk full"});
    for (const auto& r : batch) state_.apply(r);
    return {};
  }
  mqtt::Durability durability() const override { return mqtt::Durability::PerBatch; }

  void hold(bool h) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      hold_ = h;
    }
    cv_.notify_all();
  }
  void fail(bool f) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_ = f;
  }
  int applies() {
    std::lock_guard<std::mutex> lock(mu_);
    return applies_;
  }
  mqtt::StoredSession state() {
    std::lock_guard<std::mutex> lock(mu_);
    return state_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  bool fail_ = false;
  int applies_ = 0;
  mqtt::StoredSession state_;
};

mqtt::MqttOptions store_options(const std::string& prefix, uint16_t port,
                                std::shared_ptr<mqtt::SessionStore> store) {
  auto o = itest::client_options(prefix, port);
  o.clean_session = false;
  o.session_store = std::move(store);
  return o;
}

}  // namespace

TEST_CASE("store: untracked publishes get RequestStored; a stalled store holds QoS 2 "
          "but never the other connections of the reactor", "[store]") {
  itest::Watchdog dog("session_store_test stalled store", 60s);
  itest::Broker broker;
  auto store = std::make_shared<TestStore>();
  auto reactor = mqtt::Reactor::create({});
  auto [c1, conn1] = mqtt::Client::create(store_options("store-a", broker.port(), store), 64, reactor);
  auto [c2, conn2] = mqtt::Client::create(itest::client_options("plain", broker.port()), 64, reactor);
  std::mutex mu;
  std::vector<mqtt::RequestStored> stored;
  itest::Pump p1(conn1, [&](const mqtt::Event& e) {
    if (const auto* s = e.request_stored()) {
      std::lock_guard<std::mutex> lock(mu);
      stored.push_back(*s);
    }
  });
  itest::Pump p2(conn2);
  REQUIRE(p1.wait_until([](const auto& s) { return s.connacks == 1; }, 10s));
  REQUIRE(p2.wait_until([](const auto& s) { return s.connacks == 1; }, 10s));

  REQUIRE(c1.publish("s/untracked", mqtt::QoS::AtLeastOnce, false, "u").ok());
  REQUIRE(wait_nonempty(p1, mu, stored));
  {
    std::lock_guard<std::mutex> lock(mu);
    CHECK(stored[0].topic == "s/untracked");
    CHECK(stored[0].qos == mqtt::QoS::AtLeastOnce);
    CHECK(stored[0].packet_id != 0);
  }

  // The disk stalls: a QoS 2 publish gets PUBREC but no PUBREL (rule 1),
  // and is not stored; the other connection on the same reactor goes on.
  store->hold(true);
  auto t = c1.publish_tracked("s/q2", mqtt::QoS::ExactlyOnce, false, "held");
  REQUIRE(t.ok());
  CHECK_FALSE(t->wait_stored(300ms));
  CHECK_FALSE(t->wait_for(300ms));  // PUBREL waits for the PUBREC record
  for (int i = 0; i < 20; ++i) {
    auto other = c2.publish_tracked("s/other", mqtt::QoS::ExactlyOnce, false, "x");
    REQUIRE(other.ok());
    auto done = other->wait_for(5s);
    REQUIRE(done);
    CHECK(done->ok());
  }
  store->hold(false);
  CHECK(t->wait_stored(10s) == mqtt::RequestError::None);
  auto done = t->wait_for(10s);
  REQUIRE(done);
  CHECK(done->ok());
  // Completed and recorded done: nothing left in flight in the store.
  CHECK(p1.wait_for([&] { return store->state().outgoing.empty(); }, 10s));
}

TEST_CASE("store: a failing store reports StoreFailed and the messages still go", "[store]") {
  itest::Watchdog dog("session_store_test failing store", 60s);
  itest::Broker broker;
  auto store = std::make_shared<TestStore>();
  store->fail(true);
  auto [c, conn] = mqtt::Client::create(store_options("store-fail", broker.port(), store), 64);
  std::mutex mu;
  std::vector<mqtt::RequestFailed> failed;
  itest::Pump pump(conn, [&](const mqtt::Event& e) {
    if (const auto* f = e.request_failed()) {
      std::lock_guard<std::mutex> lock(mu);
      failed.push_back(*f);
    }
  });
  REQUIRE(pump.wait_until([](const auto& s) { return s.connacks == 1; }, 10s));
  auto t = c.publish_tracked("f/q2", mqtt::QoS::ExactlyOnce, false, "m");
  REQUIRE(t.ok());
  CHECK(t->wait_stored(10s) == mqtt::RequestError::StoreFailed);
  CHECK_FALSE(t->stored());
  auto done = t->wait_for(10s);  // held PUBRELs are released on failure
  REQUIRE(done);
  CHECK(done->ok());
  REQUIRE(c.publish("f/q1", mqtt::QoS::AtLeastOnce, false, "u").ok());
  REQUIRE(wait_nonempty(pump, mu, failed));
  std::lock_guard<std::mutex> lock(mu);
  CHECK(failed[0].reason == mqtt::RequestError::StoreFailed);
  CHECK(failed[0].topic == "f/q1");
  CHECK(failed[0].message.find("disk full") != std::string::npos);
}

TEST_CASE("store: create() fails with StoreFailed on a damaged or newer store file", "[store]") {
  const std::string dir = itest::make_temp_dir("store-damaged");
  auto store = mqtt::FileSessionStore::open(dir, mqtt::Durability::None);
  REQUIRE(store.ok());
  REQUIRE((*store)->load("damaged").ok());
  std::string bytes = itest::read_file((*store)->path_for("damaged"));
  bytes[8] = 9;  // format version 9
  itest::write_file((*store)->path_for("damaged"), bytes);
  mqtt::MqttOptions o("damaged", "127.0.0.1", 1);
  o.clean_session = false;
  o.session_store = *store;
  auto r = mqtt::Client::try_create(o, 16);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == mqtt::CreateError::Code::StoreFailed);
  CHECK(r.error().message.find("version 9") != std::string::npos);
  CHECK_THROWS_AS(mqtt::Client::create(o, 16), std::runtime_error);
}

namespace {

// A stored session for `id` holding one QoS 1 PUBLISH (packet id 1) of
// `payload` on `topic`, as a killed process would leave it.
void seed_store(mqtt::SessionStore& store, const std::string& id, const std::string& topic,
                const std::string& payload) {
  const mqtt::codec::PublishRef p(topic, mqtt::QoS::AtLeastOnce, false,
                                  mqtt::codec::as_bytes(payload), mqtt::codec::kNoProperties);
  auto r = mqtt::session::make_publish_request(p, mqtt::ProtocolVersion::V311);
  REQUIRE(r.ok());
  std::vector<uint8_t> bytes(r->bytes.span().begin(), r->bytes.span().end());
  bytes[r->packet_id_offset + 1] = 1;
  mqtt::StoreRecord rec{mqtt::StoreRecord::Type::Publish, 1, mqtt::QoS::AtLeastOnce, bytes};
  REQUIRE(store.load(id).ok());
  REQUIRE(store.apply(id, std::span<const mqtt::StoreRecord>(&rec, 1)).ok());
}

// True once the store in `dir` holds no outgoing message for `id`, read
// afresh every 20 ms for at most 10 s.
bool store_settles_empty(const std::string& dir, const std::string& id) {
  for (int i = 0; i < 500; ++i) {
    auto again = mqtt::FileSessionStore::open(dir, mqtt::Durability::None);
    REQUIRE(again.ok());
    auto st = (*again)->load(id);
    REQUIRE(st.ok());
    if (st->outgoing.empty()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

}  // namespace

TEST_CASE("store: a restored publish is resent when the broker kept the session, "
          "and reported lost when it did not", "[store]") {
  itest::Watchdog dog("session_store_test restore", 60s);
  itest::Broker broker;
  const std::string dir = itest::make_temp_dir("store-restore");
  auto store = mqtt::FileSessionStore::open(dir, mqtt::Durability::PerBatch);
  REQUIRE(store.ok());

  std::mutex mu;
  std::vector<std::string> received;
  auto so = itest::client_options("restore-sub", broker.port());
  auto [sub, sub_conn] = mqtt::Client::create(so, 64);
  itest::Pump sub_pump(sub_conn, [&](const mqtt::Event& e) {
    if (const auto* p = e.publish()) {
      std::lock_guard<std::mutex> lock(mu);
      received.push_back(itest::payload_of(*p));
    }
  });
  auto granted = sub.subscribe("restore/#", mqtt::QoS::AtLeastOnce);
  REQUIRE(granted.ok());
  REQUIRE(granted->wait_for(10s));

  SECTION("session present: resent, delivered, recorded done") {
    const std::string id = itest::unique_id("restore-kept");
    {
      // The broker gets a persistent session for the id.
      auto o = itest::client_options("x", broker.port());
      o.client_id = id;
      o.clean_session = false;
      auto [c, conn] = mqtt::Client::create(o, 16);
      REQUIRE(itest::wait_connack(conn, 10s));
      auto d = c.disconnect_tracked(5s);
      REQUIRE(d.ok());
      REQUIRE(d->wait_for(10s));
    }
    seed_store(**store, id, "restore/kept", "from the dead process");
    auto o = store_options("x", broker.port(), *store);
    o.client_id = id;
    auto [c, conn] = mqtt::Client::create(o, 16);
    itest::Pump pump(conn);
    REQUIRE(wait_nonempty(sub_pump, mu, received));
    {
      std::lock_guard<std::mutex> lock(mu);
      CHECK(received == std::vector<std::string>{"from the dead process"});
    }
    CHECK(pump.wait_until([](const auto& s) {
      return !s.session_present.empty() && s.session_present[0];
    }, 10s));
    CHECK(pump.stats().resets.empty());
    // The drain waits for the PUBACK; the store then forgets it (PublishDone).
    auto d = c.disconnect_tracked(5s);
    REQUIRE(d.ok());
    auto drained = d->wait_for(10s);
    REQUIRE(drained);
    CHECK(drained->ok());
    REQUIRE(pump.wait_until([](const auto& s) { return s.ended; }, 10s));
    // The store thread applies the last records just after the loop ends
    // (docs/session-store.md): read until they are there, bounded.
    CHECK(store_settles_empty(dir, id));
  }

  SECTION("no session at the broker: dropped, reported, store cleared") {
    const std::string id = itest::unique_id("restore-lost");
    seed_store(**store, id, "restore/lost", "gone");
    auto o = store_options("x", broker.port(), *store);
    o.client_id = id;
    auto [c, conn] = mqtt::Client::create(o, 16);
    std::mutex fmu;
    std::vector<mqtt::RequestFailed> failed;
    itest::Pump pump(conn, [&](const mqtt::Event& e) {
      if (const auto* f = e.request_failed()) {
        std::lock_guard<std::mutex> lock(fmu);
        failed.push_back(*f);
      }
    });
    REQUIRE(pump.wait_until([](const auto& s) { return !s.resets.empty(); }, 10s));
    CHECK(pump.stats().resets[0].dropped_publishes == 1);
    REQUIRE(wait_nonempty(pump, fmu, failed));
    {
      std::lock_guard<std::mutex> lock(fmu);
      CHECK(failed[0].reason == mqtt::RequestError::SessionReset);
      CHECK(failed[0].topic == "restore/lost");
      CHECK(failed[0].packet_id == 1);
    }
    auto d = c.disconnect_tracked(5s);
    REQUIRE(d.ok());
    REQUIRE(d->wait_for(10s));
    REQUIRE(pump.wait_until([](const auto& s) { return s.ended; }, 10s));
    CHECK(store_settles_empty(dir, id));  // the Clear of the CONNACK is stored
    std::this_thread::sleep_for(300ms);
    std::lock_guard<std::mutex> lock(mu);
    CHECK(received.empty());
  }
}
