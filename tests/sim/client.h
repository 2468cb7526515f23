// The simulated client: the real mqtt::session::Session, driven the way the
// runtime's driver drives it (mqtt/runtime/driver.cc): requests wait in a
// publish lane and a control lane and reach the session only while it can
// take them (can_send_publish, the output high-water mark, the held-control
// limit); output is written in possibly partial writes; input is fed as it
// arrives, with partial packets kept. As its SessionObserver it checks what
// the session reports against the Checker's ledger.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <span>
#include <vector>

#include "mqtt/session/session.h"
#include "tests/sim/broker.h"
#include "tests/sim/checker.h"
#include "tests/sim/config.h"
#include "tests/sim/network.h"
#include "tests/sim/rng.h"

namespace sim {

using mqtt::session::Request;

struct LaneItem {
  Request req;
  uint64_t n = 0;  // Publish: the message number
};

class Client : public mqtt::session::SessionObserver {
 public:
  Client(const SimConfig& cfg, Checker& chk, Rng rng, Trace trace);

  mqtt::session::Session session;
  std::deque<LaneItem> publish_lane;  // publishes and the disconnect marker
  std::deque<Request> control_lane;   // subscribe, unsubscribe, manual acks
  std::vector<std::shared_ptr<mqtt::detail::CompletionState>> control_tokens;
  bool transport = false;      // a connection exists (or is being made)
  bool disconnecting = false;  // the disconnect marker reached the session
  TimePoint disconnect_deadline = TimePoint::max();
  TimePoint reconnect_at{};
  TimePoint last_packet_in{};   // last time handle_input decoded a packet
  TimePoint last_partial{};     // last partial write
  TimePoint connected_at{};
  bool paused = false;          // the consumer is behind: input not read
  TimePoint resumed_at{};
  bool disconnect_requested = false;  // the user asked for the graceful disconnect

  // A transport is up: CONNECT.
  void connect(TimePoint now);
  // The transport is gone.
  void lost(TimePoint now);
  // Requests from the lanes into the session, as the driver pulls them.
  void pull(TimePoint now);
  // Received bytes; false when the session ended the connection.
  bool input(std::span<const uint8_t> bytes, TimePoint now);
  // Timers; false when the session ended the connection.
  bool timeout(TimePoint now);
  // What the transport takes of the output now.
  std::vector<uint8_t> write(TimePoint now);
  // Manual acks that are due go into the control lane.
  void ack_due(TimePoint now);
  bool acks_pending() const { return !acks_.empty(); }
  // The ends of a run.
  void fail_lanes(mqtt::RequestError why);
  // The disconnect's deadline passed before the session closed: what the
  // driver does (driver.cc, disconnect_expired).
  void disconnect_expired(TimePoint now);
  void set_paused(bool p, TimePoint now);
  // Bounds that must hold after every step.
  void check_bounds(TimePoint now);
  // Nothing in the lanes or in flight (`incoming`: nor incoming QoS 1/2 state).
  bool idle(bool incoming = true) const;

  // SessionObserver
  void on_incoming(std::span<const uint8_t> raw, const mqtt::codec::Packet& packet) override;
  void on_outgoing(const mqtt::Outgoing& out) override;
  void on_session_reset(const mqtt::session::ResetInfo& info) override;
  void on_request_failed(const mqtt::session::FailedRequest& failed) override;

 private:
  struct InFlight {
    uint64_t n = 0;
    bool comp = false;       // PUBREC received: PUBREL stage
    bool sent_here = false;  // PUBLISH or PUBREL written on this connection
    bool published_here = false;  // its PUBLISH written on this connection
    bool done = false;       // final ack received (erased after the input)
  };
  void note(const std::string& s) {
    if (trace_) trace_("client: " + s);
  }
  UpMsg* find_failed(const mqtt::session::FailedRequest& f);

  const SimConfig& cfg_;
  Checker& chk_;
  Rng rng_;
  Trace trace_;
  std::vector<uint8_t> rx_;                  // received, not yet consumed
  std::map<uint16_t, InFlight> out_ids_;     // outgoing QoS 1/2 in the session, by packet id
  std::vector<uint16_t> finished_ids_;       // acked during this input: erased after it
  uint64_t submitting_ = 0;                  // message being submitted
  TimePoint now_hint_{};                     // the time of the current call
  bool ever_connack_ = false;
  bool reset_expected_ = false, reset_seen_ = false;
  uint16_t receive_max_ = 0;  // the broker's, from this connection's CONNACK (0: none)
  struct DueAck {
    TimePoint at;
    uint16_t id;
    QoS qos;
  };
  std::deque<DueAck> acks_;
};

}  // namespace sim
