// Sessions that survive a restart of the process (docs/session-store.md).
//
// A SessionStore keeps, per client id, what an MQTT session must not forget:
// outgoing QoS 1/2 publishes in flight, PUBRELs pending, incoming QoS 2 ids
// awaiting PUBREL, and the broker-assigned client id. Give one to
// MqttOptions::session_store (with clean_session = false) and a new process
// with the same client id resumes the session where the killed one left it.
//
// The runtime calls the store from one store thread per connection (never
// from the reactor thread, never from user threads after create()); load()
// runs in Client::create() on the caller's thread. A store object may be
// shared by several connections with different client ids.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mqtt/codec/types.h"
#include "mqtt/result.h"

namespace mqtt {

// When a record counts as "stored" (see Token::wait_stored):
//   None        written with write(): survives a kill -9 of the process (the
//               kernel has it), not an OS crash or a power loss.
//   PerBatch    one fdatasync per batch the store thread takes (group
//               commit): survives a power loss too.
//   PerMessage  one fdatasync after each record: the same guarantee, paid
//               per record (the cost to compare against; docs/benchmarks).
enum class Durability : uint8_t { None, PerBatch, PerMessage };

// The enumerator's name, e.g. "PerBatch". Pure: any thread, never blocks.
std::string_view to_string(Durability d);

// One change of a session's state, in the order the session made it.
struct StoreRecord {
  // What changed.
  enum class Type : uint8_t {
    Publish = 1,           // outgoing QoS 1/2 PUBLISH (bytes, packet id set)
    PubRecReceived = 2,    // outgoing QoS 2: the PUBREL is pending
    PublishDone = 3,       // outgoing: completed or refused; the id is free
    IncomingQos2 = 4,      // incoming QoS 2 id, PUBREL not yet received
    IncomingReleased = 5,  // incoming QoS 2 id released (PUBREL received)
    ClientId = 6,          // the broker-assigned client id (bytes)
    Clear = 7,             // the broker's session is gone: forget everything
                           // but the assigned client id
  };
  Type type = Type::Publish;  // what changed
  uint16_t packet_id = 0;     // the packet id it is about (0 for ClientId, Clear)
  QoS qos = QoS::AtMostOnce;  // Publish: the message's QoS
  std::vector<uint8_t> bytes;  // Publish: the encoded PUBLISH; ClientId: the id
  // Publish: the protocol version `bytes` are encoded for.
  ProtocolVersion version = ProtocolVersion::V311;
};

// The state a store holds for one client id.
struct StoredSession {
  // An outgoing QoS 1/2 publish not yet completed.
  struct Publish {
    uint16_t packet_id = 0;      // its packet id
    QoS qos = QoS::AtLeastOnce;  // 1 or 2
    bool pubrec_received = false;  // QoS 2: PUBREL pending (bytes empty)
    std::vector<uint8_t> bytes;    // the PUBLISH
    ProtocolVersion version = ProtocolVersion::V311;  // bytes' encoding
    // Member-wise equality.
    bool operator==(const Publish&) const = default;
  };
  std::vector<Publish> outgoing;  // in the order their last packet was sent
  std::vector<uint16_t> incoming_qos2;  // incoming QoS 2 ids awaiting PUBREL
  std::string assigned_client_id;       // the broker-assigned id; empty if none

  // True when nothing is stored.
  bool empty() const {
    return outgoing.empty() && incoming_qos2.empty() && assigned_client_id.empty();
  }
  // Applies one record (how every store replays its log). Never fails:
  // a record for an unknown id changes nothing.
  void apply(const StoreRecord& r);
  // Member-wise equality.
  bool operator==(const StoredSession&) const = default;
};

// Why a store call failed.
struct StoreError {
  // The kind of failure.
  enum class Code : uint8_t {
    Io,       // a system call failed (sys_errno)
    Corrupt,  // the stored data is damaged before its last record
    Version,  // written in a format version this library does not read
    Failed,   // an earlier write failed: this client id's store is unusable
  };
  Code code = Code::Io;  // the kind of failure
  int sys_errno = 0;     // Io: the errno of the failed call
  std::string message;   // human-readable detail
};

// The interface of a session store (see session_store.h for who calls
// it, from which threads). Implementations must be safe to call from several
// store threads at once for different client ids.
class SessionStore {
 public:
  virtual ~SessionStore() = default;
  // The state stored for `client_id` (empty when none). Blocks on disk.
  // Errors: Io, Corrupt, Version; Client::create() then fails. May write
  // (FileSessionStore cuts a torn tail off): not while a connection is
  // writing the same client id.
  virtual Result<StoredSession, StoreError> load(std::string_view client_id) = 0;
  // Appends `batch`, in order, and returns once it is stored at
  // durability(). Blocks on disk. After an error nothing more is promised
  // for this client id (later calls may fail with Failed). Never throws.
  virtual Result<void, StoreError> apply(std::string_view client_id,
                                         std::span<const StoreRecord> batch) = 0;
  // When a record counts as stored. Never blocks, never fails.
  virtual Durability durability() const = 0;
};

// One file per client id in a directory: DIR/c-HEX.mqs, where HEX is the
// client id in hexadecimal.
// Format version 1 (docs/session-store.md, "File format"): a 16-byte header
// (magic "MQTTSES1", version, flags), then records, each a 12-byte header
// (length, its complement, CRC-32 of the body) and the body (type, packet
// id, QoS with bit 7 set for an MQTT 5 PUBLISH, bytes). Appends only; a torn or damaged last record is ignored
// (and cut off) on load, anything damaged before it is a Corrupt error.
// When a file grows past Options::compact_after_bytes (and 4 times its last
// snapshot), it is rewritten as a snapshot: a temporary file, fsync, rename
// over the log, fsync of the directory. Thread-safe (one lock per store).
// A client id must be used by one process at a time.
class FileSessionStore final : public SessionStore {
 public:
  static constexpr uint32_t kFormatVersion = 1;  // written and read by this build
  // Tuning.
  struct Options {
    size_t compact_after_bytes = 4u << 20;  // a file larger than this may be compacted
  };

  // Creates `directory` when missing (one level). Blocks on disk; any thread.
  // Errors: Io (the directory cannot be created or opened).
  // @{
  static Result<std::shared_ptr<FileSessionStore>, StoreError> open(std::string directory,
                                                                   Durability durability,
                                                                   Options options);
  static Result<std::shared_ptr<FileSessionStore>, StoreError> open(std::string directory,
                                                                   Durability durability) {
    return open(std::move(directory), durability, Options{});
  }
  // @}
  ~FileSessionStore() override;

  Result<StoredSession, StoreError> load(std::string_view client_id) override;
  Result<void, StoreError> apply(std::string_view client_id,
                                 std::span<const StoreRecord> batch) override;
  Durability durability() const override { return durability_; }

  // Rewrites the client's file as a snapshot now. Blocks on disk.
  Result<void, StoreError> compact(std::string_view client_id);
  // The file that holds `client_id`'s session.
  std::string path_for(std::string_view client_id) const;

  struct Impl;

 private:
  FileSessionStore(std::string directory, Durability d, Options o);
  std::string dir_;
  Durability durability_;
  Options options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mqtt
