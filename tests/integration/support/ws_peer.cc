#include "tests/integration/support/ws_peer.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace itest {

namespace {

constexpr const char* kSetupHint =
    "run `bash tools/setup.sh` from the repository root (it installs nodejs and npm "
    "and runs `npm ci` in tests/)";

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string dirname_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string find_node() {
  for (const char* name : {"node", "nodejs"}) {
    try {
      return require_binary(name);
    } catch (const std::exception&) {
    }
  }
  throw std::runtime_error(
      "Node.js (node) not found in PATH or /usr/bin: the WebSocket MQTT peers "
      "(tests/peers/ws_peer.js) need it; " +
      std::string(kSetupHint) + ". Integration tests need real peers and fail without them");
}

// node_modules with the pinned packages: $MQTT_TEST_NODE_MODULES, or the
// node_modules folder beside tests/package.json in the source tree. The
// runfiles hold symlinks to the sources, so the script's real path is
// <repo>/tests/peers/ws_peer.js even in Bazel's sandbox.
std::string find_node_modules(const std::string& script) {
  std::string dir = env("MQTT_TEST_NODE_MODULES");
  const bool from_env = !dir.empty();
  if (!from_env) dir = dirname_of(dirname_of(script)) + "/node_modules";
  for (const char* pkg : {"ws", "aedes"}) {
    if (!is_file(dir + "/" + pkg + "/package.json"))
      throw std::runtime_error(
          std::string("npm package '") + pkg + "' for the WebSocket MQTT peers is not installed in " +
          dir + (from_env ? " ($MQTT_TEST_NODE_MODULES)" : "") + ": " + kSetupHint +
          ". Integration tests need real peers and fail without them");
  }
  return dir;
}

}  // namespace

WsPeer::WsPeer(WsPeerOptions options) : options_(std::move(options)) {
  if (options_.cert_file.has_value() != options_.key_file.has_value())
    throw std::runtime_error("WsPeer: cert_file and key_file go together");
  if (options_.mode == Mode::bridge && options_.target_port == 0)
    throw std::runtime_error("WsPeer: bridge mode needs target_port");
  if (options_.path.empty() || options_.path[0] != '/')
    throw std::runtime_error("WsPeer: path must start with '/'");
  node_ = find_node();
  script_ = runfile("tests/peers/ws_peer.js");
  node_modules_ = find_node_modules(script_);
  dir_ = make_temp_dir("ws-peer");
  start();
}

WsPeer::~WsPeer() { process_.stop(SIGKILL, 2000ms); }

std::string WsPeer::url(const std::string& host) const {
  return std::string(tls() ? "wss" : "ws") + "://" + host + ":" + std::to_string(port_) +
         options_.path;
}

bool WsPeer::try_start(std::string& why) {
  std::vector<std::string> argv = {
      node_,
      script_,
      "--mode",
      options_.mode == Mode::aedes ? "aedes" : options_.mode == Mode::text ? "text" : "bridge",
      "--port",
      std::to_string(port_),
      "--path",
      options_.path,
      "--protocol",
      options_.subprotocol.empty() ? "none" : options_.subprotocol,
      "--max-payload",
      std::to_string(options_.max_payload),
      "--node-modules",
      node_modules_,
  };
  if (options_.cert_file) {
    argv.insert(argv.end(), {"--cert", *options_.cert_file, "--key", *options_.key_file});
    if (options_.client_ca_file) argv.insert(argv.end(), {"--client-ca", *options_.client_ca_file});
    if (!options_.alpn.empty()) argv.insert(argv.end(), {"--alpn", options_.alpn});
  }
  if (options_.mode == Mode::bridge) {
    argv.insert(argv.end(), {"--target-port", std::to_string(options_.target_port)});
  }
  std::string log = dir_ + "/ws_peer." + std::to_string(runs_++) + ".log";
  logs_.push_back(log);
  process_ = Process(Process::Spec(argv).out_err(log));
  const std::string ready = "ready " + std::to_string(port_) + "\n";
  auto deadline = std::chrono::steady_clock::now() + options_.ready_timeout;
  for (int i = 0; i < 100000; ++i) {
    bool alive = process_.running();
    std::string text = read_file(log);
    if (!alive) {
      // "listen 127.0.0.1:P: listen EADDRINUSE: address already in use ...":
      // start_on_free_port retries on another port.
      why = "node ws_peer.js " + process_.describe_status() + "; output:\n" + text;
      process_.stop();
      return false;
    }
    // Printed from the listen callback: the port accepts from then on.
    if (text.find(ready) != std::string::npos) return true;
    if (std::chrono::steady_clock::now() >= deadline) {
      process_.stop(SIGKILL);
      throw std::runtime_error("ws_peer.js not ready within " +
                               std::to_string(options_.ready_timeout.count()) + " ms on port " +
                               std::to_string(port_) + "; output:\n" + text);
    }
    std::this_thread::sleep_for(10ms);
  }
  throw std::runtime_error("ws_peer.js readiness loop exhausted");
}

void WsPeer::start() {
  if (process_.running()) throw std::runtime_error("WsPeer::start: already running");
  start_on_free_port("ws_peer.js (WebSocket MQTT peer)", port_, port_fixed_,
                     [this](std::string& why) { return try_start(why); });
}

void WsPeer::stop(int sig, std::chrono::milliseconds timeout) { process_.stop(sig, timeout); }

std::string WsPeer::log() const {
  std::string all;
  for (size_t i = 0; i < logs_.size(); ++i)
    all += "--- ws_peer run " + std::to_string(i) + " ---\n" + read_file(logs_[i]);
  return all;
}

size_t WsPeer::log_count(const std::string& needle) const {
  std::string text = log();
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
    ++n;
  return n;
}

std::vector<std::string> WsPeer::upgrades() const {
  std::vector<std::string> out;
  for (const auto& path : logs_) {
    std::istringstream in(read_file(path));
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("upgrade ", 0) == 0) out.push_back(line);
  }
  return out;
}

}  // namespace itest
