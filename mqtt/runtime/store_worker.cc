#include "mqtt/runtime/store_worker.h"

namespace mqtt::runtime {

StoreWorker::StoreWorker(std::shared_ptr<SessionStore> store, std::string client_id,
                         std::shared_ptr<Waker> waker)
    : store_(std::move(store)), client_id_(std::move(client_id)), waker_(std::move(waker)) {
  thread_ = std::thread([this] { run(); });
}

StoreWorker::~StoreWorker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void StoreWorker::push(std::vector<Item>& items) {
  if (items.empty()) return;
  size_t bytes = 0;
  for (const Item& i : items) bytes += i.record.bytes.size() + 32;
  pushed_seq_ = items.back().seq;
  queued_records_.fetch_add(items.size(), std::memory_order_relaxed);
  queued_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(mu_);
    was_empty = queue_.empty();
    if (was_empty) {
      queue_.swap(items);
    } else {
      queue_.insert(queue_.end(), std::make_move_iterator(items.begin()),
                    std::make_move_iterator(items.end()));
    }
  }
  items.clear();
  if (was_empty) cv_.notify_one();
}

std::string StoreWorker::failure() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failure_;
}

void StoreWorker::run() {
  std::vector<Item> batch;
  std::vector<StoreRecord> records;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stop_, and everything applied
      batch.swap(queue_);
    }
    // The whole batch in one apply(): one write, one fdatasync for PerBatch.
    records.clear();
    size_t bytes = 0;
    for (Item& i : batch) {
      bytes += i.record.bytes.size() + 32;
      records.push_back(std::move(i.record));
    }
    RequestError outcome = RequestError::None;
    if (failed_from() != UINT64_MAX) {
      outcome = RequestError::StoreFailed;  // nothing is stored after a failure
    } else if (auto r = store_->apply(client_id_, records); !r.ok()) {
      outcome = RequestError::StoreFailed;
      {
        std::lock_guard<std::mutex> lock(mu_);
        failure_ = r.error().message;
      }
      failed_from_.store(batch.front().seq, std::memory_order_seq_cst);
    }
    for (Item& i : batch) {
      if (i.completion) i.completion->settle_stored(outcome);
    }
    queued_records_.fetch_sub(batch.size(), std::memory_order_relaxed);
    queued_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    done_seq_.store(batch.back().seq, std::memory_order_seq_cst);
    batch.clear();
    waker_->wake();
  }
}

}  // namespace mqtt::runtime
