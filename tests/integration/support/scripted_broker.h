// A scripted broker for tests: a small program that accepts a connection and
// sends exactly the bytes a case needs. No MQTT logic of its own, no
// dependency on the client library; packets are built by hand below.
//
//   ScriptedBroker sb;                          // listens on 127.0.0.1:0
//   auto o = client_options("x", sb.port());    // the client connects to it
//   auto peer = sb.accept(5s);                  // nullptr on timeout
//   REQUIRE(peer);
//   REQUIRE(peer->expect_connect(5s));          // the first packet is CONNECT
//   peer->send(connack_v311(false, 0));
//   auto p = peer->read_packet(2s);             // one whole packet, or nullopt
//   peer->flood(make_publish, max_bytes, max_time);  // background writer
//   peer->reset();                              // RST (SO_LINGER 0)
//
// ScriptedBroker: binds 127.0.0.1:0 (its own socket: no port race).
// `rcvbuf` > 0 sets SO_RCVBUF, and `mss` > 0 TCP_MAXSEG, on the listening
// socket before listen(), so accepted connections inherit them. A peer that
// then never reads backs the client's writes up sooner: on loopback (MSS
// 64 KiB) Linux grows the client's send buffer to MBs (about 2.8 MB seen
// with rcvbuf alone); a small MSS keeps that autotuning small.
//
// ScriptedPeer: one accepted TCP connection. Every call is bounded by its
// timeout (poll + non-blocking I/O). Threads: read_packet/expect_connect on
// one thread; send() may be called from another, and is serialized with the
// flood writer (whole packets are never interleaved). The destructor stops
// the flood thread (bounded) and closes the socket.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace itest {

using Bytes = std::vector<uint8_t>;

class ScriptedPeer {
 public:
  explicit ScriptedPeer(int fd);  // takes ownership of a connected socket
  ~ScriptedPeer();
  ScriptedPeer(const ScriptedPeer&) = delete;
  ScriptedPeer& operator=(const ScriptedPeer&) = delete;

  // One whole MQTT packet (fixed header + remaining length bytes), or
  // nullopt on timeout, end of stream, error, a malformed remaining length,
  // or after stop_reading()/close(). closed() tells the end of stream apart.
  std::optional<Bytes> read_packet(std::chrono::milliseconds timeout);
  // Reads packets until one of type `type` (1..15) arrives; the skipped
  // ones are appended to *skipped when given. Bounded by timeout and 10,000
  // packets.
  std::optional<Bytes> read_until_type(uint8_t type, std::chrono::milliseconds timeout,
                                       std::vector<Bytes>* skipped = nullptr);
  // The first packet, which must be CONNECT: nullopt (and `why`) otherwise.
  std::optional<Bytes> expect_connect(std::chrono::milliseconds timeout, std::string* why = nullptr);
  // True once the client closed (EOF) or reset the connection (seen by a read).
  bool closed() const { return closed_; }
  // Waits (reading and discarding) until the client closes or resets the
  // connection. True when it did within `timeout`.
  bool wait_closed(std::chrono::milliseconds timeout);

  // Writes all of `bytes` within `timeout` (default 5 s). False when the
  // socket failed or the timeout passed (then part may have been written).
  bool send(std::span<const uint8_t> bytes,
            std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  // A slow drip: `chunk` bytes at a time with `gap` between writes (each
  // write bounded by 5 s). False as send().
  bool send_drip(std::span<const uint8_t> bytes, size_t chunk, std::chrono::milliseconds gap);

  void close();         // orderly close (FIN); stops a flood first
  void reset();         // SO_LINGER 0 + close: the client gets RST
  void stop_reading();  // never read again (read_packet returns nullopt)

  // Writes packets make(0), make(1), ... back to back on a background thread,
  // never reading, until max_bytes were written, max_time passed, the socket
  // failed, or stop_flood(). `make(n)` runs on that thread.
  using Maker = std::function<Bytes(uint64_t n)>;
  void flood(Maker make, uint64_t max_bytes, std::chrono::milliseconds max_time);
  void flood(Bytes packet, uint64_t max_bytes, std::chrono::milliseconds max_time);
  void stop_flood();  // joins the flood thread (bounded by its 100 ms poll slices)
  uint64_t flood_bytes_sent() const { return flood_bytes_.load(); }
  uint64_t flood_packets_sent() const { return flood_packets_.load(); }
  bool flooding() const { return flooding_.load(); }
  // When the flood last wrote a byte (or started), and why it ended ("" while
  // running): "max_bytes", "max_time", "stopped", "error: ...".
  std::chrono::steady_clock::time_point flood_last_progress() const;
  std::string flood_end_reason() const;

  int fd() const { return fd_; }

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);  // reads into buf_
  // Writes all of bytes unless the deadline passes or `stop` gets set.
  bool write_all(std::span<const uint8_t> bytes, std::chrono::steady_clock::time_point deadline,
                 const std::atomic<bool>* stop, std::string* error);

  int fd_ = -1;
  Bytes buf_;  // bytes read but not yet returned
  bool closed_ = false;
  bool reading_stopped_ = false;
  std::mutex write_mu_;

  std::thread flood_thread_;
  std::atomic<bool> flood_stop_{false};
  std::atomic<bool> flooding_{false};
  std::atomic<uint64_t> flood_bytes_{0};
  std::atomic<uint64_t> flood_packets_{0};
  std::atomic<int64_t> flood_progress_ns_{0};
  mutable std::mutex flood_mu_;
  std::string flood_end_;
};

class ScriptedBroker {
 public:
  // Listens on 127.0.0.1:0. Throws std::runtime_error when it cannot.
  explicit ScriptedBroker(int rcvbuf = 0, int mss = 0);
  ~ScriptedBroker();
  ScriptedBroker(const ScriptedBroker&) = delete;
  ScriptedBroker& operator=(const ScriptedBroker&) = delete;

  uint16_t port() const { return port_; }
  // The next connection, or nullptr when none came within `timeout`.
  std::unique_ptr<ScriptedPeer> accept(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// --- packets, built by hand (MQTT 3.1.1 and 5) ---

// MQTT 5 CONNACK properties; empty ones are left out.
struct ConnAckProps {
  std::optional<uint32_t> maximum_packet_size;  // 0x27
  std::optional<uint8_t> maximum_qos;           // 0x24
  std::optional<uint8_t> retain_available;      // 0x25
  std::optional<uint16_t> receive_maximum;      // 0x21
  std::optional<uint16_t> topic_alias_maximum;  // 0x22
  std::optional<std::string> server_reference;  // 0x1C
  std::optional<std::string> authentication_method;  // 0x15
  std::optional<std::string> authentication_data;    // 0x16
};

Bytes connack_v311(bool session_present, uint8_t return_code);
Bytes connack_v5(bool session_present, uint8_t reason_code, const ConnAckProps& props = {});
Bytes publish_v311(std::string_view topic, std::string_view payload, uint8_t qos,
                   uint16_t packet_id, bool retain = false, bool dup = false);
// `topic` may be empty when topic_alias is set (the case MQTT 5 allows only
// for an alias already mapped).
Bytes publish_v5(std::string_view topic, std::string_view payload, uint8_t qos,
                 uint16_t packet_id, std::optional<uint16_t> topic_alias = std::nullopt);
Bytes puback(uint16_t packet_id);  // the short form, valid in 3.1.1 and 5
// PUBREC, PUBREL, PUBCOMP, UNSUBACK (3.1.1): the short form (packet id only),
// valid in 3.1.1 and 5 except UNSUBACK (MQTT 5 needs reason codes).
Bytes pubrec(uint16_t packet_id);
Bytes pubrel(uint16_t packet_id);
Bytes pubcomp(uint16_t packet_id);
Bytes unsuback_v311(uint16_t packet_id);
Bytes unsuback_v5(uint16_t packet_id, const std::vector<uint8_t>& codes);
Bytes pingresp();
Bytes suback_v311(uint16_t packet_id, const std::vector<uint8_t>& codes);
Bytes suback_v5(uint16_t packet_id, const std::vector<uint8_t>& codes);
Bytes disconnect_v5(uint8_t reason_code);
// DISCONNECT with a Server Reference property (0x1C), e.g. 0x9D Server moved.
Bytes disconnect_v5(uint8_t reason_code, std::string_view server_reference);

// MQTT 5 AUTH (enhanced authentication): reason code, Authentication
// Method and (when set) Authentication Data.
Bytes auth_v5(uint8_t reason_code, std::string_view method,
              std::optional<std::string_view> data = std::nullopt);

// --- reading packets ---

// The packet type (high nibble of byte 0: 1 CONNECT ... 14 DISCONNECT), 0
// for an empty vector.
uint8_t packet_type(std::span<const uint8_t> packet);
std::string_view packet_type_name(uint8_t type);
// Offset of the variable header (after the remaining length), or nullopt.
std::optional<size_t> body_offset(std::span<const uint8_t> packet);
// DISCONNECT's reason code: 0x00 for the 2-byte form (3.1.1, or MQTT 5
// Normal disconnection); nullopt when not a DISCONNECT.
std::optional<uint8_t> disconnect_reason(std::span<const uint8_t> packet);
// The packet identifier that starts the variable header of PUBACK, PUBREC,
// PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK; nullopt otherwise.
std::optional<uint16_t> leading_packet_id(std::span<const uint8_t> packet);
// A QoS 1/2 PUBLISH's packet identifier; nullopt otherwise.
std::optional<uint16_t> publish_packet_id(std::span<const uint8_t> packet);
// The reason code of an MQTT 5 PUBACK/PUBREC/PUBREL/PUBCOMP: 0x00 for the
// short form; nullopt when not one of those.
std::optional<uint8_t> ack_reason(std::span<const uint8_t> packet);
// A PUBLISH's topic name; nullopt when not a PUBLISH.
std::optional<std::string> publish_topic(std::span<const uint8_t> packet);
// CONNECT's protocol level (4 = 3.1.1, 5 = MQTT 5), connect flags and keep
// alive; nullopt when not a CONNECT.
struct ConnectInfo {
  uint8_t protocol_level = 0;
  uint8_t flags = 0;
  uint16_t keep_alive = 0;
  bool clean() const { return (flags & 0x02) != 0; }
};
std::optional<ConnectInfo> connect_info(std::span<const uint8_t> packet);
// The enhanced-authentication fields of a CONNECT (MQTT 5) or an AUTH:
// the AUTH's reason code (0 for a CONNECT), Authentication Method and Data
// when present. nullopt when the packet is neither, or its properties
// cannot be walked.
struct AuthInfo {
  uint8_t reason_code = 0;
  std::optional<std::string> method;
  std::optional<std::string> data;
};
std::optional<AuthInfo> auth_info(std::span<const uint8_t> packet);
// "PUBLISH(12 bytes)" and the like, for messages.
std::string describe_packet(std::span<const uint8_t> packet);

}  // namespace itest
