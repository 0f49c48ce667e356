#pragma once
// What results are keyed by, named once: the windows ("1m", "5m", ...,
// "cumulative") and the rollup key "*" (all campaigns, or all channels of a
// campaign).

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace promowatch {

// campaign_id / channel of a rollup: producers may not use it (decode
// rejects it as reserved_key).
inline constexpr std::string_view kRollupKey = "*";
inline bool IsRollup(std::string_view key) { return key == kRollupKey; }

// The day so far, in the configured day's offset.
inline constexpr std::string_view kCumulativeWindow = "cumulative";
// A planned campaign's period so far (operators/plan.h): its KPIs' rows.
inline constexpr std::string_view kPeriodWindow = "period";
// Windows that grow from a fixed start, emitted again as they grow.
inline bool IsRunningTotal(std::string_view name) {
  return name == kCumulativeWindow || name == kPeriodWindow;
}

// "5m" for a window of 5 minutes.
inline std::string WindowName(int minutes) { return std::to_string(minutes) + "m"; }

// The minutes of a sized window's name ("5m" -> 5); nullopt for
// "cumulative" and for anything that is not a window name.
inline std::optional<int> WindowMinutes(std::string_view name) {
  int minutes = 0;
  const char* end = name.data() + name.size();
  auto [ptr, ec] = std::from_chars(name.data(), end, minutes);
  if (ec != std::errc() || ptr != end - 1 || *ptr != 'm' || minutes <= 0) return std::nullopt;
  return minutes;
}

// Whether a window of this name is computed, given windows.sizes.
inline bool IsComputedWindow(std::string_view name, const std::vector<int>& window_minutes) {
  if (name == kCumulativeWindow || name == kPeriodWindow) return true;  // (period: with a plan)
  const auto minutes = WindowMinutes(name);
  return minutes &&
         std::find(window_minutes.begin(), window_minutes.end(), *minutes) != window_minutes.end();
}

}  // namespace promowatch
