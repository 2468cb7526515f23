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

// Bytes this process's malloc has handed out and not had back (glibc
// mallinfo2: every arena), in kB. Tells a leak (this grows) from memory the
// allocator keeps for reuse (RSS grows, this does not).
int64_t heap_in_use_kb();

}  // namespace soak
