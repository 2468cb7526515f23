// What a client must not send (MQTT 5, spec section 4 of issue 11) is refused
// at the call with InvalidRequest, before anything is queued. No broker: the
// client points at a Unix socket that does not exist, and keeps retrying in
// the background while the calls are checked.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "mqtt/client.h"

using namespace mqtt;

namespace {

MqttOptions nowhere(std::optional<uint32_t> session_expiry) {
  MqttOptions o;
  o.client_id = "request-rules";
  o.unix_path = "/nonexistent-mqtt-test-dir/broker.sock";
  o.protocol = ProtocolVersion::V5;
  o.session_expiry_interval_s = session_expiry;
  return o;
}

void check_invalid(const Result<void, ClientError>& r, codec::CodecError e) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ClientError::Code::InvalidRequest);
  CHECK(r.error().codec_error == e);
  CHECK(r.error().message.find(std::string(codec::to_string(e))) != std::string::npos);
}

}  // namespace

TEST_CASE("client: publish refuses a Subscription Identifier [MQTT-3.3.4-6] and a "
          "payload that is not UTF-8 under Payload Format Indicator 1 (spec 3.3.2.3.2)") {
  auto [c, conn] = Client::create(nowhere(std::nullopt), 8);
  Properties sid;
  sid.subscription_identifiers = {3};
  check_invalid(c.publish("t", QoS::AtLeastOnce, false, "x", sid),
                codec::CodecError::PropertyNotAllowed);
  check_invalid(c.try_publish("t", QoS::AtMostOnce, false, "x", sid),
                codec::CodecError::PropertyNotAllowed);
  auto tracked = c.publish_tracked("t", QoS::AtLeastOnce, false, "x", sid);
  REQUIRE_FALSE(tracked.ok());
  CHECK(tracked.error().codec_error == codec::CodecError::PropertyNotAllowed);

  Properties utf8;
  utf8.payload_format_indicator = 1;
  check_invalid(c.publish("t", QoS::AtMostOnce, false, std::string_view("\xC3\x28"), utf8),
                codec::CodecError::PayloadFormatInvalid);
  // Well-formed UTF-8 is queued (the lane takes it while disconnected).
  CHECK(c.try_publish("t", QoS::AtMostOnce, false, "caf\xC3\xA9", utf8).ok());
}

TEST_CASE("client: disconnect takes only what a client may send (spec 3.14.2)") {
  auto [c, conn] = Client::create(nowhere(std::nullopt), 8);
  codec::Disconnect server_code;
  server_code.reason_code = ReasonCode::ServerShuttingDown;  // "Sent by Server"
  check_invalid(c.disconnect(std::chrono::seconds(1), server_code),
                codec::CodecError::InvalidReasonCode);
  codec::Disconnect ref;
  ref.properties.server_reference = "other:1883";
  check_invalid(c.try_disconnect(std::chrono::seconds(1), ref),
                codec::CodecError::PropertyNotAllowed);
  // No Session Expiry Interval in the options: the CONNECT has none, so a
  // non-zero one on DISCONNECT would be a Protocol Error (spec 3.14.2.2.2).
  codec::Disconnect sei;
  sei.properties.session_expiry_interval = 120;
  check_invalid(c.disconnect(std::chrono::seconds(1), sei),
                codec::CodecError::SessionExpiryWasZero);
  auto tracked = c.disconnect_tracked(std::chrono::seconds(1), sei);
  REQUIRE_FALSE(tracked.ok());
  CHECK(tracked.error().codec_error == codec::CodecError::SessionExpiryWasZero);
  // With one in the options (update_options() counts from the call on), it is allowed.
  MqttOptions with = nowhere(600);
  REQUIRE(c.update_options(with).ok());
  CHECK(c.disconnect(std::chrono::milliseconds(200), sei).ok());
}

TEST_CASE("client: a non-zero Session Expiry Interval in the options allows one on DISCONNECT") {
  auto [c, conn] = Client::create(nowhere(30), 8);
  codec::Disconnect d;
  d.reason_code = ReasonCode::DisconnectWithWillMessage;
  d.properties.session_expiry_interval = 0;  // end the session now: always allowed
  CHECK(c.disconnect(std::chrono::milliseconds(200), d).ok());
}
