// Names and descriptions for the session's vocabulary types.
#include <cstring>
#include <string>

#include "mqtt/completion.h"
#include "mqtt/connection_error.h"
#include "mqtt/outgoing.h"

namespace mqtt {

std::string_view to_string(RequestError e) {
  switch (e) {
    case RequestError::None: return "none";
    case RequestError::Rejected: return "rejected by the broker";
    case RequestError::SessionReset: return "session reset by the broker";
    case RequestError::ConnectionClosed: return "connection closed";
    case RequestError::PacketTooLarge: return "packet larger than the broker's maximum packet size";
    case RequestError::QoSNotSupported: return "QoS above the broker's maximum QoS";
    case RequestError::RetainNotSupported: return "retain not available on the broker";
    case RequestError::ProtocolError: return "protocol error";
    case RequestError::TopicAliasInvalid: return "topic alias not allowed by the broker or unknown";
    case RequestError::FeatureNotSupported: return "not supported by the broker";
    case RequestError::StoreFailed: return "the session store failed";
  }
  return "unknown request error";
}

std::string_view to_string(ConnectionErrorCode c) {
  switch (c) {
    case ConnectionErrorCode::Dns: return "DNS resolution failed";
    case ConnectionErrorCode::Io: return "I/O error";
    case ConnectionErrorCode::ConnectTimeout: return "connect timeout";
    case ConnectionErrorCode::ConnectionRefused: return "connection refused";
    case ConnectionErrorCode::PingTimeout: return "ping timeout";
    case ConnectionErrorCode::ClosedByBroker: return "connection closed by the broker";
    case ConnectionErrorCode::DisconnectedByBroker: return "disconnected by the broker";
    case ConnectionErrorCode::MalformedPacket: return "malformed packet";
    case ConnectionErrorCode::PacketTooLarge: return "incoming packet too large";
    case ConnectionErrorCode::ProtocolViolation: return "protocol violation";
    case ConnectionErrorCode::Tls: return "TLS error";
    case ConnectionErrorCode::WebSocket: return "WebSocket upgrade refused";
    case ConnectionErrorCode::Disconnected: return "disconnected";
    case ConnectionErrorCode::RequestsDone: return "requests done";
    case ConnectionErrorCode::Shutdown: return "shutdown";
  }
  return "unknown connection error";
}

std::string_view to_string(Outgoing::Type t) {
  switch (t) {
    case Outgoing::Type::Connect: return "CONNECT";
    case Outgoing::Type::Publish: return "PUBLISH";
    case Outgoing::Type::Subscribe: return "SUBSCRIBE";
    case Outgoing::Type::Unsubscribe: return "UNSUBSCRIBE";
    case Outgoing::Type::PubAck: return "PUBACK";
    case Outgoing::Type::PubRec: return "PUBREC";
    case Outgoing::Type::PubRel: return "PUBREL";
    case Outgoing::Type::PubComp: return "PUBCOMP";
    case Outgoing::Type::PingReq: return "PINGREQ";
    case Outgoing::Type::Disconnect: return "DISCONNECT";
    case Outgoing::Type::Auth: return "AUTH";
  }
  return "UNKNOWN";
}

std::string describe(const ConnectionError& e) {
  std::string s(to_string(e.code));
  switch (e.code) {
    case ConnectionErrorCode::ConnectionRefused:
    case ConnectionErrorCode::DisconnectedByBroker:
      s += " (";
      s += to_string(e.reason_code);
      s += ")";
      break;
    case ConnectionErrorCode::MalformedPacket:
    case ConnectionErrorCode::PacketTooLarge:
      if (e.codec_error != codec::CodecError{}) {
        s += " (";
        s += codec::to_string(e.codec_error);
        s += ")";
      }
      break;
    case ConnectionErrorCode::Io:
    case ConnectionErrorCode::Dns:
      if (e.sys_errno != 0) {
        s += " (";
        s += std::strerror(e.sys_errno);
        s += ")";
      }
      break;
    default:
      break;
  }
  if (!e.broker.empty()) {
    s += " [broker ";
    s += e.broker;
    s += "]";
  }
  if (!e.message.empty()) {
    s += ": ";
    s += e.message;
  }
  if (!e.server_reference.empty()) {
    s += " [server reference ";
    s += e.server_reference;
    s += "]";
  }
  if (e.terminal) s += " [terminal]";
  return s;
}

}  // namespace mqtt
