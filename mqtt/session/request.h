// A request from a user thread to the session, already encoded on that thread
// (so invalid topics fail at the call, and the I/O thread does no encoding for
// publishes). The session only fills in the packet identifier.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <span>
#include <string_view>
#include <vector>

#include "mqtt/codec/encoder.h"
#include "mqtt/codec/error.h"
#include "mqtt/codec/packets.h"
#include "mqtt/completion.h"
#include "mqtt/result.h"
#include "mqtt/session/packet_bytes.h"

namespace mqtt::session {

struct Request {
  enum class Kind : uint8_t {
    Publish,
    Subscribe,
    Unsubscribe,
    Ack,         // manual acknowledgement of an incoming QoS 1/2 PUBLISH
    Disconnect,  // graceful: the session sends DISCONNECT once in-flight work is done
    Auth,        // MQTT 5 AUTH (enhanced authentication): 0x18 or 0x19
  };
  Kind kind = Kind::Publish;
  QoS qos = QoS::AtMostOnce;  // Publish: its QoS; Ack: QoS of the acknowledged PUBLISH
  bool retain = false;        // Publish
  // Publish/Subscribe/Unsubscribe: 0 here; the session assigns one and writes it
  // at packet_id_offset. Ack: the incoming PUBLISH's packet identifier.
  uint16_t packet_id = 0;
  uint32_t packet_id_offset = 0;  // 0 when the packet has no identifier
  uint16_t filter_count = 0;      // Subscribe/Unsubscribe
  // Subscribe: what the broker must support (MQTT 5 CONNACK: Wildcard,
  // Shared Subscription and Subscription Identifier Available).
  bool uses_wildcard = false;
  bool uses_shared = false;
  bool uses_subscription_id = false;
  uint32_t subscription_id = 0;  // Subscribe: its Subscription Identifier, 0 for none
  // Publish (MQTT 5): the Topic Alias the caller chose, 0 for none. `bytes`
  // then holds the packet without it (and with an empty topic when the
  // caller gave none): the session adds the alias, or the topic it last used
  // with it, when it writes the packet (see topic_alias.h).
  uint16_t topic_alias = 0;
  // The whole encoded packet (empty for Ack: the session encodes PUBACK/PUBREC).
  PacketBytes bytes;
  // Completed when the request completes or fails; null for untracked requests.
  std::shared_ptr<mqtt::detail::CompletionState> completion;
};

// Builders, safe on any thread. `p.packet_id` is ignored. They validate the
// packet (codec rules) and return the codec's error for an invalid one
// (a Topic Alias of 0 is InvalidPropertyValue [MQTT-3.3.2-8]). Every request
// is encoded as a client's packet (codec::Direction::ClientToServer): a
// PUBLISH with a Subscription Identifier is PropertyNotAllowed
// [MQTT-3.3.4-6]; one with Payload Format Indicator 1 and a payload that is
// not well-formed UTF-8 is PayloadFormatInvalid (spec 3.3.2.3.2).
// A publish is validated once and encoded straight into the request's
// storage; `p` (a codec::Publish converts to a PublishRef) is only viewed.
// The second form builds into `out` (a default-constructed Request), for a
// caller that queues it from there; on error `out` is unspecified.
Result<Request, codec::CodecError> make_publish_request(const codec::PublishRef& p,
                                                        ProtocolVersion v);
Result<void, codec::CodecError> make_publish_request(const codec::PublishRef& p,
                                                     ProtocolVersion v, Request& out);
Result<Request, codec::CodecError> make_subscribe_request(const codec::Subscribe& s,
                                                          ProtocolVersion v);
Result<Request, codec::CodecError> make_unsubscribe_request(const codec::Unsubscribe& u,
                                                            ProtocolVersion v);
// A DISCONNECT takes only what a client may send: no server-only reason code
// (table 3-10: InvalidReasonCode), no Server Reference (PropertyNotAllowed),
// and a non-zero Session Expiry Interval only when the CONNECT's
// (`connect_session_expiry`, 0 when absent) was non-zero
// (SessionExpiryWasZero, spec 3.14.2.2.2).
Result<Request, codec::CodecError> make_disconnect_request(const codec::Disconnect& d,
                                                           ProtocolVersion v,
                                                           uint32_t connect_session_expiry = 0);
Request make_ack_request(uint16_t packet_id, QoS qos);
// An AUTH (MQTT 5 only, else UnsupportedInVersion): `code` is Continue
// authentication (0x18) or Re-authenticate (0x19), else InvalidReasonCode;
// `method` is the CONNECT's Authentication Method, set on the packet
// [MQTT-4.12.0-5, MQTT-4.12.1-1]; `props` may add a Reason String and User
// Properties (an Authentication Method or Data in it is replaced).
Result<Request, codec::CodecError> make_auth_request(ReasonCode code, std::string_view method,
                                                     std::span<const uint8_t> data,
                                                     const codec::Properties& props,
                                                     ProtocolVersion v);
// The reason code and Authentication Method of an encoded AUTH request
// (nullopt if `bytes` is not one the codec accepts).
struct AuthFields {
  ReasonCode code = ReasonCode::Success;
  std::string method;
};
std::optional<AuthFields> auth_fields(std::span<const uint8_t> bytes);

// The topic name of an encoded PUBLISH (empty if `bytes` is not one).
std::string_view publish_topic(std::span<const uint8_t> bytes);

}  // namespace mqtt::session
