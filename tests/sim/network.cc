#include "tests/sim/network.h"

#include <algorithm>

namespace sim {

void Pipe::write(std::span<const uint8_t> bytes, TimePoint now, Duration max_latency, Rng& rng) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    // Mostly whole writes, sometimes single bytes, sometimes random cuts.
    size_t n = bytes.size() - pos;
    const uint64_t how = rng.below(10);
    if (how == 0) n = 1;
    else if (how < 4) n = static_cast<size_t>(rng.between(1, n));
    const Duration lat{static_cast<int64_t>(rng.below(static_cast<uint64_t>(max_latency.count()) + 1))};
    TimePoint at = std::max(now + lat, last_);
    last_ = at;
    chunks_.push_back(Chunk{at, std::vector<uint8_t>(bytes.begin() + pos, bytes.begin() + pos + n)});
    pos += n;
  }
}

size_t Pipe::deliver(TimePoint now, std::vector<uint8_t>& out) {
  size_t n = 0;
  while (!chunks_.empty() && chunks_.front().at <= now) {
    out.insert(out.end(), chunks_.front().bytes.begin(), chunks_.front().bytes.end());
    n += chunks_.front().bytes.size();
    chunks_.pop_front();
  }
  return n;
}

void Pipe::cut(Rng& rng, std::vector<uint8_t>& out) {
  size_t keep = static_cast<size_t>(rng.below(in_flight() + 1));
  for (auto& c : chunks_) {
    if (keep == 0) break;
    const size_t n = std::min(keep, c.bytes.size());
    out.insert(out.end(), c.bytes.begin(), c.bytes.begin() + n);
    keep -= n;
  }
  chunks_.clear();
}

size_t Pipe::in_flight() const {
  size_t n = 0;
  for (const auto& c : chunks_) n += c.bytes.size();
  return n;
}

TimePoint Pipe::next_arrival() const {
  return chunks_.empty() ? TimePoint::max() : chunks_.front().at;
}

}  // namespace sim
