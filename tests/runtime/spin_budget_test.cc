// SpinThenBlock's adaptive spin budget.
#include <catch2/catch.hpp>

#include <chrono>

#include "mqtt/runtime/spin_budget.h"

using mqtt::runtime::SpinBudget;
using std::chrono::microseconds;
using std::chrono::nanoseconds;

TEST_CASE("spin budget: starts full, halves to nothing, doubles back to spin_for") {
  SpinBudget b(microseconds(50));
  CHECK(b.now() == nanoseconds(50000));
  for (int i = 0; i < 5; ++i) b.wasted();  // 25, 12.5, 6.25, 3.125, 1.5625 us
  CHECK(b.now() == nanoseconds(1562));
  b.wasted();  // 781 ns: below 1 us is nothing
  CHECK(b.now() == nanoseconds::zero());
  b.paid();
  CHECK(b.now() == nanoseconds(1000));
  for (int i = 0; i < 10; ++i) b.paid();
  CHECK(b.now() == nanoseconds(50000));  // never above spin_for
}

TEST_CASE("spin budget: spin_for = max() saturates instead of overflowing") {
  SpinBudget b(microseconds::max());
  CHECK(b.max() == nanoseconds::max());
  b.paid();
  CHECK(b.now() == nanoseconds::max());
  b.wasted();
  CHECK(b.now() == nanoseconds::max() / 2);
  b.paid();
  CHECK(b.now() == nanoseconds::max());
}

TEST_CASE("spin budget: a lower limit caps the current budget") {
  SpinBudget b(microseconds::max());
  b.limit(microseconds(20));
  CHECK(b.now() == nanoseconds(20000));
  b.limit(microseconds(100));
  CHECK(b.now() == nanoseconds(20000));  // raised limit: the budget grows when spins pay
  b.paid();
  CHECK(b.now() == nanoseconds(40000));
}
