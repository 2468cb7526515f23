// Why a connection ended. Every end of a connection reaches the consumer as an
// event carrying one of these.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mqtt/codec/error.h"
#include "mqtt/codec/types.h"

namespace mqtt {

// What ended a connection or a connection attempt.
enum class ConnectionErrorCode : uint8_t {
  Dns,                // the host name could not be resolved
  Io,                 // connect/read/write failed (sys_errno says why)
  ConnectTimeout,     // TCP connect + CONNACK took longer than connect_timeout
  ConnectionRefused,  // CONNACK with a failure reason (reason_code says which)
  PingTimeout,        // no PINGRESP within ping_timeout of a PINGREQ
  ClosedByBroker,     // the broker closed the TCP connection
  DisconnectedByBroker,  // MQTT 5 DISCONNECT from the broker (reason_code)
  MalformedPacket,    // the broker sent bytes that do not decode (codec_error)
  PacketTooLarge,     // an incoming packet exceeded max_incoming_packet_size
  ProtocolViolation,  // a well-formed packet that breaks the protocol (message says how)
  Tls,                // TLS handshake, certificate verification or alert (message says what)
  WebSocket,          // the WebSocket upgrade was refused (message names the HTTP status)
  // Terminal ends of the loop (no reconnect follows):
  Disconnected,       // Client::disconnect() completed
  RequestsDone,       // every Client handle is gone and queued requests were sent
  Shutdown,           // the Connection (or its reactor) was destroyed
};

// A short description, e.g. "DNS resolution failed". Pure: any thread, never blocks.
std::string_view to_string(ConnectionErrorCode c);

// Why a connection (or an attempt) ended: the code and its details.
struct ConnectionError {
  ConnectionErrorCode code = ConnectionErrorCode::Io;  // what ended it
  ReasonCode reason_code = ReasonCode::Success;  // ConnectionRefused, DisconnectedByBroker
  codec::CodecError codec_error{};               // MalformedPacket, PacketTooLarge
  int sys_errno = 0;                             // Io, Dns
  std::string message;                           // human-readable detail
  // MQTT 5: the Server Reference of a refusing CONNACK or a DISCONNECT
  // (e.g. with Use another server / Server moved), as the broker sent it:
  // one or more "host[:port]" separated by spaces. Followed only when
  // MqttOptions::follow_server_redirects is set.
  std::string server_reference = {};
  // MQTT 5: the Reason String and User Properties of that CONNACK or
  // DISCONNECT (the reason string is also in `message`).
  // @{
  std::string reason_string = {};
  std::vector<std::pair<std::string, std::string>> user_properties = {};
  // @}
  // The broker of the attempt or connection this error ended, as
  // to_string(BrokerAddress) names it ("host:port", "[v6]:port",
  // "unix:/path"); with MqttOptions::brokers, tells the brokers apart. Empty
  // for ends that came before any attempt.
  std::string broker;
  // True when the event loop stops after this error (no reconnect): terminal
  // codes, and refusals that will not heal by themselves unless the options
  // ask to retry them.
  bool terminal = false;
};

// One line for logs: the code's name with the detail that goes with it (the
// reason code, codec error or strerror(sys_errno)), the broker, the message
// and the server reference. Pure: any thread, never blocks.
std::string describe(const ConnectionError& e);

}  // namespace mqtt
