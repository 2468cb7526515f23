#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "mqtt/runtime/event_queue.h"

using mqtt::WaitStrategy;
using mqtt::runtime::EventQueue;
using mqtt::runtime::Waker;
using namespace std::chrono_literals;

namespace {
bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}
}  // namespace

TEST_CASE("event queue: holds exactly its capacity") {
  EventQueue<std::string> q(3, nullptr);
  for (int i = 0; i < 3; ++i) {
    std::string s = "e" + std::to_string(i);
    REQUIRE(q.try_push(s));
  }
  CHECK(q.full());
  std::string s = "x";
  CHECK_FALSE(q.try_push(s));
  CHECK(s == "x");
  std::string out;
  REQUIRE(q.try_pop(out));
  CHECK(out == "e0");
  CHECK(q.taken() == 1);
  CHECK_FALSE(q.full());
}

TEST_CASE("event queue: the eventfd is readable exactly while events wait") {
  EventQueue<int> q(8, nullptr);
  const int fd = q.fd();
  CHECK_FALSE(readable(fd));
  int v = 1;
  REQUIRE(q.try_push(v));
  CHECK(readable(fd));
  v = 2;
  REQUIRE(q.try_push(v));
  int out;
  REQUIRE(q.try_pop(out));
  CHECK(readable(fd));
  REQUIRE(q.try_pop(out));
  CHECK_FALSE(readable(fd));
  CHECK_FALSE(q.try_pop(out));
  CHECK_FALSE(readable(fd));
}

TEST_CASE("event queue: fd enabled after events were queued is readable at once") {
  EventQueue<int> q(8, nullptr);
  int v = 1;
  REQUIRE(q.try_push(v));
  CHECK(readable(q.fd()));
}

TEST_CASE("event queue: blocking pop with each wait strategy, and pop_for timeout") {
  for (WaitStrategy w : {WaitStrategy::Block, WaitStrategy::SpinThenBlock, WaitStrategy::Spin}) {
    EventQueue<int> q(4, nullptr);
    std::thread producer([&] {
      std::this_thread::sleep_for(20ms);
      int v = 7;
      (void)q.try_push(v);
    });
    int out = 0;
    q.pop(out, w, 100us);
    CHECK(out == 7);
    producer.join();
  }
  EventQueue<int> q(4, nullptr);
  int out = 0;
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(q.pop_for(out, 30ms));
  CHECK(std::chrono::steady_clock::now() - t0 >= 25ms);
}

TEST_CASE("event queue: SpinThenBlock stops spinning for sparse events and spins again for dense ones") {
  EventQueue<int> q(64, nullptr);
  const auto spin_for = std::chrono::microseconds(200);
  // Sparse: one event every 5 ms, far beyond the 200 us spin. Each block
  // that outlasts spin_for halves the budget: 200 us -> 0 in 9 events.
  std::thread producer([&] {
    for (int i = 0; i < 12; ++i) {
      std::this_thread::sleep_for(5ms);
      int v = i;
      while (!q.try_push(v)) std::this_thread::yield();  // never full here
    }
  });
  for (int i = 0; i < 12; ++i) {
    int out = -1;
    q.pop(out, WaitStrategy::SpinThenBlock, spin_for);
    CHECK(out == i);
  }
  producer.join();
  CHECK(q.spin_budget_ns() == 0);
  // Dense: events already waiting are taken at once; the budget grows back.
  for (int i = 0; i < 10; ++i) {
    int v = i;
    REQUIRE(q.try_push(v));
  }
  for (int i = 0; i < 10; ++i) {
    int out = -1;
    q.pop(out, WaitStrategy::SpinThenBlock, spin_for);
    CHECK(out == i);
  }
  CHECK(q.spin_budget_ns() >= 100000);
  CHECK(q.spin_budget_ns() <= 200000);
}

TEST_CASE("event queue: a consumer take wakes a producer that asked for progress") {
  auto waker = std::make_shared<Waker>();
  EventQueue<int> q(1, waker);
  int v = 1;
  REQUIRE(q.try_push(v));
  waker->set_sleeping(true);
  q.want_progress();
  int out;
  REQUIRE(q.try_pop(out));
  CHECK(waker->wakes() == 1);
  CHECK(readable(waker->fd()));
  // No progress wanted: no wake.
  REQUIRE(q.try_push(v));
  waker->set_sleeping(true);
  REQUIRE(q.try_pop(out));
  CHECK(waker->wakes() == 1);
}

TEST_CASE("event queue: SPSC stress with the fd enabled keeps order and readiness") {
  EventQueue<int> q(16, nullptr);
  const int fd = q.fd();
  constexpr int kN = 20000;
  std::thread producer([&] {
    for (int i = 0; i < kN; ++i) {
      int v = i;
      while (!q.try_push(v)) std::this_thread::yield();  // no Catch off the main thread
    }
  });
  for (int i = 0; i < kN; ++i) {
    int out;
    if (i % 3 == 0) {
      q.pop(out, WaitStrategy::Block, 0us);
    } else {
      while (!q.try_pop(out)) {
      }
    }
    REQUIRE(out == i);
  }
  producer.join();
  CHECK_FALSE(readable(fd));
}

TEST_CASE("event queue: no descriptor until fd() is first called; then the same one") {
  auto open_fds = [] {
    int n = 0;
    for (int fd = 0; fd < 4096; ++fd) {
      if (::fcntl(fd, F_GETFD) != -1) ++n;
    }
    return n;
  };
  const int before = open_fds();
  {
    EventQueue<int> q(8, nullptr);
    CHECK(open_fds() == before);
    CHECK(q.valid());
    CHECK(q.error() == 0);
    int v = 1;
    REQUIRE(q.try_push(v));  // no descriptor to signal yet
    CHECK(open_fds() == before);
    const int fd = q.fd();
    REQUIRE(fd >= 0);
    CHECK(open_fds() == before + 1);
    CHECK(q.fd() == fd);
    CHECK(readable(fd));  // the event queued before fd() counts
    CHECK(q.valid());
  }
  CHECK(open_fds() == before);  // closed with the queue
}

TEST_CASE("event queue: a failed lazy eventfd() gives -1 and an errno; the queue still works; a later fd() retries") {
  rlimit old{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0);
  EventQueue<int> q(4, nullptr);
  // Every descriptor below a tight limit in use.
  rlimit tight = old;
  tight.rlim_cur = 32;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
  std::vector<int> fds;
  for (int i = 0; i < 64; ++i) {
    const int fd = ::dup(0);
    if (fd < 0) break;
    fds.push_back(fd);
  }
  const int got = q.fd();
  const bool valid = q.valid();
  const int err = q.error();
  for (int fd : fds) ::close(fd);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &old) == 0);
  CHECK(got == -1);
  CHECK_FALSE(valid);
  CHECK(err == EMFILE);
  int v = 7, out = 0;
  REQUIRE(q.try_push(v));
  REQUIRE(q.try_pop(out));
  CHECK(out == 7);
  const int fd = q.fd();
  CHECK(fd >= 0);
  CHECK(q.valid());
  CHECK(q.error() == 0);
}
