// A bounded multi-producer request lane (user threads -> reactor).
//
// moodycamel::ConcurrentQueue is not bounded by its constructor argument, so
// the bound is ours: a semaphore holds one permit per free slot. Producers
// take a permit (try_push fails at once without one; push waits for one),
// enqueue (the queue may allocate a block the first time a thread uses it;
// blocks are recycled afterwards), then bump the seq_cst `count_` and wake
// the reactor if it may be asleep. The consumer gives the permit back after
// dequeuing. Order is kept per producing thread (moodycamel's guarantee).
//
// Wake-ups: while a producer waits in push(), the consumer holds the permits
// it frees until the lane is down to half its capacity, then hands them all
// back at once. A producer far ahead of the reactor then wakes once per
// capacity/2 requests instead of once per request; the reactor still has
// half a lane of work queued when it does. try_push() callers with nobody
// waiting see every free slot at once, as before.
//
// close() makes later pushes fail with Closed and wakes blocked producers. A
// producer that enqueued concurrently with close() drains the lane itself so
// that no request is stranded: every request left in a closed lane is handed
// to the `abandon` function (which fails its token).
#pragma once

#include <concurrentqueue/concurrentqueue.h>
#include <concurrentqueue/lightweightsemaphore.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <thread>

#include "mqtt/runtime/waker.h"

namespace mqtt::runtime {

enum class PushResult : uint8_t { Ok, Full, Closed };

// moodycamel's defaults but for a smaller first block index per producing
// thread: 8 entries (~0.2 KiB) instead of 32 (~0.8 KiB), in each lane a
// thread has used. The index grows (doubling, once per size, kept) only when
// more than 8 blocks (256 items) are outstanding for that thread.
// The block size stays 32 items (~6.6 KiB for a LaneItem; a lane keeps the
// blocks it has used): 8-item blocks cost ~16 instructions more per publish
// (callgrind, fake_publish_qos0), which the hot path does not pay.
struct LaneQueueTraits : moodycamel::ConcurrentQueueDefaultTraits {
  static const size_t IMPLICIT_INITIAL_INDEX_SIZE = 8;
};

template <class T>
class Lane {
 public:
  using Abandon = std::function<void(T&)>;

  Lane(size_t capacity, std::shared_ptr<Waker> waker, Abandon abandon = {})
      : capacity_(capacity == 0 ? 1 : capacity),
        // 0: no blocks pre-allocated (moodycamel's argument only sizes an
        // initial block pool of LaneQueueTraits::BLOCK_SIZE-item blocks). An
        // idle lane then costs no block; the first enqueue takes one from the
        // heap and emptied blocks go back to the queue's free list for reuse,
        // so steady-state traffic still allocates nothing.
        queue_(0),
        free_(static_cast<ssize_t>(capacity_), /*maxSpins=*/1000),
        waker_(std::move(waker)),
        abandon_(std::move(abandon)) {}

  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;

  ~Lane() { drain(); }

  // Never blocks. On Full/Closed `item` is left untouched.
  PushResult try_push(T& item) {
    if (closed_.load(std::memory_order_acquire)) return PushResult::Closed;
    if (!free_.tryWait()) {
      return closed_.load(std::memory_order_acquire) ? PushResult::Closed : PushResult::Full;
    }
    return admitted(item);
  }

  // Waits while the lane is full. On Closed `item` may have been consumed
  // (its token failed) if the lane closed during the call.
  PushResult push(T& item) {
    if (!free_.tryWait()) {
      waiters_.fetch_add(1, std::memory_order_seq_cst);
      for (;;) {
        if (closed_.load(std::memory_order_acquire)) {
          waiters_.fetch_sub(1, std::memory_order_seq_cst);
          return PushResult::Closed;
        }
        if (free_.wait()) break;
      }
      waiters_.fetch_sub(1, std::memory_order_seq_cst);
    }
    return admitted(item);
  }

  // Never blocks and needs no free slot: for requests that must never wait
  // behind a full lane (a disconnect). Callers bound how many they push.
  // Fails only when the lane is closed.
  PushResult push_extra(T& item) {
    if (closed_.load(std::memory_order_acquire)) return PushResult::Closed;
    extra_.fetch_add(1, std::memory_order_seq_cst);
    if (!queue_.enqueue(std::move(item))) {  // out of memory only
      extra_.fetch_sub(1, std::memory_order_seq_cst);
      return PushResult::Full;
    }
    return counted();
  }

  // Consumer side (normally the reactor only). false when empty or when an
  // enqueue is still in flight.
  bool try_pop(T& out) {
    if (count_.load(std::memory_order_relaxed) <= 0) return false;
    if (!queue_.try_dequeue(out)) return false;
    count_.fetch_sub(1, std::memory_order_seq_cst);
    // An extra item took no permit: give none back for one pop. Which item
    // it was does not matter, only the count of permits does.
    int64_t e = extra_.load(std::memory_order_seq_cst);
    while (e > 0 && !extra_.compare_exchange_weak(e, e - 1, std::memory_order_seq_cst)) {
    }
    if (e <= 0) release_permit();
    return true;
  }

  // Requests queued and not yet taken (seq_cst: the sleep/wake handshake).
  size_t size() const {
    const int64_t n = count_.load(std::memory_order_seq_cst);
    return n > 0 ? static_cast<size_t>(n) : 0;
  }
  size_t capacity() const { return capacity_; }

  bool closed() const { return closed_.load(std::memory_order_acquire); }

  // Refuses further requests and wakes blocked producers (they return
  // Closed); what is queued stays for the consumer to take.
  void refuse() {
    if (closed_.exchange(true, std::memory_order_seq_cst)) return;
    // Enough permits for every thread that could be waiting.
    free_.signal(static_cast<ssize_t>(1) << 30);
  }

  // refuse(), then abandons what is queued.
  void close() {
    refuse();
    drain();
  }

 private:
  PushResult admitted(T& item) {
    if (closed_.load(std::memory_order_acquire)) {
      free_.signal(1);
      return PushResult::Closed;
    }
    if (!queue_.enqueue(std::move(item))) {  // out of memory only
      free_.signal(1);
      return PushResult::Full;
    }
    return counted();
  }

  // Consumer side: gives a freed slot back, batched while producers wait
  // (see the top of the file). The seq_cst load of waiters_ pairs with the
  // producer's increment before it sleeps: one of the two sees the other.
  void release_permit() {
    ++held_;
    if (waiters_.load(std::memory_order_seq_cst) > 0 && size() > capacity_ / 2) return;
    free_.signal(held_);
    held_ = 0;
  }

  PushResult counted() {
    count_.fetch_add(1, std::memory_order_seq_cst);
    if (closed_.load(std::memory_order_seq_cst)) {
      // close() may have drained before our item was counted: drain again
      // so nothing stays behind with a token that never completes.
      drain();
      return PushResult::Closed;
    }
    if (waker_) waker_->wake();
    return PushResult::Ok;
  }

  void drain() {
    T item;
    int idle = 0;
    while (count_.load(std::memory_order_seq_cst) > 0 && idle < 1000) {
      if (queue_.try_dequeue(item)) {
        count_.fetch_sub(1, std::memory_order_seq_cst);
        if (abandon_) abandon_(item);
        item = T{};
        idle = 0;
      } else {
        ++idle;  // another thread is dequeuing it, or an enqueue is in flight
        std::this_thread::yield();
      }
    }
  }

  size_t capacity_;
  moodycamel::ConcurrentQueue<T, LaneQueueTraits> queue_;
  moodycamel::LightweightSemaphore free_;
  // Signed: a take may run before the push that made it possible is counted.
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> extra_{0};  // queued items pushed without a permit
  std::atomic<bool> closed_{false};
  std::atomic<int> waiters_{0};  // producers blocked (or about to block) in push()
  ssize_t held_ = 0;             // freed slots not handed back yet (consumer only)
  std::shared_ptr<Waker> waker_;
  Abandon abandon_;
};

}  // namespace mqtt::runtime
