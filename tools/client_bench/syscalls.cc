// --syscalls: the system calls of this process (every thread, the client
// under test and the harness's own waiting thread) over a run's timed part.
//
// perf: `perf stat -x, -D -1 --control fifo:CTL,ACK -p OUR_PID -o FILE -e
// raw_syscalls:sys_enter [-e raw_syscalls:sys_enter --filter 'id == N ||
// ...']...` (the total, and groups of system calls: see kGroups) is started
// before the timed part, attached to every
// thread (threads created later inherit the counters and add them in when
// they end), with counting disabled; start() writes "enable" to its control
// FIFO and waits for the "ack", stop() writes "disable", waits again, then
// ends perf with SIGINT and reads FILE. The tracepoints need root (or a low
// perf_event_paranoid) and tracefs.
//
// strace (when perf does not start or never acknowledges): `strace -c -f -q
// -p OUR_PID -o FILE`, given 300 ms to attach; stopped with SIGINT, which
// makes it detach and write its table. ptrace stops every thread at every
// system call, so the run is much slower and its batching differs: a rough
// fallback.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

#include "tools/client_bench/bench_common.h"

extern char** environ;

namespace bench {

pid_t spawn_logged(const std::vector<std::string>& args, const std::string& log, bool append) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0600);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : 0;
}

namespace {


// Waits up to `ms` for `pid` to end; true when it did (and was reaped).
bool reap(pid_t pid, int ms) {
  for (int i = 0; i <= ms / 10; ++i) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return true;
    ::usleep(10000);
  }
  return false;
}

// perf counts one tracepoint, raw_syscalls:sys_enter: once unfiltered (the
// total), then once per group below with a filter on the system call number
// (x86-64 numbers). Not the `syscalls:sys_enter_*` tracepoints, one per
// system call: perf opens ~330 events per thread then, and closing them
// (each waits for an RCU grace period) takes ten seconds or more per run on
// these virtual machines; perf prints its counts only after that.
struct Group {
  const char* name;
  int ids[5];  // -1: unused
};
const Group kGroups[] = {
    {"futex", {202, -1, -1, -1, -1}},
    {"epoll_wait", {232, 281, 441, -1, -1}},           // epoll_wait, epoll_pwait, epoll_pwait2
    {"poll/select", {7, 271, 23, 270, -1}},            // poll, ppoll, select, pselect6
    {"write/send", {1, 20, 44, 46, 307}},              // write, writev, sendto, sendmsg, sendmmsg
    {"read/recv", {0, 19, 45, 47, 299}},               // read, readv, recvfrom, recvmsg, recvmmsg
    {"sleep", {35, 230, -1, -1, -1}},                  // nanosleep, clock_nanosleep
    {"sched_yield", {24, -1, -1, -1, -1}},
    {"epoll_ctl", {233, -1, -1, -1, -1}},
};

bool write_all(int fd, const char* s) {
  const size_t n = std::strlen(s);
  return ::write(fd, s, n) == static_cast<ssize_t>(n);
}

// Waits (10 s at most) for perf's "ack" on its acknowledgement FIFO.
bool wait_ack(int fd, pid_t perf) {
  std::string got;
  for (int i = 0; i < 100; ++i) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      char b[64];
      const ssize_t n = ::read(fd, b, sizeof b);
      if (n > 0) got.append(b, static_cast<size_t>(n));
      if (got.find("ack") != std::string::npos) return true;
    }
    int status = 0;
    if (::waitpid(perf, &status, WNOHANG) == perf) return false;  // perf gave up
  }
  return false;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

SyscallCounter::~SyscallCounter() {
  kill_tool();
  if (!dir_.empty()) {
    for (const char* f : {"/ctl", "/ack", "/out", "/log"}) ::unlink((dir_ + f).c_str());
    ::rmdir(dir_.c_str());
  }
}

void SyscallCounter::kill_tool() {
  if (tool_ > 0) {
    ::kill(tool_, SIGKILL);
    ::waitpid(tool_, nullptr, 0);
    tool_ = 0;
  }
  if (ctl_fd_ >= 0) ::close(ctl_fd_);
  if (ack_fd_ >= 0) ::close(ack_fd_);
  ctl_fd_ = ack_fd_ = -1;
}

bool SyscallCounter::start() {
  char tmpl[] = "/tmp/client_bench_syscalls.XXXXXX";
  if (!::mkdtemp(tmpl)) return false;
  dir_ = tmpl;
  out_ = dir_ + "/out";
  const std::string self = std::to_string(::getpid());
  const std::string ctl = dir_ + "/ctl", ack = dir_ + "/ack";
  if (::mkfifo(ctl.c_str(), 0600) == 0 && ::mkfifo(ack.c_str(), 0600) == 0) {
    // O_RDWR: opening a FIFO so does not wait for the other end.
    ctl_fd_ = ::open(ctl.c_str(), O_RDWR | O_CLOEXEC);
    ack_fd_ = ::open(ack.c_str(), O_RDWR | O_CLOEXEC);
    std::vector<std::string> args = {"perf", "stat", "-x,", "-D", "-1", "--control", "fifo:" + ctl + "," + ack,
                                     "-p", self, "-o", out_, "-e", "raw_syscalls:sys_enter"};
    for (const auto& g : kGroups) {
      std::string filter;
      for (int id : g.ids)
        if (id >= 0) filter += (filter.empty() ? "id == " : " || id == ") + std::to_string(id);
      args.insert(args.end(), {"-e", "raw_syscalls:sys_enter", "--filter", filter});
    }
    tool_ = spawn_logged(args, dir_ + "/log", /*append=*/true);
    if (tool_ > 0 && ctl_fd_ >= 0 && ack_fd_ >= 0 && write_all(ctl_fd_, "enable\n") && wait_ack(ack_fd_, tool_)) {
      perf_ = true;
      return true;
    }
    std::fprintf(stderr, "client_bench: perf stat did not start (%s); using strace -c\n",
                 slurp(dir_ + "/log").substr(0, 300).c_str());
    kill_tool();
  }
  perf_ = false;
  ::unlink(out_.c_str());
  tool_ = spawn_logged({"strace", "-c", "-f", "-q", "-o", out_, "-p", self}, dir_ + "/log",
                        /*append=*/true);
  if (tool_ <= 0) {
    std::fprintf(stderr, "client_bench: neither perf nor strace could be started: syscalls not counted\n");
    return false;
  }
  ::usleep(300000);  // strace gives no sign when it has attached
  return true;
}

void SyscallCounter::stop(RunResult& r) {
  if (tool_ <= 0) return;
  if (perf_) {
    if (write_all(ctl_fd_, "disable\n")) (void)wait_ack(ack_fd_, tool_);
  }
  ::kill(tool_, SIGINT);
  if (!reap(tool_, 5000)) {
    std::fprintf(stderr, "client_bench: %s did not end on SIGINT\n", perf_ ? "perf" : "strace");
    ::kill(tool_, SIGKILL);
    ::waitpid(tool_, nullptr, 0);
  }
  tool_ = 0;
  std::istringstream in(slurp(out_));
  std::string line;
  size_t perf_line = 0;
  double perf_total = 0;
  for (int i = 0; i < 10000 && std::getline(in, line); ++i) {
    if (perf_) {
      // COUNT,UNIT,EVENT,... in the order given: the total, then the groups.
      if (line.find("raw_syscalls:sys_enter") == std::string::npos) continue;
      const double n = std::isdigit(static_cast<unsigned char>(line[0])) ? std::atof(line.c_str()) : 0;
      if (perf_line == 0) perf_total = n;
      else if (perf_line <= std::size(kGroups) && n > 0) r.syscalls[kGroups[perf_line - 1].name] = n;
      ++perf_line;
    } else {
      // % time, seconds, usecs/call, calls, [errors,] syscall
      std::istringstream words(line);
      std::vector<std::string> w;
      for (std::string x; words >> x && w.size() < 8;) w.push_back(x);
      if (w.size() < 5 || !std::isdigit(static_cast<unsigned char>(w[0][0])) || w.back() == "total") continue;
      const double n = std::atof(w[3].c_str());
      if (n > 0) r.syscalls[w.back()] += n;
    }
  }
  if (perf_) {
    double named = 0;
    for (const auto& [name, n] : r.syscalls) named += n;
    if (perf_total > named) r.syscalls["other"] = perf_total - named;
  }
  if (r.syscalls.empty()) {
    std::fprintf(stderr, "client_bench: %s counted no system calls; its output: %s %s\n", perf_ ? "perf" : "strace",
                 slurp(out_).substr(0, 400).c_str(), slurp(dir_ + "/log").substr(0, 400).c_str());
    kill_tool();
    return;
  }
  r.syscall_counter = perf_ ? "perf" : "strace";
  kill_tool();
}

}  // namespace bench
