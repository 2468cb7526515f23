#include <catch2/catch.hpp>

#include <numeric>
#include <vector>

#include "mqtt/session/packet_bytes.h"

using mqtt::session::PacketBytes;

namespace {

PacketBytes filled(size_t n) {
  PacketBytes b;
  b.resize_for_write(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 7);
  return b;
}

bool holds_pattern(const PacketBytes& b, size_t n) {
  if (b.size() != n) return false;
  for (size_t i = 0; i < n; ++i)
    if (b[i] != static_cast<uint8_t>(i * 7)) return false;
  return true;
}

}  // namespace

TEST_CASE("PacketBytes keeps small packets inline and large ones on the heap") {
  for (size_t n : {size_t{0}, size_t{1}, PacketBytes::kInline, PacketBytes::kInline + 1, size_t{5000}}) {
    INFO("size " << n);
    PacketBytes a = filled(n);
    const bool inline_storage = n <= PacketBytes::kInline;
    // Inline data lies inside the object itself.
    const auto* obj = reinterpret_cast<const uint8_t*>(&a);
    const bool inside = a.data() >= obj && a.data() <= obj + sizeof a;
    if (n > 0) CHECK(inside == inline_storage);
    REQUIRE(holds_pattern(a, n));

    PacketBytes copy = a;
    CHECK(holds_pattern(copy, n));
    if (n > 0) CHECK(copy.data() != a.data());
    const uint8_t* heap_before = a.data();
    PacketBytes moved = std::move(a);
    CHECK(holds_pattern(moved, n));
    CHECK(a.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
    if (!inline_storage) CHECK(moved.data() == heap_before);  // the buffer moved, not copied
    PacketBytes assigned;
    assigned = moved;
    CHECK(holds_pattern(assigned, n));
    std::span<const uint8_t> view = assigned;
    CHECK(view.size() == n);
  }
}

TEST_CASE("PacketBytes truncate keeps the prefix, across the inline boundary") {
  PacketBytes b = filled(PacketBytes::kInline + 40);
  b.truncate(PacketBytes::kInline + 10);
  CHECK(holds_pattern(b, PacketBytes::kInline + 10));
  b.truncate(20);  // now inline
  CHECK(holds_pattern(b, 20));
  b.truncate(30);  // never grows
  CHECK(b.size() == 20);
}
