// MQTT 5 request/response: a responder answers requests on
// "service/upper/requests" by publishing the upper-cased payload to each
// request's Response Topic with its Correlation Data; a requester sends five
// requests and matches the replies by correlation. Each client runs its own
// consumer thread (the library never calls user code on its I/O thread).
//
//   request_response [host] [port]
//   request_response URL          e.g. mqtt://127.0.0.1:1883, mqtts://..., ws://...
//
// Ends by itself: exit status 0 when all five replies came back.
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <thread>

#include "mqtt/client.h"
#include "mqtt/request_response.h"
#include "mqtt/url.h"

namespace {

constexpr const char* kRequests = "service/upper/requests";

mqtt::MqttOptions options_for(const std::string& id, int argc, char** argv) {
  const std::string first = argc > 1 ? argv[1] : "localhost";
  mqtt::MqttOptions o(id, first, 1883);
  if (first.find("://") != std::string::npos) {
    if (auto r = mqtt::apply_url(o, first); !r) {
      std::cerr << r.error() << '\n';
      std::exit(2);
    }
  } else if (argc > 2) {
    o.port = static_cast<uint16_t>(std::atoi(argv[2]));
  }
  o.set_protocol(mqtt::ProtocolVersion::V5);
  o.request_response_information = true;  // brokers that reserve a reply prefix say so
  return o;
}

// Waits for the CONNACK; false on an error or after 10 s.
bool connected(mqtt::Connection& conn) {
  for (int i = 0; i < 100; ++i) {
    auto ev = conn.next_for(std::chrono::milliseconds(100));
    if (!ev) continue;
    if (ev->error()) {
      std::cerr << "connect: " << *ev << '\n';
      return false;
    }
    if (ev->incoming() && ev->incoming()->type() == mqtt::codec::PacketType::ConnAck) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  // --- responder ---
  auto [server, server_conn] = mqtt::Client::create(options_for("upper-service", argc, argv), 64);
  if (!connected(server_conn)) return 1;
  auto sub = server.subscribe(kRequests, mqtt::QoS::AtLeastOnce);
  if (!sub || !sub->wait_for(std::chrono::seconds(10))) {
    std::cerr << "responder: subscribe failed\n";
    return 1;
  }
  std::thread responder([&server = server, &conn = server_conn] {
    while (auto ev = conn.next_for(std::chrono::seconds(15))) {
      const auto* req = ev->publish();
      if (!req) {
        if (const auto* e = ev->error(); e && e->terminal) break;
        continue;
      }
      const auto topic = mqtt::reply_topic(*req);
      if (!topic) continue;  // not a request: nobody to answer
      std::string answer(reinterpret_cast<const char*>(req->payload.data()), req->payload.size());
      for (char& ch : answer) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      auto r = server.publish(*topic, mqtt::QoS::AtLeastOnce, false, answer,
                              mqtt::reply_properties(*req));
      if (!r) std::cerr << "responder: " << r.error().message << '\n';
    }
  });

  // --- requester ---
  auto [client, conn] = mqtt::Client::create(options_for("upper-client", argc, argv), 64);
  int status = 1;
  if (connected(conn)) {
    const std::string reply_to = "clients/upper-client/replies";
    auto s = client.subscribe(reply_to, mqtt::QoS::AtLeastOnce);
    if (s && s->wait_for(std::chrono::seconds(10))) {
      std::map<std::string, std::string> pending;  // correlation id -> request
      const char* words[] = {"alpha", "bravo", "charlie", "delta", "echo"};
      for (int i = 0; i < 5; ++i) {
        const std::string id = "req-" + std::to_string(i);
        pending[id] = words[i];
        auto r = client.publish(kRequests, mqtt::QoS::AtLeastOnce, false, words[i],
                                mqtt::request_properties(reply_to, mqtt::codec::as_bytes(id)));
        if (!r) std::cerr << "request: " << r.error().message << '\n';
      }
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
      while (!pending.empty() && std::chrono::steady_clock::now() < deadline) {
        auto ev = conn.next_for(std::chrono::milliseconds(200));
        const auto* reply = ev ? ev->publish() : nullptr;
        if (!reply) continue;
        const std::string id(mqtt::correlation_of(*reply));
        auto it = pending.find(id);
        if (it == pending.end()) continue;
        std::cout << id << ": " << it->second << " -> "
                  << std::string(reinterpret_cast<const char*>(reply->payload.data()),
                                 reply->payload.size())
                  << '\n';
        pending.erase(it);
      }
      std::cout << "answered " << (5 - pending.size()) << " of 5 requests\n";
      status = pending.empty() ? 0 : 1;
    }
  }
  (void)client.disconnect();
  (void)server.disconnect();
  responder.join();
  return status;
}
