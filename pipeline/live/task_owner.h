#pragma once
// The tasks of one instance (Kafka Streams' tasks): task p is partition p of
// every input topic, co-partitioned (checked at start). Which tasks run here
// follows the group's assignment; each task's checkpoint also goes to
// partition p of the changelog topic (state/changelog.h: its writes, then a
// commit with the task's sequence, owner generation, input offsets and
// watermark), appended and acknowledged before the local state commits, so
// no local copy is ever ahead of its changelog.
//
// A task assigned here starts from its local copy at once when that copy is
// at the changelog's last commit (read from the partition's last record);
// otherwise it is rebuilt from the changelog first (progress in the log and
// promowatch_task_restore_*), and a changelog that cannot rebuild it (Kafka
// no longer holds a batch it needs) stops the instance with an error naming
// the gap. Each ownership takes a new generation (one more than any seen)
// and begins with a full batch, so a zombie's later writes (an older
// generation) are ignored and the changelog may drop what came before;
// later full batches follow when the increments since the last outgrow
// `snapshot_bytes` or a quarter of the last full batch, whichever is larger
// (NextBatchFull): the changelog's growth stays bounded under
// cleanup.policy=delete (within the embedded cluster's 5 MiB for tasks up
// to 4 MiB), and a large task does not rewrite its whole state every few
// checkpoints - a full batch costs at most four times the increments it
// follows.

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/config/config.h"
#include "pipeline/io/changelog_topic.h"
#include "pipeline/runtime/engine.h"
#include "pipeline/serve/task_probe.h"
#include "pipeline/state/rocksdb_state.h"

namespace promowatch {

// Whether a task's next changelog batch is a full one, after
// `since_full` bytes of increments since its last full batch of
// `last_full` bytes (see above).
inline bool NextBatchFull(int64_t since_full, int64_t last_full, int64_t snapshot_bytes) {
  return since_full > std::max(snapshot_bytes, last_full / 4);
}

class TaskOwner final : public TaskCheckpointer {
 public:
  // Opens the changelog and checks the inputs are co-partitioned and the
  // changelog has a partition per task.
  static absl::StatusOr<std::unique_ptr<TaskOwner>> Open(const KafkaOptions& kafka,
                                                         int64_t snapshot_bytes, TaskProbe* probe);
  ~TaskOwner() override;

  // The partition count of the inputs.
  int tasks() const { return tasks_; }
  // Task `task`'s partitions were assigned here: loads it into `engine`
  // (from the local copy in `backend`, or rebuilt from the changelog) and
  // returns its position (the offsets to seek to). An error means the task
  // cannot start.
  absl::Status Assign(int task, Engine& engine, RocksStateBackend& backend, TaskPosition* position);
  // Task `task` went elsewhere (after its last checkpoint here). With
  // `rebuild_next_time` (it was lost: this member was out of the group), its
  // local copy is not trusted when it comes back: a write of this member
  // after the new owner's could be the changelog's last record.
  void Revoke(int task, Engine& engine, bool rebuild_next_time);
  int owned() const;

  bool Owned(int task) const override;
  StateWriter* Also(int task, TaskPosition* position) override;
  absl::Status BeforeCommit() override;

 private:
  TaskOwner() = default;
  struct Task {
    bool owned = false;
    int64_t generation = 0;
    int64_t sequence = 0;  // of the last batch handed to the changelog
    bool next_full = true;
    bool rebuild = false;  // lost while owned: restore from the changelog
    int64_t bytes_since_full = 0;
    int64_t last_full_bytes = 0;
  };
  // One checkpoint's batch of one task, until BeforeCommit appends it.
  struct Pending {
    int task = 0;
    TaskPosition position;
    std::unique_ptr<StateReader> state;
    std::unique_ptr<ChangelogBatchWriter> writer;
  };

  std::unique_ptr<ChangelogTopic> changelog_;
  std::string topic_;
  int tasks_ = 0;
  int64_t snapshot_bytes_ = 0;
  TaskProbe* probe_ = nullptr;
  RocksStateBackend* backend_ = nullptr;
  std::vector<std::string> tables_;
  std::vector<Task> state_;
  std::vector<Pending> pending_;
};

}  // namespace promowatch
