#include "pipeline/runtime/watermarks.h"

#include <algorithm>

#include "pipeline/runtime/topic_partition.h"

namespace promowatch {

uint32_t WatermarkTracker::Slot(const std::string& name) {
  auto it = slots_.find(name);
  if (it != slots_.end()) return it->second;
  const auto slot = static_cast<uint32_t>(parts_.size());
  parts_.push_back(Partition{name});
  if (!task_current_.empty()) {
    const auto tp = TopicPartition::Parse(name);
    if (tp && tp->partition >= 0 && static_cast<size_t>(tp->partition) < task_current_.size())
      parts_.back().task = tp->partition;
  }
  slots_.emplace(name, slot);
  dirty_ = true;
  return slot;
}

void WatermarkTracker::SetAssigned(uint32_t slot, bool assigned, int64_t wall_ms) {
  Partition& p = parts_[slot];
  p.assigned = assigned;
  p.idle = false;
  p.behind = false;
  p.last_record_wall_ms = wall_ms;  // a fresh assignment gets a full idle timeout
  dirty_ = true;
}

void WatermarkTracker::EnableForwarders(int64_t forwarder_timeout_ms) {
  forwarder_timeout_ms_ = forwarder_timeout_ms;
  forwarders_.assign(task_current_.size(), std::vector<Forwarder>(task_current_.size()));
  dirty_ = true;
}

int64_t WatermarkTracker::ForwarderMark(int source) const {
  int64_t low = kForwarderIdle;
  for (const Partition& p : parts_) {
    if (p.task != source || !p.assigned || p.excluded || p.idle) continue;
    low = std::min(low, p.max_event_time_ms);
  }
  return low;
}

void WatermarkTracker::SetForwarderMark(int task, int source, int64_t mark_ms, int64_t wall_ms) {
  if (static_cast<size_t>(task) >= forwarders_.size() ||
      static_cast<size_t>(source) >= forwarders_.size())
    return;
  Forwarder& f = forwarders_[static_cast<size_t>(task)][static_cast<size_t>(source)];
  f.heard_wall_ms = wall_ms;
  if (f.mark_ms != mark_ms || f.vanished || f.stale) dirty_ = true;
  f.mark_ms = mark_ms;
  f.vanished = false;
  f.stale = false;
  // (A time does not lift a doubt: it may be old news from the backlog, and
  // so may an "idle" after it.)
}

void WatermarkTracker::DoubtIdleForwarders(int64_t wall_ms) {
  if (idle_timeout_ms_ <= 0) return;  // nothing is ever idle
  for (auto& row : forwarders_) {
    for (Forwarder& f : row) {
      if (f.vanished || f.doubted) continue;
      f.doubted = true;
      f.doubted_since_wall_ms = wall_ms;
      dirty_ = true;
    }
  }
}

void WatermarkTracker::RestoreForwarderMarks(int task, const std::map<int, int64_t>& marks,
                                             int64_t wall_ms) {
  if (static_cast<size_t>(task) >= forwarders_.size()) return;
  // Each doubted from the start: an "idle" stored or read from the backlog
  // is old news, and the one read first may predate its input's resume.
  const bool doubt = idle_timeout_ms_ > 0;
  for (Forwarder& f : forwarders_[static_cast<size_t>(task)]) {
    f = Forwarder{kNoWatermark, wall_ms};
    f.doubted = doubt;
    f.doubted_since_wall_ms = wall_ms;
  }
  for (const auto& [source, mark] : marks) {
    if (source >= 0 && static_cast<size_t>(source) < forwarders_.size())
      forwarders_[static_cast<size_t>(task)][static_cast<size_t>(source)].mark_ms = mark;
  }
  dirty_ = true;
}

std::map<int, int64_t> WatermarkTracker::ForwarderMarks(int task) const {
  std::map<int, int64_t> out;
  if (static_cast<size_t>(task) >= forwarders_.size()) return out;
  const auto& row = forwarders_[static_cast<size_t>(task)];
  for (size_t s = 0; s < row.size(); ++s) {
    if (static_cast<int>(s) != task && row[s].mark_ms != kNoWatermark)
      out[static_cast<int>(s)] = row[s].mark_ms;
  }
  return out;
}

std::vector<WatermarkTracker::ForwarderView> WatermarkTracker::Forwarders(int task,
                                                                          int64_t wall_ms) const {
  std::vector<ForwarderView> out;
  if (static_cast<size_t>(task) >= forwarders_.size()) return out;
  const auto& row = forwarders_[static_cast<size_t>(task)];
  for (size_t s = 0; s < row.size(); ++s) {
    if (static_cast<int>(s) == task) continue;
    out.push_back(ForwarderView{static_cast<int>(s), row[s].mark_ms,
                                std::max<int64_t>(0, wall_ms - row[s].heard_wall_ms),
                                row[s].vanished, row[s].doubted});
  }
  return out;
}

int64_t WatermarkTracker::ForwardersLow(size_t task) const {
  if (task >= forwarders_.size()) return INT64_MAX;
  int64_t low = INT64_MAX;
  const auto& row = forwarders_[task];
  for (size_t s = 0; s < row.size(); ++s) {
    if (s == task || row[s].vanished) continue;
    if (row[s].mark_ms == kForwarderIdle) {
      // Idle only while it keeps saying so: an idle forwarder whose
      // instance died may have records waiting for its next owner, which
      // would all be late here had the task run ahead meanwhile.
      // Nor while its input may have resumed unseen (DoubtIdleForwarders).
      if (!row[s].stale && !row[s].doubted) continue;
      return kNoWatermark;  // holds, until it speaks again or vanishes
    }
    if (row[s].mark_ms == kNoWatermark) return kNoWatermark;  // never heard of: holds
    low = std::min(low, row[s].mark_ms);
  }
  return low;
}

void WatermarkTracker::CheckIdle(int64_t wall_ms) {
  if (forwarder_timeout_ms_ > 0) {
    for (auto& row : forwarders_) {
      for (Forwarder& f : row) {
        if (!f.stale && wall_ms - f.heard_wall_ms >= kForwarderStaleMs) {
          f.stale = true;
          dirty_ = true;
        }
        if (!f.vanished && wall_ms - f.heard_wall_ms >= forwarder_timeout_ms_) {
          f.vanished = true;
          dirty_ = true;
        }
        // Idle for a full idle timeout since the resume: idle indeed.
        if (f.doubted && wall_ms - f.doubted_since_wall_ms >= idle_timeout_ms_) {
          f.doubted = false;
          dirty_ = true;
        }
      }
    }
  }
  if (idle_timeout_ms_ <= 0) return;
  for (Partition& p : parts_) {
    if (p.assigned && !p.idle && !p.behind && wall_ms - p.last_record_wall_ms >= idle_timeout_ms_) {
      p.idle = true;
      dirty_ = true;
    }
  }
}

std::pair<std::string, int64_t> WatermarkTracker::LongestSilence(
    int64_t wall_ms, const std::vector<uint32_t>& delivering) const {
  std::pair<std::string, int64_t> longest{"", 0};
  for (uint32_t slot = 0; slot < parts_.size(); ++slot) {
    const Partition& p = parts_[slot];
    // (Excluded: the repartition topic, empty while producers key by user.)
    if (p.excluded) continue;
    if (std::find(delivering.begin(), delivering.end(), slot) != delivering.end()) continue;
    if (p.assigned && wall_ms - p.last_record_wall_ms > longest.second) {
      longest = {p.name, wall_ms - p.last_record_wall_ms};
    }
  }
  return longest;
}

std::map<std::string, int64_t> WatermarkTracker::TopicSilence(int64_t wall_ms) const {
  std::map<std::string, int64_t> newest;
  for (const Partition& p : parts_) {
    if (!p.assigned || p.excluded) continue;
    // A file's slot ("input") is its own topic.
    const auto tp = TopicPartition::Parse(p.name);
    const std::string topic = tp ? tp->topic : p.name;
    auto [it, inserted] = newest.emplace(topic, p.last_record_wall_ms);
    if (!inserted) it->second = std::max(it->second, p.last_record_wall_ms);
  }
  for (auto& [topic, t] : newest) t = std::max<int64_t>(0, wall_ms - t);
  return newest;
}

size_t WatermarkTracker::idle_partitions() const {
  return static_cast<size_t>(
      std::count_if(parts_.begin(), parts_.end(), [](const Partition& p) { return p.idle; }));
}

void WatermarkTracker::Recompute() {
  dirty_ = false;
  int64_t low = INT64_MAX;
  int64_t newest = kNoWatermark;
  bool any_active = false;
  for (const Partition& p : parts_) {
    if (!p.assigned || p.excluded) continue;
    newest = std::max(newest, p.max_event_time_ms);
    if (p.idle) continue;
    any_active = true;
    // An active partition that has not delivered yet holds the watermark.
    low = std::min(low, p.max_event_time_ms);
  }
  if (!any_active) low = newest;  // everything idle: flush up to the newest time seen
  if (low != kNoWatermark) low = std::min(low, cap_ms_);
  if (low != kNoWatermark && low != INT64_MAX)
    current_ = std::max(current_, low - out_of_orderness_ms_);
  if (!task_current_.empty()) RecomputeTasks();
}

void WatermarkTracker::RecomputeTasks() {
  // As above, per task, and never ahead of the overall watermark: a task
  // also reads records forwarded from every other partition (the
  // repartition topic), whose times only the overall minimum bounds - as
  // after a shuffle in Flink. So only a task behind has a watermark of its
  // own; a task with no active partition follows the overall one.
  low_.assign(task_current_.size(), INT64_MAX);
  for (const Partition& p : parts_) {
    if (p.task < 0 || !p.assigned || p.excluded || p.idle) continue;
    int64_t& low = low_[static_cast<size_t>(p.task)];
    low = std::min(low, p.max_event_time_ms);
  }
  // And never ahead of what its forwarders' marks allow (live).
  for (size_t t = 0; t < task_current_.size(); ++t) {
    int64_t& wm = task_current_[t];
    const int64_t forwarders = ForwardersLow(t);
    if (forwarders == kNoWatermark) continue;  // a forwarder not heard of yet holds it
    int64_t candidate;
    if (low_[t] == INT64_MAX) {
      candidate = current_;
    } else if (low_[t] != kNoWatermark) {
      candidate = std::min(std::min(low_[t], cap_ms_) - out_of_orderness_ms_, current_);
    } else {
      continue;
    }
    if (forwarders != INT64_MAX && candidate != kNoWatermark)
      candidate = std::min(candidate, forwarders - out_of_orderness_ms_);
    wm = std::max(wm, candidate);
  }
}

std::map<std::string, int64_t> WatermarkTracker::Snapshot() const {
  std::map<std::string, int64_t> out;
  for (const Partition& p : parts_) out[p.name] = p.max_event_time_ms;
  out["\x01watermark"] = current_;
  return out;
}

void WatermarkTracker::Restore(const std::map<std::string, int64_t>& max_times) {
  for (const auto& [name, t] : max_times) {
    if (name == "\x01watermark") {
      current_ = t;
      continue;
    }
    Partition& p = parts_[Slot(name)];
    p.max_event_time_ms = t;
    p.assigned = false;  // until assigned again, or it delivers
  }
  dirty_ = true;
}

}  // namespace promowatch
