// Counts C++ heap allocations (operator new) in this process, to report
// allocations per message for our client. libmosquitto and Paho are C and
// allocate with malloc, which this does not see: their column says n/a.
#include <atomic>
#include <cstdlib>
#include <new>

#include "tools/client_bench/bench_common.h"

namespace {
std::atomic<uint64_t> g_allocations{0};
}

uint64_t bench::allocations() { return g_allocations.load(std::memory_order_relaxed); }

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
