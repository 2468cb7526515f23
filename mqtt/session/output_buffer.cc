#include "mqtt/session/output_buffer.h"

#include <cstring>

namespace mqtt::session::detail {

std::span<uint8_t> OutputBuffer::extend(size_t n) {
  if (start_ == len_) {
    base_ += start_;
    start_ = 0;
    len_ = 0;  // keeps capacity
  } else if (start_ > 0 && len_ + n > cap_) {
    const size_t live = len_ - start_;
    std::memmove(buf_.get(), buf_.get() + start_, live);
    base_ += start_;
    start_ = 0;
    len_ = live;
  }
  if (len_ + n > cap_) grow(len_ + n);
  const size_t old = len_;
  len_ += n;
  return {buf_.get() + old, n};
}

void OutputBuffer::grow(size_t want) {
  size_t cap = cap_ < 256 ? 256 : cap_ * 2;
  if (cap < want) cap = want;
  auto bigger = std::make_unique_for_overwrite<uint8_t[]>(cap);
  if (len_ > 0) std::memcpy(bigger.get(), buf_.get(), len_);
  buf_ = std::move(bigger);
  cap_ = cap;
}

void OutputBuffer::append(std::span<const uint8_t> bytes) {
  auto dst = extend(bytes.size());
  if (!bytes.empty()) std::memcpy(dst.data(), bytes.data(), bytes.size());
}

void OutputBuffer::consume(size_t n) {
  if (n > size()) n = size();
  start_ += n;
  if (start_ == len_) {
    base_ += start_;
    start_ = 0;
    len_ = 0;
  }
}

void OutputBuffer::clear() {
  base_ += len_;
  start_ = 0;
  len_ = 0;
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
