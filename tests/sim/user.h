// The simulated user: at random moments it publishes (QoS 0/1/2, with a
// token or untracked), subscribes and unsubscribes (with tokens), and asks
// for the graceful disconnect. Requests go into the client's lanes, which
// refuse them when full (the Client API's QueueFull: never accepted).
#pragma once

#include <cstdint>

#include "tests/sim/checker.h"
#include "tests/sim/client.h"
#include "tests/sim/config.h"
#include "tests/sim/rng.h"

namespace sim {

class User {
 public:
  User(const SimConfig& cfg, Checker& chk, Client& client, Rng rng, Trace trace)
      : cfg_(cfg), chk_(chk), client_(client), rng_(rng), trace_(std::move(trace)) {}

  // One step of activity.
  void act();
  void publish();
  void subscribe(bool unsubscribe);
  // Queues the graceful disconnect behind every publish already queued.
  void disconnect(TimePoint deadline);
  uint64_t next_message() { return ++next_n_; }

 private:
  const SimConfig& cfg_;
  Checker& chk_;
  Client& client_;
  Rng rng_;
  Trace trace_;
  uint64_t next_n_ = 0;
};

}  // namespace sim
