// What every recipe in examples/ shares, kept out of the recipes so that each
// one shows only its own point: the broker address from the command line,
// and the graceful end of a connection.
#pragma once

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include "mqtt/client.h"
#include "mqtt/url.h"

namespace recipes {

// Points `options` at the broker named on the command line:
//   PROGRAM HOST PORT          e.g. 127.0.0.1 1883
//   PROGRAM URL [CA_FILE]      e.g. mqtts://localhost:8883 ca.crt, ws://127.0.0.1:8080/mqtt
// (a TLS URL without a CA file trusts the system store). Nothing given:
// localhost 1883. Prints the problem and returns false on a bad address.
inline bool apply_broker_args(mqtt::MqttOptions& options, int argc, char** argv) {
  const std::string first = argc > 1 ? argv[1] : "localhost";
  if (first.find("://") == std::string::npos) {
    options.host = first;
    const int port = argc > 2 ? std::atoi(argv[2]) : 1883;
    if (port <= 0 || port > 65535) {
      std::cerr << "bad port " << (argc > 2 ? argv[2] : "") << '\n';
      return false;
    }
    options.port = static_cast<uint16_t>(port);
    return true;
  }
  if (auto r = mqtt::apply_url(options, first); !r) {
    std::cerr << "bad broker URL: " << r.error() << '\n';
    return false;
  }
  if (argc > 2 && options.tls) options.tls->ca_file = argv[2];
  return true;
}

// Reads events until the first CONNACK (true) or the first connection error
// (false, printed: a TLS or WebSocket failure, a refused connect...), at most
// `limit`.
inline bool wait_connected(mqtt::Connection& connection,
                           std::chrono::seconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    auto event = connection.next_for(std::chrono::milliseconds(100));
    if (!event) continue;
    if (event->incoming() && event->incoming()->type() == mqtt::codec::PacketType::ConnAck) {
      return true;
    }
    if (const auto* e = event->error()) {
      std::cout << "connect failed: " << mqtt::describe(*e) << '\n';
      return false;
    }
  }
  std::cout << "connect failed: no CONNACK within " << limit.count() << " s\n";
  return false;
}

// Disconnects gracefully and reads events until the loop has ended (at most
// `limit`). True when it ended with Disconnected: every request queued before
// was sent and acknowledged first.
inline bool disconnect_and_drain(mqtt::Client& client, mqtt::Connection& connection,
                                 std::chrono::seconds limit = std::chrono::seconds(10)) {
  if (!client.disconnect(limit)) return false;
  const auto deadline = std::chrono::steady_clock::now() + limit + std::chrono::seconds(2);
  bool disconnected = false;
  while (!connection.ended() && std::chrono::steady_clock::now() < deadline) {
    auto event = connection.next_for(std::chrono::milliseconds(200));
    if (!event) continue;
    if (event->request_failed()) std::cout << "failed: " << *event << '\n';
    if (const auto* e = event->error(); e && e->terminal) {
      disconnected = e->code == mqtt::ConnectionErrorCode::Disconnected;
    }
  }
  return disconnected;
}

}  // namespace recipes
