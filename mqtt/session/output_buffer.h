// The session's output: bytes waiting to be written to the transport, and the
// QoS 0 tokens that complete when their packet has been fully written.
// Internal to the session.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "mqtt/completion.h"

namespace mqtt::session::detail {

// A byte queue that keeps its capacity: consumed bytes are dropped by moving
// a start index, and the unconsumed tail is moved to the front only when an
// append would otherwise grow the vector. Positions are absolute stream
// offsets (they never decrease, even across clear()).
class OutputBuffer {
 public:
  std::span<const uint8_t> data() const {
    return {buf_.get() + start_, len_ - start_};
  }
  size_t size() const { return len_ - start_; }
  bool empty() const { return size() == 0; }

  // Room for `n` more bytes at the end; the caller fills all of it.
  std::span<uint8_t> extend(size_t n);
  void append(std::span<const uint8_t> bytes);
  // Drops the last `n` bytes appended (an encode that failed after extend()).
  void shrink_back(size_t n) { len_ -= n; }

  void consume(size_t n);
  // Drops everything not yet consumed.
  void clear();

  uint64_t consumed_position() const { return base_ + start_; }
  // The unconsumed bytes from absolute position `from` (empty if consumed).
  std::span<const uint8_t> from(uint64_t pos) const {
    if (pos < consumed_position() || pos > end_position()) return {};
    return {buf_.get() + (pos - base_), static_cast<size_t>(end_position() - pos)};
  }
  uint64_t end_position() const { return base_ + len_; }

 private:
  void grow(size_t want);

  // Not a std::vector: extend() hands out room the caller fills at once,
  // and a vector would zero it first (a memset per publish).
  std::unique_ptr<uint8_t[]> buf_;
  size_t len_ = 0;     // bytes in buf_
  size_t cap_ = 0;     // room in buf_
  size_t start_ = 0;   // first unconsumed byte
  uint64_t base_ = 0;  // absolute position of buf_[0]
};

// A FIFO of QoS 0 publishes written into the output: (start, end position,
// token or null) in a ring that keeps its capacity.
class TokenRing {
 public:
  struct Entry {
    uint64_t start = 0;
    uint64_t end = 0;
    std::shared_ptr<mqtt::detail::CompletionState> completion;
  };
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  void push(uint64_t start, uint64_t end, std::shared_ptr<mqtt::detail::CompletionState> c);
  Entry& front() { return slots_[head_]; }
  void pop();

 private:
  std::vector<Entry> slots_;  // capacity: power of two
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace mqtt::session::detail
