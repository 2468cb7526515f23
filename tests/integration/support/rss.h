// Resident set size of this process, from /proc/self/status (VmRSS).
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

namespace itest {

// VmRSS in kB, or -1 when unreadable.
inline int64_t rss_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  for (int i = 0; i < 200 && std::getline(in, line); ++i) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

}  // namespace itest
