#pragma once
// The forwarding side of watermarks after the repartition shuffle
// (runtime/watermarks.h, "Forwarders"): each task running here tells every
// other task, in that task's partition of the repartition topic and so
// after the records it forwarded there, how far its own partitions are
// (its mark). Sent when a mark moved, at most every kafka.partials_interval,
// and every second unmoved (a heartbeat: a forwarder that stops sending
// has vanished, and stops holding anyone after watermark.forwarder_timeout).
// Load: at most P x (P - 1) empty records per interval, whatever the rate.

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include "pipeline/io/kafka.h"
#include "pipeline/runtime/watermarks.h"

namespace promowatch {

class ForwarderMarks {
 public:
  ForwarderMarks(int tasks, int64_t interval_ms, KafkaSink* sink)
      : tasks_(tasks),
        interval_(std::chrono::milliseconds(interval_ms)),
        sink_(sink),
        sent_(static_cast<size_t>(tasks), kNever),
        sent_at_(static_cast<size_t>(tasks)) {}

  // `force`: now, whatever the interval (before a checkpoint: a restarted
  // receiver then finds a mark past every record this checkpoint covers).
  void Publish(const std::function<bool(int task)>& live, const WatermarkTracker& watermarks,
               std::chrono::steady_clock::time_point now, bool force = false);

  // A task that went elsewhere: its next owner sends its marks (and one
  // that comes back sends at once).
  void Forget(int task) { sent_[static_cast<size_t>(task)] = kNever; }
  int64_t sent() const { return sent_records_; }

 private:
  static constexpr int64_t kNever = INT64_MIN + 1;  // (not kNoWatermark: a mark's value)
  int tasks_;
  std::chrono::milliseconds interval_;
  KafkaSink* sink_;
  std::vector<int64_t> sent_;  // by source task: the mark last sent
  std::vector<std::chrono::steady_clock::time_point> sent_at_;
  std::chrono::steady_clock::time_point last_{};
  int64_t sent_records_ = 0;
};

}  // namespace promowatch
