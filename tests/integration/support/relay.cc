#include "tests/integration/support/relay.h"

#include <signal.h>

#include <stdexcept>
#include <thread>

namespace itest {

Relay::Relay(uint16_t target_port) : target_port_(target_port) {
  binary_ = require_binary("socat");
  dir_ = make_temp_dir("socat");
  start();
}

Relay::~Relay() { kill(); }

void Relay::pause() { process_.signal(SIGSTOP); }
void Relay::resume() { process_.signal(SIGCONT); }
void Relay::kill() { process_.stop(SIGKILL, 2000ms); }

bool Relay::try_start(std::string& why) {
  log_path_ = dir_ + "/socat." + std::to_string(runs_++) + ".log";
  process_ = Process(
      Process::Spec({binary_, "-d", "-d",
                     "TCP-LISTEN:" + std::to_string(port_) + ",bind=127.0.0.1,reuseaddr,fork",
                     "TCP:127.0.0.1:" + std::to_string(target_port_)})
          .out_err(log_path_)
          .setsid());
  auto deadline = std::chrono::steady_clock::now() + 10s;
  for (int i = 0; i < 10000; ++i) {
    bool alive = process_.running();
    std::string text = read_file(log_path_);
    if (!alive) {
      why = "socat " + process_.describe_status() + "; log:\n" + text;
      process_.stop();
      return false;
    }
    if (text.find("listening on") != std::string::npos) return true;
    if (std::chrono::steady_clock::now() >= deadline) {
      process_.stop(SIGKILL);
      throw std::runtime_error("socat not listening within 10 s; log:\n" + text);
    }
    std::this_thread::sleep_for(5ms);
  }
  throw std::runtime_error("socat readiness loop exhausted");
}

void Relay::start() {
  if (process_.running()) throw std::runtime_error("Relay::start: already running");
  start_on_free_port("socat", port_, port_fixed_,
                     [this](std::string& why) { return try_start(why); });
}

std::string Relay::log() const { return read_file(log_path_); }

}  // namespace itest
