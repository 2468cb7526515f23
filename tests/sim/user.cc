#include "tests/sim/user.h"

#include <iterator>

#include "mqtt/completion.h"

namespace sim {

namespace codec = mqtt::codec;

void User::act() {
  if (rng_.chance(cfg_.p_publish)) publish();
  if (rng_.chance(cfg_.p_subscribe)) subscribe(false);
  if (rng_.chance(cfg_.p_unsubscribe)) subscribe(true);
}

void User::publish() {
  if (client_.publish_lane.size() >= cfg_.publish_lane) return;  // QueueFull
  // Even numbers: this user's; odd: the broker's (one number space).
  const uint64_t n = next_message() * 2;
  const QoS qos = static_cast<QoS>(rng_.below(3));
  const bool tracked = rng_.chance(cfg_.p_tracked);
  const bool retain = rng_.chance(cfg_.p_retain);
  // Untracked publishes name their number in the topic: a failure report
  // carries the topic (or packet id) only.
  const std::string topic = tracked ? "c/t" + std::to_string(rng_.below(6)) : "c/u/" + std::to_string(n);
  const std::vector<uint8_t> payload = make_payload(n, static_cast<size_t>(rng_.between(1, cfg_.payload_max)));
  codec::Publish p;
  p.topic = topic;
  p.qos = qos;
  p.retain = retain;
  p.payload = payload;
  // MQTT 5: sometimes the caller's own Topic Alias (with its topic), now and
  // then one above the broker's maximum.
  const bool v5 = cfg_.session.version == mqtt::ProtocolVersion::V5;
  if (v5 && tracked && cfg_.broker_alias_max > 0 && rng_.chance(200)) {
    p.properties.topic_alias = static_cast<uint16_t>(rng_.between(1, cfg_.broker_alias_max + 1u));
    ++chk_.cov.caller_aliases;
  }
  auto r = mqtt::session::make_publish_request(p, cfg_.session.version);
  if (!r) return chk_.fail("simulator: make_publish_request failed");
  UpMsg m;
  m.n = n;
  m.qos = qos;
  m.topic = topic;
  m.retain = retain;
  // The broker's limits, checked by the session in this order (MQTT 5).
  if (v5) {
    if (p.properties.topic_alias && *p.properties.topic_alias > cfg_.broker_alias_max) {
      m.expect = mqtt::RequestError::TopicAliasInvalid;
    } else if (cfg_.broker_max_packet && r->bytes.size() > cfg_.broker_max_packet) {
      m.expect = mqtt::RequestError::PacketTooLarge;
    } else if (cfg_.broker_max_qos >= 0 && static_cast<int>(qos) > cfg_.broker_max_qos) {
      m.expect = mqtt::RequestError::QoSNotSupported;
    } else if (retain && !cfg_.broker_retain_available) {
      m.expect = mqtt::RequestError::RetainNotSupported;
    }
  }
  if (tracked) {
    m.token = std::make_shared<mqtt::detail::CompletionState>();
    r->completion = m.token;
  }
  chk_.up.emplace(n, m);
  if (tracked) chk_.open_tokens.push_back(n);
  ++chk_.cov.msgs_up;
  client_.publish_lane.push_back(LaneItem{std::move(*r), n});
  if (trace_) trace_("user: publish #" + std::to_string(n) + " q" + std::to_string(int(qos)) + (tracked ? " tracked" : ""));
}

void User::subscribe(bool unsubscribe) {
  if (client_.control_lane.size() >= cfg_.control_capacity) return;  // QueueFull
  std::vector<std::string_view> filters;
  const size_t count = static_cast<size_t>(rng_.between(1, 2));
  for (size_t i = 0; i < count; ++i) filters.push_back(kFilters[rng_.below(std::size(kFilters))]);
  mqtt::Result<Request, codec::CodecError> r = unsubscribe ? [&] {
    codec::Unsubscribe u;
    u.filters = filters;
    return mqtt::session::make_unsubscribe_request(u, cfg_.session.version);
  }() : [&] {
    codec::Subscribe s;
    for (auto f : filters) s.subscriptions.push_back(codec::Subscription{f, static_cast<QoS>(rng_.below(3))});
    return mqtt::session::make_subscribe_request(s, cfg_.session.version);
  }();
  if (!r) return chk_.fail("simulator: make_(un)subscribe_request failed");
  r->completion = std::make_shared<mqtt::detail::CompletionState>();
  client_.control_tokens.push_back(r->completion);
  client_.control_lane.push_back(std::move(*r));
  if (trace_) trace_(std::string("user: ") + (unsubscribe ? "unsubscribe " : "subscribe ") + std::string(filters[0]));
}

void User::disconnect(TimePoint deadline) {
  auto r = mqtt::session::make_disconnect_request(codec::Disconnect{}, cfg_.session.version);
  if (!r) return chk_.fail("simulator: make_disconnect_request failed");
  r->completion = std::make_shared<mqtt::detail::CompletionState>();
  client_.control_tokens.push_back(r->completion);
  client_.disconnect_deadline = deadline;
  client_.disconnect_requested = true;
  client_.publish_lane.push_back(LaneItem{std::move(*r), 0});
  if (trace_) trace_("user: disconnect");
}

}  // namespace sim
