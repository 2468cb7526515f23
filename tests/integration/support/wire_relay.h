// An in-process TCP relay between an MQTT client and a broker that breaks the
// link on command and records what each side put on the wire.
//
//   itest::WireRelay relay(broker.port());      // listens on 127.0.0.1:relay.port()
//   options.port = relay.port();                 // the client connects through it
//   relay.set_rate(100'000);                     // 100 kB/s each way
//   relay.pause(); ... relay.resume();           // nothing forwarded meanwhile
//   relay.reset();                               // RST to both ends (SO_LINGER 0)
//   for (const auto& r : relay.ledger()) ...     // every PUBLISH and ack, in order
//
// One thread of its own drives every relayed connection with poll(); the
// controls may be called from any thread and take effect before they return
// (cut/reset) or on the relay's next turn (delay, rate, pause). Each direction
// is parsed with the library's codec (mqtt/codec): the ledger holds every
// PUBLISH (packet id, QoS, DUP, topic, the sequence number at the start of its
// payload) and every PUBACK/PUBREC/PUBREL/PUBCOMP, stamped when the relay read
// it. Tests use it to tell a loss or duplicate that the client caused from one
// the broker caused. Loopback only; the upstream connect is a blocking
// connect to 127.0.0.1 (never black-hole the broker's own port).
// No test-framework types here: the soak tool reuses it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mqtt/codec/types.h"

namespace itest {

struct WireRecord {
  enum class Dir : uint8_t { ClientToBroker, BrokerToClient };
  std::chrono::steady_clock::time_point at;
  Dir dir = Dir::ClientToBroker;
  uint32_t connection = 0;  // 1 for the first relayed connection, and so on
  mqtt::codec::PacketType type = mqtt::codec::PacketType::Publish;
  uint16_t packet_id = 0;
  uint8_t qos = 0;  // PUBLISH only
  bool dup = false;
  std::string topic;  // PUBLISH only
  int64_t seq = -1;   // PUBLISH: leading decimal digits of the payload; else -1
};

// "c2b #3 PUBLISH q1 pkid 7 dup f/x seq 12"
std::string to_string(const WireRecord& r);

class WireRelay {
 public:
  // Listens on 127.0.0.1 (a free port) and relays every accepted connection
  // to 127.0.0.1:target_port. Throws std::runtime_error when it cannot.
  explicit WireRelay(uint16_t target_port);
  ~WireRelay();  // closes everything, joins the thread
  WireRelay(const WireRelay&) = delete;
  WireRelay& operator=(const WireRelay&) = delete;

  uint16_t port() const;

  // Holds every chunk this long before forwarding it (0: none).
  void set_delay(std::chrono::milliseconds delay);
  // Forwards at most this many bytes per second in each direction of each
  // connection (0: unlimited). Reading stops once 256 KiB wait, so TCP
  // pushes back on the sender.
  void set_rate(double bytes_per_second);
  // Stops forwarding (and reading) both ways on every connection, new ones
  // included, until resume(): a black hole that the kernels do not notice.
  void pause();
  void resume();
  // Ends every open connection, both legs: cut() with FIN (shutdown), reset()
  // with RST (SO_LINGER 0 then close). Returns how many were open.
  size_t cut();
  size_t reset();

  // Connections accepted so far, and open now.
  uint32_t accepted() const;
  size_t open_connections() const;
  // Local ports of the open relay->broker legs (for `ss -K` filters).
  std::vector<uint16_t> upstream_ports() const;

  // A copy of every record so far, in the order the relay read them.
  std::vector<WireRecord> ledger() const;
  // Bytes read from the client / from the broker so far, and bytes written
  // to the broker / to the client (what got through).
  uint64_t bytes_from_client() const;
  uint64_t bytes_from_broker() const;
  uint64_t bytes_to_broker() const;
  uint64_t bytes_to_client() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace itest
