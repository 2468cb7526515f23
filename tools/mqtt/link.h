// One broker connection of a subcommand: connect and wait for the CONNACK
// (a refusal or an unreachable broker ends the run with a message), then
// either read events on the caller's thread (sub) or drain them on a thread
// of their own (pub, bench's publisher) so that acks keep flowing, and
// finally disconnect within a bound.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "mqtt/client.h"

namespace mqtt::cli {

// Why a run failed: the message for stderr and the exit status.
struct Failure {
  int exit_code = 1;
  std::string message;
};

// Set by SIGINT / SIGTERM (install_signal_handlers()); loops poll it.
extern std::atomic<bool> g_interrupted;
void install_signal_handlers();

// "connection refused by the broker: Not authorized (0x87)" and the like.
std::string describe_failure(const ConnectionError& e);

class Link {
 public:
  // Creates the client and waits for the CONNACK (at most
  // options.connect_timeout plus a second). `capacity`: see Client::create.
  static Result<Link, Failure> open(const MqttOptions& options, size_t capacity);

  Link(Link&&) noexcept = default;
  Link& operator=(Link&&) noexcept = default;
  ~Link();

  Client& client() { return client_; }
  Connection& connection() { return connection_; }
  bool session_present() const { return session_present_; }

  // Reads (and drops) events on a thread until the connection ends; the
  // first connection error or failed request is kept for failure().
  void drain_in_background();
  std::optional<std::string> failure() const;

  // Disconnects: queued publishes are sent and in-flight ones awaited for up
  // to `drain`, then DISCONNECT. Returns false when that did not complete.
  bool close(std::chrono::milliseconds drain, codec::Disconnect packet = {});

 private:
  Link(Client c, Connection n) : client_(std::move(c)), connection_(std::move(n)) {}
  void note(std::string message);

  Client client_;
  Connection connection_;
  bool session_present_ = false;
  struct Shared {
    std::mutex mu;
    std::optional<std::string> failure;
  };
  std::unique_ptr<Shared> shared_ = std::make_unique<Shared>();
  std::thread drainer_;
};

}  // namespace mqtt::cli
