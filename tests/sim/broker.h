// The simulated broker: an in-memory MQTT 3.1.1 / 5 broker for one client,
// built on the library's codec. It keeps one persistent session (subscriptions,
// QoS 1/2 messages queued and in flight to the client, the client's QoS 2
// packet ids awaiting PUBREL), resumes it with Session Present = 1, resends
// unacknowledged PUBLISHes with DUP and PUBRELs after a reconnect
// [MQTT-4.4.0-1], enforces its keep alive (1.5 x) and honours the client's
// Receive Maximum. It reports what it stores and acknowledges to the Checker,
// and anything the client does against the protocol as a violation.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mqtt/codec/decoder.h"
#include "mqtt/codec/packets.h"
#include "tests/sim/checker.h"
#include "tests/sim/config.h"
#include "tests/sim/network.h"
#include "tests/sim/rng.h"

namespace sim {

using Trace = std::function<void(const std::string&)>;

// The topics the broker publishes on, and the filters the user picks from.
inline constexpr const char* kBrokerTopics[] = {"b/0", "b/1", "b/2", "b/3"};
inline constexpr const char* kFilters[] = {"b/0", "b/1", "b/+", "b/#", "b/3"};
bool topic_matches(std::string_view filter, std::string_view topic);

// A message's number travels as the decimal prefix of its payload.
std::vector<uint8_t> make_payload(uint64_t n, size_t size);
std::optional<uint64_t> payload_number(std::span<const uint8_t> payload);

class Broker {
 public:
  Broker(const SimConfig& cfg, Checker& chk, Rng rng, Trace trace)
      : cfg_(cfg), chk_(chk), rng_(rng), trace_(std::move(trace)) {}

  void connection_opened(TimePoint now);
  // The connection is gone (either side closed it).
  void connection_closed();
  // Bytes from the client. False: the broker closes the connection
  // (DISCONNECT received, or the client broke the protocol).
  bool receive(std::span<const uint8_t> bytes, TimePoint now);
  // Keep alive: false when the broker closes the connection.
  bool tick(TimePoint now);
  std::vector<uint8_t> take_output();
  // MQTT 5: the DISCONNECT a broker sends before it closes the connection
  // (empty for 3.1.1 or without a connection).
  std::vector<uint8_t> goodbye(mqtt::ReasonCode why);
  // Restarts: the connection drops; the session survives only if `keep`.
  void restart(bool keep);
  // The broker's application publishes message `n` on `topic`.
  void publish(uint64_t n, const std::string& topic, QoS qos, size_t payload_size);

  bool connected() const { return conn_ && conn_->connack_sent; }
  bool has_session() const { return session_.has_value(); }
  // Nothing queued for or in flight to the client, no QoS 2 state from it.
  bool quiescent() const;
  uint64_t epoch() const { return epoch_; }
  TimePoint keepalive_deadline() const;
  std::string describe() const;

 private:
  struct OutMsg {
    uint64_t n = 0;
    QoS qos = QoS::AtMostOnce;
    std::string topic;
    size_t size = 0;
    enum class Stage : uint8_t { AwaitAck, AwaitRec, AwaitComp } stage = Stage::AwaitAck;
    uint64_t seq = 0;  // send order, for resends
  };
  struct SessionState {
    std::map<std::string, QoS> subs;
    std::map<uint16_t, uint64_t> in_qos2;  // client's packet id -> message (PUBREC sent)
    std::vector<OutMsg> queue;              // not yet sent
    std::map<uint16_t, OutMsg> inflight;    // sent, not completed
    uint16_t next_id = 1;
    uint32_t expiry = 0;                    // MQTT 5 Session Expiry Interval
  };
  struct Conn {
    mqtt::codec::StreamDecoder decoder;
    bool got_connect = false;
    bool connack_sent = false;
    TimePoint last_rx{};
    std::chrono::seconds keep_alive{0};
    uint16_t client_receive_max = 65535;
    uint16_t client_alias_max = 0;
    std::map<uint16_t, std::string> in_aliases;   // from the client
    std::map<uint16_t, std::string> out_aliases;  // to the client
  };

  bool v5() const { return cfg_.session.version == mqtt::ProtocolVersion::V5; }
  void send(const mqtt::codec::Packet& p);
  void send_publish(uint16_t id, OutMsg& m, bool dup);
  void pump();
  void lose_session();
  bool violation(const std::string& what);
  bool handle(mqtt::codec::Packet& p, TimePoint now);
  bool on_connect(const mqtt::codec::Connect& c, TimePoint now);
  bool on_publish(const mqtt::codec::Publish& p);
  // PUBACK (`stage` AwaitAck) or PUBCOMP (AwaitComp): message `id` is done.
  void finish(uint16_t id, OutMsg::Stage stage, const char* what);
  void note(const std::string& s) {
    if (trace_) trace_("broker: " + s);
  }

  const SimConfig& cfg_;
  Checker& chk_;
  Rng rng_;
  Trace trace_;
  std::optional<SessionState> session_;
  std::optional<Conn> conn_;
  std::vector<uint8_t> out_;
  uint64_t epoch_ = 0;
  uint16_t receive_max_ = cfg_.broker_receive_max;  // announced in CONNACK (0: absent)
  uint64_t seq_ = 0;
  bool must_close_ = false;
};

}  // namespace sim
