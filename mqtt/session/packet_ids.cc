#include "mqtt/session/packet_ids.h"

namespace mqtt::session::detail {

uint16_t PublishWindow::allocate() {
  if (count_ >= range_) return 0;
  if (slots_.empty()) slots_.resize(size_t{range_} + 1);
  for (uint32_t i = 0; i < range_; ++i) {
    const uint16_t id = next_;
    next_ = next_ >= range_ ? 1 : static_cast<uint16_t>(next_ + 1);
    if (slots_[id].stage == OutPublish::Stage::Free) {
      slots_[id].stage = OutPublish::Stage::AwaitAck;
      ++count_;
      return id;
    }
  }
  return 0;
}

bool PublishWindow::claim(uint16_t id) {
  if (id == 0 || id > range_) return false;
  if (slots_.empty()) slots_.resize(size_t{range_} + 1);
  if (slots_[id].stage != OutPublish::Stage::Free) return false;
  slots_[id].stage = OutPublish::Stage::AwaitAck;
  ++count_;
  return true;
}

void PublishWindow::release(uint16_t id) {
  if (id >= slots_.size()) return;
  OutPublish& s = slots_[id];
  if (s.stage == OutPublish::Stage::Free) return;
  s.stage = OutPublish::Stage::Free;
  s.pubrel_held = false;
  s.completion.reset();
  s.bytes = PacketBytes();  // frees a large packet's heap buffer
  --count_;
}

}  // namespace mqtt::session::detail
