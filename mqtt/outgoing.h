// What the client wrote to the network, reported (when asked for) as events.
#pragma once

#include <cstdint>
#include <string_view>

namespace mqtt {

struct Outgoing {
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
  Type type = Type::Publish;
  uint16_t packet_id = 0;  // 0 for packets without one
  bool dup = false;        // a PUBLISH resent after reconnect
};

std::string_view to_string(Outgoing::Type t);

}  // namespace mqtt
