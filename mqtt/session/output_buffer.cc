#include "mqtt/session/output_buffer.h"

#include <cstring>

namespace mqtt::session::detail {

std::span<uint8_t> OutputBuffer::extend(size_t n) {
  if (start_ == buf_.size()) {
    base_ += start_;
    start_ = 0;
    buf_.clear();  // keeps capacity
  } else if (start_ > 0 && buf_.size() + n > buf_.capacity()) {
    const size_t live = buf_.size() - start_;
    std::memmove(buf_.data(), buf_.data() + start_, live);
    base_ += start_;
    start_ = 0;
    buf_.resize(live);
  }
  const size_t old = buf_.size();
  buf_.resize(old + n);
  return {buf_.data() + old, n};
}

void OutputBuffer::append(std::span<const uint8_t> bytes) {
  auto dst = extend(bytes.size());
  if (!bytes.empty()) std::memcpy(dst.data(), bytes.data(), bytes.size());
}

void OutputBuffer::consume(size_t n) {
  if (n > size()) n = size();
  start_ += n;
  if (start_ == buf_.size()) {
    base_ += start_;
    start_ = 0;
    buf_.clear();
  }
}

void OutputBuffer::clear() {
  base_ += buf_.size();
  start_ = 0;
  buf_.clear();
}

void TokenRing::push(uint64_t start, uint64_t end,
                     std::shared_ptr<mqtt::detail::CompletionState> c) {
  if (size_ == slots_.size()) {
    std::vector<Entry> bigger(slots_.empty() ? 16 : slots_.size() * 2);
    for (size_t i = 0; i < size_; ++i) {
      bigger[i] = std::move(slots_[(head_ + i) & (slots_.size() - 1)]);
    }
    slots_ = std::move(bigger);
    head_ = 0;
  }
  Entry& e = slots_[(head_ + size_) & (slots_.size() - 1)];
  e.start = start;
  e.end = end;
  e.completion = std::move(c);
  ++size_;
}

void TokenRing::pop() {
  slots_[head_].completion.reset();
  head_ = (head_ + 1) & (slots_.size() - 1);
  --size_;
}

}  // namespace mqtt::session::detail
