#include "pipeline/live/task_owner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "pipeline/runtime/clock.h"
#include "pipeline/runtime/task_state.h"

namespace promowatch {
namespace {
constexpr int kMetadataTimeoutMs = 10'000;
// A checkpoint's changelog records wait this long for Kafka (in the
// background: the loop keeps fetching): a broker outage up to about two
// minutes is survived; past it the checkpoint fails and the run stops, to
// resume from the last durable checkpoint.
constexpr int kAppendTimeoutMs = 120'000;
constexpr int kRestoreTimeoutMs = 10 * 60'000;
}  // namespace

absl::StatusOr<std::unique_ptr<TaskOwner>> TaskOwner::Open(const KafkaOptions& kafka,
                                                           int64_t snapshot_bytes,
                                                           TaskProbe* probe) {
  std::unique_ptr<TaskOwner> owner(new TaskOwner());
  auto changelog = ChangelogTopic::Open(kafka, kafka.changelog_topic);
  if (!changelog.ok()) return changelog.status();
  owner->changelog_ = std::move(*changelog);
  owner->topic_ = kafka.changelog_topic;
  owner->snapshot_bytes_ = snapshot_bytes;
  owner->probe_ = probe;
  std::string counts;
  for (const std::string& topic : kafka.input_topics) {
    auto n = owner->changelog_->PartitionCount(topic, kMetadataTimeoutMs);
    if (!n.ok()) return n.status();
    if (*n == 0) {
      return absl::FailedPreconditionError("input topic " + topic +
                                           " does not exist: create it (every input topic with "
                                           "the same partition count), or fix kafka.topics.inputs");
    }
    counts += (counts.empty() ? "" : ", ") + topic + "=" + std::to_string(*n);
    if (owner->tasks_ == 0) owner->tasks_ = *n;
    if (*n != owner->tasks_) owner->tasks_ = -1;
  }
  if (owner->tasks_ <= 0) {
    return absl::FailedPreconditionError(
        "the input topics are not co-partitioned (" + counts +
        "): task p reads partition p of every input, so every input topic needs the same "
        "partition count (add partitions to the smaller ones, with producers keyed by user id)");
  }
  // Task p also takes partition p of these (forwarded records; its global task).
  for (const auto& [topic, key] : {std::pair{kafka.repartition_topic, "repartition"},
                                   std::pair{kafka.partials_topic, "partials"}}) {
    auto r = owner->changelog_->PartitionCount(topic, kMetadataTimeoutMs);
    if (!r.ok()) return r.status();
    if (*r != owner->tasks_) {
      return absl::FailedPreconditionError(
          "the " + std::string(key) + " topic " + topic + " has " + std::to_string(*r) +
          " partitions, the inputs " + std::to_string(owner->tasks_) + " (" + counts +
          "): create it with as many (kafka-topics --create --topic " + topic + " --partitions " +
          std::to_string(owner->tasks_) + "), or set kafka.topics." + key);
    }
  }
  auto n = owner->changelog_->PartitionCount(kafka.changelog_topic, kMetadataTimeoutMs);
  if (!n.ok()) return n.status();
  if (*n < owner->tasks_) {
    return absl::FailedPreconditionError(
        "the changelog topic " + kafka.changelog_topic + " has " + std::to_string(*n) +
        " partitions, the inputs " + std::to_string(owner->tasks_) + " (" + counts +
        "): create it with one partition per task (kafka-topics --create --topic " +
        kafka.changelog_topic + " --partitions " + std::to_string(owner->tasks_) +
        "), or set kafka.topics.changelog");
  }
  owner->state_.resize(static_cast<size_t>(owner->tasks_));
  return owner;
}

TaskOwner::~TaskOwner() = default;

int TaskOwner::owned() const {
  return static_cast<int>(
      std::count_if(state_.begin(), state_.end(), [](const Task& t) { return t.owned; }));
}

bool TaskOwner::Owned(int task) const {
  return task >= 0 && task < tasks_ && state_[static_cast<size_t>(task)].owned;
}

absl::Status TaskOwner::Assign(int task, Engine& engine, RocksStateBackend& backend,
                               TaskPosition* position) {
  backend_ = &backend;
  tables_ = engine.TaskTables();
  Task& t = state_[static_cast<size_t>(task)];
  TaskPosition local;
  if (auto s = engine.ReadTaskPosition(task, &local); !s.ok()) return s;
  auto last = changelog_->LastCommit(task, kMetadataTimeoutMs);
  if (!last.ok()) return last.status();
  int64_t generation = local.generation;
  int64_t sequence = local.sequence;
  const bool at_once = !t.rebuild && last->has_value() &&
                       ((*last)->sequence == 0 || ((*last)->sequence == local.sequence &&
                                                   (*last)->generation == local.generation));
  // One batch ahead: typically this instance's own, appended just before
  // it crashed and before its local commit. The local copy is a consistent
  // state too (its offsets with it: the records after them are read again)
  // and the one the instance's other state (profiles, alerts, merged
  // windows) goes with; the batch is superseded by the full batch this
  // ownership starts with.
  const bool own_unfinished = !t.rebuild && last->has_value() && local.sequence > 0 &&
                              (*last)->sequence == local.sequence + 1;
  if (own_unfinished) {
    generation = std::max(generation, (*last)->generation);
    probe_->TaskStartedFromLocal();
    spdlog::info(
        "msg=\"task starts from its local state; the changelog's last batch (written before a "
        "crash, never committed here) is superseded\" task={} sequence={}",
        task, local.sequence);
  } else if (at_once) {
    if (last->has_value()) generation = std::max(generation, (*last)->generation);
    probe_->TaskStartedFromLocal();
    spdlog::info("msg=\"task starts from its local state\" task={} sequence={}", task,
                 local.sequence);
  } else {
    // Rebuilt into one batch of the local state: committed whole, or not at all.
    const auto start = MonotonicNow();
    auto batch = backend.NewBatch();
    TaskStateWriter out(batch.get(), task);
    ChangelogRestorer restorer(task, tables_, &out);
    spdlog::info(
        "msg=\"task restore from changelog\" task={} topic={} local_sequence={} "
        "changelog_sequence={}",
        task, topic_, local.sequence,
        last->has_value() ? std::to_string((*last)->sequence) : std::string("unknown"));
    auto read = changelog_->Read(task, &restorer, kRestoreTimeoutMs, [&](int64_t n, int64_t of) {
      probe_->SetRestoreRemaining(of - n);
      spdlog::info("msg=\"task restore progress\" task={} read={} of={}", task, n, of);
    });
    probe_->SetRestoreRemaining(0);
    if (!read.ok()) return read.status();
    auto restored = restorer.Finish();
    if (!restored.ok()) return restored.status();
    generation = std::max(generation, restorer.next_generation() - 1);
    if (restored->sequence > 0) {
      if (auto s = backend.Commit(*batch); !s.ok()) return s;
      sequence = restored->sequence;
    }
    const double seconds = std::chrono::duration<double>(MonotonicNow() - start).count();
    probe_->TaskRestored(*read, seconds);
    spdlog::info(
        "msg=\"task restored from changelog\" task={} records={} batches_applied={} "
        "batches_ignored={} sequence={} seconds={:.3f}",
        task, *read, restorer.batches_applied(), restorer.batches_ignored(), restored->sequence,
        seconds);
  }
  if (auto s = engine.RestoreTask(task, position); !s.ok()) return s;
  // A new ownership: a generation no earlier owner wrote, starting with a full batch.
  t.owned = true;
  t.rebuild = false;
  t.generation = generation + 1;
  t.sequence = sequence;
  t.next_full = true;
  t.bytes_since_full = 0;
  probe_->SetTasksOwned(owned());
  return absl::OkStatus();
}

void TaskOwner::Revoke(int task, Engine& engine, bool rebuild_next_time) {
  state_[static_cast<size_t>(task)].owned = false;
  if (rebuild_next_time) state_[static_cast<size_t>(task)].rebuild = true;
  engine.DropTask(task);
  probe_->SetTasksOwned(owned());
}

StateWriter* TaskOwner::Also(int task, TaskPosition* position) {
  Task& t = state_[static_cast<size_t>(task)];
  position->sequence = t.sequence + 1;
  position->generation = t.generation;
  Pending& p = pending_.emplace_back();
  p.task = task;
  p.position = *position;
  p.state = std::make_unique<TaskStateReader>(backend_, task);
  p.writer = std::make_unique<ChangelogBatchWriter>(task, t.generation, t.sequence + 1, t.next_full,
                                                    p.state.get());
  if (t.next_full) {
    // The local state as of the last checkpoint, then this one's writes.
    if (auto s = p.writer->PutAll(*p.state, tables_); !s.ok()) {
      spdlog::error("msg=\"changelog full batch cannot read the local state\" task={} error=\"{}\"",
                    task, std::string(s.message()));
    }
  }
  t.sequence += 1;
  return p.writer.get();
}

absl::Status TaskOwner::BeforeCommit() {
  absl::Status status;
  for (Pending& p : pending_) {
    if (!status.ok()) break;
    Task& t = state_[static_cast<size_t>(p.task)];
    const bool full = t.next_full;
    const std::vector<ChangelogRecord> records =
        p.writer->Finish(p.position.offsets, p.position.watermark_ms);
    int64_t bytes = 0;
    for (const ChangelogRecord& r : records)
      bytes += static_cast<int64_t>(r.key.size() + (r.value ? r.value->size() : 0));
    status = changelog_->Append(p.task, records, kAppendTimeoutMs);
    if (!status.ok()) break;
    probe_->ChangelogAppended(static_cast<int64_t>(records.size()), bytes);
    if (full) t.last_full_bytes = bytes;
    t.bytes_since_full = full ? 0 : t.bytes_since_full + bytes;
    t.next_full = NextBatchFull(t.bytes_since_full, t.last_full_bytes, snapshot_bytes_);
  }
  pending_.clear();
  return status;
}

}  // namespace promowatch
