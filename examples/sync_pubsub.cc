// The seed's synchronous pub/sub example: one thread publishes, the main
// thread prints every event until the connection ends.
//
//   sync_pubsub [host] [port]
//   sync_pubsub URL [CA_FILE]     e.g. mqtts://broker.example:8883 ca.pem,
//                                 ws://host:8080/mqtt, wss://..., unix:///run/mqtt.sock
//
// Unlike the seed's (which runs forever) it disconnects after its ten
// messages have come back, so it ends by itself.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "mqtt/client.h"
#include "mqtt/url.h"

int main(int argc, char** argv) {
  const std::string first = argc > 1 ? argv[1] : "localhost";
  mqtt::MqttOptions options("rumqtt-sync", first, 1883);
  if (first.find("://") != std::string::npos) {
    if (auto r = mqtt::apply_url(options, first); !r) {
      std::cerr << r.error() << '\n';
      return 2;
    }
    // TLS (mqtts://, wss://) trusts the system store unless given a CA file.
    if (argc > 2 && options.tls) options.tls->ca_file = argv[2];
  } else if (argc > 2) {
    options.port = static_cast<uint16_t>(std::atoi(argv[2]));
  }
  options.set_keep_alive(std::chrono::seconds(5));

  auto [client, connection] = mqtt::Client::create(options, /*capacity=*/10);
  if (auto r = client.subscribe("hello/rumqtt", mqtt::QoS::AtMostOnce); !r) {
    std::cerr << "subscribe: " << r.error().message << '\n';
    return 1;
  }

  std::thread publisher([client]() mutable {
    for (int i = 0; i < 10; ++i) {
      auto r = client.publish("hello/rumqtt", mqtt::QoS::AtLeastOnce, false, std::string(i, 'x'));
      if (!r) std::cerr << "publish: " << r.error().message << '\n';
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });

  int received = 0;
  bool disconnecting = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (auto& event : connection) {
    std::cout << "Notification = " << event << '\n';
    if (event.publish() && ++received == 10 && !disconnecting) {
      disconnecting = true;
      (void)client.disconnect();
    }
    if (const auto* e = event.error(); e && e->terminal) break;
    if (std::chrono::steady_clock::now() > deadline && !disconnecting) {
      std::cerr << "giving up: not all messages came back within 30 s\n";
      disconnecting = true;
      (void)client.disconnect();
    }
  }
  publisher.join();
  std::cout << "received " << received << " of 10 messages\n";
  return received == 10 ? 0 : 1;
}
