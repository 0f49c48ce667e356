#pragma once
// Event-time watermarks over input partitions.
//
// Each partition (a Kafka topic-partition, or "input" for files) tracks the
// newest event time it delivered; the watermark is the minimum over the
// partitions that are assigned and not idle, minus the bounded
// out-of-orderness. It never goes back: a partition that returns from idle
// or is newly assigned with older data cannot un-finalize a window (its old
// records are judged late instead).
//
// An assigned partition that delivered nothing for `idle_timeout_ms` of wall
// time is left out of the minimum, so one quiet partition does not stall
// every window; it counts again with its next record. A partition known to
// be behind (Kafka holds records for it not handed over yet) is slow, not
// quiet, and is never idle: as Kafka Streams waits on a known lag, else a
// busy consumer that fetches it late would find its records late. When every partition
// is idle, the watermark moves to the newest time seen anywhere (as Flink's
// watermark valve does), so the windows of a stream that paused are emitted.
// Partitions restored from a checkpoint count only once assigned again.
//
// With tasks by partition, each task has a watermark of its own: the
// minimum over its partitions, but never ahead of the overall one (a task
// also reads records forwarded to it from every partition, which only the
// overall minimum bounds: Flink's watermark after a shuffle), never going
// back, restored with the task. So a task behind (just moved here, with
// older data than the tasks already running) judges its records against
// its own time, not against the tasks ahead of it; a task whose partitions
// are all idle follows the overall watermark. The merge of the tasks'
// windows publishes what every task has passed.
//
// Forwarders (live): records not in the partition of their user travel
// through the repartition topic to their task, perhaps on another
// instance, whose own partitions say nothing of them. So every task sends
// each other task, in that task's repartition partition and after the
// records it forwarded there, a mark: the lowest newest-event-time over its
// own active partitions (what its own watermark is made of), or "idle".
// A task's watermark is also never ahead of the marks it read from every
// forwarder (less the out-of-orderness), as Flink's operator takes the
// minimum over its input channels after a keyBy: a forwarded record is
// judged as it would have been where it was read. An idle forwarder holds
// nobody (as an idle partition) while it keeps saying so; one never heard
// of (a new task, no mark yet), or idle but silent past kForwarderStaleMs
// (its instance died: records may wait for its next owner), holds until it
// sends; one silent for `forwarder_timeout_ms` (the group has not moved
// its task yet) stops holding. When this instance's input resumes (a
// partition of it returns from idle: delivers, or is known to be behind),
// every forwarder's "idle" is doubted: its input most likely resumed too,
// but its instance may not have fetched it yet, and its "idle", true when
// sent, would let the task run ahead of the records it is about to forward.
// Likewise when a task starts here (restored or new): what it stored or
// reads first from its backlog is old news. For a full idle timeout after
// that (as a newly assigned partition gets one) an idle forwarder holds the
// task; a forwarder that sends times holds it by its times, as always.
// Marks are task state: checkpointed with the receiving task, consistent
// with its repartition offset, so records forwarded before a crash and read
// after it are held for too.
//
// Not thread-safe; the pipeline thread owns it. Wall time is passed in, so
// tests drive it.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "operators/event_record.h"

namespace promowatch {

class WatermarkTracker {
 public:
  // idle_timeout_ms <= 0: partitions never count as idle.
  WatermarkTracker(int64_t max_out_of_orderness_ms, int64_t idle_timeout_ms)
      : out_of_orderness_ms_(max_out_of_orderness_ms), idle_timeout_ms_(idle_timeout_ms) {}

  // Tasks by partition: partition p of "topic/p" belongs to task p (call
  // before the first Slot).
  void EnableTasks(int tasks) { task_current_.assign(static_cast<size_t>(tasks), kNoWatermark); }

  // A forwarder's mark when every partition of it is idle.
  static constexpr int64_t kForwarderIdle = INT64_MAX;
  // Forwarders repeat their mark every second: one silent this long is
  // taken as idle no more (its instance may have died with records
  // waiting for the next owner): it holds the task until it speaks again
  // or vanishes.
  static constexpr int64_t kForwarderStaleMs = 3'500;
  // Tasks hold for their forwarders' marks (after EnableTasks).
  void EnableForwarders(int64_t forwarder_timeout_ms);
  bool forwarders_enabled() const { return !forwarders_.empty(); }
  // What task `source` tells the tasks it forwards to: the lowest newest
  // event time of its active partitions; kForwarderIdle when all are idle;
  // kNoWatermark when an active one has not delivered yet.
  int64_t ForwarderMark(int source) const;
  // Task `task` read `source`'s mark (in its repartition partition).
  void SetForwarderMark(int task, int source, int64_t mark_ms, int64_t wall_ms);
  // Task `task` starts here (restored or new) with these marks (by source
  // task; missing: never heard of), each heard now.
  void RestoreForwarderMarks(int task, const std::map<int, int64_t>& marks, int64_t wall_ms);
  std::map<int, int64_t> ForwarderMarks(int task) const;
  // Of task `task`'s forwarders: those that hold its watermark now (the
  // lowest mark, or none yet), and those silent past the timeout, not
  // waited for any more (for the status page).
  struct ForwarderView {
    int source = 0;
    int64_t mark_ms = kNoWatermark;  // kForwarderIdle: idle
    int64_t silent_ms = 0;           // since its last mark
    bool vanished = false;           // silent past forwarder_timeout: not waited for
    bool doubted = false;            // an "idle" from it holds (this input resumed)
  };
  std::vector<ForwarderView> Forwarders(int task, int64_t wall_ms) const;

  // A stable small id for a partition name; the partition starts assigned.
  uint32_t Slot(const std::string& name);
  const std::string& Name(uint32_t slot) const { return parts_[slot].name; }

  void Observe(uint32_t slot, int64_t event_time_ms, int64_t wall_ms) {
    Partition& p = parts_[slot];
    p.last_record_wall_ms = wall_ms;
    if (p.idle || !p.assigned) {
      if (p.idle && !p.excluded) DoubtIdleForwarders(wall_ms);
      p.idle = false;
      p.assigned = true;  // a partition that delivers is assigned
      dirty_ = true;
    }
    if (event_time_ms > p.max_event_time_ms) {
      p.max_event_time_ms = event_time_ms;
      dirty_ = true;
    }
  }
  // Assignment changes (Kafka rebalances).
  void SetAssigned(uint32_t slot, bool assigned, int64_t wall_ms);
  // A partition whose records do not move the watermark, nor hold it (the
  // repartition topic's: its records hold it from where they were first
  // read, through SetCap).
  void Exclude(uint32_t slot) {
    parts_[slot].excluded = true;
    dirty_ = true;
  }
  // Whether Kafka holds records of the partition not delivered yet.
  void SetBehind(uint32_t slot, bool behind, int64_t wall_ms) {
    Partition& p = parts_[slot];
    if (behind && p.idle) {
      if (!p.excluded) DoubtIdleForwarders(wall_ms);
      p.idle = false;
      dirty_ = true;
    }
    p.behind = behind;
  }
  // Marks partitions idle whose last record is older than the idle timeout
  // and that are not behind; forwarders silent past their timeout vanish.
  void CheckIdle(int64_t wall_ms);

  int64_t current() {
    if (dirty_) Recompute();
    return current_;
  }
  // Task `task`'s watermark (without tasks: the overall one).
  int64_t task_current(int task) {
    if (dirty_) Recompute();
    return task_current_.empty() ? current_ : task_current_[static_cast<size_t>(task)];
  }
  // A task restored (its partitions' times come through Restore): its own
  // watermark as it was stored, wherever it ran.
  void RestoreTask(int task, int64_t watermark_ms) {
    task_current_[static_cast<size_t>(task)] = watermark_ms;
    dirty_ = true;
  }
  size_t idle_partitions() const;
  // Whether partition `name` is idle now (false: unknown or not idle).
  bool idle(const std::string& name) const {
    auto it = slots_.find(name);
    return it != slots_.end() && parts_[it->second].idle;
  }
  // Per topic ("topic/partition" names), wall time since the newest record
  // of any of its assigned partitions.
  std::map<std::string, int64_t> TopicSilence(int64_t wall_ms) const;
  // The assigned partition silent longest (wall time), and for how long;
  // {"", 0} when none is. Partitions in `delivering` (records in hand, not
  // observed yet) are not silent.
  std::pair<std::string, int64_t> LongestSilence(int64_t wall_ms,
                                                 const std::vector<uint32_t>& delivering) const;
  size_t size() const { return parts_.size(); }
  // The watermark stays behind `event_time_ms` (less the out-of-orderness)
  // whatever the partitions say: records on their way back from the
  // repartition topic (INT64_MAX: none).
  void SetCap(int64_t event_time_ms) {
    if (event_time_ms != cap_ms_) {
      cap_ms_ = event_time_ms;
      dirty_ = true;
    }
  }

  // For checkpoints: newest event time per partition name, and back.
  std::map<std::string, int64_t> Snapshot() const;
  void Restore(const std::map<std::string, int64_t>& max_times);

 private:
  struct Partition {
    std::string name;
    int64_t max_event_time_ms = kNoWatermark;
    int64_t last_record_wall_ms = 0;
    bool assigned = true;
    bool idle = false;
    bool behind = false;
    bool excluded = false;
    int task = -1;
  };
  struct Forwarder {
    int64_t mark_ms = kNoWatermark;
    int64_t heard_wall_ms = 0;
    bool stale = false;  // silent for kForwarderStaleMs: its "idle" no longer holds
    bool vanished = false;
    // For an idle timeout since this instance's input resumed or the task
    // started here: an "idle" from it holds the task.
    bool doubted = false;
    int64_t doubted_since_wall_ms = 0;
  };
  void DoubtIdleForwarders(int64_t wall_ms);
  void Recompute();
  void RecomputeTasks();
  // The lowest mark of task `task`'s forwarders: INT64_MAX when none holds
  // it, kNoWatermark when one was never heard of.
  int64_t ForwardersLow(size_t task) const;
  int64_t forwarder_timeout_ms_ = 0;
  std::vector<std::vector<Forwarder>> forwarders_;  // [receiving task][source task]
  std::vector<int64_t> low_;                        // (RecomputeTasks, reused)

  int64_t out_of_orderness_ms_;
  int64_t idle_timeout_ms_;
  std::vector<Partition> parts_;
  std::map<std::string, uint32_t> slots_;
  int64_t current_ = kNoWatermark;
  std::vector<int64_t> task_current_;  // by task (EnableTasks)
  int64_t cap_ms_ = INT64_MAX;
  bool dirty_ = false;
};

}  // namespace promowatch
