#include "tests/sim/checker.h"

#include <sstream>

namespace sim {

using mqtt::RequestError;

void Coverage::add(const Coverage& o) {
  const uint64_t* src = &o.steps;
  uint64_t* dst = &steps;
  // Every member is a uint64_t, declared in one run.
  for (size_t i = 0; i < sizeof(Coverage) / sizeof(uint64_t); ++i) dst[i] += src[i];
}

std::string Coverage::describe() const {
  std::ostringstream o;
  o << "steps=" << steps << " msgs_up=" << msgs_up << " msgs_down=" << msgs_down
    << " connections=" << connections << " resumes=" << resumes << " resets=" << resets
    << "\n  faults: drops=" << drops << " stalls=" << stalls << " restarts=" << restarts
    << " (without session " << restarts_lost << ") partial_writes=" << partial_writes
    << "\n  timeouts: ping=" << ping_timeouts << " connect=" << connect_timeouts
    << " broker_keepalive=" << broker_keepalive_closes << " pingreqs=" << pingreqs
    << "\n  resends: dup_publish=" << dup_resends << " pubrel=" << pubrel_resends
    << " deferred_by_receive_max=" << deferred_resends
    << "\n  duplicates: qos1_up=" << qos1_duplicates_up << " qos1_down=" << qos1_duplicates_down
    << " qos2_dup_resends_down=" << qos2_dup_resends_down
    << "\n  limits: window_full=" << window_full << " output_paused=" << output_paused
    << " rejected=" << rejected << " refused_filters=" << refused_filters
    << "\n  failures: session_reset=" << session_reset_failures
    << " untracked_reports=" << untracked_failures << " fail_all_ends=" << fail_all_ends
    << "\n  other: manual_acks=" << manual_acks << " auto_resubscribes=" << auto_resubscribes
    << " disconnect_drained=" << disconnect_drained << " disconnect_cut=" << disconnect_cut
    << " aliased_up=" << aliased_up << " aliased_down=" << aliased_down
    << " phantom_resumes=" << phantom_resumes << " input_pauses=" << pauses << " early_ends=" << early_ends
    << " limit_refusals=" << limit_refusals 
    << " broker_disconnects=" << broker_disconnects << " caller_aliases=" << caller_aliases;
  return o.str();
}

void Checker::fail(std::string what) { violations.push_back(std::move(what)); }

void Checker::broker_stored(uint64_t n, QoS qos, std::string_view topic, bool dup, uint64_t epoch) {
  auto it = up.find(n);
  if (it == up.end()) return fail("broker received message " + std::to_string(n) + " nobody published");
  UpMsg& m = it->second;
  if (m.expect != RequestError::None)
    return fail("message " + std::to_string(n) + " reached the broker although its limits refuse it (" +
                std::string(mqtt::to_string(m.expect)) + ")");
  if (m.qos != qos)
    return fail("message " + std::to_string(n) + " arrived with QoS " +
                std::to_string(int(qos)) + ", published with " + std::to_string(int(m.qos)));
  if (topic != m.topic)
    return fail("message " + std::to_string(n) + " arrived on topic '" + std::string(topic) +
                "', published on '" + m.topic + "'");
  ++m.stored;
  if (m.stored_epoch != epoch) {
    m.stored_epoch = epoch;
    m.stored_in_epoch = 0;
  }
  ++m.stored_in_epoch;
  if (m.stored > 1 && (qos == QoS::AtLeastOnce || m.stored_in_epoch > 1)) {
    if (qos == QoS::AtLeastOnce && m.may_dup) {
      ++cov.qos1_duplicates_up;
    } else {
      fail("message " + std::to_string(n) + " (QoS " + std::to_string(int(qos)) +
           ") reached the broker " + std::to_string(m.stored) + " times" +
           (qos == QoS::AtLeastOnce ? " though never in flight at a break" : "") +
           (dup ? " (DUP set)" : "") + (m.stored_in_epoch > 1 ? " in one broker session" : ""));
    }
  }
}

void Checker::client_wrote(uint64_t n) {
  auto it = up.find(n);
  if (it == up.end()) return;
  it->second.resend = it->second.writes > 0;
  ++it->second.writes;
}

void Checker::broker_check_dup(uint64_t n, QoS qos, bool dup) {
  auto it = up.find(n);
  if (it == up.end()) return;
  // A copy arriving belongs to this connection, which carries at most one.
  const bool want = qos != QoS::AtMostOnce && it->second.resend;
  if (dup != want)
    fail("message " + std::to_string(n) + " (QoS " + std::to_string(int(qos)) + ") arrived with DUP " +
         (dup ? "1" : "0") + (want ? " although it is a resend [MQTT-3.3.1-1]"
               : qos == QoS::AtMostOnce ? " [MQTT-3.3.1-2]"
                                        : " on its first attempt (spec 3.3.1.1)"));
}

void Checker::broker_rejected(uint64_t n) {
  if (auto it = up.find(n); it != up.end()) it->second.rejected = true;
}

void Checker::broker_got_final_ack(uint64_t n) {
  auto it = down.find(n);
  if (it == down.end()) return;
  if (it->second.delivered == 0 && !desync)
    fail("the broker got the client's ack for message " + std::to_string(n) +
         ", which the client never delivered to its observer");
}

void Checker::broker_completed(uint64_t n) {
  if (auto it = down.find(n); it != down.end()) it->second.completed = true;
}

void Checker::broker_session_lost(uint64_t epoch) {
  for (auto& [n, m] : down) {
    if (m.epoch == epoch && !m.completed) m.lost = true;
  }
}

void Checker::client_delivered(uint64_t n, QoS qos, std::string_view topic) {
  auto it = down.find(n);
  if (it == down.end()) return fail("client delivered message " + std::to_string(n) + " the broker never sent");
  DownMsg& m = it->second;
  if (topic != m.topic)
    return fail("client delivered message " + std::to_string(n) + " on topic '" +
                std::string(topic) + "', sent on '" + m.topic + "'");
  if (qos != m.qos)
    return fail("client delivered message " + std::to_string(n) + " with QoS " +
                std::to_string(int(qos)) + ", sent with " + std::to_string(int(m.qos)));
  ++m.delivered;
  if (m.delivered > 1) {
    if (qos == QoS::AtLeastOnce && m.may_dup) {
      ++cov.qos1_duplicates_down;
    } else {
      fail("client delivered message " + std::to_string(n) + " (QoS " +
           std::to_string(int(qos)) + ") " + std::to_string(m.delivered) + " times");
    }
  }
}

void Checker::mark_may_dup_up(uint64_t n) {
  if (auto it = up.find(n); it != up.end()) it->second.may_dup = true;
}

void Checker::mark_may_dup_down(uint64_t n) {
  if (auto it = down.find(n); it != down.end()) it->second.may_dup = true;
}

void Checker::check_tokens() {
  for (size_t i = 0; i < open_tokens.size();) {
    const uint64_t n = open_tokens[i];
    UpMsg& m = up[n];
    if (!m.token->done()) {
      ++i;
      continue;
    }
    open_tokens[i] = open_tokens.back();
    open_tokens.pop_back();
    m.token_checked = true;
    const mqtt::Completion c = m.token->result();
    const std::string id = "message " + std::to_string(n) + " (QoS " + std::to_string(int(m.qos)) + ")";
    if (m.expect != RequestError::None) {
      if (c.error != m.expect && c.error != RequestError::ConnectionClosed)
        fail(id + ": expected " + std::string(mqtt::to_string(m.expect)) + ", token says " +
             std::string(mqtt::to_string(c.error)));
      if (c.error == m.expect) ++cov.limit_refusals;
    } else if (c.ok()) {
      if (m.qos != QoS::AtMostOnce && m.stored == 0)
        fail(id + ": token succeeded but the broker never stored it");
      if (m.rejected) fail(id + ": token succeeded but the broker refused it");
    } else if (c.error == RequestError::Rejected) {
      if (!m.rejected) fail(id + ": token Rejected but the broker never refused it");
    } else if (c.error == RequestError::SessionReset) {
      ++cov.session_reset_failures;
      if (!m.reset_seen) fail(id + ": token failed with SessionReset without a session reset");
    } else if (c.error != RequestError::ConnectionClosed) {
      fail(id + ": token failed with " + std::string(mqtt::to_string(c.error)) + ": " + c.message);
    }
  }
}

void Checker::check_end(bool drained) {
  for (auto& [n, m] : up) {
    const std::string id = "message " + std::to_string(n) + " (QoS " + std::to_string(int(m.qos)) +
                           (m.token ? ", tracked)" : ", untracked)");
    if (m.token) {
      if (!m.token->done()) fail(id + ": its token never completed");
    } else if (m.qos != QoS::AtMostOnce && m.submitted && !m.acked && m.failures == 0) {
      fail(id + ": neither acknowledged nor reported failed");
    }
  }
  if (!drained || desync) return;
  for (auto& [n, m] : down) {
    if (m.qos == QoS::AtMostOnce || m.lost) continue;
    if (m.delivered == 0)
      fail("broker message " + std::to_string(n) + " (QoS " + std::to_string(int(m.qos)) +
           ") never delivered to the client although its session survived");
    else if (!m.completed)
      fail("broker message " + std::to_string(n) + " delivered but never acknowledged");
  }
}

}  // namespace sim
