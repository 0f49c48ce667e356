#pragma once
// What replay's checkpoints and batches cost the pipeline, for the
// summary line: each checkpoint's pause (and of it the wait for the commit
// before, so the snapshot's own part shows), each batch's latency;
// nearest-rank quantiles.

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace promowatch {

class ReplayPauses {
 public:
  // A checkpoint paused processing `pause_ms`, `commit_wait_ms` of it
  // waiting for the commit before.
  void Checkpoint(double pause_ms, double commit_wait_ms) {
    pauses_ms_.push_back(pause_ms);
    commit_waits_ms_.push_back(commit_wait_ms);
  }
  // The engine took `ms` for a batch of input (a checkpoint's pause apart).
  void Batch(double ms) { batches_ms_.push_back(ms); }

  // "checkpoint_p50_ms=... snapshot_p99_ms=... batch_p99_ms=..."
  std::string Summary() const {
    std::vector<double> sorted = pauses_ms_;
    std::sort(sorted.begin(), sorted.end());
    double total = 0;
    for (double ms : sorted) total += ms;
    std::vector<double> batches = batches_ms_;
    std::sort(batches.begin(), batches.end());
    // The pause without the wait for the commit before it: the snapshot.
    std::vector<double> snapshots;
    double waited = 0;
    for (size_t i = 0; i < pauses_ms_.size(); ++i) {
      snapshots.push_back(std::max(0.0, pauses_ms_[i] - commit_waits_ms_[i]));
      waited += commit_waits_ms_[i];
    }
    std::sort(snapshots.begin(), snapshots.end());
    return fmt::format(
        "checkpoint_p50_ms={:.0f} checkpoint_p99_ms={:.0f} checkpoint_max_ms={:.0f} "
        "checkpoint_total_ms={:.0f} snapshot_p50_ms={:.0f} snapshot_p99_ms={:.0f} "
        "commit_wait_total_ms={:.0f} batch_p50_ms={:.2f} batch_p99_ms={:.2f}",
        Quantile(sorted, 0.5), Quantile(sorted, 0.99), sorted.empty() ? 0.0 : sorted.back(), total,
        Quantile(snapshots, 0.5), Quantile(snapshots, 0.99), waited, Quantile(batches, 0.5),
        Quantile(batches, 0.99));
  }

 private:
  static double Quantile(const std::vector<double>& sorted, double q) {
    if (sorted.empty()) return 0.0;
    const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
    return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
  }

  std::vector<double> pauses_ms_;
  std::vector<double> commit_waits_ms_;
  std::vector<double> batches_ms_;
};

}  // namespace promowatch
