// Packet identifier bookkeeping. Internal to the session.
//
// Identifier spaces (ours, for packets we send):
//   1 .. publish_range          outgoing QoS 1/2 PUBLISH (slot array, O(1) by id)
//   publish_range+1 .. 65535    SUBSCRIBE / UNSUBSCRIBE (a short list)
// so a publish id can never collide with a subscribe/unsubscribe id.
// publish_range = clamp(max_inflight, 1, 65535 - kMinControlIds).
//
// The broker's identifiers (incoming QoS 1/2) are a separate space, tracked
// with IdSet bitsets.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "mqtt/codec/types.h"
#include "mqtt/completion.h"
#include "mqtt/session/packet_bytes.h"

namespace mqtt::session::detail {

inline constexpr uint32_t kMinControlIds = 256;

inline uint16_t publish_id_range(uint16_t max_inflight) {
  uint32_t r = max_inflight == 0 ? 1 : max_inflight;
  if (r > 65535 - kMinControlIds) r = 65535 - kMinControlIds;
  return static_cast<uint16_t>(r);
}

// One outgoing QoS 1/2 PUBLISH in flight.
struct OutPublish {
  enum class Stage : uint8_t {
    Free,
    AwaitAck,   // PUBLISH sent; QoS 1 waits for PUBACK, QoS 2 for PUBREC
    AwaitComp,  // QoS 2: PUBREL sent, waits for PUBCOMP
  };
  Stage stage = Stage::Free;
  QoS qos = QoS::AtLeastOnce;
  // Session store (SessionConfig::store): the PUBREC record is not stored
  // yet, so the PUBREL waits (docs/session-store.md, rule 1); store_seq is
  // that record's sequence number.
  bool pubrel_held = false;
  uint64_t seq = 0;  // order of the last packet (PUBLISH or PUBREL) sent for it
  uint64_t store_seq = 0;
  PacketBytes bytes;  // the PUBLISH, id filled in (kept for resend)
  std::shared_ptr<mqtt::detail::CompletionState> completion;
};

// Outgoing publishes in flight, indexed by packet id. Ids are handed out
// cyclically within 1..range and an id is never handed out while its slot is
// busy. The slot array (range + 1 slots of ~192 bytes) is allocated by the
// first allocate() and kept, so a connection that never publishes at QoS 1/2
// does not pay for it; allocate() throws std::bad_alloc only then.
class PublishWindow {
 public:
  explicit PublishWindow(uint16_t range) : range_(range) {}

  uint16_t range() const { return range_; }
  uint32_t count() const { return count_; }
  bool full() const { return count_ >= range_; }

  // A free id (0 if every id is busy). The slot becomes busy (AwaitAck).
  uint16_t allocate();
  // Makes `id` busy (AwaitAck), for a restored session. False when `id` is
  // outside 1..range or busy already.
  bool claim(uint16_t id);
  // The slot for `id`, or null when `id` is outside the range or free.
  // (slots_ is empty or has range + 1 slots.)
  OutPublish* find(uint16_t id) {
    if (id == 0 || id >= slots_.size() || slots_[id].stage == OutPublish::Stage::Free) return nullptr;
    return &slots_[id];
  }
  // A busy slot (an id from allocate() or find()).
  OutPublish& slot(uint16_t id) { return slots_[id]; }
  // Frees the slot (drops its bytes and token reference).
  void release(uint16_t id);

 private:
  std::vector<OutPublish> slots_;  // index = packet id; [0] unused; empty until used
  uint16_t range_;
  uint16_t next_ = 1;
  uint32_t count_ = 0;
};

// A set of 16-bit packet identifiers, O(1) operations. The 8 KiB bitmap is
// allocated by the first insert() and kept (clear() zeroes it), so an idle
// connection, or one that never sees the kind of packet a set tracks, pays
// only a pointer and a count; after the first insert nothing allocates.
// insert() throws std::bad_alloc only on that first insert.
class IdSet {
 public:
  bool test(uint16_t id) const { return words_ && ((words_[id >> 6] >> (id & 63)) & 1u); }
  bool insert(uint16_t id) {
    if (!words_) words_ = std::make_unique<uint64_t[]>(kWords);  // zero-filled
    uint64_t& w = words_[id >> 6];
    const uint64_t bit = uint64_t{1} << (id & 63);
    if (w & bit) return false;
    w |= bit;
    ++count_;
    return true;
  }
  bool erase(uint16_t id) {
    if (!words_) return false;
    uint64_t& w = words_[id >> 6];
    const uint64_t bit = uint64_t{1} << (id & 63);
    if (!(w & bit)) return false;
    w &= ~bit;
    --count_;
    return true;
  }
  void clear() {
    if (words_ && count_ != 0) std::fill_n(words_.get(), kWords, uint64_t{0});
    count_ = 0;
  }
  uint32_t size() const { return count_; }
  // Whether the bitmap has been allocated (for tests).
  bool allocated() const { return words_ != nullptr; }

 private:
  static constexpr size_t kWords = 65536 / 64;
  std::unique_ptr<uint64_t[]> words_;  // null until the first insert
  uint32_t count_ = 0;
};

}  // namespace mqtt::session::detail
