// FileSessionStore: round trip, a torn write at every byte offset of the
// last records, flipped bits, version mismatch, compaction.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "mqtt/session_store.h"

using namespace mqtt;

namespace {

// A new folder name each call (FileSessionStore::open creates it).
std::string temp_dir(const std::string& name) {
  static int n = 0;
  const char* base = std::getenv("TEST_TMPDIR");
  return std::string(base ? base : "/tmp") + "/fss-" + name + "-" + std::to_string(::getpid()) +
         "-" + std::to_string(++n);
}

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_all(const std::string& path, const std::vector<uint8_t>& b, size_t n) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(n));
}

StoreRecord rec(StoreRecord::Type t, uint16_t id = 0, QoS q = QoS::AtLeastOnce,
                std::string bytes = {}) {
  return StoreRecord{t, id, q, std::vector<uint8_t>(bytes.begin(), bytes.end())};
}

std::vector<StoreRecord> sample_records() {
  using T = StoreRecord::Type;
  return {
      rec(T::ClientId, 0, QoS::AtMostOnce, "assigned"),
      rec(T::Publish, 1, QoS::AtLeastOnce, std::string(150, 'a')),
      rec(T::Publish, 2, QoS::ExactlyOnce, "bb"),
      rec(T::IncomingQos2, 7, QoS::ExactlyOnce),
      rec(T::PubRecReceived, 2, QoS::ExactlyOnce),
      rec(T::PublishDone, 1),
      StoreRecord{T::Publish, 3, QoS::AtLeastOnce, std::vector<uint8_t>(40, 'c'),
                  ProtocolVersion::V5},
      rec(T::IncomingReleased, 7, QoS::ExactlyOnce),
  };
}

StoredSession replay(const std::vector<StoreRecord>& rs, size_t n) {
  StoredSession s;
  for (size_t i = 0; i < n; ++i) s.apply(rs[i]);
  return s;
}

// Writes the records one apply() each; returns the file size after each
// (ends[0]: the header only).
std::vector<size_t> write_log(const std::string& dir, const std::vector<StoreRecord>& rs,
                              Durability d = Durability::None) {
  auto store = FileSessionStore::open(dir, d);
  REQUIRE(store.ok());
  REQUIRE((*store)->load("id").ok());
  std::vector<size_t> ends{read_all((*store)->path_for("id")).size()};
  for (const auto& r : rs) {
    REQUIRE((*store)->apply("id", std::span<const StoreRecord>(&r, 1)).ok());
    ends.push_back(read_all((*store)->path_for("id")).size());
  }
  return ends;
}

Result<StoredSession, StoreError> load_bytes(const std::string& dir,
                                             const std::vector<uint8_t>& bytes, size_t n) {
  auto store = FileSessionStore::open(dir, Durability::None);
  REQUIRE(store.ok());
  write_all((*store)->path_for("id"), bytes, n);
  return (*store)->load("id");
}

}  // namespace

TEST_CASE("file store: round trip at every durability, and the state replays the records") {
  const auto rs = sample_records();
  for (auto d : {Durability::None, Durability::PerBatch, Durability::PerMessage}) {
    const std::string dir = temp_dir("roundtrip");
    {
      auto store = FileSessionStore::open(dir, d);
      REQUIRE(store.ok());
      CHECK((*store)->durability() == d);
      auto empty = (*store)->load("id");
      REQUIRE(empty.ok());
      CHECK(empty->empty());
      REQUIRE((*store)->apply("id", rs).ok());  // one batch
    }
    auto store = FileSessionStore::open(dir, d);
    auto loaded = (*store)->load("id");
    REQUIRE(loaded.ok());
    CHECK(*loaded == replay(rs, rs.size()));
    CHECK(loaded->assigned_client_id == "assigned");
    REQUIRE(loaded->outgoing.size() == 2);
    CHECK(loaded->outgoing[0].packet_id == 2);  // PUBREL pending
    CHECK(loaded->outgoing[0].pubrec_received);
    CHECK(loaded->outgoing[1].packet_id == 3);
    CHECK(loaded->outgoing[1].version == ProtocolVersion::V5);  // bit 7 of the QoS byte
    CHECK(loaded->outgoing[0].version == ProtocolVersion::V311);
    CHECK(loaded->incoming_qos2.empty());
    // Client ids map to distinct files, any bytes allowed.
    CHECK((*store)->path_for("a/b") != (*store)->path_for("a_b"));
    CHECK((*store)->load("").ok());
  }
}

TEST_CASE("file store: a torn write at every byte offset loses only the torn record") {
  const auto rs = sample_records();
  const std::string dir = temp_dir("torn");
  const auto ends = write_log(dir, rs);
  auto store = FileSessionStore::open(dir, Durability::None);
  const auto full = read_all((*store)->path_for("id"));
  REQUIRE(full.size() == ends.back());
  // Every cut from the end of the header to the whole file (the last
  // records, and all the others too: the log is small).
  for (size_t cut = ends[0]; cut <= full.size(); ++cut) {
    size_t whole = 0;  // records entirely before the cut
    while (whole < rs.size() && ends[whole + 1] <= cut) ++whole;
    const std::string d2 = temp_dir("torn-cut");  // fresh: the append below changes it
    auto loaded = load_bytes(d2, full, cut);
    INFO("cut at byte " << cut << " of " << full.size() << ", whole records " << whole);
    REQUIRE(loaded.ok());
    CHECK(*loaded == replay(rs, whole));
    // The torn tail was cut off: a later append follows the last whole
    // record, and a reload sees it.
    auto s2 = FileSessionStore::open(d2, Durability::None);
    const StoreRecord extra = rec(StoreRecord::Type::Publish, 9, QoS::AtLeastOnce, "zz");
    REQUIRE((*s2)->apply("id", std::span<const StoreRecord>(&extra, 1)).ok());
    auto again = FileSessionStore::open(d2, Durability::None);
    auto reloaded = (*again)->load("id");
    REQUIRE(reloaded.ok());
    StoredSession want = replay(rs, whole);
    want.apply(extra);
    CHECK(*reloaded == want);
  }
}

TEST_CASE("file store: a zero-filled tail (blocks without data after a power cut) is a torn tail") {
  const auto rs = sample_records();
  const std::string dir = temp_dir("zeros");
  write_log(dir, rs);
  auto store = FileSessionStore::open(dir, Durability::None);
  auto bytes = read_all((*store)->path_for("id"));
  bytes.resize(bytes.size() + 4096, 0);
  auto loaded = load_bytes(temp_dir("zeros2"), bytes, bytes.size());
  REQUIRE(loaded.ok());
  CHECK(*loaded == replay(rs, rs.size()));
}

TEST_CASE("file store: flipped bits are an error, or drop the damaged last record") {
  const auto rs = sample_records();
  const std::string dir = temp_dir("flip");
  const auto ends = write_log(dir, rs);
  auto store = FileSessionStore::open(dir, Durability::None);
  const auto full = read_all((*store)->path_for("id"));
  const size_t last_start = ends[rs.size() - 1];
  const std::string flip_dir = temp_dir("flip-one");  // each load_bytes rewrites the file
  for (size_t pos = ends[0]; pos < full.size(); ++pos) {
    for (int bit : {0, 7}) {
      auto bad = full;
      bad[pos] ^= static_cast<uint8_t>(1u << bit);
      auto loaded = load_bytes(flip_dir, bad, bad.size());
      INFO("bit " << bit << " of byte " << pos << " (last record from " << last_start << ")");
      if (pos < last_start) {
        // Damage before the last record is never mistaken for a torn write.
        REQUIRE_FALSE(loaded.ok());
        CHECK(loaded.error().code == StoreError::Code::Corrupt);
      } else if (loaded.ok()) {
        // In the last record (its CRC or body): dropped like a torn write.
        CHECK(*loaded == replay(rs, rs.size() - 1));
      } else {
        CHECK(loaded.error().code == StoreError::Code::Corrupt);  // its length field
        CHECK(pos < last_start + 8);
      }
    }
  }
  // The header: a bad magic is Corrupt, another version is Version.
  auto bad = full;
  bad[0] ^= 1;
  auto l1 = load_bytes(temp_dir("magic"), bad, bad.size());
  REQUIRE_FALSE(l1.ok());
  CHECK(l1.error().code == StoreError::Code::Corrupt);
  bad = full;
  bad[8] = 2;  // format version 2
  auto l2 = load_bytes(temp_dir("version"), bad, bad.size());
  REQUIRE_FALSE(l2.ok());
  CHECK(l2.error().code == StoreError::Code::Version);
  CHECK(l2.error().message.find("version 2") != std::string::npos);
  // A header cut short (not something our writes leave: it goes in by rename).
  auto l3 = load_bytes(temp_dir("short"), full, 10);
  REQUIRE_FALSE(l3.ok());
  CHECK(l3.error().code == StoreError::Code::Corrupt);
}

TEST_CASE("file store: compaction keeps the state and bounds the file") {
  const std::string dir = temp_dir("compact");
  FileSessionStore::Options o;
  o.compact_after_bytes = 4096;
  StoredSession want;
  {
    auto store = FileSessionStore::open(dir, Durability::None, o);  // snapshots fsync anyway
    REQUIRE(store.ok());
    REQUIRE((*store)->load("id").ok());
    size_t largest = 0;
    // 2000 publishes through a window of 20 ids, each acknowledged later.
    for (int i = 0; i < 2000; ++i) {
      const uint16_t id = static_cast<uint16_t>(i % 20 + 1);
      std::vector<StoreRecord> batch;
      if (i >= 20) batch.push_back(rec(StoreRecord::Type::PublishDone, id));
      batch.push_back(rec(StoreRecord::Type::Publish, id, QoS::ExactlyOnce,
                          "message " + std::to_string(i)));
      if (i % 3 == 0) batch.push_back(rec(StoreRecord::Type::PubRecReceived, id, QoS::ExactlyOnce));
      REQUIRE((*store)->apply("id", batch).ok());
      for (const auto& r : batch) want.apply(r);
      largest = std::max(largest, read_all((*store)->path_for("id")).size());
    }
    CHECK(largest < 4 * 4096);  // compacted as it went
    REQUIRE((*store)->compact("id").ok());
    struct stat st{};
    REQUIRE(::stat(((*store)->path_for("id") + ".tmp").c_str(), &st) != 0);  // renamed away
  }
  auto store = FileSessionStore::open(dir, Durability::None);
  auto loaded = (*store)->load("id");
  REQUIRE(loaded.ok());
  CHECK(loaded->outgoing.size() == 20);
  CHECK(*loaded == want);
}

TEST_CASE("file store: Clear forgets the session but keeps the assigned client id") {
  const std::string dir = temp_dir("clear");
  auto rs = sample_records();
  rs.push_back(rec(StoreRecord::Type::Clear));
  write_log(dir, rs);
  auto store = FileSessionStore::open(dir, Durability::None);
  auto loaded = (*store)->load("id");
  REQUIRE(loaded.ok());
  CHECK(loaded->outgoing.empty());
  CHECK(loaded->incoming_qos2.empty());
  CHECK(loaded->assigned_client_id == "assigned");
}

TEST_CASE("file store: open refuses a path that is not a directory") {
  const std::string dir = temp_dir("notdir");
  write_all(dir, {1, 2, 3}, 3);
  auto store = FileSessionStore::open(dir, Durability::None);
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().code == StoreError::Code::Io);
}
