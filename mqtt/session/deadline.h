// Saturating time arithmetic. Durations from the API may be anything from
// negative to max(); max() means "no deadline". None of these overflow.
#pragma once

#include <chrono>

namespace mqtt::detail {

// `d` in the finer (or equal) unit To, saturating at To::max(); negative
// durations become zero.
template <class To, class Rep, class Period>
constexpr To saturating_cast(std::chrono::duration<Rep, Period> d) {
  using From = std::chrono::duration<Rep, Period>;
  if (d <= From::zero()) return To::zero();
  // To::max() expressed in the coarser unit: a division, so no overflow.
  if (d >= std::chrono::duration_cast<From>(To::max())) return To::max();
  return std::chrono::duration_cast<To>(d);
}

// t + d, saturating at time_point::max() (which callers treat as "never").
template <class Clock, class Dur, class Rep, class Period>
constexpr std::chrono::time_point<Clock, Dur> saturating_add(
    std::chrono::time_point<Clock, Dur> t, std::chrono::duration<Rep, Period> d) {
  using TP = std::chrono::time_point<Clock, Dur>;
  if (t == TP::max()) return t;
  const Dur dd = saturating_cast<Dur>(d);
  if (dd >= TP::max() - t) return TP::max();
  return t + dd;
}

// Waits longer than this are treated as "no limit" by blocking calls whose
// underlying primitive adds the timeout to the current time.
inline constexpr std::chrono::nanoseconds kForever = std::chrono::hours(24 * 365 * 10);

}  // namespace mqtt::detail
