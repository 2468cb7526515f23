#include "tools/soak/proc_stats.h"

#include <dirent.h>
#include <malloc.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace soak {
namespace {

int64_t count_fds(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return -1;
  int64_t n = 0;
  // Bounded: a process has far fewer descriptors than this.
  for (int i = 0; i < 10'000'000; ++i) {
    dirent* e = readdir(d);
    if (!e) break;
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) ++n;
  }
  closedir(d);
  return n - 1;  // the descriptor opendir itself holds, when pid is us
}

}  // namespace

ProcStats read_proc_stats(pid_t pid) {
  const std::string base = pid == 0 ? "/proc/self" : "/proc/" + std::to_string(pid);
  ProcStats s;
  if (FILE* f = std::fopen((base + "/status").c_str(), "re")) {
    char line[256];
    for (int i = 0; i < 200 && std::fgets(line, sizeof line, f); ++i) {
      long long v = 0;
      if (std::sscanf(line, "VmRSS: %lld", &v) == 1) s.rss_kb = v;
      if (std::sscanf(line, "Threads: %lld", &v) == 1) s.threads = v;
    }
    std::fclose(f);
  }
  s.fds = count_fds(base + "/fd");
  if (pid != 0 && s.fds >= 0) ++s.fds;  // opendir's descriptor is ours, not theirs
  return s;
}

int64_t heap_in_use_kb() {
  const struct mallinfo2 m = mallinfo2();
  return static_cast<int64_t>((m.uordblks + m.hblkhd) / 1024);
}

}  // namespace soak
