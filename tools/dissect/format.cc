#include "tools/dissect/format.h"

#include <cstdio>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "mqtt/codec/properties.h"
#include "mqtt/codec/types.h"

namespace mqtt::dissect {
namespace {

using codec::Bytes;

// ---------------------------------------------------------------------------
// A small tree of named values, built once per packet and rendered either as
// indented text or as JSON.

struct Node;
struct Field;

struct Node {
  enum class Kind { Null, Bool, Int, Str, Bin, Enum, Pair, Object, Array };
  Kind kind = Kind::Null;
  bool b = false;
  uint64_t i = 0;
  std::string s;   // Str, Enum name, Pair key
  std::string s2;  // Pair value
  bool hex = true;  // Enum: show the numeric value in hex after the name (text)
  Bytes bytes;
  std::vector<Field> fields;  // Object
  std::vector<Node> items;    // Array

  bool scalar() const { return kind != Kind::Object && kind != Kind::Array; }
};

struct Field {
  std::string label;  // text
  std::string key;    // JSON
  Node value;
};

Node null_node() { return Node{}; }
Node bool_node(bool b) {
  Node n;
  n.kind = Node::Kind::Bool;
  n.b = b;
  return n;
}
Node int_node(uint64_t i) {
  Node n;
  n.kind = Node::Kind::Int;
  n.i = i;
  return n;
}
Node str_node(std::string_view s) {
  Node n;
  n.kind = Node::Kind::Str;
  n.s = std::string(s);
  return n;
}
Node bin_node(Bytes b) {
  Node n;
  n.kind = Node::Kind::Bin;
  n.bytes = b;
  return n;
}
Node enum_node(uint64_t value, std::string_view name) {
  Node n;
  n.kind = Node::Kind::Enum;
  n.i = value;
  n.s = std::string(name);
  return n;
}
Node pair_node(std::string_view k, std::string_view v) {
  Node n;
  n.kind = Node::Kind::Pair;
  n.s = std::string(k);
  n.s2 = std::string(v);
  return n;
}
Node object_node() {
  Node n;
  n.kind = Node::Kind::Object;
  return n;
}
Node array_node() {
  Node n;
  n.kind = Node::Kind::Array;
  return n;
}

void add(Node& obj, std::string_view name, Node v) {
  obj.fields.push_back(Field{std::string(name), std::string(name), std::move(v)});
}

// ---------------------------------------------------------------------------
// Helpers for values.

bool printable(Bytes b) {
  for (uint8_t c : b) {
    if ((c < 0x20 || c > 0x7E) && c != '\n' && c != '\r' && c != '\t') return false;
  }
  return true;
}

std::string hex_byte(unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", v & 0xFFu);
  return buf;
}

// A quoted string: quotes, backslashes and common controls escaped, other
// control bytes as `control_format` (one %02x/%04x conversion); non-ASCII
// UTF-8 is kept as is.
std::string quote(std::string_view s, const char* control_format) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, control_format, c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

// A C-like quoted string for text output.
std::string text_quote(std::string_view s) { return quote(s, "\\x%02x"); }

std::string_view version_name(ProtocolVersion v) {
  switch (v) {
    case ProtocolVersion::V311: return "3.1.1";
    case ProtocolVersion::V5: return "5";
  }
  return "?";
}

Node qos_node(QoS q) {
  Node n = enum_node(static_cast<uint8_t>(q), to_string(q));  // "QoS 1 (at least once)"
  n.hex = false;
  return n;
}
Node reason_node(ReasonCode rc) { return enum_node(static_cast<uint8_t>(rc), to_string(rc)); }

// Snake-case JSON keys for properties, independent of to_string(PropertyId).
std::string_view property_key(codec::PropertyId id) {
  using P = codec::PropertyId;
  switch (id) {
    case P::PayloadFormatIndicator: return "payload_format_indicator";
    case P::MessageExpiryInterval: return "message_expiry_interval";
    case P::ContentType: return "content_type";
    case P::ResponseTopic: return "response_topic";
    case P::CorrelationData: return "correlation_data";
    case P::SubscriptionIdentifier: return "subscription_identifier";
    case P::SessionExpiryInterval: return "session_expiry_interval";
    case P::AssignedClientIdentifier: return "assigned_client_identifier";
    case P::ServerKeepAlive: return "server_keep_alive";
    case P::AuthenticationMethod: return "authentication_method";
    case P::AuthenticationData: return "authentication_data";
    case P::RequestProblemInformation: return "request_problem_information";
    case P::WillDelayInterval: return "will_delay_interval";
    case P::RequestResponseInformation: return "request_response_information";
    case P::ResponseInformation: return "response_information";
    case P::ServerReference: return "server_reference";
    case P::ReasonString: return "reason_string";
    case P::ReceiveMaximum: return "receive_maximum";
    case P::TopicAliasMaximum: return "topic_alias_maximum";
    case P::TopicAlias: return "topic_alias";
    case P::MaximumQoS: return "maximum_qos";
    case P::RetainAvailable: return "retain_available";
    case P::UserProperty: return "user_property";
    case P::MaximumPacketSize: return "maximum_packet_size";
    case P::WildcardSubscriptionAvailable: return "wildcard_subscription_available";
    case P::SubscriptionIdentifierAvailable: return "subscription_identifier_available";
    case P::SharedSubscriptionAvailable: return "shared_subscription_available";
  }
  return "unknown";
}

void add_property(Node& obj, codec::PropertyId id, Node v) {
  std::string label = std::string(to_string(id)) + " (" +
                      hex_byte(static_cast<uint8_t>(id)) + ")";
  obj.fields.push_back(Field{std::move(label), std::string(property_key(id)), std::move(v)});
}

template <class T>
void opt_int(Node& obj, codec::PropertyId id, const std::optional<T>& v) {
  if (v) add_property(obj, id, int_node(*v));
}
void opt_str(Node& obj, codec::PropertyId id, const std::optional<std::string_view>& v) {
  if (v) add_property(obj, id, str_node(*v));
}
void opt_bin(Node& obj, codec::PropertyId id, const std::optional<Bytes>& v) {
  if (v) add_property(obj, id, bin_node(*v));
}

// Every present property, in identifier order, user properties last.
Node properties_node(const codec::Properties& p) {
  using P = codec::PropertyId;
  Node obj = object_node();
  opt_int(obj, P::PayloadFormatIndicator, p.payload_format_indicator);
  opt_int(obj, P::MessageExpiryInterval, p.message_expiry_interval);
  opt_str(obj, P::ContentType, p.content_type);
  opt_str(obj, P::ResponseTopic, p.response_topic);
  opt_bin(obj, P::CorrelationData, p.correlation_data);
  if (!p.subscription_identifiers.empty()) {
    Node arr = array_node();
    for (uint32_t id : p.subscription_identifiers) arr.items.push_back(int_node(id));
    add_property(obj, P::SubscriptionIdentifier, std::move(arr));
  }
  opt_int(obj, P::SessionExpiryInterval, p.session_expiry_interval);
  opt_str(obj, P::AssignedClientIdentifier, p.assigned_client_identifier);
  opt_int(obj, P::ServerKeepAlive, p.server_keep_alive);
  opt_str(obj, P::AuthenticationMethod, p.authentication_method);
  opt_bin(obj, P::AuthenticationData, p.authentication_data);
  opt_int(obj, P::RequestProblemInformation, p.request_problem_information);
  opt_int(obj, P::WillDelayInterval, p.will_delay_interval);
  opt_int(obj, P::RequestResponseInformation, p.request_response_information);
  opt_str(obj, P::ResponseInformation, p.response_information);
  opt_str(obj, P::ServerReference, p.server_reference);
  opt_str(obj, P::ReasonString, p.reason_string);
  opt_int(obj, P::ReceiveMaximum, p.receive_maximum);
  opt_int(obj, P::TopicAliasMaximum, p.topic_alias_maximum);
  opt_int(obj, P::TopicAlias, p.topic_alias);
  opt_int(obj, P::MaximumQoS, p.maximum_qos);
  opt_int(obj, P::RetainAvailable, p.retain_available);
  opt_int(obj, P::MaximumPacketSize, p.maximum_packet_size);
  opt_int(obj, P::WildcardSubscriptionAvailable, p.wildcard_subscription_available);
  opt_int(obj, P::SubscriptionIdentifierAvailable, p.subscription_identifiers_available);
  opt_int(obj, P::SharedSubscriptionAvailable, p.shared_subscription_available);
  if (!p.user_properties.empty()) {
    Node arr = array_node();
    for (const auto& up : p.user_properties) arr.items.push_back(pair_node(up.key, up.value));
    add_property(obj, P::UserProperty, std::move(arr));
  }
  return obj;
}

// ---------------------------------------------------------------------------
// Packets -> nodes.

struct PacketVisitor {
  const PacketInfo& info;
  Node& out;

  void props(const codec::Properties& p) {
    // MQTT 3.1.1 has no properties: leave the field out rather than print "none".
    if (info.version == ProtocolVersion::V5) add(out, "properties", properties_node(p));
  }

  void operator()(const codec::Connect& c) {
    add(out, "protocol_version",
        enum_node(static_cast<uint8_t>(c.protocol_version),
                  std::string("MQTT ") + std::string(version_name(c.protocol_version))));
    add(out, "client_id", str_node(c.client_id));
    add(out, "clean_start", bool_node(c.clean_start));
    add(out, "keep_alive", int_node(c.keep_alive));
    add(out, "username", c.username ? str_node(*c.username) : null_node());
    add(out, "password", c.password ? bin_node(*c.password) : null_node());
    props(c.properties);
    if (c.will) {
      Node w = object_node();
      add(w, "topic", str_node(c.will->topic));
      add(w, "qos", qos_node(c.will->qos));
      add(w, "retain", bool_node(c.will->retain));
      if (info.version == ProtocolVersion::V5) add(w, "properties", properties_node(c.will->properties));
      add(w, "payload", bin_node(c.will->payload));
      add(out, "will", std::move(w));
    } else {
      add(out, "will", null_node());
    }
  }
  void operator()(const codec::ConnAck& c) {
    add(out, "session_present", bool_node(c.session_present));
    add(out, "reason_code", reason_node(c.reason_code));
    props(c.properties);
  }
  void operator()(const codec::Publish& p) {
    add(out, "dup", bool_node(p.dup));
    add(out, "qos", qos_node(p.qos));
    add(out, "retain", bool_node(p.retain));
    add(out, "topic", str_node(p.topic));
    if (p.qos != QoS::AtMostOnce) add(out, "packet_id", int_node(p.packet_id));
    props(p.properties);
    add(out, "payload", bin_node(p.payload));
  }
  template <codec::PacketType T>
  void operator()(const codec::Ack<T>& a) {
    add(out, "packet_id", int_node(a.packet_id));
    if (info.version == ProtocolVersion::V5) add(out, "reason_code", reason_node(a.reason_code));
    props(a.properties);
  }
  void operator()(const codec::Subscribe& s) {
    add(out, "packet_id", int_node(s.packet_id));
    props(s.properties);
    Node arr = array_node();
    for (const auto& sub : s.subscriptions) {
      Node o = object_node();
      add(o, "filter", str_node(sub.filter));
      add(o, "qos", qos_node(sub.qos));
      if (info.version == ProtocolVersion::V5) {
        add(o, "no_local", bool_node(sub.no_local));
        add(o, "retain_as_published", bool_node(sub.retain_as_published));
        uint8_t rh = static_cast<uint8_t>(sub.retain_handling);
        std::string_view name = rh == 0   ? "Send at subscribe"
                                : rh == 1 ? "Send at subscribe if new"
                                : rh == 2 ? "Do not send"
                                          : "?";
        add(o, "retain_handling", enum_node(rh, name));
      }
      arr.items.push_back(std::move(o));
    }
    add(out, "subscriptions", std::move(arr));
  }
  void operator()(const codec::SubAck& s) {
    add(out, "packet_id", int_node(s.packet_id));
    props(s.properties);
    Node arr = array_node();
    for (ReasonCode rc : s.reason_codes) arr.items.push_back(reason_node(rc));
    add(out, "reason_codes", std::move(arr));
  }
  void operator()(const codec::Unsubscribe& u) {
    add(out, "packet_id", int_node(u.packet_id));
    props(u.properties);
    Node arr = array_node();
    for (std::string_view f : u.filters) arr.items.push_back(str_node(f));
    add(out, "filters", std::move(arr));
  }
  void operator()(const codec::UnsubAck& u) {
    add(out, "packet_id", int_node(u.packet_id));
    props(u.properties);
    if (info.version == ProtocolVersion::V5) {
      Node arr = array_node();
      for (ReasonCode rc : u.reason_codes) arr.items.push_back(reason_node(rc));
      add(out, "reason_codes", std::move(arr));
    }
  }
  void operator()(const codec::PingReq&) {}
  void operator()(const codec::PingResp&) {}
  void operator()(const codec::Disconnect& d) {
    if (info.version == ProtocolVersion::V5) add(out, "reason_code", reason_node(d.reason_code));
    props(d.properties);
  }
  void operator()(const codec::Auth& a) {
    add(out, "reason_code", reason_node(a.reason_code));
    props(a.properties);
  }
};

Node packet_node(const codec::Packet& p, const PacketInfo& info) {
  Node out = object_node();
  std::visit(PacketVisitor{info, out}, p);
  return out;
}

// ---------------------------------------------------------------------------
// Rendering.

std::string text_bytes(Bytes b, const FormatOptions& opts) {
  size_t shown = b.size();
  if (opts.max_payload != 0 && shown > opts.max_payload) shown = opts.max_payload;
  Bytes head = b.first(shown);
  std::string out;
  if (printable(b)) {
    out = text_quote(codec::as_string(head));
  } else {
    out = "hex " + (head.empty() ? std::string("(empty)") : to_hex(head));
  }
  out += " (" + std::to_string(b.size()) + (b.size() == 1 ? " byte" : " bytes");
  if (shown < b.size()) {
    out += ", truncated: first " + std::to_string(shown) + " shown, " +
           std::to_string(b.size() - shown) + " more";
  }
  out += ")";
  return out;
}

std::string text_scalar(const Node& n, const FormatOptions& opts) {
  switch (n.kind) {
    case Node::Kind::Null: return "(none)";
    case Node::Kind::Bool: return n.b ? "true" : "false";
    case Node::Kind::Int: return std::to_string(n.i);
    case Node::Kind::Str: return text_quote(n.s);
    case Node::Kind::Bin: return text_bytes(n.bytes, opts);
    case Node::Kind::Enum:
      return n.hex ? n.s + " (" + hex_byte(static_cast<unsigned>(n.i)) + ")" : n.s;
    case Node::Kind::Pair: return text_quote(n.s) + " = " + text_quote(n.s2);
    default: return "";
  }
}

void render_text_fields(const std::vector<Field>& fields, int indent, const FormatOptions& opts,
                        std::string& out);

void render_text_value(const Node& v, int indent, const FormatOptions& opts, std::string& out) {
  std::string pad(static_cast<size_t>(indent), ' ');
  if (v.scalar()) {
    out += " " + text_scalar(v, opts) + "\n";
  } else if (v.kind == Node::Kind::Object) {
    if (v.fields.empty()) {
      out += " (none)\n";
    } else {
      out += "\n";
      render_text_fields(v.fields, indent + 2, opts, out);
    }
  } else {  // Array
    bool all_scalar = true;
    for (const auto& it : v.items) all_scalar = all_scalar && it.scalar();
    if (v.items.empty()) {
      out += " (none)\n";
    } else if (all_scalar && v.items.size() == 1) {
      out += " " + text_scalar(v.items[0], opts) + "\n";
    } else {
      out += " (" + std::to_string(v.items.size()) + ")\n";
      for (size_t k = 0; k < v.items.size(); ++k) {
        out += pad + "  [" + std::to_string(k) + "]:";
        render_text_value(v.items[k], indent + 2, opts, out);
      }
    }
  }
}

void render_text_fields(const std::vector<Field>& fields, int indent, const FormatOptions& opts,
                        std::string& out) {
  std::string pad(static_cast<size_t>(indent), ' ');
  for (const auto& f : fields) {
    out += pad + f.label + ":";
    render_text_value(f.value, indent, opts, out);
  }
}

void render_json(const Node& n, const FormatOptions& opts, std::string& out);

void render_json_fields(const std::vector<Field>& fields, const FormatOptions& opts,
                        std::string& out, bool first) {
  for (const auto& f : fields) {
    if (!first) out += ",";
    first = false;
    out += json_quote(f.key) + ":";
    render_json(f.value, opts, out);
  }
}

void render_json(const Node& n, const FormatOptions& opts, std::string& out) {
  switch (n.kind) {
    case Node::Kind::Null: out += "null"; break;
    case Node::Kind::Bool: out += n.b ? "true" : "false"; break;
    case Node::Kind::Int: out += std::to_string(n.i); break;
    case Node::Kind::Str: out += json_quote(n.s); break;
    case Node::Kind::Bin: {
      size_t shown = n.bytes.size();
      if (opts.max_payload != 0 && shown > opts.max_payload) shown = opts.max_payload;
      Bytes head = n.bytes.first(shown);
      out += "{\"size\":" + std::to_string(n.bytes.size());
      if (printable(n.bytes)) {
        out += ",\"text\":" + json_quote(codec::as_string(head));
      } else {
        out += ",\"hex\":\"" + to_hex(head) + "\"";
      }
      if (shown < n.bytes.size()) out += ",\"truncated\":true";
      out += "}";
      break;
    }
    case Node::Kind::Enum:
      out += "{\"value\":" + std::to_string(n.i) + ",\"name\":" + json_quote(n.s) + "}";
      break;
    case Node::Kind::Pair:
      out += "{\"key\":" + json_quote(n.s) + ",\"value\":" + json_quote(n.s2) + "}";
      break;
    case Node::Kind::Object:
      out += "{";
      render_json_fields(n.fields, opts, out, true);
      out += "}";
      break;
    case Node::Kind::Array:
      out += "[";
      for (size_t k = 0; k < n.items.size(); ++k) {
        if (k) out += ",";
        render_json(n.items[k], opts, out);
      }
      out += "]";
      break;
  }
}

}  // namespace

// ---------------------------------------------------------------------------

std::optional<std::vector<uint8_t>> parse_hex(std::string_view text, std::string* error) {
  auto is_sep = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
           c == ',' || c == ';' || c == ':';
  };
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<uint8_t> out;
  size_t i = 0;
  while (i < text.size()) {
    if (is_sep(text[i])) {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < text.size() && !is_sep(text[i])) ++i;
    std::string_view tok = text.substr(start, i - start);
    bool prefixed = tok.size() >= 2 && tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X');
    std::string_view digits = prefixed ? tok.substr(2) : tok;
    for (size_t k = 0; k < digits.size(); ++k) {
      if (digit(digits[k]) < 0) {
        if (error) {
          *error = "invalid hex character '" + std::string(1, digits[k]) + "' at input offset " +
                   std::to_string(start + (prefixed ? 2 : 0) + k);
        }
        return std::nullopt;
      }
    }
    if (digits.empty()) {
      if (error) *error = "empty hex token at input offset " + std::to_string(start);
      return std::nullopt;
    }
    if (prefixed && digits.size() == 1) {
      out.push_back(static_cast<uint8_t>(digit(digits[0])));
      continue;
    }
    if (digits.size() % 2 != 0) {
      if (error) {
        *error = "odd number of hex digits in \"" + std::string(tok) + "\" at input offset " +
                 std::to_string(start);
      }
      return std::nullopt;
    }
    for (size_t k = 0; k < digits.size(); k += 2) {
      out.push_back(static_cast<uint8_t>(digit(digits[k]) * 16 + digit(digits[k + 1])));
    }
  }
  return out;
}

std::string to_hex(Bytes b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(b.size() * 2);
  for (uint8_t c : b) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xF];
  }
  return out;
}

std::string json_quote(std::string_view s) { return quote(s, "\\u%04x"); }

std::string format_text(const codec::Packet& p, const PacketInfo& info,
                        const FormatOptions& opts) {
  codec::PacketType type = codec::packet_type(p);
  std::string out = "#" + std::to_string(info.index) + " " + std::string(codec::to_string(type)) +
                    "  offset " + std::to_string(info.offset) + ", " +
                    std::to_string(info.size) + " bytes, first byte " +
                    hex_byte(info.first_byte) + " (flags " + hex_byte(info.first_byte & 0x0F) +
                    "), MQTT " + std::string(version_name(info.version)) + "\n";
  Node n = packet_node(p, info);
  render_text_fields(n.fields, 2, opts, out);
  return out;
}

std::string format_json(const codec::Packet& p, const PacketInfo& info,
                        const FormatOptions& opts) {
  codec::PacketType type = codec::packet_type(p);
  std::string out = "{\"index\":" + std::to_string(info.index) +
                    ",\"offset\":" + std::to_string(info.offset) +
                    ",\"size\":" + std::to_string(info.size) +
                    ",\"type\":" + json_quote(codec::to_string(type)) +
                    ",\"flags\":" + std::to_string(info.first_byte & 0x0F) +
                    ",\"version\":" + json_quote(version_name(info.version));
  Node n = packet_node(p, info);
  render_json_fields(n.fields, opts, out, false);
  out += "}";
  return out;
}

std::string_view codec_error_name(codec::CodecError e) {
  using E = codec::CodecError;
  switch (e) {
    case E::MalformedRemainingLength: return "MalformedRemainingLength";
    case E::PacketTooLarge: return "PacketTooLarge";
    case E::InvalidPacketType: return "InvalidPacketType";
    case E::InvalidFixedHeaderFlags: return "InvalidFixedHeaderFlags";
    case E::InvalidQoS: return "InvalidQoS";
    case E::LengthExceedsPacket: return "LengthExceedsPacket";
    case E::TrailingBytes: return "TrailingBytes";
    case E::MalformedVariableByteInteger: return "MalformedVariableByteInteger";
    case E::NonMinimalVariableByteInteger: return "NonMinimalVariableByteInteger";
    case E::InvalidUtf8: return "InvalidUtf8";
    case E::Utf8NullCharacter: return "Utf8NullCharacter";
    case E::Utf8Surrogate: return "Utf8Surrogate";
    case E::StringTooLong: return "StringTooLong";
    case E::EmptyTopicName: return "EmptyTopicName";
    case E::WildcardInTopicName: return "WildcardInTopicName";
    case E::EmptyTopicFilter: return "EmptyTopicFilter";
    case E::InvalidTopicFilter: return "InvalidTopicFilter";
    case E::NoTopicFilters: return "NoTopicFilters";
    case E::UnknownProperty: return "UnknownProperty";
    case E::DuplicateProperty: return "DuplicateProperty";
    case E::PropertyNotAllowed: return "PropertyNotAllowed";
    case E::InvalidPropertyValue: return "InvalidPropertyValue";
    case E::PropertiesNotSupported: return "PropertiesNotSupported";
    case E::MissingAuthenticationMethod: return "MissingAuthenticationMethod";
    case E::InvalidProtocolName: return "InvalidProtocolName";
    case E::UnsupportedProtocolVersion: return "UnsupportedProtocolVersion";
    case E::InvalidConnectFlags: return "InvalidConnectFlags";
    case E::InvalidConnAckFlags: return "InvalidConnAckFlags";
    case E::InvalidReasonCode: return "InvalidReasonCode";
    case E::ZeroPacketIdentifier: return "ZeroPacketIdentifier";
    case E::UnexpectedPacketIdentifier: return "UnexpectedPacketIdentifier";
    case E::InvalidSubscriptionOptions: return "InvalidSubscriptionOptions";
    case E::PayloadFormatInvalid: return "PayloadFormatInvalid";
    case E::BufferTooSmall: return "BufferTooSmall";
    case E::TooManyFilters: return "TooManyFilters";
    case E::SessionExpiryWasZero: return "SessionExpiryWasZero";
  }
  return "Unknown";
}

std::string format_error_text(codec::CodecError e, size_t offset) {
  return "error: " + std::string(codec::to_string(e)) + " [CodecError::" +
         std::string(codec_error_name(e)) + " (" + std::to_string(static_cast<int>(e)) +
         ")] at byte offset " + std::to_string(offset);
}

std::string format_error_json(codec::CodecError e, size_t offset) {
  return "{\"error\":" + json_quote(codec::to_string(e)) +
         ",\"code\":" + json_quote(codec_error_name(e)) +
         ",\"value\":" + std::to_string(static_cast<int>(e)) +
         ",\"offset\":" + std::to_string(offset) + "}";
}

}  // namespace mqtt::dissect
