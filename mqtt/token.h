// Completion token of a tracked request. Cheap to copy (shared state).
//
// A publish token completes when: QoS 0 - the packet was written to the
// socket; QoS 1 - PUBACK; QoS 2 - PUBCOMP. Subscribe/unsubscribe tokens
// complete on SUBACK/UNSUBACK with their reason codes. A token fails with a
// RequestError (session reset, connection closed, rejected by the broker...).
// Any thread may wait on a token; ignoring it is fine.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>

#include "mqtt/completion.h"

namespace mqtt {

// The handle on one tracked request's outcome (see above).
class Token {
 public:
  Token() = default;
  // Made by the Client for each tracked request; not for user code.
  explicit Token(std::shared_ptr<detail::CompletionState> s) : state_(std::move(s)) {}

  // True once the request completed or failed. Never blocks.
  bool ready() const { return state_ && state_->done(); }
  // Blocks until completion. A default-constructed Token returns at once with
  // RequestError::ConnectionClosed.
  Completion wait() const;
  // Blocks at most `timeout` (max() = like wait()); std::nullopt if still
  // pending then.
  std::optional<Completion> wait_for(std::chrono::nanoseconds timeout) const;
  // The result if ready, std::nullopt otherwise. Never blocks.
  std::optional<Completion> poll() const;

  // Session store (MqttOptions::session_store; docs/session-store.md): a
  // QoS 1/2 publish is "stored" once its record reached the store's
  // durability (Durability::None: written to the file; PerBatch/PerMessage:
  // fdatasync'ed). A stored publish survives a kill -9 of this process: the
  // next process that opens the same client id and store resends it
  // (PUBLISH with DUP, or PUBREL) unless the broker acknowledged it and the
  // completion record was stored first. Independent of wait(): a publish
  // may complete before or after it is stored.
  //
  // True once stored. Never blocks; any thread.
  bool stored() const;
  // Blocks at most `timeout` (max() = no limit) until "stored" is settled;
  // std::nullopt if not settled by then. Any thread, any number of threads.
  // RequestError::None: stored. StoreFailed: the store could not write it
  // (the message is still sent, and its completion reported, as usual; it
  // will not survive a restart). Any other error: the request failed before
  // a record was made (e.g. PacketTooLarge), nothing is stored. Without a
  // store, and for QoS 0, nothing is ever recorded: it settles with the
  // completion, with its error (None on success). A default-constructed
  // Token returns ConnectionClosed at once.
  std::optional<RequestError> wait_stored(std::chrono::nanoseconds timeout) const;

 private:
  friend std::optional<size_t> wait_any(std::span<const Token> tokens,
                                        std::chrono::nanoseconds timeout);
  std::shared_ptr<detail::CompletionState> state_;
};

// Blocks until at least one of `tokens` is ready, at most `timeout` (max() =
// no limit). Returns the index of the first ready one (lowest index), or
// std::nullopt on timeout or when `tokens` is empty. A default-constructed
// Token counts as ready (as wait() returns at once for it). Any thread; any
// number of threads may wait on the same tokens.
std::optional<size_t> wait_any(std::span<const Token> tokens, std::chrono::nanoseconds timeout);

}  // namespace mqtt
