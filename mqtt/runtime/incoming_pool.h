// Recycled Incoming objects for one connection's events.
//
// The reactor builds each received packet into a pooled node and hands the
// consumer a small handle (detail::IncomingRef) instead of moving a ~1 KB
// Incoming through the event ring. When the last event holding a node is
// destroyed, on whatever thread, the node goes back onto a lock-free stack;
// the reactor takes that whole stack at once when its own free list runs dry.
// Only one thread (the reactor) takes nodes, so the stack has no ABA hazard.
//
// Lifetime: the pool counts its owner plus every node handed out; whoever
// drops the last count frees the pool and all its nodes. Events may outlive
// the connection.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>

#include "mqtt/event.h"

namespace mqtt::runtime {

class IncomingPool {
 public:
  // The owner's handle: close() when done with it.
  static IncomingPool* create() { return new IncomingPool(); }
  void close() { unref(); }

  IncomingPool(const IncomingPool&) = delete;
  IncomingPool& operator=(const IncomingPool&) = delete;

  // Owner thread only. `raw` is one whole packet and `decoded` its views.
  detail::IncomingRef make(std::span<const uint8_t> raw, const codec::Packet& decoded,
                           ProtocolVersion v, std::string broker = {});

  // Any thread: the node's last reference is gone.
  void give_back(detail::IncomingNode* n) noexcept;

  // Nodes allocated so far (for tests).
  uint64_t allocated() const { return allocated_; }

 private:
  IncomingPool() = default;
  ~IncomingPool();
  void unref() noexcept;

  std::atomic<detail::IncomingNode*> returned_{nullptr};
  detail::IncomingNode* free_ = nullptr;  // owner thread only
  std::atomic<int64_t> refs_{1};          // the owner + nodes handed out
  uint64_t allocated_ = 0;                // owner thread only
};

}  // namespace mqtt::runtime
