#include <dirent.h>
#include <sys/resource.h>

#include <cstdio>
#include <string>

#include "tools/client_bench/bench_common.h"

namespace bench {
namespace {

double self_cpu() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

long self_context_switches() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_nvcsw + u.ru_nivcsw;
}

// CPU time of every thread of `pid`, in seconds; -1 when unreadable. Sums
// the first field of /proc/PID/task/TID/schedstat (nanoseconds on the CPU),
// which is finer than /proc/PID/stat's clock ticks (10 ms). A thread that
// ends between two samples takes its time with it: the peers measured here
// (mosquitto, node) keep theirs.
double process_cpu(pid_t pid) {
  if (pid <= 0) return -1;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (!d) return -1;
  unsigned long long total = 0;
  int threads = 0;
  for (int i = 0; i < 4096; ++i) {  // threads of one process: bounded
    const dirent* e = readdir(d);
    if (!e) break;
    if (e->d_name[0] == '.') continue;
    std::FILE* f = std::fopen((dir + "/" + e->d_name + "/schedstat").c_str(), "r");
    if (!f) continue;  // the thread just ended
    unsigned long long ns = 0;
    if (std::fscanf(f, "%llu", &ns) == 1) total += ns, ++threads;
    std::fclose(f);
  }
  closedir(d);
  return threads ? static_cast<double>(total) / 1e9 : -1;
}

bool g_count_syscalls = false;

}  // namespace

void count_syscalls(bool on) { g_count_syscalls = on; }

CpuMeter::CpuMeter(const RunConfig& c) : broker_(c.broker_pid), bridge_(c.bridge_pid) {}

void CpuMeter::start() {
  // Attaching the counter takes a while: before the first sample.
  counting_ = g_count_syscalls && syscalls_.start();
  switches0_ = self_context_switches();
  self0_ = self_cpu();
  broker0_ = process_cpu(broker_);
  bridge0_ = process_cpu(bridge_);
}

void CpuMeter::stop(RunResult& r) const {
  r.client_cpu_seconds = self_cpu() - self0_;
  r.context_switches = static_cast<double>(self_context_switches() - switches0_);
  auto delta = [](double before, double after) { return before < 0 || after < 0 ? -1 : after - before; };
  r.broker_cpu_seconds = delta(broker0_, process_cpu(broker_));
  r.bridge_cpu_seconds = delta(bridge0_, process_cpu(bridge_));
  if (counting_) syscalls_.stop(r);
}

}  // namespace bench
