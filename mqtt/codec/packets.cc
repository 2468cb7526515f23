// Packet equality (binary fields compared by content) and packet_type().
#include <algorithm>
#include <optional>
#include <variant>

#include "mqtt/codec/packets.h"

namespace mqtt::codec {
namespace {

bool bytes_equal(Bytes a, Bytes b) {
  return a.size() == b.size() && (a.empty() || std::equal(a.begin(), a.end(), b.begin()));
}

}  // namespace

bool Will::operator==(const Will& o) const {
  return topic == o.topic && bytes_equal(payload, o.payload) && qos == o.qos &&
         retain == o.retain && properties == o.properties;
}

bool Connect::operator==(const Connect& o) const {
  if (password.has_value() != o.password.has_value()) return false;
  if (password && !bytes_equal(*password, *o.password)) return false;
  return protocol_version == o.protocol_version && client_id == o.client_id &&
         clean_start == o.clean_start && keep_alive == o.keep_alive && will == o.will &&
         username == o.username && properties == o.properties;
}

bool Publish::operator==(const Publish& o) const {
  return dup == o.dup && qos == o.qos && retain == o.retain && topic == o.topic &&
         packet_id == o.packet_id && bytes_equal(payload, o.payload) &&
         properties == o.properties;
}

PacketType packet_type(const Packet& p) {
  // The variant's alternatives are declared in packet type order.
  return static_cast<PacketType>(p.index() + 1);
}

}  // namespace mqtt::codec
