// Recipe: MQTT over WebSocket (ws://) or secure WebSocket (wss://), e.g.
// through an HTTP load balancer or a broker's WebSocket listener, with a
// request header (an access token) on the upgrade request.
//
//   bazel run //examples:websocket_pubsub -- ws://HOST:PORT/mqtt
//   bazel run //examples:websocket_pubsub -- wss://HOST:PORT/mqtt CA_FILE
//
// MQTT 5. Sends one 200 KB message to itself: larger than the largest
// WebSocket message the client sends (WebSocketOptions::max_message, 64 KiB),
// so the packet travels in several WebSocket messages and is put together
// again by the receiver. Exit code 0 when it came back intact.
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <string>

#include "examples/recipe_common.h"
#include "mqtt/client.h"

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  mqtt::MqttOptions options("recipe-ws-" + std::to_string(::getpid()), "localhost", 80);
  // ws:// and wss:// set options.websocket (the path comes from the URL;
  // wss also turns TLS on); a second argument is the CA file for wss.
  if (!recipes::apply_broker_args(options, argc, argv)) return 2;
  if (!options.websocket) {
    std::cerr << "expected a ws:// or wss:// URL\n";
    return 2;
  }
  options.set_protocol(mqtt::ProtocolVersion::V5);
  // Sent with every (re)connect's upgrade request; update_options() can
  // change it (a refreshed token) for the next one.
  options.websocket->headers.push_back({"Authorization", "Bearer recipe-token"});
  // The subprotocol offered is "mqtt" (options.websocket->subprotocol).

  auto [client, connection] = mqtt::Client::create(options, 16);
  if (!recipes::wait_connected(connection)) return 1;  // e.g. "HTTP 401" on a refused upgrade
  std::cout << "connected over " << (options.tls ? "wss" : "ws") << " to " << options.host << ':'
            << options.port << options.websocket->path << '\n';

  const std::string topic = "recipes/ws/" + std::to_string(::getpid());
  std::string big(200 * 1024, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  auto sub = client.subscribe(topic, mqtt::QoS::AtLeastOnce);
  if (!sub || !sub->wait_for(10s)) return 1;
  auto sent = client.publish_tracked(topic, mqtt::QoS::AtLeastOnce, false, big);

  bool intact = false;
  for (auto deadline = std::chrono::steady_clock::now() + 10s;
       !intact && std::chrono::steady_clock::now() < deadline;) {
    auto ev = connection.next_for(100ms);
    if (const auto* p = ev ? ev->publish() : nullptr) {
      intact = mqtt::codec::as_string(p->payload) == big;
      std::cout << "received " << p->payload.size() << " bytes, "
                << (intact ? "intact" : "CORRUPTED") << '\n';
    }
  }
  const bool acked = sent && sent->wait_for(5s) && sent->poll()->ok();
  const bool clean = recipes::disconnect_and_drain(client, connection);
  std::cout << "200 KB message over WebSocket: " << (intact && acked ? "round trip ok" : "FAILED")
            << '\n';
  return intact && acked && clean ? 0 : 1;
}
