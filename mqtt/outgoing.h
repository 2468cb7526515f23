// What the client wrote to the network, reported (when asked for) as events.
#pragma once

#include <cstdint>
#include <string_view>

namespace mqtt {

// One packet written to the network (Event::Kind::Outgoing).
struct Outgoing {
  // The packet's type.
  enum class Type : uint8_t {
    Connect,
    Publish,
    Subscribe,
    Unsubscribe,
    PubAck,
    PubRec,
    PubRel,
    PubComp,
    PingReq,
    Disconnect,
    Auth,
  };
  Type type = Type::Publish;  // which packet
  uint16_t packet_id = 0;  // 0 for packets without one
  bool dup = false;        // a PUBLISH resent after reconnect
};

// The packet name, e.g. "PUBACK". Pure: any thread, never blocks.
std::string_view to_string(Outgoing::Type t);

}  // namespace mqtt
