#include "tests/sim/config.h"

#include <sstream>

#include "tests/sim/rng.h"

namespace sim {

SimConfig SimConfig::from_seed(uint64_t seed) {
  Rng r(seed ^ 0xC0FFEEull);
  SimConfig c;
  c.seed = seed;
  auto& s = c.session;
  s.version = r.chance(500) ? mqtt::ProtocolVersion::V5 : mqtt::ProtocolVersion::V311;
  const bool v5 = s.version == mqtt::ProtocolVersion::V5;
  // Small windows make the limits bite; a few runs use wide ones.
  s.max_inflight = static_cast<uint16_t>(r.chance(100) ? r.between(20, 300) : r.between(1, 8));
  s.manual_acks = r.chance(300);
  s.auto_resubscribe = r.chance(400);
  s.keep_alive = std::chrono::seconds(r.chance(150) ? 0 : r.between(1, 20));
  s.ping_timeout = milliseconds(r.between(200, 5000));
  if (v5) {
    s.topic_alias_maximum = static_cast<uint16_t>(r.chance(300) ? r.between(1, 4) : 0);
    s.auto_topic_aliases = static_cast<uint16_t>(r.chance(300) ? r.between(1, 4) : 0);
    c.client_receive_max = static_cast<uint16_t>(r.chance(300) ? r.between(1, 6) : 0);
    c.broker_receive_max = static_cast<uint16_t>(r.chance(400) ? r.between(1, 6) : 0);
    c.broker_alias_max = static_cast<uint16_t>(r.chance(500) ? r.between(1, 4) : 0);
    c.server_keep_alive = static_cast<uint16_t>(r.chance(100) ? r.between(1, 10) : 0);
    c.p_reject = r.chance(300) ? 30 : 0;
    if (r.chance(150)) c.broker_max_qos = static_cast<int>(r.below(2));
    c.broker_retain_available = !r.chance(150);
    if (r.chance(150)) c.broker_max_packet = static_cast<uint32_t>(r.between(64, 400));
    c.receive_max_changes = c.broker_receive_max != 0 && r.chance(500);
  }
  c.broker_window = static_cast<uint16_t>(r.between(1, 12));
  c.broker_lowest_id = r.chance(500);
  c.payload_max = static_cast<uint32_t>(r.chance(100) ? r.between(200, 3000) : r.between(8, 64));
  // A low high-water mark makes the driver's output pause happen.
  c.output_high_water = r.chance(300) ? r.between(64, 1024) : 512 * 1024;
  c.control_capacity = r.between(1, 8);
  c.publish_lane = r.between(1, 16);
  c.steps = static_cast<uint32_t>(r.between(100, 500));
  c.max_latency = milliseconds(r.between(0, 300));
  c.max_step = milliseconds(r.chance(200) ? r.between(500, 5000) : r.between(10, 300));
  c.connect_timeout = milliseconds(r.between(1000, 10000));
  c.p_drop = static_cast<uint32_t>(r.chance(200) ? 0 : r.between(2, 40));
  c.p_stall = static_cast<uint32_t>(r.chance(300) ? 0 : r.between(1, 15));
  c.p_restart = static_cast<uint32_t>(r.chance(300) ? 0 : r.between(1, 15));
  c.p_restart_lose = static_cast<uint32_t>(r.between(0, 1000));
  c.p_partial_write = static_cast<uint32_t>(r.between(0, 600));
  c.p_refuse_sub = static_cast<uint32_t>(r.chance(500) ? 0 : 100);
  c.p_publish = static_cast<uint32_t>(r.between(50, 700));
  c.p_tracked = static_cast<uint32_t>(r.between(0, 1000));
  c.p_subscribe = static_cast<uint32_t>(r.between(5, 80));
  c.p_unsubscribe = static_cast<uint32_t>(r.between(0, 40));
  c.p_broker_publish = static_cast<uint32_t>(r.between(0, 600));
  c.p_retain = static_cast<uint32_t>(r.chance(300) ? r.between(10, 200) : 0);
  c.p_pause = static_cast<uint32_t>(r.chance(200) ? r.between(2, 20) : 0);
  c.graceful_end = r.chance(700);
  c.end_early = r.chance(250);
  c.end_step = static_cast<uint32_t>(r.below(c.steps));
  return c;
}

std::string SimConfig::describe() const {
  std::ostringstream o;
  o << "v" << (session.version == mqtt::ProtocolVersion::V5 ? "5" : "3.1.1")
    << " max_inflight=" << session.max_inflight << " manual_acks=" << session.manual_acks
    << " auto_resub=" << session.auto_resubscribe << " keep_alive=" << session.keep_alive.count()
    << "s ping_timeout=" << std::chrono::duration_cast<milliseconds>(session.ping_timeout).count()
    << "ms aliases(in/auto/broker)=" << session.topic_alias_maximum << "/"
    << session.auto_topic_aliases << "/" << broker_alias_max
    << " receive_max(client/broker)=" << client_receive_max << "/" << broker_receive_max
    << " server_keep_alive=" << server_keep_alive << " broker_window=" << broker_window << (broker_lowest_id ? " lowest_id" : "")
    << " payload_max=" << payload_max << " high_water=" << output_high_water
    << " control_cap=" << control_capacity << " lane=" << publish_lane << " steps=" << steps
    << " latency<=" << std::chrono::duration_cast<milliseconds>(max_latency).count()
    << "ms step<=" << std::chrono::duration_cast<milliseconds>(max_step).count()
    << "ms faults(drop/stall/restart/lose)=" << p_drop << "/" << p_stall << "/" << p_restart << "/"
    << p_restart_lose << " partial_write=" << p_partial_write << " reject=" << p_reject
    << " refuse_sub=" << p_refuse_sub << " limits(qos/retain/packet)=" << broker_max_qos << "/"
    << broker_retain_available << "/" << broker_max_packet << " receive_max_changes=" << receive_max_changes
    << " retain=" << p_retain << " pause=" << p_pause << " end=" << (graceful_end ? "disconnect" : "fail_all")
    << (end_early ? " early at step " + std::to_string(end_step) : std::string(" after drain"));
  return o.str();
}

}  // namespace sim
