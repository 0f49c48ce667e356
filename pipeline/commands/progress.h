#pragma once
// A progress bar with a rate, on stderr, drawn only when stderr is a terminal
// and at most five times a second. Long offline work (replay, gen) uses it.

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "pipeline/runtime/clock.h"

namespace promowatch {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total)
      : label_(std::move(label)),
        total_(total),
        enabled_(isatty(STDERR_FILENO) != 0),
        start_(MonotonicNow()),
        last_draw_(start_) {}

  // `done` of `total` units; `items` counted for the rate (events).
  void Update(int64_t done, int64_t items) {
    if (!enabled_) return;
    const auto now = MonotonicNow();
    if (now - last_draw_ < std::chrono::milliseconds(200)) return;
    last_draw_ = now;
    Draw(done, items, now);
  }
  void Finish(int64_t items) {
    if (!enabled_) return;
    Draw(total_, items, MonotonicNow());
    std::fputc('\n', stderr);
  }

 private:
  void Draw(int64_t done, int64_t items, std::chrono::steady_clock::time_point now) {
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double frac = total_ > 0 ? static_cast<double>(done) / static_cast<double>(total_) : 0;
    const int width = 30;
    const int filled = static_cast<int>(frac * width);
    std::string bar(static_cast<size_t>(filled), '=');
    bar.resize(width, ' ');
    std::fprintf(stderr, "\r%s [%s] %5.1f%%  %.2fM events  %.0fk events/s  ", label_.c_str(),
                 bar.c_str(), frac * 100, static_cast<double>(items) / 1e6,
                 secs > 0 ? static_cast<double>(items) / secs / 1e3 : 0.0);
    std::fflush(stderr);
  }
  std::string label_;
  int64_t total_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace promowatch
