#include "pipeline/live/input_health.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "pipeline/runtime/clock.h"
#include "pipeline/runtime/topic_partition.h"

namespace promowatch {

void InputHealth::Mark(WatermarkTracker& watermarks, const std::string& topic, int32_t partition,
                       int64_t wall_ms) {
  if (topic == ignored_topic_) return;
  held_.push_back(watermarks.Slot(TopicPartition{topic, partition}.Format()));
  watermarks.SetBehind(held_.back(), true, wall_ms);
}

void InputHealth::Update(KafkaSource& source, const std::set<std::string>& assigned,
                         WatermarkTracker& watermarks, int64_t wall_ms) {
  const auto now = MonotonicNow();
  if (now - checked_ < std::chrono::milliseconds(100)) return;
  checked_ = now;
  for (uint32_t slot : held_) watermarks.SetBehind(slot, false, wall_ms);
  held_.clear();
  for (const TopicPartition& p : source.Behind()) Mark(watermarks, p.topic, p.partition, wall_ms);

  std::vector<UnreachablePartition> unreachable = source.Unreachable();
  std::set<std::string> held;
  for (const UnreachablePartition& p : unreachable) {
    Mark(watermarks, p.topic, p.partition, wall_ms);
    held.insert(p.Format());
  }
  for (const std::string& name : held_unreachable_) {
    if (held.count(name) == 0) {
      recovering_until_[name] = now + std::chrono::milliseconds(kRecoveryHoldMs);
    }
  }
  held_unreachable_ = std::move(held);
  for (auto it = recovering_until_.begin(); it != recovering_until_.end();) {
    const auto tp = TopicPartition::Parse(it->first);
    if (now >= it->second || !tp || assigned.count(it->first) == 0) {
      it = recovering_until_.erase(it);
      continue;
    }
    Mark(watermarks, tp->topic, tp->partition, wall_ms);
    ++it;
  }
  std::erase_if(unreachable, [](const auto& p) { return p.down_ms < kReportAfterMs; });
  for (const UnreachablePartition& p : unreachable) {
    const bool before = std::any_of(unreachable_.begin(), unreachable_.end(), [&](const auto& u) {
      return u.topic == p.topic && u.partition == p.partition;
    });
    if (!before) {
      spdlog::warn(
          "msg=\"partition unreachable: its windows wait for it\" partition={}/{} leader={} "
          "broker_state={} down_s={}",
          p.topic, p.partition, p.leader, p.broker_state, p.down_ms / 1000);
    }
  }
  for (const UnreachablePartition& p : unreachable_) {
    const bool still = std::any_of(unreachable.begin(), unreachable.end(), [&](const auto& u) {
      return u.topic == p.topic && u.partition == p.partition;
    });
    // (One revoked meanwhile is not this member's to report.)
    if (!still && assigned.count(p.Format()) != 0) {
      spdlog::info("msg=\"partition reachable again\" partition={}", p.Format());
    }
  }
  unreachable_ = std::move(unreachable);
  probe_->SetUnreachable(unreachable_.size());
}

}  // namespace promowatch
