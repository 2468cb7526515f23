// The MQTT session state machine: sans-I/O. It takes bytes received, requests
// and the current time; it writes bytes to send into its output buffer and
// reports events to an observer. No sockets, no threads, no clock reads: every
// call that depends on time takes `now`. Not thread-safe: one owner (the
// reactor thread, or a unit test).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mqtt/codec/decoder.h"
#include "mqtt/codec/packets.h"
#include "mqtt/completion.h"
#include "mqtt/connection_error.h"
#include "mqtt/outgoing.h"
#include "mqtt/result.h"
#include "mqtt/session/request.h"

namespace mqtt::session {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = std::chrono::nanoseconds;

struct SessionConfig {
  ProtocolVersion version = ProtocolVersion::V311;
  std::chrono::seconds keep_alive{60};  // 0 disables keepalive pings
  Duration ping_timeout = std::chrono::seconds(10);
  uint16_t max_inflight = 100;      // outgoing QoS 1/2 window (1..65535)
  bool manual_acks = false;         // incoming QoS 1/2 acked only on Ack requests
  bool auto_resubscribe = false;    // resend SUBSCRIBEs after a session reset
  // Incoming packets above this size end the connection (PacketTooLarge).
  uint32_t max_incoming_packet_size = 1024 * 1024;
  // MQTT 5 Topic Aliases (topic_alias.h). The highest alias the broker may
  // send us, announced in CONNECT (0: none, and any alias is refused).
  uint16_t topic_alias_maximum = 0;
  // Automatic aliases for outgoing publishes: at most this many topics (and
  // never more than the broker's Topic Alias Maximum) have one; 0: off.
  uint16_t auto_topic_aliases = 0;
  // A session store is configured (docs/session-store.md): the session
  // reports store records through SessionObserver::on_store, holds each
  // PUBREL until its PUBREC record is stored and each PUBREC until its
  // incoming QoS 2 record is stored (store_confirmed()). Off: none of it,
  // one branch per place it would happen.
  bool store = false;
};

// One change of the session state a store keeps (SessionConfig::store).
// Records are numbered 1, 2, 3... in the order they happen; a store keeps
// them in that order. Views are valid during the call only.
struct StoreEvent {
  enum class Type : uint8_t {
    Publish,           // outgoing QoS 1/2 PUBLISH taken (id assigned): `bytes`
    PubRecReceived,    // outgoing QoS 2: PUBREC came, the PUBREL is pending
    PublishDone,       // outgoing: PUBACK / PUBCOMP / refused: forget the id
    IncomingQos2,      // incoming QoS 2 PUBLISH with a new id (PUBREC pending)
    IncomingReleased,  // incoming QoS 2: PUBREL came (PUBCOMP written)
    ClientId,          // the broker assigned a client id: `bytes`
    Clear,             // the broker's session is gone (or a new one starts)
  };
  Type type = Type::Publish;
  uint64_t seq = 0;
  uint16_t packet_id = 0;
  QoS qos = QoS::AtMostOnce;
  std::span<const uint8_t> bytes;  // Publish: the PUBLISH as stored; ClientId: the id
  // Publish: the request's token (null when untracked).
  const std::shared_ptr<mqtt::detail::CompletionState>* completion = nullptr;
};

// Session state loaded from a store, for Session::restore().
struct RestoredState {
  struct Publish {
    uint16_t packet_id = 0;
    QoS qos = QoS::AtLeastOnce;
    bool pubrec_received = false;  // QoS 2: the PUBREL is what remains
    std::vector<uint8_t> bytes;    // the PUBLISH (empty once PUBREC was received)
    ProtocolVersion version = ProtocolVersion::V311;  // what `bytes` are encoded for
  };
  std::vector<Publish> outgoing;  // in the order their last packet was sent
  std::vector<uint16_t> incoming_qos2;
  std::string assigned_client_id;
};

// Session state dropped (see SessionObserver::on_session_reset).
struct ResetInfo {
  uint32_t dropped_publishes = 0;  // QoS 1/2 awaiting PUBACK/PUBREC
  uint32_t dropped_pubrels = 0;    // QoS 2 awaiting PUBCOMP
  bool subscriptions_lost = false; // a filter had been granted in the old session
  uint32_t resubscribing = 0;      // filters auto_resubscribe sends again
};

// A request without a token that failed after it was accepted. Views are
// valid during the call only.
struct FailedRequest {
  Request::Kind kind = Request::Kind::Publish;
  QoS qos = QoS::AtMostOnce;
  uint16_t packet_id = 0;   // 0: none assigned
  std::string_view topic;   // Publish; empty when no longer known
  RequestError reason = RequestError::ConnectionClosed;
  std::string_view message;
};

// Receives the session's events, synchronously, on the session owner's thread.
class SessionObserver {
 public:
  virtual ~SessionObserver() = default;
  // Every incoming packet, in arrival order, once the session accepted it.
  // `raw` is the packet's bytes and `packet`'s views point into it: both are
  // valid only during the call. One exception: a PUBLISH that came with a
  // Topic Alias carries its resolved topic, which points into the session's
  // alias table instead (`raw` has the topic as sent, possibly empty).
  // Duplicate QoS 2 PUBLISHes (same id before PUBREL) are not reported;
  // neither is a packet that breaks the protocol (before CONNACK, a Topic
  // Alias above our maximum...): the error is.
  virtual void on_incoming(std::span<const uint8_t> raw, const codec::Packet& packet) = 0;
  // Every packet written into the output buffer.
  virtual void on_outgoing(const Outgoing& out) = 0;
  // The broker did not resume the session on a reconnect (CONNACK session
  // present = 0 after an earlier CONNACK), whether or not anything was in
  // flight: in-flight publishes and PUBRELs were dropped (their tokens fail
  // with SessionReset) and the broker's subscriptions are gone.
  virtual void on_session_reset(const ResetInfo& info) = 0;
  // An untracked request failed (tracked ones fail through their token).
  virtual void on_request_failed(const FailedRequest& failed) = 0;
  // A tracked request failed: its token has just been completed with `why`.
  // For counting; the token already carries the error.
  virtual void on_token_failed(RequestError /*why*/, std::string_view /*message*/) {}
  // SessionConfig::store only: a record for the store, in order. The
  // session goes on at once; store_confirmed() later says it is stored.
  virtual void on_store(const StoreEvent&) {}
};

enum class SessionState : uint8_t {
  Disconnected,  // no transport
  Connecting,    // CONNECT written, waiting for CONNACK
  Connected,
  Disconnecting, // Disconnect request taken: draining in-flight before DISCONNECT
  Closed,        // DISCONNECT written (graceful end) or the session failed for good
};

struct SessionStats {
  uint32_t inflight_publishes = 0;   // outgoing QoS 1/2 not yet completed
  uint32_t inflight_window = 0;      // current window (min of config and Receive Maximum)
  uint32_t pending_control = 0;      // control requests held until connected
  uint32_t incoming_qos2_pending = 0;  // PUBREC sent, PUBREL not yet received
  uint32_t incoming_unacked = 0;     // manual-ack mode: delivered, not acked yet
  uint64_t excess_incoming_qos2 = 0; // broker exceeded our Receive Maximum (tolerated)
  std::optional<Duration> last_ping_rtt;
  bool session_present = false;      // from the last CONNACK
  // Acks (PUBACK/PUBREC/PUBCOMP/SUBACK/UNSUBACK) for a packet id that is not
  // in flight: ignored (PUBREC is still answered with PUBREL) and counted.
  uint64_t unknown_acks = 0;
  // MQTT 5: incoming PUBLISHes naming a Subscription Identifier this client
  // never subscribed with, in a resumed session it did not start (delivered).
  uint64_t unknown_subscription_ids = 0;
};

class Session {
 public:
  Session(SessionConfig config, SessionObserver& observer);

  // --- connection lifecycle ---

  // A transport is up. Writes CONNECT (protocol version and keep alive come
  // from the config; client id from `connect` unless the broker assigned one
  // earlier) and expects CONNACK by `connack_deadline`.
  void begin_connection(const codec::Connect& connect, TimePoint now, TimePoint connack_deadline);

  // Bytes received. Decodes and handles every whole packet at the start of
  // `in`: answers acks/PUBRELs into the output, reports events, completes
  // tokens. Returns the bytes consumed (a partial packet at the end is left)
  // or the error that ends this connection (malformed input, protocol
  // violation, CONNACK refusal, DISCONNECT from the broker).
  Result<size_t, ConnectionError> handle_input(std::span<const uint8_t> in, TimePoint now);

  // The transport is gone. Unacknowledged QoS 1/2 work is kept for the next
  // connection; unwritten output is discarded (and re-created from state on
  // resume). QoS 0 publishes not yet written fail with ConnectionClosed.
  void connection_lost();

  // The loop ends for good: every pending request/token fails with `why`.
  void fail_all(RequestError why, std::string_view message);

  // --- time ---

  // Earliest time handle_timeout() must be called; TimePoint::max() if none.
  TimePoint next_deadline() const;
  // Sends PINGREQ when due (nothing sent, or nothing received, for keep
  // alive); fails with PingTimeout when a PINGRESP is overdue, ConnectTimeout
  // when CONNACK is overdue.
  Result<void, ConnectionError> handle_timeout(TimePoint now);
  // The consumer is behind and the runtime stopped reading: the ping timeout
  // is suspended while paused and re-armed from `now` when resumed.
  void set_input_paused(bool paused, TimePoint now);

  // --- requests ---

  // Room for one more outgoing QoS 1/2 PUBLISH right now (connected, window
  // not full, not disconnecting). QoS 0 publishes need only connected().
  bool can_send_publish(QoS qos) const;
  bool connected() const { return state_ == SessionState::Connected; }
  SessionState state() const { return state_; }

  // Takes a request. Publish: the caller checked can_send_publish(). Checks
  // the broker's limits (Maximum Packet Size, Maximum QoS, Retain Available,
  // Topic Alias Maximum for a chosen alias) and fails the token instead of
  // sending when one is exceeded. Subscribe,
  // Unsubscribe, Ack: written now when connected, held (in order) until the
  // next CONNACK otherwise. Disconnect: stops taking publishes; DISCONNECT is
  // written once every in-flight publish has completed or at `deadline`.
  void submit(Request&& request, TimePoint now, TimePoint deadline = TimePoint::max());

  // --- output ---

  // Bytes to write to the transport, in order. Several packets coalesce here.
  std::span<const uint8_t> output() const;
  // `n` bytes of output() were written at `now`. Completes QoS 0 tokens whose
  // packet is now fully written. Only bytes written count as "sent" for
  // keepalive: a peer that reads nothing gets a PINGREQ (stuck behind the
  // rest) and then a PingTimeout.
  void consume_output(size_t n, TimePoint now);
  // After handle_input() failed on an MQTT 5 connection, the session may
  // have appended a DISCONNECT with the reason code (0x81 malformed, 0x82
  // protocol error, 0x94 topic alias invalid, 0x95 packet too large): write
  // output() out (best effort, without waiting) before closing.
  bool flush_before_close() const;

  // True when the last graceful disconnect wrote DISCONNECT after every
  // in-flight publish had completed (false: its deadline cut it short).
  bool disconnect_drained() const;

  // New settings for the same session (Client::update_options). Keeps every
  // in-flight message, held request and subscription. Keep alive, the
  // incoming size limit and the topic alias settings apply from the next
  // begin_connection(); manual acks, auto-resubscribe and the ping timeout at
  // once. Returns false, changing nothing, when the protocol version or
  // max_inflight differ: those shape the stored packets and the packet id
  // space, so they need a new Session.
  bool reconfigure(const SessionConfig& config);

  // --- session store (SessionConfig::store) ---

  // Seeds the state of a session saved by an earlier process, before the
  // first begin_connection(). The next CONNACK with session present resends
  // it (PUBLISH with DUP, or PUBREL) like a resumed session's; one without
  // resets it (untracked failures with SessionReset and a session reset
  // report). Returns an empty string, or why nothing was restored (an id
  // outside 1..max_inflight, a duplicate id, a PUBLISH encoded for another
  // protocol version, already connected).
  std::string restore(const RestoredState& state);
  // Every store record up to `seq` is stored (or the store gave up on them:
  // the runtime reports that). Writes the PUBRELs and PUBRECs that waited
  // for them when connected; otherwise they go out on the next connection.
  void store_confirmed(uint64_t seq);
  // Records reported so far (the seq of the last one).
  uint64_t store_seq() const;

  // --- state for diagnostics and reconnects ---
  SessionStats stats() const;
  // The client identifier the broker assigned (MQTT 5), reused on reconnect.
  const std::string& assigned_client_id() const;
  // Negotiated values from the last CONNACK.
  std::chrono::seconds effective_keep_alive() const;
  uint32_t broker_max_packet_size() const;  // 0 = no limit announced

 private:
  // Implementation-defined members; see session.cc.
  struct Impl;
  SessionConfig config_;
  SessionObserver& observer_;
  SessionState state_ = SessionState::Disconnected;
  std::unique_ptr<Impl> impl_;

 public:
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
};

}  // namespace mqtt::session
