#pragma once
// Data completeness for the alert rules: a window emitted while an input
// partition is unassigned, unreachable, far behind, or silent past its bound was counted
// on partial data, and a rule judging it would page for a dip that is not
// there. Judged before every batch (and on quiet polls); changes are logged,
// exported (promowatch_data_complete), told to the alert engine (which then
// does not judge), and sent to Alertmanager as an info alert of their own,
// promowatch_data_incomplete.

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "operators/alert_engine.h"
#include "pipeline/config/config.h"
#include "pipeline/io/kafka.h"
#include "pipeline/runtime/topic_partition.h"
#include "pipeline/runtime/watermarks.h"
#include "pipeline/serve/alerts_probe.h"

namespace promowatch {

class DataCompleteness {
 public:
  // What the live job knows about its inputs at the moment of judging.
  struct Inputs {
    const std::set<std::string>& assigned;               // partitions owned now
    const std::map<std::string, int64_t>& next_offsets;  // next offset to read, per partition
    // The partition's end offset (-1: not known); null before polling starts.
    std::function<int64_t(const TopicPartition&)> high_watermark;
    const WatermarkTracker& watermarks;
    const std::vector<uint32_t>& delivering;  // partitions with records in the batch at hand
    const std::vector<UnreachablePartition>& unreachable;  // leaders not reachable (input_health.h)
  };
  // `notify` sends the info alert (to every Alertmanager). `alerts` and
  // `probe` must outlive this.
  // `set_incomplete` tells the alert judges (empty: complete).
  DataCompleteness(DataCompletenessOptions options,
                   std::function<void(const std::string& reason)> set_incomplete,
                   AlertsProbe* probe,
                   std::function<void(const AlertEvent&, int64_t wall_ms)> notify)
      : options_(options),
        set_incomplete_(std::move(set_incomplete)),
        probe_(probe),
        notify_(std::move(notify)) {}

  void Judge(const Inputs& in, int64_t wall_ms);
  // Whether a partition was ever assigned (before: the group is joining).
  bool ever_assigned() const { return ever_assigned_; }

 private:
  DataCompletenessOptions options_;
  std::function<void(const std::string&)> set_incomplete_;
  AlertsProbe* probe_;
  std::function<void(const AlertEvent&, int64_t)> notify_;
  std::string kind_;  // empty: complete
  bool ever_assigned_ = false;
  int64_t since_ms_ = 0;
};

}  // namespace promowatch
