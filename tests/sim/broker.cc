#include "tests/sim/broker.h"

#include <algorithm>
#include <sstream>

#include "mqtt/codec/encoder.h"

namespace sim {

namespace codec = mqtt::codec;
using mqtt::ReasonCode;

bool topic_matches(std::string_view filter, std::string_view topic) {
  size_t f = 0, t = 0;
  while (true) {
    const size_t fe = std::min(filter.find('/', f), filter.size());
    const size_t te = std::min(topic.find('/', t), topic.size());
    const std::string_view fl = filter.substr(f, fe - f);
    if (fl == "#") return true;
    if (t > topic.size()) return false;
    if (fl != "+" && fl != topic.substr(t, te - t)) return false;
    const bool fend = fe == filter.size(), tend = te == topic.size();
    if (fend || tend) {
      if (fend && tend) return true;
      // "a/#" matches "a" too [MQTT-4.7.1-2].
      return tend && !fend && filter.substr(fe + 1) == "#";
    }
    f = fe + 1;
    t = te + 1;
  }
}

std::vector<uint8_t> make_payload(uint64_t n, size_t size) {
  std::string s = std::to_string(n) + ":";
  if (s.size() < size) s.append(size - s.size(), 'x');
  return std::vector<uint8_t>(s.begin(), s.end());
}

std::optional<uint64_t> payload_number(std::span<const uint8_t> payload) {
  uint64_t n = 0;
  size_t i = 0;
  for (; i < payload.size() && payload[i] >= '0' && payload[i] <= '9'; ++i) n = n * 10 + (payload[i] - '0');
  if (i == 0 || i >= payload.size() || payload[i] != ':') return std::nullopt;
  return n;
}

void Broker::connection_opened(TimePoint now) {
  conn_.emplace();
  codec::DecodeOptions o;
  o.version = cfg_.session.version;
  o.direction = codec::Direction::ClientToServer;
  conn_->decoder = codec::StreamDecoder(o);
  conn_->last_rx = now;
  out_.clear();
  must_close_ = false;
}

void Broker::connection_closed() {
  if (!conn_) return;
  const bool was_up = conn_->connack_sent;
  conn_.reset();
  out_.clear();
  if (!session_) return;
  // What was in flight may come again (DUP) on the next connection.
  for (auto& [id, m] : session_->inflight) chk_.mark_may_dup_down(m.n);
  // MQTT 5: Session Expiry Interval 0 ends the session with the connection.
  if (was_up && v5() && session_->expiry == 0) lose_session();
}

void Broker::lose_session() {
  if (!session_) return;
  if (trace_) note("session " + std::to_string(epoch_) + " discarded");
  chk_.broker_session_lost(epoch_);
  session_.reset();
}

void Broker::restart(bool keep) {
  connection_closed();
  if (!keep) lose_session();
  // A restarted broker may come back with another Receive Maximum (rule 2
  // of docs/session.md: resends wait for room).
  if (cfg_.receive_max_changes) receive_max_ = static_cast<uint16_t>(rng_.between(1, 6));
}

bool Broker::violation(const std::string& what) {
  chk_.fail("client broke the protocol: " + what);
  return false;
}

std::vector<uint8_t> Broker::goodbye(ReasonCode why) {
  if (!v5() || !connected()) return {};
  out_.clear();
  codec::Disconnect d;
  d.reason_code = why;
  send(d);
  return take_output();
}

std::vector<uint8_t> Broker::take_output() {
  std::vector<uint8_t> o;
  o.swap(out_);
  return o;
}

void Broker::send(const codec::Packet& p) {
  auto n = codec::encoded_size(p, cfg_.session.version, codec::Direction::ServerToClient);
  if (!n) {
    chk_.fail("simulator: broker packet does not encode: " + std::string(codec::to_string(n.error())));
    return;
  }
  const size_t at = out_.size();
  out_.resize(at + *n);
  auto w = codec::encode(p, cfg_.session.version, std::span<uint8_t>(out_).subspan(at),
                         codec::Direction::ServerToClient);
  if (!w) chk_.fail("simulator: broker packet encode failed");
}

void Broker::send_publish(uint16_t id, OutMsg& m, bool dup) {
  const std::vector<uint8_t> payload = make_payload(m.n, m.size);
  codec::Publish p;
  p.dup = dup;
  p.qos = m.qos;
  p.packet_id = id;
  p.topic = m.topic;
  p.payload = payload;
  if (dup && m.qos == QoS::ExactlyOnce) ++chk_.cov.qos2_dup_resends_down;
  if (conn_->client_alias_max > 0) {
    // One alias per broker topic, within the client's maximum.
    const uint16_t alias = static_cast<uint16_t>(m.topic.back() - '0') % conn_->client_alias_max + 1;
    auto it = conn_->out_aliases.find(alias);
    if (it != conn_->out_aliases.end() && it->second == m.topic) {
      p.topic = {};
      ++chk_.cov.aliased_down;
    } else {
      conn_->out_aliases[alias] = m.topic;
    }
    p.properties.topic_alias = alias;
  }
  send(p);
}

void Broker::pump() {
  if (!connected() || !session_) return;
  const size_t window = std::min<size_t>(cfg_.broker_window, conn_->client_receive_max);
  auto& s = *session_;
  while (!s.queue.empty()) {
    OutMsg& m = s.queue.front();
    if (m.qos == QoS::AtMostOnce) {
      if (trace_) note("PUBLISH q0 #" + std::to_string(m.n));
      send_publish(0, m, false);
      s.queue.erase(s.queue.begin());
      continue;
    }
    if (s.inflight.size() >= window) return;
    // Ids are reused at once with lowest_id: a stale ack then names a new message.
    uint16_t id = cfg_.broker_lowest_id ? 1 : s.next_id;
    while (s.inflight.count(id)) id = static_cast<uint16_t>(id == 65535 ? 1 : id + 1);
    s.next_id = static_cast<uint16_t>(id == 65535 ? 1 : id + 1);
    m.stage = m.qos == QoS::AtLeastOnce ? OutMsg::Stage::AwaitAck : OutMsg::Stage::AwaitRec;
    m.seq = ++seq_;
    if (trace_) note("PUBLISH q" + std::to_string(int(m.qos)) + " id " + std::to_string(id) + " #" + std::to_string(m.n));
    send_publish(id, m, false);
    s.inflight.emplace(id, std::move(m));
    s.queue.erase(s.queue.begin());
  }
}

void Broker::publish(uint64_t n, const std::string& topic, QoS qos, size_t payload_size) {
  if (!session_) return;
  std::optional<QoS> granted;
  for (const auto& [f, q] : session_->subs) {
    if (topic_matches(f, topic)) granted = std::max(granted.value_or(QoS::AtMostOnce), q);
  }
  if (!granted) return;
  const QoS eff = std::min(qos, *granted);
  // QoS 0 to an offline client is dropped; QoS 1/2 wait in the session.
  if (eff == QoS::AtMostOnce && !connected()) return;
  DownMsg d;
  d.n = n;
  d.qos = eff;
  d.topic = topic;
  d.epoch = epoch_;
  chk_.down.emplace(n, d);
  ++chk_.cov.msgs_down;
  session_->queue.push_back(OutMsg{n, eff, topic, payload_size});
  pump();
}

bool Broker::receive(std::span<const uint8_t> bytes, TimePoint now) {
  if (!conn_) return true;
  conn_->decoder.feed(bytes);
  codec::Packet p;
  while (true) {
    const auto r = conn_->decoder.next(p);
    if (r.status == codec::DecodeStatus::NeedMore) break;
    if (r.status == codec::DecodeStatus::Error) {
      return violation("undecodable bytes: " + std::string(codec::to_string(r.error)) +
                       " at stream offset " + std::to_string(r.error_offset));
    }
    conn_->last_rx = now;
    if (v5() && cfg_.broker_max_packet && r.consumed > cfg_.broker_max_packet)
      return violation("a " + std::to_string(r.consumed) + "-byte packet above the broker's Maximum Packet Size " +
                       std::to_string(cfg_.broker_max_packet) + " [MQTT-3.2.2-15]");
    if (!handle(p, now)) return false;
  }
  pump();
  return true;
}

bool Broker::tick(TimePoint now) {
  if (!conn_ || conn_->keep_alive.count() == 0) return true;
  if (now > keepalive_deadline()) {
    if (trace_) note("keep alive expired: closing");
    ++chk_.cov.broker_keepalive_closes;
    return false;
  }
  return true;
}

TimePoint Broker::keepalive_deadline() const {
  if (!conn_ || conn_->keep_alive.count() == 0) return TimePoint::max();
  // [MQTT-3.1.2-24]: one and a half times the keep alive.
  return conn_->last_rx + conn_->keep_alive * 3 / 2;
}

bool Broker::on_connect(const codec::Connect& c, TimePoint now) {
  if (c.protocol_version != cfg_.session.version) return violation("CONNECT with another protocol version");
  conn_->got_connect = true;
  if (c.clean_start) lose_session();
  const bool present = session_.has_value();
  if (!session_) {
    session_.emplace();
    chk_.broker_epoch = ++epoch_;
  }
  session_->expiry = c.properties.session_expiry_interval.value_or(0);
  conn_->client_receive_max = c.properties.receive_maximum.value_or(65535);
  conn_->client_alias_max = c.properties.topic_alias_maximum.value_or(0);
  conn_->keep_alive = std::chrono::seconds(cfg_.server_keep_alive ? cfg_.server_keep_alive : c.keep_alive);
  conn_->last_rx = now;
  codec::ConnAck ack;
  ack.session_present = present;
  if (v5()) {
    if (receive_max_) ack.properties.receive_maximum = receive_max_;
    if (cfg_.broker_max_qos >= 0) ack.properties.maximum_qos = static_cast<uint8_t>(cfg_.broker_max_qos);
    if (!cfg_.broker_retain_available) ack.properties.retain_available = 0;
    if (cfg_.broker_max_packet) ack.properties.maximum_packet_size = cfg_.broker_max_packet;
    if (cfg_.broker_alias_max) ack.properties.topic_alias_maximum = cfg_.broker_alias_max;
    if (cfg_.server_keep_alive) ack.properties.server_keep_alive = cfg_.server_keep_alive;
  }
  if (trace_) note(std::string("CONNACK session present ") + (present ? "1" : "0") + ", session " + std::to_string(epoch_));
  send(ack);
  chk_.announced_receive_max = v5() ? receive_max_ : 0;
  conn_->connack_sent = true;
  if (present) {
    // Resend in the original order [MQTT-4.4.0-1, 4.6].
    std::vector<std::pair<uint64_t, uint16_t>> order;
    for (auto& [id, m] : session_->inflight) order.emplace_back(m.seq, id);
    std::sort(order.begin(), order.end());
    for (auto [seq, id] : order) {
      OutMsg& m = session_->inflight[id];
      if (m.stage == OutMsg::Stage::AwaitComp) {
        codec::PubRel rel;
        rel.packet_id = id;
        send(rel);
      } else {
        if (trace_) note("resend PUBLISH id " + std::to_string(id) + " #" + std::to_string(m.n));
        send_publish(id, m, true);
      }
    }
  }
  pump();
  return true;
}

bool Broker::on_publish(const codec::Publish& p) {
  std::string topic(p.topic);
  if (v5() && p.properties.topic_alias) {
    const uint16_t a = *p.properties.topic_alias;
    if (a == 0 || a > cfg_.broker_alias_max)
      return violation("Topic Alias " + std::to_string(a) + " above the broker's maximum");
    if (topic.empty()) {
      auto it = conn_->in_aliases.find(a);
      if (it == conn_->in_aliases.end()) return violation("Topic Alias " + std::to_string(a) + " without a mapping");
      topic = it->second;
      ++chk_.cov.aliased_up;
    } else {
      conn_->in_aliases[a] = topic;
    }
  }
  if (topic.empty()) return violation("PUBLISH without a topic");
  if (v5() && cfg_.broker_max_qos >= 0 && static_cast<int>(p.qos) > cfg_.broker_max_qos)
    return violation("PUBLISH QoS above the broker's Maximum QoS [MQTT-3.2.2-11]");
  if (v5() && p.retain && !cfg_.broker_retain_available)
    return violation("retained PUBLISH although Retain Available is 0 [MQTT-3.2.2-14]");
  const auto n = payload_number(p.payload);
  if (!n) return violation("PUBLISH with a payload the simulator did not write");
  chk_.broker_check_dup(*n, p.qos, p.dup);
  const bool reject = cfg_.p_reject && ((*n * 0x9E3779B97F4A7C15ull) >> 54) % 1000 < cfg_.p_reject;
  switch (p.qos) {
    case QoS::AtMostOnce:
      chk_.broker_stored(*n, p.qos, topic, p.dup, epoch_);
      return true;
    case QoS::AtLeastOnce: {
      codec::PubAck a;
      a.packet_id = p.packet_id;
      if (reject) {
        a.reason_code = ReasonCode::QuotaExceeded;
        chk_.broker_rejected(*n);
      } else {
        chk_.broker_stored(*n, p.qos, topic, p.dup, epoch_);
      }
      send(a);
      return true;
    }
    case QoS::ExactlyOnce: {
      codec::PubRec a;
      a.packet_id = p.packet_id;
      auto it = session_->in_qos2.find(p.packet_id);
      if (it != session_->in_qos2.end()) {
        if (it->second != *n)
          return violation("QoS 2 packet id " + std::to_string(p.packet_id) + " reused for message " +
                           std::to_string(*n) + " while message " + std::to_string(it->second) +
                           " awaits PUBREL");
        if (!p.dup) return violation("QoS 2 PUBLISH sent again without DUP [MQTT-3.3.1-1]");
      } else if (reject) {
        a.reason_code = ReasonCode::QuotaExceeded;
        chk_.broker_rejected(*n);
      } else {
        chk_.broker_stored(*n, p.qos, topic, p.dup, epoch_);
        session_->in_qos2.emplace(p.packet_id, *n);
      }
      send(a);
      return true;
    }
  }
  return true;
}

void Broker::finish(uint16_t id, OutMsg::Stage stage, const char* what) {
  auto& s = *session_;
  auto it = s.inflight.find(id);
  if (it == s.inflight.end() || it->second.stage != stage) {
    if (trace_) note(std::string(what) + " for unknown id " + std::to_string(id));
    return;
  }
  if (trace_) note(std::string(what) + " id " + std::to_string(id) + " completes #" + std::to_string(it->second.n));
  // A PUBACK is the client's ack of the delivery (a QoS 2's is its PUBREC).
  if (stage == OutMsg::Stage::AwaitAck) chk_.broker_got_final_ack(it->second.n);
  chk_.broker_completed(it->second.n);
  s.inflight.erase(it);
}

bool Broker::handle(codec::Packet& pk, TimePoint now) {
  const auto type = codec::packet_type(pk);
  if (!conn_->got_connect) {
    if (type != codec::PacketType::Connect) return violation(std::string(codec::to_string(type)) + " before CONNECT");
    return on_connect(std::get<codec::Connect>(pk), now);
  }
  auto& s = *session_;
  switch (type) {
    case codec::PacketType::Connect: return violation("second CONNECT");
    case codec::PacketType::Publish: return on_publish(std::get<codec::Publish>(pk));
    case codec::PacketType::PubRel: {
      const uint16_t id = std::get<codec::PubRel>(pk).packet_id;
      codec::PubComp c;
      c.packet_id = id;
      if (!s.in_qos2.erase(id) && v5()) c.reason_code = ReasonCode::PacketIdentifierNotFound;
      send(c);
      return true;
    }
    case codec::PacketType::PubAck:
      finish(std::get<codec::PubAck>(pk).packet_id, OutMsg::Stage::AwaitAck, "PUBACK");
      return true;
    case codec::PacketType::PubRec: {
      const auto& a = std::get<codec::PubRec>(pk);
      auto it = s.inflight.find(a.packet_id);
      if (it == s.inflight.end() || it->second.qos != QoS::ExactlyOnce) {
        if (trace_) note("PUBREC for unknown id " + std::to_string(a.packet_id));
        return true;
      }
      if (mqtt::is_failure(a.reason_code)) return violation("PUBREC refusing a message");
      if (it->second.stage == OutMsg::Stage::AwaitRec) {
        chk_.broker_got_final_ack(it->second.n);
        it->second.stage = OutMsg::Stage::AwaitComp;
      }
      it->second.seq = ++seq_;
      codec::PubRel rel;
      rel.packet_id = a.packet_id;
      send(rel);
      return true;
    }
    case codec::PacketType::PubComp:
      finish(std::get<codec::PubComp>(pk).packet_id, OutMsg::Stage::AwaitComp, "PUBCOMP");
      return true;
    case codec::PacketType::Subscribe: {
      const auto& sub = std::get<codec::Subscribe>(pk);
      codec::SubAck a;
      a.packet_id = sub.packet_id;
      for (const auto& f : sub.subscriptions) {
        if (rng_.chance(cfg_.p_refuse_sub)) {
          a.reason_codes.push_back(ReasonCode::UnspecifiedError);
          ++chk_.cov.refused_filters;
          continue;
        }
        s.subs[std::string(f.filter)] = f.qos;
        a.reason_codes.push_back(static_cast<ReasonCode>(f.qos));
      }
      if (trace_) note("SUBACK id " + std::to_string(sub.packet_id));
      send(a);
      return true;
    }
    case codec::PacketType::Unsubscribe: {
      const auto& u = std::get<codec::Unsubscribe>(pk);
      codec::UnsubAck a;
      a.packet_id = u.packet_id;
      for (auto f : u.filters) {
        const bool had = s.subs.erase(std::string(f)) > 0;
        if (v5()) a.reason_codes.push_back(had ? ReasonCode::Success : ReasonCode::NoSubscriptionExisted);
      }
      send(a);
      return true;
    }
    case codec::PacketType::PingReq:
      send(codec::PingResp{});
      return true;
    case codec::PacketType::Disconnect:
      if (trace_) note("DISCONNECT from the client");
      return false;
    case codec::PacketType::Auth: return violation("AUTH without enhanced authentication");
    default: return violation(std::string(codec::to_string(type)) + " is not a client packet");
  }
}

bool Broker::quiescent() const {
  return !session_ || (session_->queue.empty() && session_->inflight.empty() && session_->in_qos2.empty());
}

std::string Broker::describe() const {
  std::ostringstream o;
  o << "broker: epoch " << epoch_ << (conn_ ? (conn_->connack_sent ? " connected" : " connecting") : " no connection");
  if (session_) {
    o << " subs=" << session_->subs.size() << " queue=" << session_->queue.size()
      << " inflight=" << session_->inflight.size() << " in_qos2=" << session_->in_qos2.size();
  } else {
    o << " no session";
  }
  return o.str();
}

}  // namespace sim
