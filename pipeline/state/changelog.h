#pragma once
// A task's changelog: every checkpoint of a task, written to partition
// `task` of the changelog topic, so that the task's state can be rebuilt
// wherever the task lands (Kafka Streams' changelog topics). This file is
// the format and its rules, with no Kafka in sight; io/ carries the records.
//
// One checkpoint is one batch of records, all carrying the batch's owner
// generation and sequence:
//   begin    key "b", value ChangelogFrame (task, sequence, generation, full)
//   writes   key "w" table "\0" key, value the state value, or a tombstone
//            (null value) for a delete; a range delete becomes the deletes
//            of the keys it covers (what compaction would need)
//   commit   key "c", value ChangelogFrame (writes, input offsets, watermark)
// Restore reads the partition from the earliest record Kafka holds and
// applies, in order, the batches that are complete (begin, every write,
// commit) and in force:
// - atomic without Kafka transactions: a batch without its commit (the
//   owner died while writing it) is ignored;
// - fencing: an owner takes generation = 1 + the highest in the changelog
//   and starts with a full batch; a batch of an older generation committed
//   after a newer one was seen (a zombie: an owner that was kicked out and
//   still writes) is ignored;
// - bounded: a full batch (a snapshot of every key) resets the state, so
//   the changelog may forget everything before the newest full batch
//   (cleanup.policy=delete with retention, or the embedded cluster's 5 MiB);
//   a writer takes one when its increments since the last outgrow a bound;
// - no silent loss: sequences after the newest full batch must follow each
//   other; a hole, or no full batch at all, is an error naming what is
//   missing, never a restore from partial state.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "operators/state.h"

namespace promowatch {

// One record of a changelog partition, as Kafka carries it.
struct ChangelogRecord {
  std::string key;
  std::optional<std::string> value;  // nullopt: a tombstone
  // Also in the Kafka record's headers, for tools.
  int64_t generation = 0;
  int64_t sequence = 0;
};

// Where a task's state stands after a checkpoint or a restore.
struct ChangelogPosition {
  int64_t sequence = 0;  // 0: nothing committed
  int64_t generation = 0;
  std::map<std::string, int64_t> offsets;
  int64_t watermark_ms = 0;
};

// Where a commit record says its batch left the state; nullopt for a
// record that is not a readable commit.
std::optional<ChangelogPosition> ParseCommit(const ChangelogRecord& record);

// The records of one checkpoint of one task. Use as the StateWriter the
// operators snapshot into (next to the local state's batch), then Finish.
class ChangelogBatchWriter final : public StateWriter {
 public:
  // `state`: the task's state as of the previous checkpoint, to expand range
  // deletes (and full batches) from; it must outlive the writer.
  ChangelogBatchWriter(int32_t task, int64_t generation, int64_t sequence, bool full,
                       const StateReader* state);

  void Put(std::string_view table, std::string_view key, std::string_view value) override;
  void Delete(std::string_view table, std::string_view key) override;
  void DeleteRange(std::string_view table, std::string_view begin, std::string_view end) override;
  // A full batch: every key of `tables` in `state` as of now (call first).
  absl::Status PutAll(const StateReader& state, const std::vector<std::string>& tables);

  // The batch, framed: begin, the writes in order, commit.
  std::vector<ChangelogRecord> Finish(const std::map<std::string, int64_t>& offsets,
                                      int64_t watermark_ms);
  int64_t writes() const { return writes_; }

 private:
  void Write(std::string_view table, std::string_view key, std::optional<std::string_view> value);

  int32_t task_;
  int64_t generation_;
  int64_t sequence_;
  bool full_;
  const StateReader* state_;
  std::vector<ChangelogRecord> records_;
  int64_t writes_ = 0;
};

// Rebuilds a task's state from its changelog partition.
class ChangelogRestorer {
 public:
  // Applies what it accepts to `out` (an empty state of the task's
  // `tables`) as it goes; `out` must outlive the restorer.
  ChangelogRestorer(int32_t task, std::vector<std::string> tables, StateWriter* out);

  // The next record of the partition, in offset order.
  absl::Status Add(const ChangelogRecord& record);
  // After the last record: where the restored state stands, or why it
  // cannot be restored.
  absl::StatusOr<ChangelogPosition> Finish() const;

  // The generation a new owner takes.
  int64_t next_generation() const { return max_generation_ + 1; }
  int64_t batches_applied() const { return applied_; }
  int64_t batches_ignored() const { return ignored_; }

 private:
  struct Pending {
    bool full = false;
    std::vector<ChangelogRecord> writes;
  };
  void Apply(const Pending& batch);

  int32_t task_;
  std::vector<std::string> tables_;
  StateWriter* out_;
  std::map<std::pair<int64_t, int64_t>, Pending> open_;  // (generation, sequence) -> batch
  int64_t max_generation_ = 0;
  int64_t accepted_generation_ = 0;
  bool based_ = false;               // a full batch was applied: increments may follow
  std::optional<std::string> hole_;  // why the state after the last full batch is incomplete
  ChangelogPosition position_;
  int64_t applied_ = 0;
  int64_t ignored_ = 0;
  int64_t first_seen_sequence_ = 0;
};

}  // namespace promowatch
