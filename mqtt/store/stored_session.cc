// How a store replays its records into a StoredSession.
#include <algorithm>

#include "mqtt/session_store.h"

namespace mqtt {

std::string_view to_string(Durability d) {
  switch (d) {
    case Durability::None: return "None";
    case Durability::PerBatch: return "PerBatch";
    case Durability::PerMessage: return "PerMessage";
  }
  return "Unknown";
}

void StoredSession::apply(const StoreRecord& r) {
  auto find_out = [&](uint16_t id) {
    return std::find_if(outgoing.begin(), outgoing.end(),
                        [id](const Publish& p) { return p.packet_id == id; });
  };
  switch (r.type) {
    case StoreRecord::Type::Publish: {
      if (auto it = find_out(r.packet_id); it != outgoing.end()) outgoing.erase(it);
      outgoing.push_back(Publish{r.packet_id, r.qos, false, r.bytes, r.version});
      return;
    }
    case StoreRecord::Type::PubRecReceived: {
      auto it = find_out(r.packet_id);
      if (it == outgoing.end()) return;
      Publish p = std::move(*it);
      outgoing.erase(it);
      p.pubrec_received = true;
      p.bytes.clear();
      outgoing.push_back(std::move(p));  // the PUBREL is the last packet sent for it
      return;
    }
    case StoreRecord::Type::PublishDone:
      if (auto it = find_out(r.packet_id); it != outgoing.end()) outgoing.erase(it);
      return;
    case StoreRecord::Type::IncomingQos2:
      if (std::find(incoming_qos2.begin(), incoming_qos2.end(), r.packet_id) ==
          incoming_qos2.end()) {
        incoming_qos2.push_back(r.packet_id);
      }
      return;
    case StoreRecord::Type::IncomingReleased:
      std::erase(incoming_qos2, r.packet_id);
      return;
    case StoreRecord::Type::ClientId:
      assigned_client_id.assign(r.bytes.begin(), r.bytes.end());
      return;
    case StoreRecord::Type::Clear:
      outgoing.clear();
      incoming_qos2.clear();
      return;
  }
}

}  // namespace mqtt
