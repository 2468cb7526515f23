// Builds against the public library target from another workspace: a codec
// round trip, and a Client whose reactor reports a refused connection (no
// broker needed: nothing listens on 127.0.0.1:1).
#include <array>
#include <chrono>
#include <cstdio>

#include "mqtt/client.h"
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

  auto [client, connection] = mqtt::Client::create(mqtt::MqttOptions("consumer", "127.0.0.1", 1), 4);
  auto event = connection.next_for(std::chrono::seconds(10));
  if (!event || !event->error()) return 1;
  std::printf("consumer: client reports %s\n", mqtt::describe(*event->error()).c_str());
  return 0;
}
