#include "tests/integration/support/process.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace itest {

namespace {

bool is_executable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string package_hint(const std::string& name) {
  if (name == "mosquitto") return "apt-get install -y mosquitto";
  if (name == "mosquitto_passwd") return "apt-get install -y mosquitto";
  if (name == "mosquitto_pub" || name == "mosquitto_sub") return "apt-get install -y mosquitto-clients";
  if (name == "socat") return "apt-get install -y socat";
  if (name == "setpriv") return "apt-get install -y util-linux";
  if (name == "nft") return "apt-get install -y nftables";
  if (name == "ip") return "apt-get install -y iproute2";
  return "install it";
}

}  // namespace

std::string require_binary(const std::string& name) {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    std::string dir;
    while (std::getline(ss, dir, ':'))
      if (!dir.empty()) dirs.push_back(dir);
  }
  for (const char* d : {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"})
    dirs.emplace_back(d);
  for (const auto& dir : dirs) {
    std::string candidate = dir + "/" + name;
    if (is_executable(candidate)) return candidate;
  }
  throw std::runtime_error("required peer binary '" + name +
                           "' not found in PATH or /usr/sbin, /usr/bin, /sbin, /bin (" +
                           package_hint(name) +
                           "); integration tests need real peers and fail without them");
}

std::string runfile(const std::string& rel) {
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
  };
  auto is_file = [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
  };
  auto real = [](const std::string& path) {
    char buf[PATH_MAX];
    return ::realpath(path.c_str(), buf) ? std::string(buf) : std::string();
  };
  const std::string workspace = env("TEST_WORKSPACE").empty() ? "mqtt" : env("TEST_WORKSPACE");
  std::vector<std::string> candidates;
  for (const char* root : {"TEST_SRCDIR", "RUNFILES_DIR"})
    if (!env(root).empty()) candidates.push_back(env(root) + "/" + workspace + "/" + rel);
  if (const std::string exe = real("/proc/self/exe"); !exe.empty())
    candidates.push_back(exe + ".runfiles/" + workspace + "/" + rel);
  if (!env("BUILD_WORKSPACE_DIRECTORY").empty())
    candidates.push_back(env("BUILD_WORKSPACE_DIRECTORY") + "/" + rel);
  candidates.push_back(rel);
  for (const auto& c : candidates)
    if (is_file(c)) return real(c);
  std::string tried;
  for (const auto& c : candidates) tried += "\n  " + c;
  throw std::runtime_error(rel + " not found (is it in the test's data?); tried:" + tried);
}

std::string make_temp_dir(const std::string& prefix) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data()))
    throw std::runtime_error("mkdtemp(" + tmpl + "): " + std::strerror(errno));
  return std::string(buf.data());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

uint16_t pick_free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    ::close(fd);
    throw std::runtime_error(std::string("bind 127.0.0.1:0: ") + std::strerror(e));
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool port_accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

size_t count_dir_entries(const std::string& path) {
  size_t n = 0;
  if (DIR* d = ::opendir(path.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") ++n;
    }
    ::closedir(d);
  }
  return n;
}

Process::Process(Spec spec) {
  if (spec.argv.empty()) throw std::runtime_error("Process: empty argv");
  std::vector<std::string> argv;
  // Dies with the test process even when the test is killed (Bazel timeout).
  static const std::string setpriv = [] {
    try {
      return require_binary("setpriv");
    } catch (const std::exception&) {
      return std::string();
    }
  }();
  if (!setpriv.empty()) {
    argv = {setpriv, "--pdeathsig", "KILL", "--"};
  }
  argv.insert(argv.end(), spec.argv.begin(), spec.argv.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  auto path_or_null = [](const std::string& p) { return p.empty() ? std::string("/dev/null") : p; };
  std::string in = path_or_null(spec.stdin_path), out = path_or_null(spec.stdout_path),
              err = path_or_null(spec.stderr_path);
  posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (spec.new_session) flags |= POSIX_SPAWN_SETSID;
  posix_spawnattr_setflags(&attr, flags);
  sigset_t empty, defaults;
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(&attr, &empty);
  sigemptyset(&defaults);
  for (int s : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2}) sigaddset(&defaults, s);
  posix_spawnattr_setsigdefault(&attr, &defaults);

  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, cargv[0], &fa, &attr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    throw std::runtime_error("posix_spawn(" + spec.argv[0] + "): " + std::strerror(rc));
  pid_ = pid;
  group_ = spec.new_session;
}

Process::Process(Process&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)), group_(o.group_), status_(std::exchange(o.status_, {})) {}

Process& Process::operator=(Process&& o) noexcept {
  if (this != &o) {
    kill_and_reap();
    pid_ = std::exchange(o.pid_, -1);
    group_ = o.group_;
    status_ = std::exchange(o.status_, {});
  }
  return *this;
}

Process::~Process() { kill_and_reap(); }

bool Process::running() {
  if (pid_ <= 0 || status_) return false;
  siginfo_t info{};
  // WNOWAIT: keep the zombie, so the pid (and the pgid) cannot be reused
  // before we have signalled the group one last time.
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0)
    return false;
  if (info.si_pid == 0) return true;
  status_ = info.si_code == CLD_EXITED ? (info.si_status << 8) : (info.si_status & 0x7f);
  return false;
}

void Process::signal(int sig) {
  if (pid_ <= 0) return;
  if (group_)
    ::kill(-pid_, sig);
  else if (!status_)
    ::kill(pid_, sig);
}

bool Process::wait_exit(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

void Process::stop(int sig, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return;
  if (running()) {
    signal(sig);
    if (group_ && sig != SIGCONT && sig != SIGKILL) signal(SIGCONT);  // a stopped group must see it
    wait_exit(timeout);
  }
  kill_and_reap();
}

void Process::kill_and_reap() {
  if (pid_ <= 0) return;
  // The leader is not reaped yet (zombie at most): its pid and pgid are ours.
  if (group_)
    ::kill(-pid_, SIGKILL);
  else if (running())
    ::kill(pid_, SIGKILL);
  int st = 0;
  for (int i = 0; i < 1000; ++i) {  // bounded: 10 s
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = st;
      break;
    }
    if (r < 0) break;  // not our child any more (already reaped)
    std::this_thread::sleep_for(10ms);
  }
  pid_ = -1;
}

std::string Process::describe_status() const {
  if (!status_) return "still running";
  int st = *status_;
  if (WIFEXITED(st)) return "exited with code " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) return std::string("killed by signal ") + ::strsignal(WTERMSIG(st));
  return "status " + std::to_string(st);
}

}  // namespace itest

namespace itest {

void start_on_free_port(const std::string& what, uint16_t& port, bool& port_fixed,
                        const std::function<bool(std::string& why)>& try_start) {
  std::string why;
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (!port_fixed) port = pick_free_port();
    if (try_start(why)) {
      port_fixed = true;
      return;
    }
    if (why.find("in use") == std::string::npos) break;  // not a port clash: give up
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  throw std::runtime_error("cannot start " + what + " on 127.0.0.1:" + std::to_string(port) +
                           ": " + why);
}

}  // namespace itest
