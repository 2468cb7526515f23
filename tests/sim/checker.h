// The invariants checker: a ledger of every message in both directions, fed
// by the broker model and the simulated client as things happen, and checks
// run after every step and at the end of a run. The first violation stops the
// run (see runner.h).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mqtt/codec/types.h"
#include "mqtt/completion.h"
#include "mqtt/session/session.h"

namespace sim {

using mqtt::QoS;

// Which situations a run reached (summed over seeds in the summary).
struct Coverage {
  uint64_t steps = 0, connections = 0, resumes = 0, resets = 0, drops = 0, stalls = 0,
           restarts = 0, restarts_lost = 0, ping_timeouts = 0, connect_timeouts = 0,
           broker_keepalive_closes = 0, dup_resends = 0, pubrel_resends = 0,
           qos1_duplicates_up = 0, qos1_duplicates_down = 0, qos2_dup_resends_down = 0,
           rejected = 0, refused_filters = 0, partial_writes = 0, output_paused = 0,
           window_full = 0, deferred_resends = 0, manual_acks = 0, session_reset_failures = 0,
           untracked_failures = 0, auto_resubscribes = 0, disconnect_drained = 0,
           disconnect_cut = 0, fail_all_ends = 0, aliased_up = 0, aliased_down = 0,
           msgs_up = 0, msgs_down = 0, pingreqs = 0, phantom_resumes = 0, pauses = 0, early_ends = 0,
           limit_refusals = 0, broker_disconnects = 0, caller_aliases = 0;
  void add(const Coverage& o);
  std::string describe() const;
};

// A message the user published (client -> broker).
struct UpMsg {
  uint64_t n = 0;
  QoS qos = QoS::AtMostOnce;
  std::string topic;
  std::shared_ptr<mqtt::detail::CompletionState> token;  // null: untracked
  bool submitted = false;      // taken by the session
  bool token_checked = false;  // its completion was checked
  int stored = 0;              // times the broker accepted it
  uint64_t stored_epoch = 0;   // the broker session that last accepted it
  int stored_in_epoch = 0;     // times that session accepted it
  bool rejected = false;       // the broker refused it
  bool may_dup = false;        // in flight at a connection break
  bool acked = false;          // untracked: the final ack reached the client
  int failures = 0;            // untracked: on_request_failed reports
  bool reset_seen = false;     // a session reset happened while it was in flight
  bool retain = false;
  int writes = 0;              // PUBLISHes of it the session wrote
  bool resend = false;         // the last one was a resend (DUP expected)
  // The broker's limits refuse it (MQTT 5 Maximum Packet Size, Maximum QoS,
  // Retain Available): the session must fail it with this error.
  mqtt::RequestError expect = mqtt::RequestError::None;
};

// A message the broker sent the client (broker -> client).
struct DownMsg {
  uint64_t n = 0;
  QoS qos = QoS::AtMostOnce;
  std::string topic;
  uint64_t epoch = 0;     // broker session it belongs to
  int delivered = 0;      // reported by the session's on_incoming
  bool may_dup = false;   // in flight at a connection break
  bool lost = false;      // its broker session was discarded before it completed
  bool completed = false; // the broker received its final ack
};

class Checker {
 public:
  std::map<uint64_t, UpMsg> up;
  std::map<uint64_t, DownMsg> down;
  Coverage cov;
  std::vector<std::string> violations;
  std::vector<uint64_t> open_tokens;  // tracked messages whose token is not checked yet
  // The broker session the client's state belongs to, and the broker's
  // current one. They differ after a "phantom resume": the broker started a
  // new session whose CONNACK (Session Present 0) never reached the client,
  // and a later CONNACK said Session Present 1. MQTT cannot tell the client;
  // its old state then meets a session that never had it (docs/simulation.md).
  uint64_t client_epoch = 0, broker_epoch = 0;
  bool desync = false;
  uint16_t announced_receive_max = 0;  // in the broker's last CONNACK (0: absent)

  bool ok() const { return violations.empty(); }
  void fail(std::string what);

  // Broker side.
  void broker_stored(uint64_t n, QoS qos, std::string_view topic, bool dup, uint64_t epoch);
  void broker_rejected(uint64_t n);
  // The DUP flag of a copy that arrived: 0 on the first attempt, 1 on a
  // resend [MQTT-3.3.1-1, MQTT-3.3.1-2].
  void broker_check_dup(uint64_t n, QoS qos, bool dup);
  void client_wrote(uint64_t n);
  void broker_got_final_ack(uint64_t n);  // PUBACK/PUBREC for a message it sent
  void broker_completed(uint64_t n);      // PUBACK/PUBCOMP
  void broker_session_lost(uint64_t epoch);
  // Client side.
  void client_delivered(uint64_t n, QoS qos, std::string_view topic);
  // Messages in flight at a connection break may be duplicated (QoS 1).
  void mark_may_dup_up(uint64_t n);
  void mark_may_dup_down(uint64_t n);

  // After every step: new token completions agree with the broker.
  void check_tokens();
  // At the end: everything the broker kept reached the client and every
  // request ended. `drained`: the run reached quiescence before the end.
  void check_end(bool drained);
};

}  // namespace sim
