// A real mosquitto broker for one test: generated config in a temp folder
// under $TEST_TMPDIR, a free 127.0.0.1 port, readiness by its log line and the
// port, stop by pid (SIGTERM or SIGKILL), restart on the same port.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/support/process.h"

namespace itest {

struct BrokerOptions {
  // persistence true, persistence_location in the broker's temp folder.
  bool persistence = false;
  // autosave_interval 1 + autosave_on_changes true (survives SIGKILL).
  bool autosave_every_change = false;
  // password_file made with mosquitto_passwd + allow_anonymous false.
  std::optional<std::string> username;
  std::optional<std::string> password;
  std::optional<int> max_inflight_messages;  // 0 = unlimited
  std::optional<int> max_queued_messages;    // 0 = unlimited
  std::vector<std::string> extra_lines;      // appended verbatim
  std::chrono::milliseconds ready_timeout{10000};
};

class Broker {
 public:
  // Starts at once; throws std::runtime_error (a test failure) when it cannot.
  explicit Broker(BrokerOptions options = {});
  ~Broker();  // SIGKILL by pid if still running
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  uint16_t port() const { return port_; }
  pid_t pid() const { return process_.pid(); }
  bool running() { return process_.running(); }
  const std::string& dir() const { return dir_; }

  // Sends `sig` by pid and waits (bounded) for the exit; SIGKILL after
  // `timeout`. SIGTERM makes mosquitto save its persistent state.
  void stop(int sig = 15 /*SIGTERM*/, std::chrono::milliseconds timeout = 10000ms);
  // Starts again on the same port (retries while the port is still taken).
  void start();
  void restart(int sig = 15) {
    stop(sig);
    start();
  }

  // Everything the broker logged (all of its runs), for diagnostics.
  std::string log() const;
  // Number of times `needle` appears in the log of all runs.
  size_t log_count(const std::string& needle) const;

 private:
  // One attempt; false when the port was taken (caller retries).
  bool try_start(std::string& why);
  void write_config();

  BrokerOptions options_;
  std::string binary_;
  std::string dir_;
  std::string config_path_;
  std::string password_file_;
  uint16_t port_ = 0;
  bool port_fixed_ = false;  // after the first successful start
  int runs_ = 0;
  std::vector<std::string> logs_;
  Process process_;
};

}  // namespace itest
