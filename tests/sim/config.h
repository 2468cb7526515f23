// Everything one simulated run is configured with, derived from its seed.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "mqtt/codec/types.h"
#include "mqtt/session/session.h"

namespace sim {

using Duration = std::chrono::nanoseconds;
using std::chrono::milliseconds;

struct SimConfig {
  uint64_t seed = 0;
  mqtt::session::SessionConfig session;
  // The runtime's limits the simulated driver applies (mqtt/runtime/driver.cc).
  size_t output_high_water = 512 * 1024;  // no publish taken while output is this large
  size_t control_capacity = 16;           // held control requests (the control lane)
  size_t publish_lane = 16;               // publishes queued before the session takes them
  // MQTT 5 CONNECT/CONNACK properties.
  uint16_t client_receive_max = 0;  // 0: absent (65535)
  uint16_t broker_receive_max = 0;  // 0: absent
  uint16_t broker_alias_max = 0;    // broker's Topic Alias Maximum
  uint16_t server_keep_alive = 0;   // 0: absent
  int broker_max_qos = -1;          // Maximum QoS 0 or 1; -1: absent
  bool broker_retain_available = true;
  uint32_t broker_max_packet = 0;   // Maximum Packet Size; 0: absent
  bool receive_max_changes = false; // a restart picks a new Receive Maximum
  uint16_t broker_window = 10;      // the broker's own limit of QoS 1/2 in flight to us
  bool broker_lowest_id = false;    // reuse the lowest free packet id (else: the next one)
  uint32_t payload_max = 64;
  // The run.
  uint32_t steps = 400;  // user/broker activity steps before the drain
  Duration connect_timeout = std::chrono::seconds(5);
  Duration max_latency = milliseconds(50);
  Duration max_step = milliseconds(200);
  // Fault rates, per mille per step.
  uint32_t p_drop = 10;
  uint32_t p_stall = 5;
  uint32_t p_restart = 3;
  uint32_t p_restart_lose = 500;  // of restarts: without the session
  uint32_t p_partial_write = 200;
  uint32_t p_reject = 0;          // MQTT 5: broker refuses a publish (0x97)
  uint32_t p_refuse_sub = 50;     // broker refuses a filter (0x80)
  // Activity rates, per mille per step.
  uint32_t p_publish = 300;
  uint32_t p_tracked = 500;  // of publishes: with a token
  uint32_t p_subscribe = 40;
  uint32_t p_unsubscribe = 20;
  uint32_t p_broker_publish = 250;
  uint32_t p_retain = 0;      // of publishes: retained
  uint32_t p_pause = 0;       // the consumer falls behind: input paused
  bool graceful_end = true;   // false: the run ends with fail_all
  // The end comes during the active phase (faults still on), at end_step;
  // otherwise after the drain.
  bool end_early = false;
  uint32_t end_step = 0;

  static SimConfig from_seed(uint64_t seed);
  std::string describe() const;
};

}  // namespace sim
