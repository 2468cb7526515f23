// The soak load: several of our clients (MQTT 3.1.1 and 5, persistent
// sessions, some on one shared reactor), each publishing one flow at a fixed
// rate and subscribed to another client's flow, so messages go both ways on
// every connection. Payloads carry the flow's sequence number and the
// publish time, so the subscriber measures end-to-end latency and checks
// QoS 1/2 losses and QoS 2 duplicates.
//
// Threads per connection: a publisher (try_publish at its pace; QueueFull is
// backpressure, counted, and retried) and a consumer (next_for() in a loop;
// it can be told to stall, i.e. stop calling next() for a while).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "mqtt/client.h"
#include "tools/soak/latency_histogram.h"
#include "tools/soak/seq_checker.h"

namespace soak {

using Clock = std::chrono::steady_clock;

struct WorkloadOptions {
  uint16_t port = 0;  // where the clients connect (the relay)
  size_t connections = 6;
  size_t shared_reactor = 3;  // the first N connections share one reactor
  double rate = 1500;         // messages per second, all publishers together
  size_t payload_min = 32;    // payload sizes drawn (seeded) in [min, max]
  size_t payload_max = 512;
  uint64_t seed = 1;
  size_t capacity = 1024;  // request lanes and event queue per connection
  std::chrono::seconds keep_alive{5};
};

// Counters one interval report reads (cumulative; the reporter diffs them).
struct Totals {
  std::array<uint64_t, 3> sent{};      // per QoS, accepted by try_publish
  std::array<uint64_t, 3> received{};  // per QoS, PUBLISH delivered to a consumer
  uint64_t backpressure = 0;           // try_publish QueueFull
  uint64_t reconnects = 0;             // sum of Snapshot::reconnects
  uint64_t connection_errors = 0;
  uint64_t duplicates_qos1 = 0;
  uint64_t duplicates_qos2 = 0;
  uint64_t qos12_gaps = 0;                  // not (yet) received below the highest received
  uint64_t resent_after_pubrel = 0;         // client broke the QoS 2 flow on the wire
  uint64_t broker_resent_after_pubrel = 0;  // broker did (a duplicate not ours)
};

class Workload {
 public:
  explicit Workload(WorkloadOptions options);
  ~Workload();  // stops everything still running (bounded)
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  // Creates the clients and consumers, waits (at most `timeout`) for every
  // CONNACK and SUBACK. Returns an error message, empty on success.
  std::string connect_all(std::chrono::milliseconds timeout);
  void start_publishing();
  // Stops and joins the publishers (bounded: they never block).
  void stop_publishing();
  // Waits (at most `timeout`) until every QoS 1/2 message published has been
  // received and every connection is connected with nothing in flight.
  bool wait_drained(std::chrono::milliseconds timeout);
  bool all_connected() const;
  // disconnect() on every client, waits for the consumers to see the end,
  // joins them, destroys clients, connections and the shared reactor.
  // Returns an error message (a hang, a missing Disconnected), empty if clean.
  std::string teardown(std::chrono::milliseconds timeout);

  // Consumer `i` stops calling next() until `until`.
  void stall(size_t i, Clock::time_point until);
  size_t connections() const { return conns_.size(); }

  Totals totals() const;
  // Latency samples since the last call (moved out and cleared).
  LatencyHistogram take_latency();
  // Connection errors and request failures by kind, e.g. "Io" -> 12.
  std::map<std::string, uint64_t> errors_by_kind() const;
  // After the run: one line per flow (published, received, lost, duplicates).
  struct FlowResult {
    std::string topic;
    int qos = 0;
    uint64_t published = 0;
    uint64_t received_unique = 0;
    uint64_t duplicates = 0;
    uint64_t first_missing = 0;
    uint64_t lost() const { return published > received_unique ? published - received_unique : 0; }
  };
  std::vector<FlowResult> flow_results() const;
  std::string describe_connections() const;

 private:
  struct Flow {
    std::string topic;
    mqtt::QoS qos = mqtt::QoS::AtMostOnce;
    std::atomic<uint64_t> published{0};
    // QoS 1/2 only: a QoS 0 flow loses messages in every fault, and the
    // numbers received above those gaps would be kept (memory the run would
    // then report as the client's). QoS 0 counts what arrives.
    SeqChecker checker;
    std::atomic<uint64_t> received_qos0{0};
  };
  struct Conn {
    size_t index = 0;
    mqtt::ProtocolVersion version = mqtt::ProtocolVersion::V311;
    size_t pub_flow = 0;
    size_t sub_flow = 0;
    std::optional<mqtt::Client> client;
    std::optional<mqtt::Connection> connection;
    std::thread publisher;
    std::thread consumer;
    std::atomic<int64_t> stall_until_ns{0};
    std::atomic<bool> ended{false};
    uint64_t payload_seed = 0;
    // QoS 2 flows on the wire (Outgoing events), to tell whose fault a
    // duplicate is. Fixed size: no growth.
    // out_wire (QoS 2 publisher), per packet id: 1 = PUBLISH sent, 2 =
    //   PUBREL sent; a PUBLISH resent after its PUBREL is the client's
    //   fault [MQTT-4.3.3-4].
    // in_wire (QoS 2 subscriber), per packet id: 1 = PUBLISH received, 3 =
    //   PUBCOMP sent, i.e. the broker had our PUBREC (it sent PUBREL); a
    //   PUBLISH with DUP after that is the broker's resend of a message it
    //   had released: the client rightly takes it as a new message.
    std::unique_ptr<std::array<uint8_t, 65536>> out_wire;
    std::unique_ptr<std::array<uint8_t, 65536>> in_wire;
  };

  void publisher_loop(Conn& c);
  void consumer_loop(Conn& c);
  void on_event(Conn& c, const mqtt::Event& e);
  void count_error(const std::string& kind);

  WorkloadOptions options_;
  std::shared_ptr<mqtt::Reactor> shared_reactor_;
  std::vector<std::unique_ptr<Flow>> flows_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::atomic<bool> publishing_{false};
  // Consumers return once past this (steady clock ns): set by teardown.
  std::atomic<int64_t> consumers_deadline_ns_{0};

  std::array<std::atomic<uint64_t>, 3> sent_{};
  std::array<std::atomic<uint64_t>, 3> received_{};
  std::atomic<uint64_t> backpressure_{0};
  std::atomic<uint64_t> connection_errors_{0};
  std::atomic<uint64_t> resent_after_pubrel_{0};
  std::atomic<uint64_t> broker_resent_after_pubrel_{0};
  mutable std::mutex mu_;  // guards latency_ and errors_
  LatencyHistogram latency_;
  std::map<std::string, uint64_t> errors_;
  std::atomic<int> duplicate_reports_{0};  // QoS 2 duplicates described on stderr
};

}  // namespace soak
