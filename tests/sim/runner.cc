#include "tests/sim/runner.h"

#include <algorithm>

#include "tests/sim/broker.h"
#include "tests/sim/client.h"
#include "tests/sim/network.h"
#include "tests/sim/user.h"

namespace sim {

namespace {

using mqtt::session::SessionState;
using std::chrono::milliseconds;

constexpr uint32_t kDrainSteps = 20000;
constexpr uint32_t kEndSteps = 20000;
// A run's clock starts here (TimePoint{} is a valid time but not a typical one).
const TimePoint kStart = TimePoint{} + std::chrono::hours(1);

class Sim {
 public:
  Sim(const SimConfig& cfg, std::ostream* trace)
      : cfg_(cfg),
        seed_rng_(cfg.seed),
        rng_(seed_rng_.fork()),
        net_(seed_rng_.fork()),
        out_(trace),
        broker_(cfg_, chk_, seed_rng_.fork(), tracer()),
        client_(cfg_, chk_, seed_rng_.fork(), tracer()),
        user_(cfg_, chk_, client_, seed_rng_.fork(), tracer()) {}

  RunResult run() {
    if (out_) note("config: " + cfg_.describe());
    bool drained = false;
    for (uint32_t i = 0; i < cfg_.steps && chk_.ok(); ++i) {
      if (cfg_.end_early && i == cfg_.end_step) {
        // The end comes in the middle of things, faults and all.
        ++chk_.cov.early_ends;
        if (out_) note("early end");
        if (!cfg_.graceful_end) break;
        user_.disconnect(now_ + milliseconds(rng_.below(5000)));
      }
      step(Phase::Active);
      if (client_.disconnect_requested && closed()) break;
    }
    if (chk_.ok() && !cfg_.end_early) {
      if (out_) note("drain");
      for (uint32_t i = 0; i < kDrainSteps && chk_.ok(); ++i) {
        if (settled()) {
          drained = true;
          break;
        }
        step(Phase::Drain);
      }
      if (chk_.ok() && !drained) chk_.fail("did not settle within the drain: " + state());
    }
    if (chk_.ok()) finish(drained);
    RunResult r;
    r.ok = chk_.ok();
    if (!r.ok) r.failure = chk_.violations.front();
    r.step = step_no_;
    r.cov = chk_.cov;
    r.cov.steps = step_no_;
    return r;
  }

 private:
  enum class Phase { Active, Drain, End };

  Trace tracer() {
    if (!out_) return {};
    return [this](const std::string& s) { note(s); };
  }
  void note(const std::string& s) {
    if (out_) {
      *out_ << "[" << step_no_ << " t=" << std::chrono::duration_cast<milliseconds>(now_ - kStart).count()
            << "ms] " << s << "\n";
    }
  }
  std::string state() const {
    const auto s = client_.session.stats();
    return "session state " + std::to_string(int(client_.session.state())) + " inflight=" +
           std::to_string(s.inflight_publishes) + " held_control=" + std::to_string(s.pending_control) +
           " in_qos2=" + std::to_string(s.incoming_qos2_pending) + " unacked=" +
           std::to_string(s.incoming_unacked) + " lanes=" + std::to_string(client_.publish_lane.size()) + "/" +
           std::to_string(client_.control_lane.size()) + "; " + broker_.describe();
  }

  bool closed() const { return client_.session.state() == SessionState::Closed && !client_.transport; }

  bool settled() const {
    // After a phantom resume the two sides' QoS 2 state may never agree
    // again (see Checker::desync): only the client's own work must end.
    const bool strict = !chk_.desync;
    return client_.transport && client_.session.connected() && broker_.connected() && client_.idle(strict) &&
           (!strict || broker_.quiescent()) && net_.to_broker.empty() && net_.to_client.empty() &&
           client_.session.output().empty();
  }

  void close(const std::string& why) {
    if (!client_.transport && !net_.up) return;
    if (out_) note("connection closed: " + why);
    net_.close();
    broker_.connection_closed();
    client_.lost(now_);
  }

  TimePoint earliest_event() const {
    TimePoint t = TimePoint::max();
    if (client_.transport) t = std::min(t, client_.session.next_deadline());
    t = std::min(t, broker_.keepalive_deadline());
    if (net_.up && !net_.stalled) t = std::min({t, net_.to_broker.next_arrival(), net_.to_client.next_arrival()});
    if (net_.stalled) t = std::min(t, net_.stall_until);
    if (!client_.transport) t = std::min(t, client_.reconnect_at);
    if (client_.paused) t = std::min(t, pause_until_);
    if (client_.disconnect_requested) t = std::min(t, client_.disconnect_deadline);
    return t;
  }

  // The client's next wake-up: mostly its next event, sometimes late (a
  // loaded machine). The broker is another machine: it answers at the time
  // bytes reach it, whenever the client wakes.
  void advance() {
    TimePoint next = now_ + Duration(static_cast<int64_t>(rng_.below(static_cast<uint64_t>(cfg_.max_step.count()) + 1)));
    if (rng_.chance(800)) next = std::min(next, earliest_event());
    if (next < now_) next = now_;
    broker_until(next);
    now_ = next;
  }

  // Runs the broker at each arrival time up to `t`.
  void broker_until(TimePoint t) {
    std::vector<uint8_t> bytes;
    for (int i = 0; i < 100000; ++i) {
      if (net_.stalled && net_.stall_until <= t) {
        net_.stalled = false;
        if (out_) note("stall over");
      }
      if (!net_.up || net_.stalled) return;
      if (net_.broker_gone) {
        net_.to_broker.clear();  // nobody reads it any more
        return;
      }
      const TimePoint at = net_.to_broker.next_arrival();
      if (at > t) return;
      const TimePoint bt = std::max(at, now_);
      if (net_.stalled && net_.stall_until <= bt) net_.stalled = false;
      bytes.clear();
      net_.to_broker.deliver(bt, bytes);
      if (!broker_.tick(bt)) {
        broker_closes(mqtt::ReasonCode::KeepAliveTimeout, bt, "broker keep alive");
        return;
      }
      if (!broker_.receive(bytes, bt)) {
        close("by the broker");
        return;
      }
      auto bout = broker_.take_output();
      if (!bout.empty()) net_.to_client.write(bout, bt, cfg_.max_latency, net_.rng());
    }
  }

  void deliver() {
    if (!net_.up || net_.stalled || client_.paused) return;
    std::vector<uint8_t> bytes;
    if (net_.to_client.deliver(now_, bytes) && !client_.input(bytes, now_)) close("by the client");
    if (net_.up && net_.broker_gone && net_.to_client.empty()) close("end of stream from the broker");
  }

  // The broker ends the connection; MQTT 5 says why first, half the time
  // (a DISCONNECT the client reads before the end of the stream).
  void broker_closes(mqtt::ReasonCode why, TimePoint at, const std::string& what) {
    if (!net_.up || net_.broker_gone) return;
    std::vector<uint8_t> bye;
    if (rng_.chance(500)) bye = broker_.goodbye(why);
    if (bye.empty()) return close(what);
    ++chk_.cov.broker_disconnects;
    if (out_) note(what + ": DISCONNECT " + std::to_string(int(why)));
    broker_.connection_closed();
    net_.to_broker.clear();
    net_.to_client.write(bye, at, cfg_.max_latency, net_.rng());
    net_.broker_gone = true;
  }

  void inject_faults() {
    if (net_.up && rng_.chance(cfg_.p_drop)) {
      ++chk_.cov.drops;
      // The connection dies at any byte: a prefix of what is in flight arrives.
      std::vector<uint8_t> b, c;
      net_.to_broker.cut(net_.rng(), b);
      net_.to_client.cut(net_.rng(), c);
      if (!net_.stalled) {
        if (!b.empty()) broker_.receive(b, now_);
        if (!c.empty()) client_.input(c, now_);
      }
      close("dropped");
      return;
    }
    if (net_.up && !net_.stalled && rng_.chance(cfg_.p_stall)) {
      ++chk_.cov.stalls;
      net_.stalled = true;
      const auto ka = std::max<int64_t>(client_.session.effective_keep_alive().count(), 2);
      net_.stall_until = now_ + milliseconds(rng_.between(100, static_cast<uint64_t>(ka) * 3000));
      if (out_) note("stall until +" + std::to_string(std::chrono::duration_cast<milliseconds>(net_.stall_until - now_).count()) + "ms");
    }
    if (rng_.chance(cfg_.p_restart)) {
      const bool keep = !rng_.chance(cfg_.p_restart_lose);
      ++chk_.cov.restarts;
      if (!keep) ++chk_.cov.restarts_lost;
      if (out_) note(std::string("broker restart ") + (keep ? "with" : "without") + " session");
      broker_closes(mqtt::ReasonCode::ServerShuttingDown, now_, "broker restart");
      broker_.restart(keep);
    }
  }

  void step(Phase phase) {
    ++step_no_;
    advance();
    if (client_.paused && (phase != Phase::Active || now_ >= pause_until_)) client_.set_paused(false, now_);
    deliver();
    if (net_.up && !net_.broker_gone && !broker_.tick(now_))
      broker_closes(mqtt::ReasonCode::KeepAliveTimeout, now_, "broker keep alive");
    if (!client_.timeout(now_)) close("session timeout");
    if (client_.disconnect_requested && now_ >= client_.disconnect_deadline &&
        client_.session.state() != SessionState::Closed) {
      client_.disconnect_expired(now_);
    }
    if (phase == Phase::Active) {
      if (!client_.paused && client_.transport && rng_.chance(cfg_.p_pause)) {
        const auto ka = std::max<int64_t>(client_.session.effective_keep_alive().count(), 1);
        pause_until_ = now_ + milliseconds(rng_.between(50, static_cast<uint64_t>(ka) * 2000));
        client_.set_paused(true, now_);
      }
      user_.act();
      if (rng_.chance(cfg_.p_broker_publish)) {
        const uint64_t n = user_.next_message() * 2 + 1;
        broker_.publish(n, kBrokerTopics[rng_.below(std::size(kBrokerTopics))], static_cast<QoS>(rng_.below(3)),
                        static_cast<size_t>(rng_.between(1, cfg_.payload_max)));
      }
    }
    client_.ack_due(now_);
    client_.pull(now_);
    if (net_.up) {
      auto out = client_.write(now_);
      if (!out.empty()) net_.to_broker.write(out, now_, cfg_.max_latency, net_.rng());
      auto bout = broker_.take_output();
      if (!bout.empty()) net_.to_client.write(bout, now_, cfg_.max_latency, net_.rng());
    }
    // After DISCONNECT the client closes once its bytes are out.
    if (client_.transport && client_.session.state() == SessionState::Closed && client_.session.output().empty() &&
        net_.to_broker.empty()) {
      close("client closed after DISCONNECT");
    }
    if (phase == Phase::Active) inject_faults();
    if (!client_.transport && client_.session.state() != SessionState::Closed && now_ >= client_.reconnect_at) {
      net_.open();
      broker_.connection_opened(now_);
      client_.connect(now_);
    }
    chk_.check_tokens();
    client_.check_bounds(now_);
    if (!chk_.ok()) note("VIOLATION: " + chk_.violations.front());
  }

  void finish(bool drained) {
    if (cfg_.graceful_end) {
      if (!client_.disconnect_requested) user_.disconnect(now_ + milliseconds(rng_.below(3000)));
      for (uint32_t i = 0; i < kEndSteps && chk_.ok(); ++i) {
        if (closed()) break;
        step(Phase::End);
      }
      if (chk_.ok() && client_.session.state() != SessionState::Closed)
        chk_.fail("graceful disconnect did not end the session: " + state());
      if (client_.session.disconnect_drained()) ++chk_.cov.disconnect_drained;
      else ++chk_.cov.disconnect_cut;
    } else {
      ++chk_.cov.fail_all_ends;
      client_.session.fail_all(mqtt::RequestError::ConnectionClosed, "the simulated loop ended");
      close("fail_all");
    }
    client_.fail_lanes(mqtt::RequestError::ConnectionClosed);
    close("end");
    chk_.check_tokens();
    chk_.check_end(drained);
    for (auto& t : client_.control_tokens) {
      if (!t->done()) {
        chk_.fail("a subscribe/unsubscribe/disconnect token never completed");
        break;
      }
    }
  }

  SimConfig cfg_;
  Checker chk_;
  Rng seed_rng_;
  Rng rng_;
  Network net_;
  std::ostream* out_;
  TimePoint now_ = kStart;
  uint64_t step_no_ = 0;
  TimePoint pause_until_{};
  Broker broker_;
  Client client_;
  User user_;
};

}  // namespace

RunResult run_config(const SimConfig& cfg, std::ostream* trace) { return Sim(cfg, trace).run(); }

RunResult run_seed(uint64_t seed, std::ostream* trace) { return run_config(SimConfig::from_seed(seed), trace); }

}  // namespace sim
