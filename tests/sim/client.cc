#include "tests/sim/client.h"

#include <algorithm>

#include "mqtt/codec/packets.h"

namespace sim {

namespace codec = mqtt::codec;
using mqtt::Outgoing;
using mqtt::RequestError;
using mqtt::session::SessionState;

Client::Client(const SimConfig& cfg, Checker& chk, Rng rng, Trace trace)
    : session(cfg.session, *this), cfg_(cfg), chk_(chk), rng_(rng), trace_(std::move(trace)) {}

void Client::connect(TimePoint now) {
  codec::Connect c;
  c.client_id = "sim";
  c.clean_start = false;
  if (cfg_.session.version == mqtt::ProtocolVersion::V5) {
    c.properties.session_expiry_interval = 3600;
    if (cfg_.client_receive_max) c.properties.receive_maximum = cfg_.client_receive_max;
  }
  transport = true;
  rx_.clear();
  for (auto& [id, f] : out_ids_) f.sent_here = f.published_here = false;
  reset_expected_ = reset_seen_ = false;
  connected_at = last_packet_in = now;
  session.begin_connection(c, now, now + cfg_.connect_timeout);
  if (trace_) note("begin_connection");
}

void Client::lost(TimePoint now) {
  if (!transport) return;
  transport = false;
  // QoS 1 in flight now may reach the broker twice.
  for (auto& [id, f] : out_ids_) chk_.mark_may_dup_up(f.n);
  session.connection_lost();
  rx_.clear();
  paused = false;  // a new connection reads from the start
  // The user's acks for deliveries of this connection still go out later
  // (a resumed session keeps the broker's state).
  reconnect_at = now + std::chrono::milliseconds(rng_.below(2000));
  if (trace_) note("connection lost");
}

void Client::pull(TimePoint now) {
  // Control: while fewer than the lane's capacity are held in the session.
  for (int i = 0; i < 64 && !control_lane.empty(); ++i) {
    if (session.stats().pending_control >= cfg_.control_capacity) break;
    Request r = std::move(control_lane.front());
    control_lane.pop_front();
    session.submit(std::move(r), now);
  }
  for (int i = 0; i < 64 && !publish_lane.empty(); ++i) {
    if (disconnecting || !session.connected()) return;
    if (session.output().size() >= cfg_.output_high_water) {
      ++chk_.cov.output_paused;
      return;
    }
    LaneItem& it = publish_lane.front();
    if (it.req.kind == Request::Kind::Disconnect) {
      disconnecting = true;
      if (trace_) note("disconnect submitted");
      session.submit(std::move(it.req), now, disconnect_deadline);
      publish_lane.pop_front();
      return;
    }
    if (!session.can_send_publish(it.req.qos)) {
      ++chk_.cov.window_full;
      return;
    }
    submitting_ = it.n;
    chk_.up[it.n].submitted = true;
    session.submit(std::move(it.req), now);
    submitting_ = 0;
    publish_lane.pop_front();
  }
}

bool Client::input(std::span<const uint8_t> bytes, TimePoint now) {
  if (!transport) return true;
  now_hint_ = now;
  rx_.insert(rx_.end(), bytes.begin(), bytes.end());
  auto r = session.handle_input(rx_, now);
  for (uint16_t id : finished_ids_) out_ids_.erase(id);
  finished_ids_.clear();
  if (reset_expected_ && !reset_seen_) chk_.fail("CONNACK without session after an earlier one, but no on_session_reset");
  reset_expected_ = false;
  if (!r) {
    if (trace_) note("handle_input error: " + mqtt::describe(r.error()));
    return false;
  }
  if (*r > rx_.size()) {
    chk_.fail("handle_input consumed more than it was given");
    return false;
  }
  if (*r > 0) last_packet_in = now;
  rx_.erase(rx_.begin(), rx_.begin() + static_cast<std::ptrdiff_t>(*r));
  return true;
}

bool Client::timeout(TimePoint now) {
  if (!transport) return true;
  if (session.next_deadline() > now) return true;
  auto r = session.handle_timeout(now);
  if (!r) {
    if (r.error().code == mqtt::ConnectionErrorCode::PingTimeout) ++chk_.cov.ping_timeouts;
    if (r.error().code == mqtt::ConnectionErrorCode::ConnectTimeout) ++chk_.cov.connect_timeouts;
    if (trace_) note("handle_timeout: " + mqtt::describe(r.error()));
    return false;
  }
  // A deadline that was served moves on: no busy loop.
  if (session.next_deadline() <= now) {
    chk_.fail("next_deadline() still due right after handle_timeout() (state " +
              std::to_string(int(session.state())) + ")");
  }
  return true;
}

std::vector<uint8_t> Client::write(TimePoint now) {
  auto out = session.output();
  if (!transport || out.empty()) return {};
  size_t n = out.size();
  if (rng_.chance(cfg_.p_partial_write)) {
    n = static_cast<size_t>(rng_.below(out.size()));
    ++chk_.cov.partial_writes;
    last_partial = now;
  }
  std::vector<uint8_t> bytes(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
  session.consume_output(n, now);
  return bytes;
}

void Client::ack_due(TimePoint now) {
  while (!acks_.empty() && acks_.front().at <= now && control_lane.size() < cfg_.control_capacity) {
    control_lane.push_back(mqtt::session::make_ack_request(acks_.front().id, acks_.front().qos));
    ++chk_.cov.manual_acks;
    acks_.pop_front();
  }
}

void Client::fail_lanes(RequestError why) {
  auto fail = [&](Request& r) {
    if (r.completion) {
      mqtt::Completion c;
      c.error = why;
      c.message = "the simulated loop ended";
      r.completion->complete(std::move(c));
    }
  };
  for (auto& it : publish_lane) {
    fail(it.req);
    if (!it.req.completion && it.req.kind == Request::Kind::Publish) chk_.up[it.n].failures++;
  }
  for (auto& r : control_lane) fail(r);
  publish_lane.clear();
  control_lane.clear();
}

void Client::set_paused(bool p, TimePoint now) {
  if (p == paused) return;
  paused = p;
  if (p) ++chk_.cov.pauses;
  else resumed_at = now;
  session.set_input_paused(p, now);
  if (trace_) note(p ? "input paused" : "input resumed");
}

void Client::disconnect_expired(TimePoint now) {
  if (trace_) note("disconnect deadline expired");
  // The marker, if the session never took it, keeps its token.
  std::shared_ptr<mqtt::detail::CompletionState> token;
  for (auto& it : publish_lane) {
    if (it.req.kind == Request::Kind::Disconnect) token = std::move(it.req.completion);
  }
  fail_lanes(RequestError::ConnectionClosed);
  const auto st = session.state();
  if (transport && st == SessionState::Connected) {
    auto d = mqtt::session::make_disconnect_request(codec::Disconnect{}, cfg_.session.version);
    d->completion = token;
    disconnecting = true;
    session.submit(std::move(*d), now, now);  // written at once, the rest fails
  } else if (transport && st == SessionState::Disconnecting) {
    (void)session.handle_timeout(now);
  }
  if (session.state() != SessionState::Closed) {
    if (token) {
      mqtt::Completion c;
      c.error = RequestError::ConnectionClosed;
      token->complete(std::move(c));
    }
    session.fail_all(RequestError::ConnectionClosed, "disconnect(): drain timeout expired");
  }
}

bool Client::idle(bool incoming) const {
  const auto s = session.stats();
  return publish_lane.empty() && control_lane.empty() && s.inflight_publishes == 0 && s.pending_control == 0 &&
         (!incoming || (acks_.empty() && s.incoming_qos2_pending == 0 && s.incoming_unacked == 0)) &&
         std::all_of(control_tokens.begin(), control_tokens.end(), [](auto& t) { return t->done(); });
}

void Client::check_bounds(TimePoint now) {
  const auto s = session.stats();
  if (s.inflight_publishes > cfg_.session.max_inflight)
    chk_.fail("in-flight publishes " + std::to_string(s.inflight_publishes) + " above max_inflight");
  if (receive_max_ && session.connected() && s.inflight_window > receive_max_)
    chk_.fail("window " + std::to_string(s.inflight_window) + " above the broker's Receive Maximum");
  // Held control requests: the lane's capacity plus auto-resubscribes (one per filter).
  const size_t held_bound = cfg_.control_capacity + std::size(kFilters);
  if (s.pending_control > held_bound)
    chk_.fail("held control requests " + std::to_string(s.pending_control) + " above " + std::to_string(held_bound));
  const size_t packet = cfg_.payload_max + 64;
  const size_t out_bound = cfg_.output_high_water + (cfg_.session.max_inflight + 2) * packet +
                           (held_bound + 8) * 64 + cfg_.broker_window * 16 + 64;
  if (session.output().size() > out_bound)
    chk_.fail("output " + std::to_string(session.output().size()) + " bytes above the bound " +
              std::to_string(out_bound));
  if (!transport && !session.output().empty()) chk_.fail("output left while no transport");
  // Dead-link detection: keep alive + ping timeout after the last packet in
  // (or the last write progress that re-armed the ping), plus timer lateness.
  const auto st = session.state();
  const auto ka = session.effective_keep_alive();
  if (transport && !paused && ka.count() > 0 && (st == SessionState::Connected || st == SessionState::Disconnecting)) {
    const TimePoint from = std::max({last_packet_in, last_partial, connected_at, resumed_at});
    const TimePoint limit = from + ka + cfg_.session.ping_timeout + 2 * cfg_.max_step + std::chrono::milliseconds(1);
    if (now > limit) chk_.fail("dead link not detected within keep alive + ping timeout");
  }
}

UpMsg* Client::find_failed(const mqtt::session::FailedRequest& f) {
  if (f.packet_id != 0) {
    auto it = out_ids_.find(f.packet_id);
    if (it != out_ids_.end()) return &chk_.up[it->second.n];
  }
  // Untracked publishes go to "c/u/<n>".
  if (f.topic.starts_with("c/u/")) {
    const uint64_t n = std::stoull(std::string(f.topic.substr(4)));
    auto it = chk_.up.find(n);
    if (it != chk_.up.end()) return &it->second;
  }
  return nullptr;
}

void Client::on_incoming(std::span<const uint8_t>, const codec::Packet& p) {
  switch (codec::packet_type(p)) {
    case codec::PacketType::ConnAck: {
      const auto& a = std::get<codec::ConnAck>(p);
      if (mqtt::is_failure(a.reason_code)) return;
      ++chk_.cov.connections;
      receive_max_ = chk_.announced_receive_max;
      if (a.session_present && receive_max_ && out_ids_.size() > receive_max_) ++chk_.cov.deferred_resends;
      if (trace_) note(std::string("CONNACK session present ") + (a.session_present ? "1" : "0"));
      if (a.session_present) {
        ++chk_.cov.resumes;
        if (chk_.client_epoch != chk_.broker_epoch) {
          ++chk_.cov.phantom_resumes;
          chk_.desync = true;
          if (trace_) note("phantom resume: the client's state is from broker session " + std::to_string(chk_.client_epoch));
        }
      } else if (ever_connack_) {
        reset_expected_ = true;
        for (auto& [id, f] : out_ids_) chk_.up[f.n].reset_seen = true;
      }
      ever_connack_ = true;
      if (!a.session_present) chk_.client_epoch = chk_.broker_epoch;
      connected_at = now_hint_;
      return;
    }
    case codec::PacketType::Publish: {
      const auto& pub = std::get<codec::Publish>(p);
      const auto n = payload_number(pub.payload);
      if (!n) return chk_.fail("client delivered a payload the broker never wrote");
      if (pub.properties.topic_alias && pub.topic.empty()) chk_.fail("delivered with an unresolved alias");
      if (trace_) note("delivered #" + std::to_string(*n) + " q" + std::to_string(int(pub.qos)) + " id " + std::to_string(pub.packet_id) + (pub.dup ? " dup" : ""));
      chk_.client_delivered(*n, pub.qos, pub.topic);
      if (cfg_.session.manual_acks && pub.qos != QoS::AtMostOnce) {
        // The user acks every delivery, duplicates included.
        acks_.push_back(DueAck{now_hint_ + std::chrono::milliseconds(rng_.below(500)), pub.packet_id, pub.qos});
      }
      return;
    }
    case codec::PacketType::PubAck: {
      const auto& a = std::get<codec::PubAck>(p);
      auto it = out_ids_.find(a.packet_id);
      if (it == out_ids_.end() || it->second.comp) return;
      if (!mqtt::is_failure(a.reason_code)) chk_.up[it->second.n].acked = true;
      else ++chk_.cov.rejected;
      it->second.done = true;
      finished_ids_.push_back(a.packet_id);
      return;
    }
    case codec::PacketType::PubRec: {
      const auto& a = std::get<codec::PubRec>(p);
      auto it = out_ids_.find(a.packet_id);
      if (it == out_ids_.end()) return;
      if (mqtt::is_failure(a.reason_code)) {
        if (!it->second.comp) {
          ++chk_.cov.rejected;
          it->second.done = true;
          finished_ids_.push_back(a.packet_id);
        }
        return;
      }
      it->second.comp = true;
      return;
    }
    case codec::PacketType::PubComp: {
      const auto& a = std::get<codec::PubComp>(p);
      auto it = out_ids_.find(a.packet_id);
      if (it == out_ids_.end() || !it->second.comp) return;
      // 0x92: the broker released it before (spec 3.7.2.1): not a failure.
      if (!mqtt::is_failure(a.reason_code) || a.reason_code == mqtt::ReasonCode::PacketIdentifierNotFound)
        chk_.up[it->second.n].acked = true;
      it->second.done = true;
      finished_ids_.push_back(a.packet_id);
      return;
    }
    default:
      return;
  }
}

void Client::on_outgoing(const Outgoing& o) {
  switch (o.type) {
    case Outgoing::Type::Publish: {
      if (o.packet_id == 0) return;
      auto it = out_ids_.find(o.packet_id);
      if (o.dup) {
        ++chk_.cov.dup_resends;
        if (it == out_ids_.end()) return chk_.fail("DUP resend of packet id " + std::to_string(o.packet_id) + " not in flight");
      } else {
        if (it != out_ids_.end())
          return chk_.fail("packet id " + std::to_string(o.packet_id) + " reused while message " +
                           std::to_string(it->second.n) + " is in flight");
        if (submitting_ == 0) return chk_.fail("a new PUBLISH written outside submit()");
        it = out_ids_.emplace(o.packet_id, InFlight{submitting_}).first;
      }
      it->second.sent_here = it->second.published_here = true;
      chk_.client_wrote(it->second.n);
      break;
    }
    case Outgoing::Type::PubRel: {
      auto it = out_ids_.find(o.packet_id);
      if (it == out_ids_.end()) return;
      if (!it->second.sent_here) ++chk_.cov.pubrel_resends;
      it->second.sent_here = true;
      return;
    }
    case Outgoing::Type::PingReq:
      ++chk_.cov.pingreqs;
      return;
    case Outgoing::Type::PubAck:
    case Outgoing::Type::PubRec:
      if (trace_) note(std::string(o.type == Outgoing::Type::PubAck ? "PUBACK" : "PUBREC") + " id " + std::to_string(o.packet_id));
      return;
    default:
      return;
  }
  // [MQTT-3.3.4-7, MQTT-4.9.0-2]: no more unacknowledged QoS 1/2 PUBLISHes
  // than the broker's Receive Maximum. The send quota starts afresh on each
  // connection (spec 4.9): a PUBREL resent for a PUBLISH of an earlier
  // connection does not take from it; a QoS 2 PUBLISH of this connection
  // counts until its PUBCOMP.
  if (receive_max_) {
    size_t count = 0;
    std::string ids;
    for (auto& [id, f] : out_ids_) {
      if (f.done || !f.published_here) continue;
      ++count;
      ids += " " + std::to_string(id) + (f.comp ? "(PUBREL)" : "(PUBLISH)");
    }
    if (count > receive_max_)
      chk_.fail(std::to_string(count) + " unacknowledged QoS 1/2 PUBLISHes, above the broker's Receive Maximum " +
                std::to_string(receive_max_) + " [MQTT-3.3.4-7]:" + ids + (o.dup ? ", resending" : ""));
  }
}

void Client::on_session_reset(const mqtt::session::ResetInfo& info) {
  ++chk_.cov.resets;
  reset_seen_ = true;
  if (!reset_expected_) chk_.fail("on_session_reset without a CONNACK that reset the session");
  uint32_t pubs = 0, rels = 0;
  for (auto& [id, f] : out_ids_) (f.comp ? rels : pubs)++;
  if (info.dropped_publishes != pubs || info.dropped_pubrels != rels)
    chk_.fail("ResetInfo dropped " + std::to_string(info.dropped_publishes) + "/" +
              std::to_string(info.dropped_pubrels) + ", in flight were " + std::to_string(pubs) + "/" +
              std::to_string(rels));
  chk_.cov.auto_resubscribes += info.resubscribing;
  out_ids_.clear();
  finished_ids_.clear();
  // Deliveries of the old session are gone: their acks would go to the new one.
  acks_.clear();
}

void Client::on_request_failed(const mqtt::session::FailedRequest& f) {
  ++chk_.cov.untracked_failures;
  if (trace_) note("request failed: kind " + std::to_string(int(f.kind)) + " id " + std::to_string(f.packet_id) + " " +
       std::string(mqtt::to_string(f.reason)));
  if (f.kind == Request::Kind::Ack) return;
  if (f.kind != Request::Kind::Publish) return chk_.fail("failure report for an untracked request never made");
  UpMsg* m = find_failed(f);
  if (!m) {
    if (f.qos != QoS::AtMostOnce) chk_.fail("failure report for an unknown QoS " + std::to_string(int(f.qos)) + " publish");
    return;
  }
  if (m->token) return chk_.fail("tracked message " + std::to_string(m->n) + " reported through on_request_failed");
  ++m->failures;
  const std::string id = "untracked message " + std::to_string(m->n);
  if (m->failures > 1) chk_.fail(id + " reported failed twice");
  if (m->acked) chk_.fail(id + " reported failed after its ack");
  if (m->expect != RequestError::None) {
    if (f.reason != m->expect && f.reason != RequestError::ConnectionClosed)
      chk_.fail(id + ": expected " + std::string(mqtt::to_string(m->expect)) + ", reported " +
                std::string(mqtt::to_string(f.reason)));
    if (f.reason == m->expect) ++chk_.cov.limit_refusals;
    return;
  }
  switch (f.reason) {
    case RequestError::SessionReset:
      ++chk_.cov.session_reset_failures;
      if (!m->reset_seen) chk_.fail(id + " failed with SessionReset without a reset");
      break;
    case RequestError::Rejected:
      if (!m->rejected) chk_.fail(id + " failed Rejected, never refused");
      break;
    case RequestError::ConnectionClosed:
      break;
    default:
      chk_.fail(id + " failed with " + std::string(mqtt::to_string(f.reason)));
  }
}

}  // namespace sim
