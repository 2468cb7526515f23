// Topic alias tables and the PUBLISH rewrite (see topic_alias.h).
#include "mqtt/session/topic_alias.h"

#include <algorithm>
#include <cstring>
#include <functional>

namespace mqtt::session::detail {

// --- broker -> client --------------------------------------------------------

void IncomingAliases::reset(uint16_t maximum) {
  maximum_ = maximum;
  for (auto& t : topics_) t.clear();  // capacity kept
}

void IncomingAliases::set(uint16_t alias, std::string_view topic) {
  if (alias == 0 || alias > maximum_) return;
  if (topics_.size() < maximum_) topics_.resize(maximum_);
  topics_[alias - 1u].assign(topic);
}

std::string_view IncomingAliases::find(uint16_t alias) const {
  if (alias == 0 || alias > topics_.size() || alias > maximum_) return {};
  return topics_[alias - 1u];
}

// --- client -> broker --------------------------------------------------------

void OutgoingAliases::reset(uint16_t broker_maximum, uint16_t auto_cap) {
  ++connection_;  // every manual mapping is now unknown to the broker
  broker_maximum_ = broker_maximum;
  limit_ = std::min(broker_maximum, auto_cap);
  if (limit_ == 0) return;  // the old slots stay unused until a reset with a limit
  slots_.resize(size_t{limit_} + 1);
  for (auto& s : slots_) {
    s.topic.clear();
    s.state = State::Free;
    s.prev = s.next = 0;
  }
  size_t n = 4;
  while (n < 2 * size_t{limit_}) n *= 2;
  table_.assign(n, 0);
  next_unused_ = 1;
}

uint16_t OutgoingAliases::find(std::string_view topic, size_t hash) const {
  const size_t mask = table_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const uint16_t a = table_[i];
    if (a == 0) return 0;
    if (slots_[a].hash == hash && slots_[a].topic == topic) return a;
  }
}

void OutgoingAliases::index(uint16_t alias) {
  const size_t mask = table_.size() - 1;
  size_t i = slots_[alias].hash & mask;
  while (table_[i] != 0) i = (i + 1) & mask;
  table_[i] = alias;
}

// Linear probing deletion by backward shift: no tombstones, so lookups stay
// short however many topics come and go.
void OutgoingAliases::unindex(uint16_t alias) {
  const size_t mask = table_.size() - 1;
  size_t hole = slots_[alias].hash & mask;
  while (table_[hole] != alias) hole = (hole + 1) & mask;
  for (size_t j = (hole + 1) & mask; table_[j] != 0; j = (j + 1) & mask) {
    const size_t home = slots_[table_[j]].hash & mask;
    // The entry at j may fill the hole unless its home lies in (hole, j].
    const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (!stays) {
      table_[hole] = table_[j];
      hole = j;
    }
  }
  table_[hole] = 0;
}

void OutgoingAliases::link_front(uint16_t alias) {
  Slot& head = slots_[0];
  Slot& s = slots_[alias];
  s.prev = 0;
  s.next = head.next;
  slots_[head.next].prev = alias;  // head.next == 0 (empty list): head.prev
  head.next = alias;
}

void OutgoingAliases::unlink(uint16_t alias) {
  Slot& s = slots_[alias];
  slots_[s.prev].next = s.next;
  slots_[s.next].prev = s.prev;
  s.prev = s.next = 0;
}

// An unused alias first, then the least recently used one; 0 when every
// alias is pinned.
uint16_t OutgoingAliases::take_slot() {
  while (next_unused_ <= limit_ && slots_[next_unused_].state == State::Pinned) ++next_unused_;
  if (next_unused_ <= limit_) return next_unused_++;
  return slots_[0].prev;  // the list's tail; 0 when the list is empty
}

OutgoingAliases::Use OutgoingAliases::automatic(std::string_view topic) {
  if (limit_ == 0) return {};
  const size_t hash = std::hash<std::string_view>{}(topic);
  if (const uint16_t a = find(topic, hash)) {
    if (slots_[0].next != a) {
      unlink(a);
      link_front(a);
    }
    return {a, true};
  }
  const uint16_t a = take_slot();
  if (a == 0) return {};
  Slot& s = slots_[a];
  if (s.state == State::Used) {
    unindex(a);
    unlink(a);
  }
  s.topic.assign(topic);
  s.hash = hash;
  s.state = State::Used;
  link_front(a);
  index(a);
  return {a, false};
}

OutgoingAliases::Use OutgoingAliases::manual(uint16_t alias, std::string_view topic) {
  if (alias == 0 || alias > broker_maximum_) return {};
  if (alias <= limit_ && slots_[alias].state != State::Pinned) {
    // Out of the automatic pool for the rest of this connection.
    if (slots_[alias].state == State::Used) {
      unindex(alias);
      unlink(alias);
    }
    slots_[alias].state = State::Pinned;
  }
  if (manual_.size() < alias) manual_.resize(alias);
  Manual& m = manual_[alias - 1u];
  if (m.connection == connection_ && m.topic == topic) return {alias, true};
  m.topic.assign(topic);
  m.connection = connection_;
  return {alias, false};
}

void OutgoingAliases::forget_manual(uint16_t alias) {
  if (alias != 0 && alias <= manual_.size()) manual_[alias - 1u].connection = 0;
}

std::string_view OutgoingAliases::manual_topic(uint16_t alias) const {
  if (alias == 0 || alias > manual_.size()) return {};
  return manual_[alias - 1u].topic;
}

// --- the PUBLISH rewrite -------------------------------------------------------

namespace {

size_t vbi_size(size_t v) { return v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : 4; }

size_t put_vbi(uint8_t* p, size_t v) {
  size_t n = 0;
  do {
    uint8_t b = static_cast<uint8_t>(v & 0x7F);
    v >>= 7;
    if (v) b |= 0x80;
    p[n++] = b;
  } while (v);
  return n;
}

// Reads a Variable Byte Integer at `at`; its size, or 0 when malformed.
size_t get_vbi(std::span<const uint8_t> b, size_t at, uint32_t& v) {
  v = 0;
  for (size_t i = 0; i < 4 && at + i < b.size(); ++i) {
    v |= uint32_t{b[at + i] & 0x7Fu} << (7 * i);
    if ((b[at + i] & 0x80) == 0) return i + 1;
  }
  return 0;
}

// The Remaining Length of the rewritten packet.
size_t remaining_length(const PublishLayout& l, size_t topic_size, uint16_t alias) {
  const size_t props = l.props_size + (alias ? 3 : 0);
  // After the topic: the packet id, the properties and the payload; the
  // Property Length is counted anew.
  const size_t tail = l.total - (l.topic_at + 2 + l.topic_size) - l.props_vbi - l.props_size;
  return 2 + topic_size + tail + vbi_size(props) + props;
}

}  // namespace

std::optional<PublishLayout> publish_layout(std::span<const uint8_t> b) {
  if (b.empty() || (b[0] >> 4) != 3) return std::nullopt;
  uint32_t rl;
  const size_t rl_size = get_vbi(b, 1, rl);
  if (rl_size == 0 || 1 + rl_size + size_t{rl} != b.size()) return std::nullopt;
  PublishLayout l;
  l.total = b.size();
  l.topic_at = 1 + rl_size;
  if (l.topic_at + 2 > b.size()) return std::nullopt;
  l.topic_size = (size_t{b[l.topic_at]} << 8) | b[l.topic_at + 1];
  const bool has_id = ((b[0] >> 1) & 3) != 0;
  l.props_at = l.topic_at + 2 + l.topic_size + (has_id ? 2 : 0);
  if (l.props_at >= b.size()) return std::nullopt;
  l.props_vbi = get_vbi(b, l.props_at, l.props_size);
  if (l.props_vbi == 0 || l.props_at + l.props_vbi + l.props_size > b.size()) return std::nullopt;
  return l;
}

size_t rewritten_size(const PublishLayout& l, size_t topic_size, uint16_t alias) {
  const size_t rl = remaining_length(l, topic_size, alias);
  return 1 + vbi_size(rl) + rl;
}

void write_publish(std::span<const uint8_t> b, const PublishLayout& l, std::string_view topic,
                   uint16_t alias, std::span<uint8_t> dst) {
  uint8_t* p = dst.data();
  p[0] = b[0];
  size_t at = 1 + put_vbi(p + 1, remaining_length(l, topic.size(), alias));
  p[at++] = static_cast<uint8_t>(topic.size() >> 8);
  p[at++] = static_cast<uint8_t>(topic.size() & 0xFF);
  if (!topic.empty()) std::memcpy(p + at, topic.data(), topic.size());
  at += topic.size();
  const size_t id_at = l.topic_at + 2 + l.topic_size;
  const size_t id_size = l.props_at - id_at;  // 0 or 2
  if (id_size) std::memcpy(p + at, b.data() + id_at, id_size);
  at += id_size;
  at += put_vbi(p + at, l.props_size + (alias ? 3u : 0u));
  if (alias) {
    p[at++] = 0x23;  // Topic Alias; properties may come in any order
    p[at++] = static_cast<uint8_t>(alias >> 8);
    p[at++] = static_cast<uint8_t>(alias & 0xFF);
  }
  const size_t rest_at = l.props_at + l.props_vbi;
  if (l.total > rest_at) std::memcpy(p + at, b.data() + rest_at, l.total - rest_at);
}

}  // namespace mqtt::session::detail
