// The simulator's only source of randomness: SplitMix64 from one 64-bit seed.
// Each component forks its own stream, so adding a draw in one component
// does not shift what the others decide.
#pragma once

#include <cstdint>

namespace sim {

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); 0 when n is 0.
  uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }
  // Uniform in [lo, hi].
  uint64_t between(uint64_t lo, uint64_t hi) { return lo + below(hi - lo + 1); }
  // True with probability permille / 1000.
  bool chance(uint32_t permille) { return below(1000) < permille; }
  Rng fork() { return Rng(next()); }

 private:
  uint64_t s_;
};

}  // namespace sim
