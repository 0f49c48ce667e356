#pragma once
// Time as the runtime reads it, in one place: wall time (Unix ms, for what
// is shown or sent: lag, partials, status) and monotonic time (for
// durations and timeouts: checkpoint pauses, idle partitions, deadlines).
// What must be driven by tests takes a Clock (wall) or a time point
// (monotonic) from its caller; nothing reads std::chrono's clocks but this
// file. Event time never comes from here: it is in the records.

#include <chrono>
#include <cstdint>
#include <functional>

namespace promowatch {

// Unix milliseconds, now.
using Clock = std::function<int64_t()>;

int64_t SystemNowMs();
inline Clock SystemClock() { return &SystemNowMs; }

// Monotonic time: for how long something took or how long to wait.
using MonotonicTime = std::chrono::steady_clock::time_point;
inline MonotonicTime MonotonicNow() { return std::chrono::steady_clock::now(); }
// Milliseconds since a monotonic time point.
inline double MillisSince(MonotonicTime start) {
  return std::chrono::duration<double, std::milli>(MonotonicNow() - start).count();
}

}  // namespace promowatch
