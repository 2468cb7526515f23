// Recipe: MQTT over TLS, verified against your own CA, optionally with a
// client certificate (mutual TLS).
//
//   bazel run //examples:tls_pubsub -- mqtts://HOST:PORT CA_FILE [CERT_FILE KEY_FILE]
//   e.g. bazel run //examples:tls_pubsub -- mqtts://localhost:8883 /path/ca.crt
//
// The server certificate must be signed by CA_FILE and name HOST (DNS name,
// or IP address for an IP literal). A certificate problem is a
// ConnectionError with code Tls whose message says what was wrong; it does
// not heal by retrying, so this program stops at the first one (exit code 1).
// Otherwise it sends three QoS 1 messages to itself through the TLS
// connection: exit code 0 when all three came back.
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <string>

#include "examples/recipe_common.h"
#include "mqtt/client.h"
#include "mqtt/url.h"

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: tls_pubsub mqtts://HOST:PORT CA_FILE [CERT_FILE KEY_FILE]\n";
    return 2;
  }
  mqtt::MqttOptions options("recipe-tls-" + std::to_string(::getpid()), "localhost", 8883);
  // mqtts:// turns TLS on (options.tls) and sets host and port.
  if (auto r = mqtt::apply_url(options, argv[1]); !r || !options.tls) {
    std::cerr << "expected an mqtts:// URL: " << (r ? argv[1] : r.error()) << '\n';
    return 2;
  }
  mqtt::TlsOptions& tls = *options.tls;
  tls.ca_file = argv[2];      // trust this CA only (not the system store)
  if (argc > 4) {             // mutual TLS: our certificate and key
    tls.cert_file = argv[3];
    tls.key_file = argv[4];
  }
  // Defaults worth knowing: verify_peer and verify_host are on; SNI is the
  // host name (never an IP literal); tls.alpn offers protocols, e.g. {"mqtt"}.
  // Files are loaded by create(), which refuses unreadable ones at once.
  auto created = mqtt::Client::try_create(options, 16);
  if (!created) {
    std::cerr << "bad TLS options: " << created.error().message << '\n';
    return 1;
  }
  auto& [client, connection] = *created;
  if (!recipes::wait_connected(connection)) return 1;  // e.g. "certificate verify failed"
  std::cout << "connected over TLS to " << options.host << ':' << options.port << '\n';

  const std::string topic = "recipes/tls/" + std::to_string(::getpid());
  auto sub = client.subscribe(topic, mqtt::QoS::AtLeastOnce);
  if (!sub || !sub->wait_for(10s)) return 1;
  for (int i = 1; i <= 3; ++i) {
    (void)client.publish(topic, mqtt::QoS::AtLeastOnce, false, "secret " + std::to_string(i));
  }
  int received = 0;
  for (auto deadline = std::chrono::steady_clock::now() + 10s;
       received < 3 && std::chrono::steady_clock::now() < deadline;) {
    if (auto ev = connection.next_for(100ms); ev && ev->publish()) {
      std::cout << "received: " << mqtt::codec::as_string(ev->publish()->payload) << '\n';
      ++received;
    }
  }
  const bool clean = recipes::disconnect_and_drain(client, connection);
  std::cout << "received " << received << " of 3 messages over TLS\n";
  return received == 3 && clean ? 0 : 1;
}
