// Builds against the public library target from another workspace and checks
// that a packet survives an encode/decode round trip.
#include <array>
#include <cstdio>

#include "mqtt/codec/decoder.h"
#include "mqtt/codec/encoder.h"

int main() {
  namespace c = mqtt::codec;
  c::Publish p;
  p.topic = "consumer/hello";
  p.qos = mqtt::QoS::AtLeastOnce;
  p.packet_id = 7;
  p.payload = c::as_bytes("hi");
  std::array<uint8_t, 64> buf{};
  auto n = c::encode(p, mqtt::ProtocolVersion::V5, buf);
  if (!n) return 1;
  c::Packet out;
  auto r = c::decode({buf.data(), *n}, {.version = mqtt::ProtocolVersion::V5}, out);
  if (r.status != c::DecodeStatus::Ok || !(std::get<c::Publish>(out) == p)) return 1;
  std::printf("consumer: round trip of %zu bytes ok\n", *n);
  return 0;
}
