// Everything that configures a client connection. Plain data: copy it, change
// it, hand it to Client::create(). Some fields can also be changed later
// through Client::update_options(); they take effect at the next reconnect.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mqtt/codec/types.h"
#include "mqtt/diagnostics.h"
#include "mqtt/session_store.h"
#include "transport/tls/tls.h"

namespace mqtt {

// Owned MQTT 5 user property.
struct StringPair {
  std::string key;    // the property's name
  std::string value;  // its value
};

// The Will message the broker publishes when the connection ends without a
// DISCONNECT (normal disconnection).
struct LastWill {
  std::string topic;          // the Will topic
  std::string payload;        // the Will payload
  QoS qos = QoS::AtMostOnce;  // the Will QoS
  bool retain = false;        // the Will retain flag
  // MQTT 5 Will properties (ignored for 3.1.1).
  // @{
  std::optional<uint32_t> delay_interval_s;
  std::optional<uint32_t> message_expiry_interval_s;
  std::optional<std::string> content_type;
  std::vector<StringPair> user_properties;
  // @}
};

// Waits between reconnect attempts: initial * multiplier^n, capped at max,
// each scaled by a random factor in [1 - jitter, 1 + jitter]. The sequence
// starts over once a connection has stayed up for reset_after.
struct Backoff {
  std::chrono::milliseconds initial{100};  // the first wait
  std::chrono::milliseconds max{30000};    // the longest wait
  double multiplier = 2.0;                 // growth from one wait to the next
  double jitter = 0.2;  // 0..1
  std::chrono::milliseconds reset_after{10000};  // uptime that restarts the sequence
};

// How a thread waits for work: block in the kernel (default, no CPU when idle),
// spin for spin_for then block, or spin only (lowest latency, a core at 100%).
enum class WaitStrategy : uint8_t { Block, SpinThenBlock, Spin };

// Outgoing PUBLISH rate limits (token buckets): a publish waits until both
// buckets hold its cost.
struct RateLimit {
  double messages_per_second = 0;  // outgoing PUBLISHes; 0 = unlimited
  double bytes_per_second = 0;     // outgoing PUBLISH bytes; 0 = unlimited
  // Largest burst allowed above the steady rate (in messages / bytes); 0 means
  // one second's worth.
  // @{
  double burst_messages = 0;
  double burst_bytes = 0;
  // @}
};

// TLS settings (trust, client certificate, SNI, verification, ALPN,
// versions, an SSL_CTX hook, session resumption): see transport/tls/tls.h.
using TlsOptions = transport::tls::Options;

// A proxy between the client and the broker (TCP only): HTTP CONNECT
// (optionally with basic authentication) or SOCKS5 (no authentication or
// user name and password; host names are resolved by the proxy). TLS, when
// set, runs through the tunnel to the broker.
struct ProxyOptions {
  // The proxy protocol.
  enum class Kind : uint8_t { HttpConnect, Socks5 };
  Kind kind = Kind::HttpConnect;  // the proxy protocol
  std::string host = {};          // the proxy's host name or IP literal
  uint16_t port = 0;              // the proxy's port
  std::optional<std::string> username = {};  // set: authenticate with these
  std::optional<std::string> password = {};  // set: authenticate with these
};

// MQTT over WebSocket (ws://, or wss:// when MqttOptions::tls is also set):
// libwebsockets, driven by the reactor thread. host and port name the HTTP
// server; see docs/transports.md.
struct WebSocketOptions {
  std::string path = "/mqtt";  // path and query, e.g. "/mqtt?x=1"
  // Extra request headers (e.g. Authorization), sent on every (re)connect;
  // update_options() changes them for the next one.
  std::vector<StringPair> headers = {};
  std::string subprotocol = "mqtt";  // Sec-WebSocket-Protocol
  std::string origin = {};  // Origin header; empty: none
  // Largest WebSocket message sent; also libwebsockets' receive chunk.
  size_t max_message = 64 * 1024;
};

// One broker of MqttOptions::brokers: host and port, or a Unix domain socket.
// TLS, proxy, credentials and every other option are shared by the list.
struct BrokerAddress {
  std::string host;      // host name or IP literal (IPv6 without brackets)
  uint16_t port = 1883;  // TCP port
  std::string unix_path = {};  // non-empty: this socket instead of host:port

  // Member-wise equality.
  bool operator==(const BrokerAddress&) const = default;
};

// How events name a broker: "host:port", "[v6::addr]:port", "unix:/path".
inline std::string to_string(const BrokerAddress& b) {
  if (!b.unix_path.empty()) return "unix:" + b.unix_path;
  const bool v6 = b.host.find(':') != std::string::npos;
  return (v6 ? "[" + b.host + "]" : b.host) + ":" + std::to_string(b.port);
}

// The options of one client connection (see options.h): plain data, with no
// locking of its own. Client::create() and update_options() check it
// (validate()) and fail on bad values.
struct MqttOptions {
  MqttOptions() = default;
  // The client id and the broker's host and port; everything else default.
  MqttOptions(std::string client_id_, std::string host_, uint16_t port_)
      : client_id(std::move(client_id_)), host(std::move(host_)), port(port_) {}

  // --- where and who ---
  std::string client_id;  // may be empty with MQTT 5 (the broker assigns one)
  std::string host = "localhost";  // broker host name or IP literal
  uint16_t port = 1883;            // broker port
  // Non-empty: connect to this Unix domain socket instead of host:port (a
  // leading '@' names Linux's abstract namespace). At most 107 bytes.
  std::string unix_path;
  // Non-empty: several brokers (e.g. the nodes of a cluster), tried in turn
  // on each (re)connect; host, port and unix_path are then not used. A failed
  // attempt moves on to the next broker at once; the backoff wait comes only
  // after a whole round has failed. After a connection that worked drops,
  // the next round starts with that broker. Each attempt's ConnectionError,
  // and the CONNACK (Incoming::broker()), name the broker. See
  // docs/transports.md, "Broker lists and failover". apply_urls() fills it.
  std::vector<BrokerAddress> brokers;
  // Happy Eyeballs (RFC 8305) for names with several addresses: the next
  // address is tried when the previous one has not connected within this
  // delay (both stay in the race). 0 = all at once; max() = one at a time.
  std::chrono::milliseconds connection_attempt_delay{250};
  // TCP socket settings.
  bool tcp_nodelay = true;   // TCP_NODELAY (no Nagle delay on small packets)
  int send_buffer = 0;       // SO_SNDBUF in bytes; 0 = the system's default
  int receive_buffer = 0;    // SO_RCVBUF in bytes; 0 = the system's default
  std::string bind_address;  // local IP literal to connect from; empty = any
  // Set: MQTT over WebSocket to host:port (not with unix_path).
  std::optional<WebSocketOptions> websocket;
  // Set: connect through this proxy (not with unix_path).
  std::optional<ProxyOptions> proxy;
  // Set: TLS over the TCP (or Unix) connection. The certificate must match
  // `host` unless tls->verify_host is false. CA files, certificates and keys
  // are loaded by create() / update_options(), which refuse bad ones.
  std::optional<TlsOptions> tls;
  ProtocolVersion protocol = ProtocolVersion::V311;  // MQTT 3.1.1 or 5
  std::optional<std::string> username;  // CONNECT User Name; unset: none
  std::optional<std::string> password;  // CONNECT Password; unset: none
  std::optional<LastWill> last_will;    // set: CONNECT carries this Will

  // --- session ---
  bool clean_session = true;  // "Clean Start" in MQTT 5
  // 0 disables keepalive; 0..65535 s (MQTT's range), else create() fails.
  std::chrono::seconds keep_alive{60};
  // How long the broker may stay silent once our PINGREQ is written (any
  // packet it sends counts: its PINGRESP may be queued behind a backlog of
  // messages). 0 (the default) = automatic: half the keep alive, at least
  // 500 ms and at most 10 s. A dead link is
  // detected within keep_alive + effective_ping_timeout() of the last packet
  // received (e.g. 6 s at keep alive 4 s, 70 s at 60 s). max() = never.
  std::chrono::milliseconds ping_timeout{0};
  // Bounds TCP connect plus the CONNACK wait. max() = no limit.
  std::chrono::milliseconds connect_timeout{10000};
  uint16_t max_inflight = 100;  // outgoing QoS 1/2 window (MQTT 5: also <= Receive Maximum)
  uint32_t max_incoming_packet_size = 1024 * 1024;  // larger incoming packets end the connection
  bool manual_acks = false;       // incoming QoS 1/2 acknowledged only by Client::ack()
  bool auto_resubscribe = false;  // resubscribe after a reconnect that lost the session
  std::optional<uint32_t> session_expiry_interval_s;  // MQTT 5 CONNECT property
  std::optional<uint16_t> receive_maximum;             // MQTT 5 CONNECT property
  // MQTT 5 Topic Aliases (docs/session.md, "Topic aliases"). Ignored for
  // 3.1.1. Changes apply from the next connection.
  // The highest Topic Alias the broker may use in PUBLISHes to us (CONNECT
  // Topic Alias Maximum). 0 (default, as in the spec and rumqttc): none, and
  // a broker that sends one anyway is disconnected (0x94). Events always
  // carry the resolved topic. Memory: 32 bytes per alias once the broker
  // uses one, plus the topics it maps.
  uint16_t topic_alias_maximum = 0;
  // Automatic aliases for our publishes: a topic published again goes out
  // as a 2-byte alias instead of its name. At most this many topics, and
  // never more than the broker's Topic Alias Maximum from CONNACK, keep an
  // alias (least recently used replaced). 0 (default): off. Topics of 3
  // bytes or fewer are never aliased. A per-publish alias
  // (Properties::topic_alias) works without this.
  uint16_t auto_topic_aliases = 0;
  std::vector<StringPair> connect_user_properties;     // MQTT 5 CONNECT property
  // MQTT 5 enhanced authentication (spec 4.12; docs/session.md, "Enhanced
  // authentication"). Set: CONNECT carries this Authentication Method (and
  // authentication_data as Authentication Data when not empty); the
  // broker's AUTH challenges arrive as Incoming(Auth) events, before the
  // CONNACK too, and are answered with Client::auth(). validate() refuses
  // data without a method, an empty method, and a method with MQTT 3.1.1.
  // Changes apply from the next connection.
  // @{
  std::optional<std::string> authentication_method;
  std::string authentication_data;
  // @}
  // MQTT 5: ask for Response Information in the CONNACK (Request Response
  // Information = 1; see mqtt/request_response.h).
  bool request_response_information = false;
  // Set: the session survives a restart of this process
  // (docs/session-store.md). create() loads the state stored for client_id
  // (with clean_session = false; with true the first CONNACK clears it) and
  // fails with CreateError::StoreFailed when it cannot; from then on every
  // change of the session's QoS 1/2 state is written by a store thread of
  // this connection, at the store's Durability. Tokens and RequestStored
  // events say when a publish is stored. Null (default): no store, and the
  // publish path is unchanged. Fixed at create(): update_options() keeps
  // the one given there.
  std::shared_ptr<SessionStore> session_store;

  // --- reconnect ---
  Backoff backoff;
  // MQTT 5 server redirection: a refusing CONNACK or a DISCONNECT with Use
  // another server (0x9C) or Server moved (0x9D) and a Server Reference
  // sends the next attempt to the (first) referenced server, ahead of the
  // broker list; TLS then checks that server's name. Off: the reference is
  // only reported (ConnectionError::server_reference).
  bool follow_server_redirects = false;
  // Refusals that will not heal by themselves (bad user name or password, not
  // authorized, unsupported protocol version, client id rejected, banned) end
  // the loop unless this is true.
  bool reconnect_on_fatal_refusal = false;

  // --- flow ---
  RateLimit rate_limit;
  // Report Outgoing events too. They take room in the event queue, so a
  // stalled consumer then holds back publishing as well.
  bool outgoing_events = false;

  // --- diagnostics (mqtt/diagnostics.h) ---
  // Set: connection-level log records at `log_level` and above, handed to
  // the sink on the consumer thread (never on the reactor). Null (default):
  // nothing is recorded. Fixed at create(): update_options() keeps these.
  LogSink log_sink;
  LogLevel log_level = LogLevel::Info;  // the least severe level recorded
  // Records held for the consumer; more are dropped (Counters::log_dropped),
  // 0 drops them all.
  size_t log_buffer = 256;

  // --- threads ---
  std::string reactor_thread_name = "mqtt-reactor";  // at most 15 characters shown
  int reactor_cpu = -1;  // pin the reactor thread to this CPU; -1 = no pinning
  WaitStrategy reactor_wait = WaitStrategy::Block;  // the reactor thread's idle wait
  WaitStrategy consumer_wait = WaitStrategy::Block;  // Connection::next()
  std::chrono::microseconds spin_for{50};            // for SpinThenBlock

  // The ping timeout in force: ping_timeout, or the automatic one.
  std::chrono::milliseconds effective_ping_timeout() const {
    if (ping_timeout.count() > 0) return ping_timeout;
    const int64_t ka_s = std::clamp<int64_t>(keep_alive.count(), 0, 65535);
    return std::chrono::milliseconds(std::clamp<int64_t>(ka_s * 500, 500, 10000));
  }

  // rumqttc-style setters, chainable: each sets the field of the same name
  // (set_inflight: max_inflight) and returns *this. Never fail; values are
  // checked by create().
  // @{
  MqttOptions& set_keep_alive(std::chrono::seconds s) { keep_alive = s; return *this; }
  MqttOptions& set_clean_session(bool b) { clean_session = b; return *this; }
  MqttOptions& set_credentials(std::string user, std::string pass) {
    username = std::move(user);
    password = std::move(pass);
    return *this;
  }
  MqttOptions& set_last_will(LastWill w) { last_will = std::move(w); return *this; }
  MqttOptions& set_protocol(ProtocolVersion v) { protocol = v; return *this; }
  MqttOptions& set_inflight(uint16_t n) { max_inflight = n; return *this; }
  MqttOptions& set_manual_acks(bool b) { manual_acks = b; return *this; }
  // @}
};

}  // namespace mqtt
