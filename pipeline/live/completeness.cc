#include "pipeline/live/completeness.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace promowatch {

void DataCompleteness::Judge(const Inputs& in, int64_t wall_ms) {
  const DataCompletenessOptions& o = options_;
  std::string kind, detail;
  if (in.assigned.empty()) {
    kind = "unassigned";
    detail =
        "no input partition is assigned (a rebalance in progress, or more members than "
        "partitions)";
  }
  if (kind.empty() && !in.unreachable.empty()) {
    const UnreachablePartition& p = in.unreachable.front();
    kind = "unreachable";
    detail = fmt::format(
        "{}/{}: its leader (broker {}) is {}; its records wait there ({} partition(s) so)", p.topic,
        p.partition, p.leader, p.broker_state, in.unreachable.size());
  }
  if (kind.empty() && o.max_lag_records > 0 && in.high_watermark) {
    for (const auto& name : in.assigned) {
      auto next = in.next_offsets.find(name);
      if (next == in.next_offsets.end()) continue;
      const auto tp = TopicPartition::Parse(name);
      if (!tp) continue;
      const int64_t high = in.high_watermark(*tp);
      if (high - next->second > o.max_lag_records) {
        kind = "lagging";
        detail = fmt::format("{} is {} records behind (catching up; bound {})", name,
                             high - next->second, o.max_lag_records);
        break;
      }
    }
  }
  if (kind.empty() && o.max_partition_silence_ms > 0) {
    const auto [name, silent_ms] = in.watermarks.LongestSilence(wall_ms, in.delivering);
    if (silent_ms > o.max_partition_silence_ms && in.assigned.count(name) != 0) {
      kind = "partition_silent";
      detail = fmt::format("{} delivered nothing for {} s (bound {} s)", name, silent_ms / 1000,
                           o.max_partition_silence_ms / 1000);
    }
  }
  if (!ever_assigned_) {
    // Joining the group at start-up: nothing to judge yet, nothing to say.
    if (in.assigned.empty()) {
      set_incomplete_("starting: no partition assigned yet");
      return;
    }
    ever_assigned_ = true;
    set_incomplete_("");
  }
  if (kind == kind_) return;
  AlertEvent a;
  a.rule = "promowatch_data_incomplete";
  a.campaign_id = kRollupKey;
  a.channel = kRollupKey;
  a.metric = "data_complete";
  a.window = "live";
  a.severity = "info";
  a.window_end_ms = wall_ms;
  if (!kind.empty()) {
    spdlog::warn("msg=\"data incomplete: alert rules are not judged\" reason={} detail=\"{}\"",
                 kind, detail);
    since_ms_ = wall_ms;
    a.state = kAlertFiring;
  } else {
    spdlog::info("msg=\"data complete again: alert rules are judged\" was={}", kind_);
    a.state = kAlertResolved;
  }
  a.active_since_ms = since_ms_;
  a.annotations = {
      {"summary", kind.empty() ? "input data complete again" : "input data incomplete: " + detail},
      {"reason", kind.empty() ? kind_ : kind}};
  kind_ = kind;
  set_incomplete_(kind.empty() ? "" : kind + ": " + detail);
  probe_->SetDataComplete(kind.empty());
  notify_(a, wall_ms);
}

}  // namespace promowatch
