// What the soak run watches in a process: resident memory (VmRSS), threads
// (Threads) and open descriptors (/proc/PID/fd entries).
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace soak {

struct ProcStats {
  int64_t rss_kb = -1;  // -1: unreadable (e.g. the process is gone)
  int64_t threads = -1;
  int64_t fds = -1;
};

// pid 0: this process.
ProcStats read_proc_stats(pid_t pid = 0);

}  // namespace soak
