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
