#pragma once
// What the tasks of an instance measure (live/task_owner.h): how many run
// here, how each was started (from its local copy or its changelog), the
// restores' records and time (and what is left of the one under way), and
// what checkpoints append to the changelog.

#include <cstdint>
#include <string_view>

#include "pipeline/serve/prometheus_fwd.h"

namespace promowatch {

class TaskProbe {
 public:
  explicit TaskProbe(prometheus::Registry& registry);

  void SetTasksOwned(int tasks);
  // A task started from its local state at the changelog's last commit.
  void TaskStartedFromLocal();
  // A task rebuilt from its changelog: `records` read in `seconds`.
  void TaskRestored(int64_t records, double seconds);
  // Progress of the restore under way: records still to read.
  void SetRestoreRemaining(int64_t records);
  void ChangelogAppended(int64_t records, int64_t bytes);
  // Read back for the status page (any thread).
  int64_t restore_remaining() const;
  int64_t changelog_records() const;
  int64_t changelog_bytes() const;
  // What a task's records came to, as its state holds it (it follows the
  // task: summed over the instances of a group, every record once);
  // zeros for a task that is not here.
  void SetTaskRecords(int task, int64_t read, int64_t accepted, int64_t duplicates, int64_t late,
                      int64_t rejected);
  // The global stage (live/global_stage.h): global tasks here, the lowest
  // of their watermarks (windows ending before it are published; 0: none),
  // those whose rules are not judged (a source task's inputs incomplete, or
  // the source silent), partials sent and dropped, partitions given up in
  // rebalances.
  void SetGlobalTasks(int owned, int64_t watermark_ms, int incomplete);
  void SetPartials(int64_t sent, int64_t rejected);
  void PartitionsRevoked(int64_t n);

 private:
  prometheus::Gauge* owned_;
  prometheus::Counter* started_local_;
  prometheus::Counter* started_changelog_;
  prometheus::Counter* restore_records_;
  prometheus::Histogram* restore_seconds_;
  prometheus::Gauge* restore_remaining_;
  prometheus::Counter* changelog_records_;
  prometheus::Counter* changelog_bytes_;
  prometheus::Family<prometheus::Gauge>* task_records_;
  prometheus::Gauge* global_owned_;
  prometheus::Gauge* global_watermark_;
  prometheus::Gauge* global_incomplete_;
  prometheus::Counter* partials_sent_;
  prometheus::Counter* partials_rejected_;
  prometheus::Counter* revoked_;
};

}  // namespace promowatch
