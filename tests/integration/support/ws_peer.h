// A real WebSocket MQTT peer for one test: tests/peers/ws_peer.js under
// Node.js on a free 127.0.0.1 port, readiness by its "ready PORT" line and
// the port, stop by pid, restart on the same port.
//
//   aedes   an aedes MQTT 3.1.1 broker behind a WebSocket server (refuses
//           MQTT 5).
//   bridge  a WebSocket -> TCP bridge in front of a broker's TCP port (an
//           itest::Broker): MQTT 3.1.1 and 5 over ws/wss, to mosquitto.
//
// Both accept subprotocol "mqtt" on one path (default /mqtt; any other path
// gets HTTP 400), plain ws or wss (TLS with the given certificate and key),
// and messages up to max_payload bytes. Every upgrade request is logged as
// one line "upgrade PATH name=value ..." (header names lower-case), so tests
// can check which request headers arrived.
//
// Needs node (>= 18) and the npm packages pinned in tests/package.json,
// installed by `bash tools/setup.sh` (npm ci in tests/). Either missing is a
// test FAILURE (std::runtime_error saying to run tools/setup.sh), never a skip.
// The packages are found in tests/node_modules beside the real (symlink-
// resolved) location of tests/peers/ws_peer.js in the runfiles, or in
// $MQTT_TEST_NODE_MODULES when that is set (pass it with --test_env).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/support/process.h"

namespace itest {

struct WsPeerOptions {
  enum class Mode { aedes, bridge, text };  // text: one text frame after the upgrade
  Mode mode = Mode::aedes;
  // The only path upgraded; others get "400 Bad Request".
  std::string path = "/mqtt";
  // Both set: wss (PEM files, e.g. a server.crt for CN=localhost and
  // 127.0.0.1 signed by a test CA, and its key).
  std::optional<std::string> cert_file;
  std::optional<std::string> key_file;
  // wss: require a client certificate signed by this CA (PEM file).
  std::optional<std::string> client_ca_file;
  // wss: ALPN protocols the server accepts, comma-separated ("" = no ALPN).
  std::string alpn;
  // bridge: the broker's TCP port on 127.0.0.1 (e.g. Broker::port()).
  uint16_t target_port = 0;
  // The subprotocol selected when the client offers it; empty: never select
  // one (for a client that must refuse such a handshake).
  std::string subprotocol = "mqtt";
  // Largest WebSocket message accepted (bigger: close 1009).
  size_t max_payload = 64u << 20;
  std::chrono::milliseconds ready_timeout{10000};

  // A bridge to 127.0.0.1:target_port; wss with server.crt / server.key from
  // `certs_dir` (itest::make_test_certs()) when it is not empty.
  static WsPeerOptions bridge_to(uint16_t target_port, const std::string& certs_dir = "") {
    WsPeerOptions o;
    o.mode = Mode::bridge;
    o.target_port = target_port;
    if (!certs_dir.empty()) {
      o.cert_file = certs_dir + "/server.crt";
      o.key_file = certs_dir + "/server.key";
    }
    return o;
  }
};

class WsPeer {
 public:
  using Mode = WsPeerOptions::Mode;
  // Starts at once; throws std::runtime_error (a test failure) when it cannot.
  explicit WsPeer(WsPeerOptions options = {});
  ~WsPeer();  // SIGKILL by pid if still running
  WsPeer(const WsPeer&) = delete;
  WsPeer& operator=(const WsPeer&) = delete;

  uint16_t port() const { return port_; }
  pid_t pid() const { return process_.pid(); }
  bool running() { return process_.running(); }
  bool tls() const { return options_.cert_file.has_value(); }
  const WsPeerOptions& options() const { return options_; }
  // "ws://127.0.0.1:PORT/mqtt" or "wss://...".
  std::string url(const std::string& host = "127.0.0.1") const;

  // Sends `sig` by pid and waits (bounded) for the exit; SIGKILL after
  // `timeout`. Open WebSocket connections are cut either way.
  void stop(int sig = 15 /*SIGTERM*/, std::chrono::milliseconds timeout = 5000ms);
  // Starts again on the same port (retries while the port is still taken).
  void start();
  void restart(int sig = 15) {
    stop(sig);
    start();
  }

  // Everything the peer printed (all of its runs), for diagnostics.
  std::string log() const;
  // Number of times `needle` appears in the log of all runs.
  size_t log_count(const std::string& needle) const;
  // The "upgrade PATH name=value ..." lines of all runs, in order.
  std::vector<std::string> upgrades() const;

  // Absolute paths used to start it (for messages and manual runs).
  const std::string& node() const { return node_; }
  const std::string& script() const { return script_; }
  const std::string& node_modules() const { return node_modules_; }

 private:
  // One attempt; false when the port was taken (caller retries).
  bool try_start(std::string& why);

  WsPeerOptions options_;
  std::string node_;
  std::string script_;
  std::string node_modules_;
  std::string dir_;
  uint16_t port_ = 0;
  bool port_fixed_ = false;  // after the first successful start
  int runs_ = 0;
  std::vector<std::string> logs_;
  Process process_;
};

}  // namespace itest
