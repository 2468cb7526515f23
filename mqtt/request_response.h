// MQTT 5 request/response (spec 4.10): the requester names a Response Topic
// and Correlation Data on its request; the responder publishes its answer to
// that topic with the same Correlation Data.
//
//   // requester
//   const std::string id = "req-1";
//   client.publish("service/echo", QoS::AtLeastOnce, false, "ping",
//                  mqtt::request_properties(my_reply_topic, mqtt::codec::as_bytes(id)));
//   // responder, for an incoming request `p` (from Event::publish())
//   if (auto topic = mqtt::reply_topic(p))
//     client.publish(*topic, QoS::AtLeastOnce, false, "pong", mqtt::reply_properties(p));
//   // requester, for an incoming reply `r`
//   if (mqtt::correlation_of(r) == id) ...
//
// MqttOptions::request_response_information asks the broker for Response
// Information in the CONNACK (a topic prefix some brokers reserve for the
// client's replies); mosquitto 2.0.11 sends none.
//
// Pure functions, any thread. The properties returned are views into their
// arguments (as Properties always are): use them before those go away; the
// publish call copies them.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "mqtt/codec/packets.h"
#include "mqtt/codec/properties.h"

namespace mqtt {

// The properties of a request: where to answer and what to echo.
inline codec::Properties request_properties(std::string_view response_topic,
                                            std::span<const uint8_t> correlation_data = {}) {
  codec::Properties p;
  p.response_topic = response_topic;
  if (!correlation_data.empty()) p.correlation_data = correlation_data;
  return p;
}

// Where to publish the reply to `request`; nullopt when it asks for none.
inline std::optional<std::string_view> reply_topic(const codec::Publish& request) {
  return request.properties.response_topic;
}

// The properties of the reply to `request`: its Correlation Data, if any.
inline codec::Properties reply_properties(const codec::Publish& request) {
  codec::Properties p;
  p.correlation_data = request.properties.correlation_data;
  return p;
}

// The Correlation Data of `message` as text (empty when none).
inline std::string_view correlation_of(const codec::Publish& message) {
  if (!message.properties.correlation_data) return {};
  const auto d = *message.properties.correlation_data;
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

}  // namespace mqtt
