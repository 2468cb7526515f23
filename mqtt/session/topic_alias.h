// MQTT 5 Topic Aliases (spec 3.3.2.3.4), both ways, for the session.
//
// Mappings live for one network connection [MQTT-3.3.2-7]: the session calls
// reset() on each one (incoming at CONNECT, outgoing at CONNACK). Each table
// keeps its strings' capacity across resets, so a steady state, on this
// connection or the next, allocates nothing. Not thread-safe: the session's
// owner only.
//
//   IncomingAliases  broker -> client: alias -> topic, at most the maximum we
//                    announced in CONNECT.
//   OutgoingAliases  client -> broker: automatic aliases (an LRU of topics)
//                    and the user's manual ones, within the broker's maximum.
//   PublishLayout / write_publish: rewrite an encoded MQTT 5 PUBLISH with
//                    another topic (or none) and a Topic Alias, without
//                    decoding it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mqtt::session::detail {

// Broker -> client. Memory: 32 bytes (a std::string) per alias up to the
// announced maximum, allocated when the broker first uses an alias, plus the
// topics longer than 15 bytes (the string's own buffer).
class IncomingAliases {
 public:
  // A new connection that announced `maximum` (0: aliases refused). Forgets
  // every mapping.
  void reset(uint16_t maximum);
  uint16_t maximum() const { return maximum_; }
  // Maps 1 <= alias <= maximum() to a non-empty topic.
  void set(uint16_t alias, std::string_view topic);
  // The topic mapped to `alias` on this connection; empty when none is.
  std::string_view find(uint16_t alias) const;

 private:
  std::vector<std::string> topics_;  // index alias - 1; "" = not mapped
  uint16_t maximum_ = 0;
};

// Client -> broker, for one connection.
//
// Automatic aliases: 1..limit (limit = min(broker's Topic Alias Maximum, our
// cap)); a topic seen for the first time takes an unused alias, or the least
// recently used one's. Lookup is a hash probe (open addressing over alias
// numbers), so nothing allocates except a topic string that outgrows its
// slot. Memory: about 48 bytes per automatic alias plus 4 bytes of index,
// plus topics longer than 15 bytes.
//
// Manual aliases: the alias number the user chose for a topic. The topic last
// used with each one is kept across connections (a publish with only the
// alias resolves to it); the broker is told the mapping again on every new
// connection. A manual alias within 1..limit leaves the automatic pool for
// the rest of the connection, so the two never fight over a number. Memory:
// about 40 bytes per alias number up to the highest manual one used, plus
// topics longer than 15 bytes.
class OutgoingAliases {
 public:
  struct Use {
    uint16_t alias = 0;   // 0: send the topic without an alias
    bool mapped = false;  // the broker already maps `alias` to the topic: omit it
  };

  // A new connection: the broker's Topic Alias Maximum (0: none) and our cap
  // on automatic aliases (0: automatic aliasing off).
  void reset(uint16_t broker_maximum, uint16_t auto_cap);
  uint16_t broker_maximum() const { return broker_maximum_; }
  uint16_t auto_limit() const { return limit_; }

  // The alias for a publish to `topic` and whether the broker knows it; a
  // new mapping (mapped = false) counts as sent from here on. alias 0 when
  // automatic aliasing is off or every alias is pinned by a manual one.
  Use automatic(std::string_view topic);
  // Manual alias 1 <= alias <= broker_maximum() for `topic` (non-empty).
  Use manual(uint16_t alias, std::string_view topic);
  // The publish manual() answered with mapped = false went without its
  // alias after all: the broker has not learnt the mapping.
  void forget_manual(uint16_t alias);
  // The topic last used with manual alias `alias` (on any connection); empty
  // when none.
  std::string_view manual_topic(uint16_t alias) const;

 private:
  enum class State : uint8_t { Free, Used, Pinned };
  struct Slot {
    std::string topic;
    size_t hash = 0;
    uint16_t prev = 0;  // LRU list through the slots; slot 0 is its head
    uint16_t next = 0;
    State state = State::Free;
  };
  struct Manual {
    std::string topic;
    uint64_t connection = 0;  // connection_ when last sent with its topic
  };

  uint16_t find(std::string_view topic, size_t hash) const;
  void index(uint16_t alias);
  void unindex(uint16_t alias);
  void link_front(uint16_t alias);
  void unlink(uint16_t alias);
  uint16_t take_slot();

  std::vector<Slot> slots_;       // index = alias; [0] is the list head
  std::vector<uint16_t> table_;   // open addressing: alias, 0 = empty
  uint16_t limit_ = 0;
  uint16_t next_unused_ = 1;
  uint16_t broker_maximum_ = 0;
  std::vector<Manual> manual_;    // index alias - 1
  uint64_t connection_ = 0;
};

// Where the parts of an encoded MQTT 5 PUBLISH lie.
struct PublishLayout {
  size_t topic_at = 0;     // the topic's two length bytes
  size_t topic_size = 0;
  size_t props_at = 0;     // the Property Length (after the packet id)
  size_t props_vbi = 0;    // bytes of the Property Length
  uint32_t props_size = 0;
  size_t total = 0;
};

// nullopt when `bytes` is not a whole MQTT 5 PUBLISH.
std::optional<PublishLayout> publish_layout(std::span<const uint8_t> bytes);
// Size of the packet write_publish() writes.
size_t rewritten_size(const PublishLayout& l, size_t topic_size, uint16_t alias);
// Writes the PUBLISH `bytes` (laid out as `l`) with `topic` as its topic and,
// when alias != 0, a Topic Alias property first among its properties. The
// rest (flags, packet id, other properties, payload) is copied. `dst` has
// rewritten_size() bytes and does not overlap `bytes`; `topic` may point
// into `bytes`.
void write_publish(std::span<const uint8_t> bytes, const PublishLayout& l,
                   std::string_view topic, uint16_t alias, std::span<uint8_t> dst);

}  // namespace mqtt::session::detail
