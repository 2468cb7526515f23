// The store thread of one connection (MqttOptions::session_store): takes
// the session's records from the reactor through a bounded queue, applies
// them to the SessionStore (which blocks on disk here, never on the
// reactor), settles the tokens' "stored" state, and wakes the reactor to
// release what waited for the records (PUBRELs, PUBRECs, RequestStored
// events). See docs/session-store.md, "Threading".
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mqtt/completion.h"
#include "mqtt/runtime/waker.h"
#include "mqtt/session_store.h"

namespace mqtt::runtime {

class StoreWorker {
 public:
  struct Item {
    StoreRecord record;
    uint64_t seq = 0;  // the session's record number
    std::shared_ptr<mqtt::detail::CompletionState> completion;  // tracked Publish
  };
  // Queue limits: above either, has_room() is false (backpressure on the
  // publish lane; records of acks are still taken).
  static constexpr size_t kMaxQueuedRecords = 8192;
  static constexpr size_t kMaxQueuedBytes = 16u << 20;

  // Starts the thread (throws std::system_error when it cannot).
  StoreWorker(std::shared_ptr<SessionStore> store, std::string client_id,
              std::shared_ptr<Waker> waker);
  // Applies what is queued, then joins the thread.
  ~StoreWorker();
  StoreWorker(const StoreWorker&) = delete;
  StoreWorker& operator=(const StoreWorker&) = delete;

  // Reactor thread. A short lock, no disk.
  void push(std::vector<Item>& items);
  bool has_room() const {
    return queued_records_.load(std::memory_order_relaxed) < kMaxQueuedRecords &&
           queued_bytes_.load(std::memory_order_relaxed) < kMaxQueuedBytes;
  }
  // Every record up to this seq has been handled (stored, or failed).
  uint64_t done_seq() const { return done_seq_.load(std::memory_order_seq_cst); }
  // The first record seq the store failed on (UINT64_MAX: none). Records
  // from there on are not stored.
  uint64_t failed_from() const { return failed_from_.load(std::memory_order_seq_cst); }
  std::string failure() const;
  bool idle() const { return done_seq() == pushed_seq_; }  // reactor thread

 private:
  void run();

  std::shared_ptr<SessionStore> store_;
  const std::string client_id_;
  std::shared_ptr<Waker> waker_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Item> queue_;  // guarded by mu_
  bool stop_ = false;        // guarded by mu_
  std::string failure_;      // guarded by mu_
  std::atomic<size_t> queued_records_{0};
  std::atomic<size_t> queued_bytes_{0};
  std::atomic<uint64_t> done_seq_{0};
  std::atomic<uint64_t> failed_from_{UINT64_MAX};
  uint64_t pushed_seq_ = 0;  // reactor thread
  std::thread thread_;
};

}  // namespace mqtt::runtime
