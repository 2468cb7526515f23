// FileSessionStore: an append-only log per client id (format in
// session_store.h and docs/session-store.md).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

#include "mqtt/session_store.h"
#include "mqtt/store/crc32.h"

namespace mqtt {

namespace {

constexpr char kMagic[8] = {'M', 'Q', 'T', 'T', 'S', 'E', 'S', '1'};
constexpr size_t kHeaderSize = 16;
constexpr size_t kRecordHeader = 12;  // length, ~length, CRC-32 of the body
constexpr size_t kBodyFixed = 4;      // type, packet id (2), QoS
constexpr uint32_t kMaxBody = (256u << 20) + kBodyFixed;  // above MQTT's largest packet

void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t get32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

StoreError io_error(std::string what, const std::string& path, int err = errno) {
  return StoreError{StoreError::Code::Io, err, what + " " + path + ": " + std::strerror(err)};
}

void header(uint8_t* h) {
  std::memcpy(h, kMagic, 8);
  put32(h + 8, FileSessionStore::kFormatVersion);
  put32(h + 12, 0);  // flags, none yet
}

void append_record(std::vector<uint8_t>& out, const StoreRecord& r) {
  const uint32_t len = static_cast<uint32_t>(kBodyFixed + r.bytes.size());
  const size_t at = out.size();
  out.resize(at + kRecordHeader + len);
  uint8_t* p = out.data() + at;
  put32(p, len);
  put32(p + 4, ~len);
  uint8_t* b = p + kRecordHeader;
  b[0] = static_cast<uint8_t>(r.type);
  b[1] = static_cast<uint8_t>(r.packet_id >> 8);
  b[2] = static_cast<uint8_t>(r.packet_id & 0xFF);
  // Bit 7: the PUBLISH is encoded for MQTT 5 (a restart must not resend it
  // on a 3.1.1 connection, or the reverse).
  b[3] = static_cast<uint8_t>(static_cast<uint8_t>(r.qos) |
                              (r.version == ProtocolVersion::V5 ? 0x80 : 0));
  if (!r.bytes.empty()) std::memcpy(b + kBodyFixed, r.bytes.data(), r.bytes.size());
  put32(p + 8, store::crc32(b, len));
}

bool all_zero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != 0) return false;
  return true;
}

// Replays a whole file into `out`; `good_end` is where the last whole record
// ends (the rest is a torn tail to cut off).
Result<void, StoreError> parse(std::span<const uint8_t> f, const std::string& path,
                               StoredSession& out, size_t& good_end) {
  auto corrupt = [&](size_t at, const std::string& why) {
    return StoreError{StoreError::Code::Corrupt, 0,
                      path + ": " + why + " at byte " + std::to_string(at) +
                          " (not the last record: not a torn write)"};
  };
  if (f.size() < kHeaderSize || std::memcmp(f.data(), kMagic, 8) != 0) {
    return unexpected(StoreError{StoreError::Code::Corrupt, 0,
                                 path + ": not a session store file (bad header)"});
  }
  const uint32_t version = get32(f.data() + 8);
  if (version != FileSessionStore::kFormatVersion) {
    return unexpected(StoreError{StoreError::Code::Version, 0,
                                 path + ": format version " + std::to_string(version) +
                                     ", this library reads version " +
                                     std::to_string(FileSessionStore::kFormatVersion)});
  }
  size_t pos = kHeaderSize;
  good_end = pos;
  while (pos < f.size()) {
    const size_t rest = f.size() - pos;
    if (rest < kRecordHeader) break;  // torn record header
    const uint8_t* p = f.data() + pos;
    const uint32_t len = get32(p);
    if (len != ~get32(p + 4) || len < kBodyFixed || len > kMaxBody) {
      // A write cut short never leaves a wrong length; a zero-filled tail
      // (blocks allocated, data lost in a power cut) may.
      if (all_zero(p, rest)) break;
      return unexpected(corrupt(pos, "bad record length"));
    }
    if (len > rest - kRecordHeader) break;  // torn body
    const uint8_t* b = p + kRecordHeader;
    if (store::crc32(b, len) != get32(p + 8)) {
      if (pos + kRecordHeader + len == f.size()) break;  // the last record: torn
      return unexpected(corrupt(pos, "CRC mismatch"));
    }
    StoreRecord r;
    r.type = static_cast<StoreRecord::Type>(b[0]);
    if (b[0] < 1 || b[0] > 7) return unexpected(corrupt(pos, "unknown record type"));
    r.packet_id = static_cast<uint16_t>(b[1] << 8 | b[2]);
    r.qos = static_cast<QoS>(b[3] & 3);
    r.version = (b[3] & 0x80) ? ProtocolVersion::V5 : ProtocolVersion::V311;
    r.bytes.assign(b + kBodyFixed, b + len);
    out.apply(r);
    pos += kRecordHeader + len;
    good_end = pos;
  }
  return {};
}

Result<void, StoreError> write_all(int fd, const uint8_t* p, size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return unexpected(io_error("write", path));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return {};
}

Result<void, StoreError> sync_dir(const std::string& dir) {
  const int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d < 0) return unexpected(io_error("open", dir));
  const int r = ::fsync(d);
  const int err = errno;
  ::close(d);
  if (r != 0) return unexpected(io_error("fsync", dir, err));
  return {};
}

}  // namespace

struct FileSessionStore::Impl {
  struct File {
    int fd = -1;
    uint64_t size = 0;          // bytes in the file (all whole records)
    uint64_t snapshot_size = 0; // size right after the last snapshot
    StoredSession state;        // what the file holds (for snapshots)
    bool failed = false;        // a write failed: unusable until reopened
  };
  std::mutex mu;
  std::map<std::string, File, std::less<>> files;

  ~Impl() {
    for (auto& [id, f] : files)
      if (f.fd >= 0) ::close(f.fd);
  }
};

FileSessionStore::FileSessionStore(std::string directory, Durability d, Options o)
    : dir_(std::move(directory)), durability_(d), options_(o), impl_(std::make_unique<Impl>()) {}

FileSessionStore::~FileSessionStore() = default;

Result<std::shared_ptr<FileSessionStore>, StoreError> FileSessionStore::open(
    std::string directory, Durability durability, Options options) {
  if (directory.empty()) directory = ".";
  if (::mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST) {
    return unexpected(io_error("mkdir", directory));
  }
  struct stat st{};
  if (::stat(directory.c_str(), &st) != 0) return unexpected(io_error("stat", directory));
  if (!S_ISDIR(st.st_mode)) {
    return unexpected(StoreError{StoreError::Code::Io, ENOTDIR, directory + " is not a directory"});
  }
  return std::shared_ptr<FileSessionStore>(
      new FileSessionStore(std::move(directory), durability, options));
}

std::string FileSessionStore::path_for(std::string_view client_id) const {
  static const char* hex = "0123456789abcdef";
  std::string name = dir_ + "/c-";
  for (unsigned char c : client_id) {
    name += hex[c >> 4];
    name += hex[c & 15];
  }
  return name + ".mqs";
}

namespace {

// Writes `state` as a fresh file at `path` through a temporary file:
// write, fsync, rename, fsync the directory. Returns its size.
Result<uint64_t, StoreError> write_snapshot(const std::string& dir, const std::string& path,
                                            const StoredSession& state) {
  std::vector<uint8_t> buf(kHeaderSize);
  header(buf.data());
  if (!state.assigned_client_id.empty()) {
    StoreRecord r;
    r.type = StoreRecord::Type::ClientId;
    r.bytes.assign(state.assigned_client_id.begin(), state.assigned_client_id.end());
    append_record(buf, r);
  }
  for (const auto& p : state.outgoing) {
    StoreRecord r;
    r.type = StoreRecord::Type::Publish;
    r.packet_id = p.packet_id;
    r.qos = p.qos;
    r.version = p.version;
    r.bytes = p.bytes;
    append_record(buf, r);
    if (p.pubrec_received) {
      r.type = StoreRecord::Type::PubRecReceived;
      r.bytes.clear();
      append_record(buf, r);
    }
  }
  for (uint16_t id : state.incoming_qos2) {
    StoreRecord r;
    r.type = StoreRecord::Type::IncomingQos2;
    r.packet_id = id;
    r.qos = QoS::ExactlyOnce;
    append_record(buf, r);
  }
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return unexpected(io_error("open", tmp));
  auto w = write_all(fd, buf.data(), buf.size(), tmp);
  if (w.ok() && ::fsync(fd) != 0) w = unexpected(io_error("fsync", tmp));
  ::close(fd);
  if (w.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) w = unexpected(io_error("rename", tmp));
  if (!w.ok()) {
    ::unlink(tmp.c_str());
    return unexpected(w.error());
  }
  if (auto d = sync_dir(dir); !d.ok()) return unexpected(d.error());
  return static_cast<uint64_t>(buf.size());
}

Result<void, StoreError> open_append(const std::string& path, int& fd) {
  fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return unexpected(io_error("open", path));
  return {};
}

}  // namespace

Result<StoredSession, StoreError> FileSessionStore::load(std::string_view client_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->files.find(client_id);
  if (it != impl_->files.end()) {
    if (it->second.fd >= 0) ::close(it->second.fd);
    impl_->files.erase(it);  // read it again from disk
  }
  const std::string path = path_for(client_id);
  Impl::File f;
  std::vector<uint8_t> data;
  const int rfd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (rfd < 0 && errno != ENOENT) return unexpected(io_error("open", path));
  if (rfd >= 0) {
    uint8_t chunk[65536];
    for (;;) {
      const ssize_t n = ::read(rfd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int err = errno;
        ::close(rfd);
        return unexpected(io_error("read", path, err));
      }
      if (n == 0) break;
      data.insert(data.end(), chunk, chunk + n);
    }
    ::close(rfd);
  }
  if (data.empty()) {
    // New (or created but never written: the header goes in by rename).
    auto s = write_snapshot(dir_, path, f.state);
    if (!s.ok()) return unexpected(s.error());
    f.size = f.snapshot_size = *s;
  } else {
    size_t good_end = 0;
    if (auto p = parse(data, path, f.state, good_end); !p.ok()) return unexpected(p.error());
    if (good_end < data.size()) {
      // Cut the torn tail off so that appends follow the last whole record.
      if (::truncate(path.c_str(), static_cast<off_t>(good_end)) != 0) {
        return unexpected(io_error("truncate", path));
      }
    }
    f.size = good_end;
    f.snapshot_size = good_end;
  }
  if (auto o = open_append(path, f.fd); !o.ok()) return unexpected(o.error());
  StoredSession out = f.state;
  impl_->files.emplace(std::string(client_id), std::move(f));
  return out;
}

namespace {

using File = FileSessionStore::Impl::File;

// The open file of `client_id` (loaded on first use); `lock` holds impl.mu.
Result<File*, StoreError> file(FileSessionStore& store, FileSessionStore::Impl& impl,
                               std::string_view client_id, std::unique_lock<std::mutex>& lock) {
  auto it = impl.files.find(client_id);
  if (it == impl.files.end()) {
    lock.unlock();
    auto loaded = store.load(client_id);
    lock.lock();
    if (!loaded.ok()) return unexpected(loaded.error());
    it = impl.files.find(client_id);
    if (it == impl.files.end()) {
      return unexpected(StoreError{StoreError::Code::Failed, 0, "store file closed meanwhile"});
    }
  }
  return &it->second;
}

// Rewrites the file as a snapshot of its state; appends go there from then on.
Result<void, StoreError> rewrite(File& f, const std::string& dir, const std::string& path) {
  auto s = write_snapshot(dir, path, f.state);
  if (!s.ok()) return unexpected(s.error());
  ::close(f.fd);
  f.fd = -1;
  f.size = f.snapshot_size = *s;
  return open_append(path, f.fd);
}

}  // namespace

Result<void, StoreError> FileSessionStore::apply(std::string_view client_id,
                                                 std::span<const StoreRecord> batch) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  auto got = file(*this, *impl_, client_id, lock);
  if (!got.ok()) return unexpected(got.error());
  Impl::File& f = **got;
  const std::string path = path_for(client_id);
  if (f.failed) {
    return unexpected(StoreError{StoreError::Code::Failed, 0,
                                 path + ": an earlier write failed; reopen the store"});
  }
  auto fail = [&](StoreError e) -> Result<void, StoreError> {
    // Leave whole records only; later writes are refused until reloaded.
    if (::ftruncate(f.fd, static_cast<off_t>(f.size)) != 0) {
      // Nothing more to do: the file stays marked failed; a reload cuts the tail.
    }
    f.failed = true;
    return unexpected(std::move(e));
  };
  std::vector<uint8_t> buf;
  if (durability_ == Durability::PerMessage) {
    for (const StoreRecord& r : batch) {
      buf.clear();
      append_record(buf, r);
      if (auto w = write_all(f.fd, buf.data(), buf.size(), path); !w.ok()) return fail(w.error());
      if (::fdatasync(f.fd) != 0) return fail(io_error("fdatasync", path));
      f.size += buf.size();
      f.state.apply(r);
    }
  } else {
    for (const StoreRecord& r : batch) append_record(buf, r);
    if (auto w = write_all(f.fd, buf.data(), buf.size(), path); !w.ok()) return fail(w.error());
    if (durability_ == Durability::PerBatch && ::fdatasync(f.fd) != 0) {
      return fail(io_error("fdatasync", path));
    }
    f.size += buf.size();
    for (const StoreRecord& r : batch) f.state.apply(r);
  }
  if (f.size > options_.compact_after_bytes && f.size > 4 * f.snapshot_size) {
    if (auto r = rewrite(f, dir_, path); !r.ok()) return fail(r.error());
  }
  return {};
}

Result<void, StoreError> FileSessionStore::compact(std::string_view client_id) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  auto got = file(*this, *impl_, client_id, lock);
  if (!got.ok()) return unexpected(got.error());
  return rewrite(**got, dir_, path_for(client_id));
}

}  // namespace mqtt
