// The encoded bytes of one outgoing packet (a request, and the in-flight copy
// kept for resends). Packets of up to kInline bytes live inside the object, so
// a small publish costs no heap allocation from the caller's encode to the
// broker's acknowledgement; larger ones go to the heap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace mqtt::session {

class PacketBytes {
 public:
  static constexpr size_t kInline = 128;

  PacketBytes() = default;
  PacketBytes(const PacketBytes& o) { assign(o.data(), o.size_); }
  PacketBytes& operator=(const PacketBytes& o) {
    if (this != &o) assign(o.data(), o.size_);
    return *this;
  }
  PacketBytes(PacketBytes&& o) noexcept { take(o); }
  PacketBytes& operator=(PacketBytes&& o) noexcept {
    if (this != &o) take(o);
    return *this;
  }

  // Size becomes `n`; the contents are unspecified (callers encode into it).
  void resize_for_write(size_t n) {
    if (n > kInline && (!heap_ || n > heap_capacity_)) {
      heap_ = std::make_unique<uint8_t[]>(n);
      heap_capacity_ = n;
    }
    size_ = n;
  }
  // Shrinks to the first `n` bytes (n <= size()), keeping them.
  void truncate(size_t n) {
    if (n >= size_) return;
    if (size_ > kInline && n <= kInline) std::memcpy(inline_, heap_.get(), n);
    size_ = n;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint8_t* data() { return size_ <= kInline ? inline_ : heap_.get(); }
  const uint8_t* data() const { return size_ <= kInline ? inline_ : heap_.get(); }
  uint8_t& operator[](size_t i) { return data()[i]; }
  uint8_t operator[](size_t i) const { return data()[i]; }
  std::span<uint8_t> span() { return {data(), size_}; }
  std::span<const uint8_t> span() const { return {data(), size_}; }
  operator std::span<const uint8_t>() const { return span(); }  // NOLINT

 private:
  void assign(const uint8_t* p, size_t n) {
    resize_for_write(n);
    if (n) std::memcpy(data(), p, n);
  }
  void take(PacketBytes& o) {
    size_ = o.size_;
    if (size_ <= kInline) {
      if (size_) std::memcpy(inline_, o.inline_, size_);
    }
    heap_ = std::move(o.heap_);
    heap_capacity_ = o.heap_capacity_;
    o.heap_capacity_ = 0;
    o.size_ = 0;
  }

  size_t size_ = 0;
  size_t heap_capacity_ = 0;
  std::unique_ptr<uint8_t[]> heap_;
  uint8_t inline_[kInline];
};

}  // namespace mqtt::session
