// Recipe: manual acknowledgements. A worker acknowledges a QoS 1 message only
// after it has processed it; a message it did not acknowledge (its
// processing failed) is delivered again when the worker comes back to its
// session.
//
//   bazel run //examples:manual_acks -- HOST PORT      (or URL [CA_FILE])
//
// The worker subscribes, queues three jobs to itself, processes jobs 1 and
// 3 (acks them) and "fails" job 2 (no ack), then goes away. It reconnects to
// the same session: the broker delivers job 2 again (DUP set), this time it
// succeeds. Exit code 0 when exactly job 2 came back.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>
#include <set>
#include <string>

#include "examples/recipe_common.h"
#include "mqtt/client.h"

using namespace std::chrono_literals;

namespace {

// The job number in a payload "job N", or nullopt.
std::optional<int> job_number(const mqtt::codec::Publish& p) {
  const std::string_view s = mqtt::codec::as_string(p.payload);
  if (s.rfind("job ", 0) != 0) return std::nullopt;
  return std::atoi(std::string(s.substr(4)).c_str());
}

// Waits (bounded) for the next incoming PUBLISH, printing errors and noting
// the PUBACKs written (Outgoing events) on the way.
const mqtt::codec::Publish* next_publish(mqtt::Connection& connection, std::optional<mqtt::Event>& ev,
                                         std::set<uint16_t>& acks_written,
                                         std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline && !connection.ended()) {
    ev = connection.next_for(100ms);
    if (!ev) continue;
    if (ev->error() || ev->request_failed()) std::cout << "event: " << *ev << '\n';
    if (const auto* out = ev->outgoing(); out && out->type == mqtt::Outgoing::Type::PubAck) {
      acks_written.insert(out->packet_id);
    }
    if (ev->publish()) return ev->publish();
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  // A session of our own for this run; MQTT 5 so that the broker forgets it
  // a minute after we leave (Session Expiry Interval).
  const std::string id = "recipe-manual-acks-" + std::to_string(::getpid());
  const std::string topic = "recipes/manual_acks/" + std::to_string(::getpid());
  mqtt::MqttOptions options(id, "localhost", 1883);
  if (!recipes::apply_broker_args(options, argc, argv)) return 2;
  options.set_protocol(mqtt::ProtocolVersion::V5);
  options.set_clean_session(false);   // keep the session (and unacked messages) when we go
  options.session_expiry_interval_s = 60;
  options.set_manual_acks(true);      // the library acks nothing by itself
  // Outgoing events tell when our PUBACKs were written: ack() has no token.
  options.outgoing_events = true;
  std::set<uint16_t> acks_written;

  // --- first visit: job 2 fails and is not acknowledged ---
  {
    auto [client, connection] = mqtt::Client::create(options, 16);
    auto sub = client.subscribe(topic, mqtt::QoS::AtLeastOnce);
    if (!sub || !sub->wait_for(10s) || !sub->poll()->ok()) {
      std::cerr << "subscribe failed\n";
      return 1;
    }
    for (int job = 1; job <= 3; ++job) {
      (void)client.publish(topic, mqtt::QoS::AtLeastOnce, false, "job " + std::to_string(job));
    }
    std::set<uint16_t> acked;
    for (int seen = 0; seen < 3; ++seen) {
      std::optional<mqtt::Event> ev;
      const auto* p = next_publish(connection, ev, acks_written, 10s);
      if (!p) {
        std::cerr << "only " << seen << " of 3 jobs arrived\n";
        return 1;
      }
      const auto job = job_number(*p);
      if (job == 2) {
        // No ack: the broker keeps the message for this session.
        std::cout << "job 2: processing failed, not acknowledged\n";
        continue;
      }
      std::cout << "job " << job.value_or(0) << ": done, acknowledged\n";
      if (auto r = client.ack(*p); !r) std::cerr << "ack: " << r.error().message << '\n';
      acked.insert(p->packet_id);
    }
    // Leave only once both PUBACKs are on the wire: an ack still queued when
    // the connection ends is dropped (a RequestFailed event says so) and the
    // broker would deliver that job again too.
    auto all_written = [&] {
      return std::includes(acks_written.begin(), acks_written.end(), acked.begin(), acked.end());
    };
    for (auto until = std::chrono::steady_clock::now() + 5s;
         !all_written() && std::chrono::steady_clock::now() < until;) {
      std::optional<mqtt::Event> ev;
      (void)next_publish(connection, ev, acks_written, 100ms);
    }
    if (!recipes::disconnect_and_drain(client, connection)) {
      std::cerr << "disconnect did not complete\n";
      return 1;
    }
  }

  // --- second visit: the same session; the unacknowledged job comes back ---
  auto [client, connection] = mqtt::Client::create(options, 16);
  std::optional<mqtt::Event> ev;
  const auto* p = next_publish(connection, ev, acks_written, 10s);
  if (!p || job_number(*p) != 2) {
    std::cerr << "job 2 was not delivered again\n";
    return 1;
  }
  std::cout << "job 2 delivered again (dup=" << p->dup << "): done, acknowledged\n";
  (void)client.ack(*p);
  // Jobs 1 and 3 were acknowledged: nothing else may come.
  std::optional<mqtt::Event> extra;
  if (const auto* q = next_publish(connection, extra, acks_written, 1s)) {
    std::cerr << "unexpected redelivery: " << mqtt::codec::as_string(q->payload) << '\n';
    return 1;
  }
  if (!recipes::disconnect_and_drain(client, connection)) return 1;
  std::cout << "only the unacknowledged job was redelivered\n";
  return 0;
}
