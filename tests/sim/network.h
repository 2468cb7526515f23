// The simulated TCP connection between the client and the broker: two
// in-order byte pipes. Bytes written are cut into chunks that arrive after a
// random latency (never reordered), so packets split and coalesce at any
// byte. A stall stops delivery; a drop discards what is in flight (after
// delivering a random prefix: the connection dies at any byte).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "tests/sim/rng.h"

namespace sim {

using TimePoint = std::chrono::steady_clock::time_point;
using Duration = std::chrono::nanoseconds;

class Pipe {
 public:
  void write(std::span<const uint8_t> bytes, TimePoint now, Duration max_latency, Rng& rng);
  // Bytes due by `now` (all chunks whose time has come), appended to `out`.
  size_t deliver(TimePoint now, std::vector<uint8_t>& out);
  // A random prefix of what is in flight, appended to `out`; the rest is gone.
  void cut(Rng& rng, std::vector<uint8_t>& out);
  void clear() {
    chunks_.clear();
    last_ = {};
  }
  bool empty() const { return chunks_.empty(); }
  size_t in_flight() const;
  // Earliest arrival, TimePoint::max() when empty.
  TimePoint next_arrival() const;

 private:
  struct Chunk {
    TimePoint at;
    std::vector<uint8_t> bytes;
  };
  std::deque<Chunk> chunks_;
  TimePoint last_{};  // arrivals never go backwards (in order)
};

class Network {
 public:
  explicit Network(Rng rng) : rng_(rng) {}
  Pipe to_broker, to_client;
  bool up = false;
  // The broker closed its end (after a DISCONNECT): the client still reads
  // what is in flight to it, then sees the end of the stream.
  bool broker_gone = false;
  bool stalled = false;  // nothing delivered either way
  TimePoint stall_until{};
  Rng& rng() { return rng_; }

  // A new connection, or none: nothing in flight either way.
  void open() { reset(true); }
  void close() { reset(false); }

 private:
  void reset(bool is_up) {
    up = is_up;
    stalled = false;
    broker_gone = false;
    to_broker.clear();
    to_client.clear();
  }
  Rng rng_;
};

}  // namespace sim
