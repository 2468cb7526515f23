// The outcome of a tracked request (publish, subscribe, unsubscribe), and the
// shared state behind its Token. The session completes it on the I/O thread;
// user threads wait on it. No user code runs on complete().
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "mqtt/codec/types.h"
#include "mqtt/session/deadline.h"

namespace mqtt {

// Why a tracked request did not complete successfully.
enum class RequestError : uint8_t {
  None = 0,
  Rejected,           // the broker answered with a failure reason code (>= 0x80)
  SessionReset,       // the broker did not resume the session: the request is lost
  ConnectionClosed,   // the connection ended for good (disconnect, requests done,
                      // fatal refusal) before the request completed
  PacketTooLarge,     // larger than the broker's Maximum Packet Size
  QoSNotSupported,    // above the broker's Maximum QoS
  RetainNotSupported, // retain set but the broker has Retain Available = 0
  ProtocolError,      // the broker broke the protocol for this request
  TopicAliasInvalid,  // MQTT 5: the publish's Topic Alias is above the broker's
                      // Topic Alias Maximum, or has no topic to stand for
  FeatureNotSupported,  // MQTT 5: a subscription with a wildcard, a shared
                        // subscription or a Subscription Identifier, which the
                        // broker's CONNACK said it does not support
  StoreFailed,  // the session store could not write the publish's record: it
                // is still sent and acknowledged as usual, but a restart of
                // the process will not resend it (see Token::wait_stored)
};

// A short description, e.g. "rejected by the broker". Pure: any thread, never blocks.
std::string_view to_string(RequestError e);

// The outcome of a tracked request.
struct Completion {
  RequestError error = RequestError::None;  // None on success
  // PUBLISH: one code (Success for QoS 0 once written; PUBACK/PUBREC/PUBCOMP's
  // code otherwise). SUBSCRIBE/UNSUBSCRIBE: one per filter, from SUBACK/UNSUBACK
  // (3.1.1 UNSUBACK: Success for each filter).
  std::vector<ReasonCode> reason_codes;
  std::string message;  // human-readable detail on failure
  // MQTT 5: the Reason String and User Properties of the broker's answer
  // (PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK), on success and on failure.
  // @{
  std::string reason_string = {};
  std::vector<std::pair<std::string, std::string>> user_properties = {};
  // @}
  // True on success (error is None).
  bool ok() const { return error == RequestError::None; }
};

namespace detail {

// A waiter of wait_any(): woken by any of the states it registered with.
struct AnyWaiter {
  std::mutex mu;
  std::condition_variable cv;
  bool fired = false;
  void fire() {
    {
      std::lock_guard<std::mutex> lock(mu);
      fired = true;
    }
    cv.notify_all();
  }
};

// Completed at most once; later calls are ignored.
//
// Session store: "stored" settles once too. store_pending() (reactor
// thread, when the publish's record is handed to the store) makes it wait
// for settle_stored() (store thread); without it, complete() settles it
// with the completion's error.
class CompletionState {
 public:
  void complete(Completion c) {
    std::vector<std::shared_ptr<AnyWaiter>> waiters;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (done_) return;
      if (!stored_pending_ && !stored_done_) {
        stored_done_ = true;
        stored_error_ = c.error;
      }
      result_ = std::move(c);
      done_ = true;
      waiters.swap(waiters_);  // usually empty: no allocation
    }
    cv_.notify_all();
    for (auto& w : waiters) w->fire();
  }
  bool done() const {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  Completion wait() const {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
    return result_;
  }
  // false on timeout; a timeout of kForever or more waits without limit.
  bool wait_for(std::chrono::nanoseconds d, Completion& out) const {
    if (d >= kForever) {
      out = wait();
      return true;
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, d, [&] { return done_; })) return false;
    out = result_;
    return true;
  }
  Completion result() const {
    std::lock_guard<std::mutex> lock(mu_);
    return result_;
  }
  // --- session store ---
  void store_pending() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stored_done_) stored_pending_ = true;
  }
  // `e`: None = stored; StoreFailed = the store failed.
  void settle_stored(RequestError e) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stored_done_) return;
      stored_done_ = true;
      stored_pending_ = false;
      stored_error_ = e;
    }
    cv_.notify_all();
  }
  bool stored() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stored_done_ && stored_error_ == RequestError::None;
  }
  // false on timeout; a timeout of kForever or more waits without limit.
  bool wait_stored(std::chrono::nanoseconds d, RequestError& out) const {
    std::unique_lock<std::mutex> lock(mu_);
    if (d >= kForever) {
      cv_.wait(lock, [&] { return stored_done_; });
    } else if (!cv_.wait_for(lock, d, [&] { return stored_done_; })) {
      return false;
    }
    out = stored_error_;
    return true;
  }

  // wait_any(): false (not registered) when already done.
  bool add_waiter(const std::shared_ptr<AnyWaiter>& w) {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_) return false;
    waiters_.push_back(w);
    return true;
  }
  void remove_waiter(const AnyWaiter* w) {
    std::lock_guard<std::mutex> lock(mu_);
    std::erase_if(waiters_, [w](const std::shared_ptr<AnyWaiter>& x) { return x.get() == w; });
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool done_ = false;
  bool stored_pending_ = false;  // a store record is on its way
  bool stored_done_ = false;
  RequestError stored_error_ = RequestError::None;
  Completion result_;
  std::vector<std::shared_ptr<AnyWaiter>> waiters_;
};

}  // namespace detail
}  // namespace mqtt
