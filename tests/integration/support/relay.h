// A TCP relay the test controls: socat in its own process group,
//   setsid socat TCP-LISTEN:P,bind=127.0.0.1,reuseaddr,fork TCP:127.0.0.1:B
// socat relays each connection in a forked child, so pause/resume/kill act
// on the whole group (kill -STOP -- -PGID). While paused, the client's writes
// still succeed (into kernel buffers) and nothing comes back: a black hole.
#pragma once

#include <cstdint>
#include <string>

#include "tests/integration/support/process.h"

namespace itest {

class Relay {
 public:
  // Starts at once on a free port; throws std::runtime_error if it cannot.
  explicit Relay(uint16_t target_port);
  ~Relay();  // SIGKILL to the group
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  uint16_t port() const { return port_; }
  pid_t pgid() const { return process_.pid(); }

  void pause();   // SIGSTOP to the group
  void resume();  // SIGCONT to the group
  // SIGKILL to the group: every relayed connection dies with it (the client
  // sees its socket closed).
  void kill();
  // Starts again on the same port (after kill()).
  void start();

  std::string log() const;

 private:
  bool try_start(std::string& why);

  std::string binary_;
  std::string dir_;
  uint16_t target_port_;
  uint16_t port_ = 0;
  bool port_fixed_ = false;
  int runs_ = 0;
  std::string log_path_;
  Process process_;
};

}  // namespace itest
