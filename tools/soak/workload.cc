#include "tools/soak/workload.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <random>
#include <sstream>
#include <string_view>

namespace soak {
namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// "<seq> <publish time ns> " then padding. False when malformed.
bool parse_payload(std::string_view p, uint64_t& seq, int64_t& t_ns) {
  const char* b = p.data();
  const char* e = b + p.size();
  auto r1 = std::from_chars(b, e, seq);
  if (r1.ec != std::errc() || r1.ptr == e || *r1.ptr != ' ') return false;
  auto r2 = std::from_chars(r1.ptr + 1, e, t_ns);
  return r2.ec == std::errc();
}

}  // namespace

Workload::Workload(WorkloadOptions options) : options_(std::move(options)) {
  const size_t n = options_.connections;
  for (size_t i = 0; i < n; ++i) {
    auto f = std::make_unique<Flow>();
    f->topic = "soak/flow" + std::to_string(i);
    f->qos = static_cast<mqtt::QoS>(i % 3);
    flows_.push_back(std::move(f));
    auto c = std::make_unique<Conn>();
    c->index = i;
    // Alternate versions so that every QoS is published and received by
    // both a 3.1.1 and an MQTT 5 client (with 6 connections).
    c->version = i % 2 == 0 ? mqtt::ProtocolVersion::V5 : mqtt::ProtocolVersion::V311;
    c->pub_flow = i;
    c->sub_flow = (i + 1) % n;
    c->payload_seed = options_.seed * 1000003 + i;
    auto table = [] {
      auto t = std::make_unique<std::array<uint8_t, 65536>>();
      t->fill(0);
      return t;
    };
    if (flows_[i]->qos == mqtt::QoS::ExactlyOnce) c->out_wire = table();
    if ((i + 1) % n % 3 == 2) c->in_wire = table();  // its subscription is QoS 2
    conns_.push_back(std::move(c));
  }
}

Workload::~Workload() {
  stop_publishing();
  consumers_deadline_ns_.store(now_ns());
  for (auto& c : conns_) {
    if (c->consumer.joinable()) c->consumer.join();
  }
}

std::string Workload::connect_all(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  consumers_deadline_ns_.store(INT64_MAX);
  if (options_.shared_reactor > 0) {
    mqtt::Reactor::Options ro;
    ro.thread_name = "soak-shared";
    shared_reactor_ = mqtt::Reactor::create(ro);
  }
  for (auto& cp : conns_) {
    Conn& c = *cp;
    mqtt::MqttOptions o("soak-" + std::to_string(getpid()) + "-" + std::to_string(c.index),
                        "127.0.0.1", options_.port);
    o.protocol = c.version;
    o.clean_session = false;  // persistent sessions: QoS 1/2 survive reconnects
    if (c.version == mqtt::ProtocolVersion::V5) o.session_expiry_interval_s = 3600;
    o.keep_alive = options_.keep_alive;
    o.connect_timeout = std::chrono::milliseconds(5000);
    o.backoff.initial = std::chrono::milliseconds(100);
    o.backoff.max = std::chrono::milliseconds(2000);
    o.reactor_thread_name = "soak-r" + std::to_string(c.index);
    o.outgoing_events = c.out_wire || c.in_wire;
    auto created = c.index < options_.shared_reactor
                       ? mqtt::Client::try_create(o, options_.capacity, shared_reactor_)
                       : mqtt::Client::try_create(o, options_.capacity);
    if (!created) return "connection " + std::to_string(c.index) + ": " + created.error().message;
    c.client.emplace(std::move(created.value().first));
    c.connection.emplace(std::move(created.value().second));
    c.consumer = std::thread([this, &c] { consumer_loop(c); });
  }
  for (auto& c : conns_) {
    const Flow& f = *flows_[c->sub_flow];
    auto tok = c->client->subscribe(f.topic, f.qos);
    if (!tok) return "subscribe " + f.topic + ": " + tok.error().message;
    auto done = tok.value().wait_for(std::max(deadline - Clock::now(), Clock::duration(0)));
    if (!done) return "no SUBACK for " + f.topic + " within the setup timeout";
    if (!done->ok() || done->reason_codes.empty() ||
        static_cast<uint8_t>(done->reason_codes[0]) >= 0x80)
      return "subscribe " + f.topic + " refused: " + done->message;
  }
  for (int i = 0; i < 100000 && !all_connected(); ++i) {
    if (Clock::now() >= deadline) return "not all connected within the setup timeout";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return {};
}

void Workload::start_publishing() {
  publishing_.store(true);
  for (auto& c : conns_) {
    Conn* cp = c.get();
    c->publisher = std::thread([this, cp] { publisher_loop(*cp); });
  }
}

void Workload::stop_publishing() {
  publishing_.store(false);
  for (auto& c : conns_) {
    if (c->publisher.joinable()) c->publisher.join();
  }
}

void Workload::publisher_loop(Conn& c) {
  std::mt19937_64 rng(c.payload_seed);
  std::uniform_int_distribution<size_t> size_of(options_.payload_min, options_.payload_max);
  Flow& f = *flows_[c.pub_flow];
  const auto q = static_cast<size_t>(f.qos);
  const auto period = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(static_cast<double>(conns_.size()) / options_.rate));
  std::string payload;
  payload.reserve(options_.payload_max + 48);
  size_t size = size_of(rng);
  auto next = Clock::now();
  while (publishing_.load(std::memory_order_relaxed)) {
    const auto now = Clock::now();
    if (now < next) {
      std::this_thread::sleep_for(
          std::min<Clock::duration>(next - now, std::chrono::milliseconds(50)));
      continue;
    }
    const uint64_t seq = f.published.load(std::memory_order_relaxed);
    char head[48];
    const int len =
        std::snprintf(head, sizeof head, "%llu %lld ", static_cast<unsigned long long>(seq),
                      static_cast<long long>(now_ns()));
    payload.assign(head, static_cast<size_t>(len));
    if (payload.size() < size) payload.append(size - payload.size(), 'x');
    auto r = c.client->try_publish(f.topic, f.qos, false, payload);
    if (r) {
      f.published.store(seq + 1, std::memory_order_relaxed);
      sent_[q].fetch_add(1, std::memory_order_relaxed);
      size = size_of(rng);
      next += period;
      // After a stretch of backpressure, catch up by at most 200 ms worth
      // of messages rather than in one burst.
      if (next < now - std::chrono::milliseconds(200)) next = now - std::chrono::milliseconds(200);
    } else if (r.error().code == mqtt::ClientError::Code::QueueFull) {
      backpressure_.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    } else {
      count_error("publish:" + std::string(mqtt::to_string(r.error().code)));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

void Workload::consumer_loop(Conn& c) {
  for (;;) {
    if (c.connection->ended()) break;
    const int64_t now = now_ns();
    if (now >= consumers_deadline_ns_.load()) break;
    const int64_t stall = c.stall_until_ns.load(std::memory_order_relaxed);
    if (now < stall) {
      std::this_thread::sleep_for(
          std::chrono::nanoseconds(std::min<int64_t>(stall - now, 50'000'000)));
      continue;
    }
    auto ev = c.connection->next_for(std::chrono::milliseconds(100));
    if (ev) on_event(c, *ev);
  }
  c.ended.store(true);
}

void Workload::on_event(Conn& c, const mqtt::Event& e) {
  if (const auto* p = e.publish()) {
    const auto q = static_cast<size_t>(p->qos);
    received_[q].fetch_add(1, std::memory_order_relaxed);
    std::string_view body(reinterpret_cast<const char*>(p->payload.data()), p->payload.size());
    uint64_t seq = 0;
    int64_t t = 0;
    if (!parse_payload(body, seq, t)) {
      count_error("malformed_payload");
      return;
    }
    const int64_t lat_us = (now_ns() - t) / 1000;
    Flow& flow = *flows_[c.sub_flow];
    bool broker_resent = false;
    if (q == 2 && c.in_wire) {
      uint8_t& st = (*c.in_wire)[p->packet_id];
      broker_resent = p->dup && st == 3;
      if (broker_resent) broker_resent_after_pubrel_.fetch_add(1, std::memory_order_relaxed);
      st = 1;
    }
    bool dup = false;
    if (q == 0) {
      flow.received_qos0.fetch_add(1, std::memory_order_relaxed);
    } else {
      dup = flow.checker.add(seq);
    }
    if (dup && q == 2 && duplicate_reports_.fetch_add(1) < 20) {
      // Enough to tell a resend the client should have recognised (same
      // packet id, DUP set, while it still awaited the PUBREL) from a
      // message the broker sent anew.
      std::fprintf(stderr,
                   "soak: QoS 2 duplicate: %s seq %llu received again by conn %zu (packet id %u, "
                   "DUP %d, %.1f ms after publishing, reconnects so far %llu)%s\n",
                   flow.topic.c_str(), static_cast<unsigned long long>(seq), c.index, p->packet_id,
                   p->dup ? 1 : 0, static_cast<double>(lat_us) / 1000.0,
                   static_cast<unsigned long long>(c.client->snapshot().reconnects),
                   broker_resent ? ": the broker resent it with DUP after it had sent PUBREL for "
                                   "that packet id and we had answered with PUBCOMP"
                                 : "");
    }
    std::lock_guard<std::mutex> lock(mu_);
    latency_.record(lat_us);
    if (dup && q == 2) ++errors_[broker_resent ? "qos2_duplicate_broker_resent" : "qos2_duplicate"];
    return;
  }
  if (const auto* out = e.outgoing()) {
    if (out->type == mqtt::Outgoing::Type::PubComp && c.in_wire) (*c.in_wire)[out->packet_id] = 3;
    if (!c.out_wire) return;
    uint8_t& st = (*c.out_wire)[out->packet_id];
    if (out->type == mqtt::Outgoing::Type::Publish) {
      if (out->dup && st == 2) {
        resent_after_pubrel_.fetch_add(1, std::memory_order_relaxed);
        count_error("qos2_publish_resent_after_pubrel");
      }
      if (!out->dup) st = 1;
    } else if (out->type == mqtt::Outgoing::Type::PubRel) {
      st = 2;
    }
    return;
  }
  if (const auto* err = e.error()) {
    if (err->code == mqtt::ConnectionErrorCode::Disconnected) return;
    connection_errors_.fetch_add(1, std::memory_order_relaxed);
    count_error("conn:" + std::string(mqtt::to_string(err->code)));
    return;
  }
  if (const auto* f = e.request_failed()) {
    count_error("failed:" + std::string(mqtt::to_string(f->kind)) + ":" +
                std::string(mqtt::to_string(f->reason)));
    return;
  }
  if (e.session_reset()) count_error("session_reset");
}

void Workload::count_error(const std::string& kind) {
  std::lock_guard<std::mutex> lock(mu_);
  ++errors_[kind];
}

bool Workload::all_connected() const {
  for (const auto& c : conns_) {
    if (!c->client || c->client->snapshot().state != mqtt::Snapshot::State::Connected) return false;
  }
  return true;
}

bool Workload::wait_drained(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (int i = 0; i < 1'000'000; ++i) {
    bool done = all_connected();
    for (const auto& c : conns_) {
      if (!done) break;
      const auto s = c->client->snapshot();
      done = s.inflight_publishes == 0 && s.queued_publishes == 0 && s.queued_events == 0;
    }
    for (const auto& f : flows_) {
      if (!done) break;
      if (f->qos != mqtt::QoS::AtMostOnce) done = f->checker.unique() >= f->published.load();
    }
    if (done) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::string Workload::teardown(std::chrono::milliseconds timeout) {
  std::string problems;
  stop_publishing();
  for (auto& c : conns_) {
    if (c->client) (void)c->client->disconnect(std::chrono::milliseconds(3000));
  }
  const auto deadline = Clock::now() + timeout;
  for (int i = 0; i < 1'000'000; ++i) {
    bool all = true;
    for (auto& c : conns_) all = all && c->ended.load();
    if (all || Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& c : conns_) {
    if (!c->ended.load())
      problems += "connection " + std::to_string(c->index) +
                  ": the loop did not end within the teardown timeout after disconnect(); ";
  }
  consumers_deadline_ns_.store(now_ns());  // consumers still waiting give up now
  for (auto& c : conns_) {
    if (c->consumer.joinable()) c->consumer.join();
    c->client.reset();
    c->connection.reset();
  }
  shared_reactor_.reset();
  return problems;
}

void Workload::stall(size_t i, Clock::time_point until) {
  conns_.at(i)->stall_until_ns.store(
      std::chrono::duration_cast<std::chrono::nanoseconds>(until.time_since_epoch()).count());
}

Totals Workload::totals() const {
  Totals t;
  for (size_t q = 0; q < 3; ++q) {
    t.sent[q] = sent_[q].load(std::memory_order_relaxed);
    t.received[q] = received_[q].load(std::memory_order_relaxed);
  }
  t.backpressure = backpressure_.load(std::memory_order_relaxed);
  t.connection_errors = connection_errors_.load(std::memory_order_relaxed);
  t.resent_after_pubrel = resent_after_pubrel_.load(std::memory_order_relaxed);
  t.broker_resent_after_pubrel = broker_resent_after_pubrel_.load(std::memory_order_relaxed);
  for (const auto& c : conns_) {
    if (c->client) t.reconnects += c->client->snapshot().reconnects;
  }
  for (const auto& f : flows_) {
    if (f->qos == mqtt::QoS::AtLeastOnce) t.duplicates_qos1 += f->checker.duplicates();
    if (f->qos == mqtt::QoS::ExactlyOnce) t.duplicates_qos2 += f->checker.duplicates();
    if (f->qos != mqtt::QoS::AtMostOnce) t.qos12_gaps += f->checker.open_gaps();
  }
  return t;
}

LatencyHistogram Workload::take_latency() {
  std::lock_guard<std::mutex> lock(mu_);
  LatencyHistogram h = latency_;
  latency_.clear();
  return h;
}

std::map<std::string, uint64_t> Workload::errors_by_kind() const {
  std::lock_guard<std::mutex> lock(mu_);
  return errors_;
}

std::vector<Workload::FlowResult> Workload::flow_results() const {
  std::vector<FlowResult> out;
  for (const auto& f : flows_) {
    const bool q0 = f->qos == mqtt::QoS::AtMostOnce;
    out.push_back({f->topic, static_cast<int>(f->qos), f->published.load(),
                   q0 ? f->received_qos0.load() : f->checker.unique(), f->checker.duplicates(),
                   f->checker.first_missing()});
  }
  return out;
}

std::string Workload::describe_connections() const {
  std::ostringstream s;
  for (const auto& c : conns_) {
    s << "  conn " << c->index << ": MQTT "
      << (c->version == mqtt::ProtocolVersion::V5 ? "5    " : "3.1.1")
      << (c->index < options_.shared_reactor ? " shared reactor" : " own reactor   ")
      << "  publishes " << flows_[c->pub_flow]->topic << " QoS "
      << static_cast<int>(flows_[c->pub_flow]->qos) << ", subscribes " << flows_[c->sub_flow]->topic
      << "\n";
  }
  return s.str();
}

}  // namespace soak
