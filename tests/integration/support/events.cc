#include "tests/integration/support/events.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace itest {

std::string describe(const mqtt::Event& e) { return mqtt::to_string(e); }

const mqtt::codec::ConnAck* connack_of(const mqtt::Event& e) {
  const mqtt::Incoming* in = e.incoming();
  return in ? std::get_if<mqtt::codec::ConnAck>(&in->packet()) : nullptr;
}

const mqtt::codec::SubAck* suback_of(const mqtt::Event& e) {
  const mqtt::Incoming* in = e.incoming();
  return in ? std::get_if<mqtt::codec::SubAck>(&in->packet()) : nullptr;
}

std::string payload_of(const mqtt::codec::Publish& p) {
  return std::string(mqtt::codec::as_string(p.payload));
}

std::string topic_of(const mqtt::codec::Publish& p) { return std::string(p.topic); }

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::string unique_id(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

mqtt::MqttOptions client_options(const std::string& prefix, uint16_t port,
                                 mqtt::ProtocolVersion version) {
  mqtt::MqttOptions o(unique_id(prefix), "127.0.0.1", port);
  o.protocol = version;
  o.keep_alive = std::chrono::seconds(30);
  o.connect_timeout = std::chrono::milliseconds(5000);
  o.backoff.initial = std::chrono::milliseconds(100);
  o.backoff.max = std::chrono::milliseconds(1000);
  return o;
}

Watchdog::Watchdog(std::string what, std::chrono::seconds limit) {
  thread_ = std::thread([this, what = std::move(what), limit] {
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, limit, [this] { return disarmed_; })) return;
    std::fprintf(stderr, "WATCHDOG: %s did not finish within %lld s; aborting the test process\n",
                 what.c_str(), static_cast<long long>(limit.count()));
    std::fflush(stderr);
    std::_Exit(1);
  });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    disarmed_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool under_tsan() {
#if defined(__SANITIZE_THREAD__)
  return true;
#else
  return false;
#endif
}

bool under_asan() {
#if defined(__SANITIZE_ADDRESS__)
  return true;
#else
  return false;
#endif
}

std::optional<mqtt::Event> next_until(mqtt::Connection& c,
                                      const std::function<bool(const mqtt::Event&)>& pred,
                                      std::chrono::milliseconds timeout, std::string* seen,
                                      size_t max_events) {
  auto deadline = Clock::now() + timeout;
  size_t publishes = 0;
  for (size_t n = 0; n < max_events; ++n) {
    auto now = Clock::now();
    if (now >= deadline) break;
    auto ev = c.next_for(deadline - now);
    if (!ev) {
      if (seen && c.ended()) *seen += "(connection ended)\n";
      break;
    }
    if (seen) {
      if (ev->publish()) {
        if (++publishes <= 20) *seen += describe(*ev) + "\n";
      } else {
        *seen += describe(*ev) + "\n";
      }
    }
    if (pred(*ev)) return ev;
  }
  if (seen && publishes > 20)
    *seen += "(" + std::to_string(publishes) + " incoming PUBLISH in all)\n";
  return std::nullopt;
}

std::optional<mqtt::codec::ConnAck> wait_connack(mqtt::Connection& c,
                                                 std::chrono::milliseconds timeout,
                                                 std::string* seen) {
  std::string local;
  std::string* log = seen ? seen : &local;
  auto ev = next_until(
      c,
      [](const mqtt::Event& e) {
        const auto* ack = connack_of(e);
        if (ack) return true;
        const auto* err = e.error();
        return err && err->terminal;
      },
      timeout, log);
  if (!ev) return std::nullopt;
  const auto* ack = connack_of(*ev);
  if (!ack || ack->reason_code != mqtt::ReasonCode::Success) return std::nullopt;
  return *ack;
}

bool wait_end(mqtt::Connection& c, std::chrono::milliseconds timeout,
              std::optional<mqtt::ConnectionError>* final_error, std::string* seen) {
  auto deadline = Clock::now() + timeout;
  for (int n = 0; n < 10'000'000; ++n) {
    auto now = Clock::now();
    if (now >= deadline) return false;
    auto ev = c.next_for(deadline - now);
    if (!ev) {
      if (c.ended()) return true;
      continue;  // timeout slice; the loop re-checks the deadline
    }
    if (seen && !ev->publish()) *seen += describe(*ev) + "\n";
    if (const auto* err = ev->error(); err && final_error) *final_error = *err;
  }
  return false;
}

Pump::Pump(mqtt::Connection& c, Handler on_event, std::chrono::seconds max_life)
    : c_(c), on_event_(std::move(on_event)) {
  thread_ = std::thread([this, max_life] { run(max_life); });
}

Pump::~Pump() { stop(); }

void Pump::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Pump::run(std::chrono::seconds max_life) {
  auto end_of_life = Clock::now() + max_life;
  while (Clock::now() < end_of_life) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) break;
    }
    auto ev = c_.next_for(50ms);
    if (!ev) {
      if (c_.ended()) {
        std::lock_guard<std::mutex> lock(mu_);
        stats_.ended = true;
        stats_.log.push_back("(connection ended)");
        cv_.notify_all();
        break;
      }
      cv_.notify_all();
      continue;
    }
    if (on_event_) on_event_(*ev);
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.events;
    if (ev->publish()) {
      ++stats_.publishes;
    } else {
      const mqtt::Incoming* in = ev->incoming();
      bool ack = in && (in->type() == mqtt::codec::PacketType::PubAck ||
                        in->type() == mqtt::codec::PacketType::PubRec ||
                        in->type() == mqtt::codec::PacketType::PubRel ||
                        in->type() == mqtt::codec::PacketType::PubComp);
      if (!ack && !ev->outgoing() && stats_.log.size() < 1000) stats_.log.push_back(describe(*ev));
    }
    if (const auto* ca = connack_of(*ev); ca && ca->reason_code == mqtt::ReasonCode::Success) {
      ++stats_.connacks;
      stats_.session_present.push_back(ca->session_present);
    }
    if (const auto* err = ev->error()) {
      stats_.errors.push_back(*err);
      stats_.error_times.push_back(Clock::now());
    }
    if (const auto* r = ev->session_reset()) stats_.resets.push_back(*r);
    cv_.notify_all();
  }
}

Pump::Stats Pump::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

bool Pump::wait_until(const std::function<bool(const Stats&)>& pred,
                      std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::unique_lock<std::mutex> lock(mu_);
  for (int i = 0; i < 10'000'000; ++i) {
    if (pred(stats_)) return true;
    if (Clock::now() >= deadline) return false;
    cv_.wait_until(lock, std::min(deadline, Clock::now() + 50ms));
  }
  return pred(stats_);
}

bool Pump::wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (int i = 0; i < 10'000'000; ++i) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return false;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_until(lock, std::min(deadline, Clock::now() + 50ms));
  }
  return pred();
}

std::string Pump::log_text() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& l : stats_.log) out += l + "\n";
  return out;
}

}  // namespace itest
