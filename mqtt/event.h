// What Connection::next() yields: an incoming packet, an outgoing packet (when
// asked for), a session reset notice, or a connection error.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "mqtt/codec/packets.h"
#include "mqtt/connection_error.h"
#include "mqtt/outgoing.h"

namespace mqtt {

// An incoming packet that owns its bytes: `packet()`'s views (topic, payload,
// string properties) point into this object's own buffer and stay valid as
// long as it lives, also after it is moved or copied. Packets of up to
// kInlineBytes (acks, small publishes) are stored inline: no heap allocation.
class Incoming {
 public:
  static constexpr size_t kInlineBytes = 128;

  Incoming() = default;
  // Copies `raw` (one whole packet) and rebinds `decoded`'s views to the copy.
  Incoming(std::span<const uint8_t> raw, const codec::Packet& decoded, ProtocolVersion v);
  Incoming(const Incoming& o);
  Incoming& operator=(const Incoming& o);
  Incoming(Incoming&& o) noexcept;
  Incoming& operator=(Incoming&& o) noexcept;

  const codec::Packet& packet() const { return packet_; }
  codec::PacketType type() const { return codec::packet_type(packet_); }
  // Non-null when the packet is a PUBLISH.
  const codec::Publish* publish() const { return std::get_if<codec::Publish>(&packet_); }
  std::span<const uint8_t> raw() const { return {data(), size_}; }

 private:
  const uint8_t* data() const { return size_ <= kInlineBytes ? inline_ : heap_.data(); }
  // Stores `raw` and points packet_'s views (which point into `raw`) at it.
  void assign(std::span<const uint8_t> raw, const codec::Packet& decoded);

  uint8_t inline_[kInlineBytes];
  std::vector<uint8_t> heap_;  // used when size_ > kInlineBytes
  size_t size_ = 0;
  codec::Packet packet_;
  ProtocolVersion version_ = ProtocolVersion::V311;
};

// The broker did not resume the session; these in-flight messages were
// dropped (their tokens fail with RequestError::SessionReset).
struct SessionReset {
  uint32_t dropped_publishes = 0;
  uint32_t dropped_pubrels = 0;
};

class Event {
 public:
  using Variant = std::variant<Incoming, Outgoing, SessionReset, ConnectionError>;

  Event() = default;
  Event(Incoming i) : v_(std::move(i)) {}         // NOLINT
  Event(Outgoing o) : v_(o) {}                    // NOLINT
  Event(SessionReset s) : v_(s) {}                // NOLINT
  Event(ConnectionError e) : v_(std::move(e)) {}  // NOLINT

  const Incoming* incoming() const { return std::get_if<Incoming>(&v_); }
  const Outgoing* outgoing() const { return std::get_if<Outgoing>(&v_); }
  const SessionReset* session_reset() const { return std::get_if<SessionReset>(&v_); }
  const ConnectionError* error() const { return std::get_if<ConnectionError>(&v_); }
  // Shortcut: the incoming PUBLISH, or null.
  const codec::Publish* publish() const { return incoming() ? incoming()->publish() : nullptr; }

  const Variant& variant() const { return v_; }

 private:
  Variant v_;
};

// One line, e.g. `Incoming(Publish(topic="a/b", qos=1, pkid=3, payload=5 bytes))`.
std::ostream& operator<<(std::ostream& os, const Event& e);
std::string to_string(const Event& e);

}  // namespace mqtt
