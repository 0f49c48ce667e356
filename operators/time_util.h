#pragma once
// Event-time arithmetic: minute panes and days in a fixed UTC offset. All
// times are UTC epoch milliseconds; floor division so that negative values
// (never accepted, but possible in arithmetic) still round down.

#include <cstdint>

namespace promowatch {

inline constexpr int64_t kMinuteMs = 60'000;
inline constexpr int64_t kDayMs = 86'400'000;

constexpr int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// Index of the one-minute pane [i*60s, (i+1)*60s) holding t.
constexpr int64_t PaneOf(int64_t t_ms) { return FloorDiv(t_ms, kMinuteMs); }
constexpr int64_t PaneEndMs(int64_t pane) { return (pane + 1) * kMinuteMs; }

// Index of the day holding t, days starting at local midnight of a zone that
// is `utc_offset_ms` ahead of UTC (UTC+8: 8 * 3600 * 1000).
constexpr int64_t DayOf(int64_t t_ms, int64_t utc_offset_ms) {
  return FloorDiv(t_ms + utc_offset_ms, kDayMs);
}
constexpr int64_t DayStartMs(int64_t day, int64_t utc_offset_ms) {
  return day * kDayMs - utc_offset_ms;
}

}  // namespace promowatch
