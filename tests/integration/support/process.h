// Child processes for integration tests: peers (mosquitto, socat,
// mosquitto_pub ...) started by the test and always stopped by their pid or
// process group, also when the test fails (RAII). Never by name.
//
// Spawn only from the test's main thread: children are started through
// `setpriv --pdeathsig KILL` (when available) so that they also die when the
// test process is killed, and the parent-death signal belongs to the thread
// that spawned them.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace itest {

using namespace std::chrono_literals;

// Absolute path of `name`, looked up in $PATH and the usual sbin folders.
// A missing peer binary is a test FAILURE: throws std::runtime_error saying
// which package to install.
std::string require_binary(const std::string& name);

// The real path of a data file of the test, `rel` from the workspace root
// (e.g. "tests/peers/ws_peer.js"): in the runfiles, or below the working
// folder outside Bazel. Throws std::runtime_error listing where it looked.
std::string runfile(const std::string& rel);

// A fresh, empty folder under $TEST_TMPDIR (or /tmp outside Bazel).
std::string make_temp_dir(const std::string& prefix);

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& text);

// A port that was free a moment ago (bind 127.0.0.1:0, read it, close).
// Peers that get it may still find it taken: callers retry.
uint16_t pick_free_port();

// Starts a peer on a free loopback port: calls try_start(why) with `port` set
// (a fresh free port until one start succeeded, then always the same one),
// retrying (bounded) while `why` says the address is in use. Throws
// std::runtime_error naming `what` when it cannot.
void start_on_free_port(const std::string& what, uint16_t& port, bool& port_fixed,
                        const std::function<bool(std::string& why)>& try_start);

// True when a TCP connect to 127.0.0.1:port succeeds at once.
bool port_accepts(uint16_t port);

// Entries in a folder, without "." and "..": e.g. /proc/self/task (this
// process's threads) or /proc/self/fd (its open descriptors). 0 if unreadable.
size_t count_dir_entries(const std::string& path);

class Process {
 public:
  struct Spec {
    explicit Spec(std::vector<std::string> a) : argv(std::move(a)) {}
    Spec& in(std::string p) { stdin_path = std::move(p); return *this; }
    Spec& out(std::string p) { stdout_path = std::move(p); return *this; }
    Spec& err(std::string p) { stderr_path = std::move(p); return *this; }
    Spec& out_err(const std::string& p) { return out(p).err(p); }
    Spec& setsid() { new_session = true; return *this; }

    std::vector<std::string> argv;  // argv[0]: absolute path
    std::string stdin_path;         // empty: /dev/null
    std::string stdout_path;        // empty: /dev/null
    std::string stderr_path;        // empty: /dev/null
    bool new_session = false;       // setsid: its own process group (pgid == pid)
  };

  Process() = default;
  // Starts the child; throws std::runtime_error if it cannot.
  explicit Process(Spec spec);
  Process(Process&& o) noexcept;
  Process& operator=(Process&& o) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  // SIGKILL (to the group when new_session) and reap, if still running.
  ~Process();

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  // Reaps without blocking; false once the child has exited.
  bool running();
  // Exit status as waitpid reports it, once reaped.
  std::optional<int> status() const { return status_; }
  // Sends `sig` to the child, or to its whole process group when it has one.
  void signal(int sig);
  // Waits at most `timeout` for the child to exit. True when it did.
  bool wait_exit(std::chrono::milliseconds timeout);
  // signal(sig), wait up to `timeout`, then SIGKILL and reap. Idempotent.
  void stop(int sig = 15 /*SIGTERM*/, std::chrono::milliseconds timeout = 5000ms);
  // A description of how it ended, for messages.
  std::string describe_status() const;

 private:
  void kill_and_reap();
  pid_t pid_ = -1;
  bool group_ = false;
  std::optional<int> status_;
};

}  // namespace itest
