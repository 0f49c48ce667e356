// The engine's tasks by partition (EngineOptions::task_per_partition): a
// task's state is its windows, dedup ids, counters, the watermarks of its
// partitions and its input offsets, stored under "task-<p>/" with a
// position record, loaded when its partitions are assigned and forgotten
// when they go.

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "pipeline/decode/partitioner.h"
#include "pipeline/runtime/engine.h"
#include "pipeline/runtime/engine_meta.h"
#include "pipeline/runtime/task_state.h"
#include "pipeline/runtime/topic_partition.h"

namespace promowatch {
namespace {

constexpr std::string_view kTaskPositionTable = "task_position";
constexpr std::string_view kTaskPositionKey = "position";
constexpr std::string_view kMaxTimePrefix = "max_event_time/";
constexpr std::string_view kRepartitionedPrefix = "repartitioned_upto/";
constexpr std::string_view kTaskWatermark = "task_watermark";
constexpr std::string_view kForwarderMarkPrefix = "forwarder_mark/";
constexpr std::string_view kInputPartitioner = "input_partitioner";

// The partition of a "topic/partition" name, -1 for another name.
int PartitionOf(std::string_view name) {
  const auto tp = TopicPartition::Parse(name);
  return tp ? tp->partition : -1;
}

// A task's counters out of / into the engine's.
void Subtract(EngineCounters* from, const EngineCounters& c) {
  for (const EngineCounterField& f : kEngineCounterFields) {
    if (f.per_task) from->*f.member -= c.*f.member;
  }
  for (size_t r = 0; r < from->rejected.size(); ++r) from->rejected[r] -= c.rejected[r];
}

void Add(EngineCounters* to, const EngineCounters& c) {
  for (const EngineCounterField& f : kEngineCounterFields) {
    if (f.per_task) to->*f.member += c.*f.member;
  }
  for (size_t r = 0; r < to->rejected.size(); ++r) to->rejected[r] += c.rejected[r];
}

std::string RejectedKey(int reason) {
  return "rejected_" + std::string(RejectReasonName(static_cast<v1::RejectReason>(reason)));
}

}  // namespace

void StoreCounters(const EngineCounters& counters, v1::OperatorMeta* meta) {
  auto& c = *meta->mutable_counters();
  for (const EngineCounterField& f : kEngineCounterFields) {
    if (f.zero_stored || counters.*f.member != 0) c[f.name] = counters.*f.member;
  }
  for (int r = 0; r < kRejectReasonCount; ++r) {
    if (counters.rejected[r] != 0) c[RejectedKey(r)] = counters.rejected[r];
  }
}

EngineCounters LoadCounters(const v1::OperatorMeta& meta) {
  const auto& c = meta.counters();
  auto get = [&](const std::string& k) {
    auto it = c.find(k);
    return it == c.end() ? 0 : it->second;
  };
  EngineCounters counters;
  for (const EngineCounterField& f : kEngineCounterFields) counters.*f.member = get(f.name);
  for (int r = 0; r < kRejectReasonCount; ++r) counters.rejected[r] = get(RejectedKey(r));
  return counters;
}

std::vector<std::string> Engine::TaskTables() const {
  // (Every task has the same operators: task 0's tables are every task's.)
  std::vector<std::string> tables;
  ForEachTaskOperator(tasks_[0], [&](const Operator* op) {
    for (auto& t : op->StateTables()) tables.push_back(std::move(t));
  });
  tables.emplace_back(EventAdmission::kIdsTable);
  tables.emplace_back(kTaskPositionTable);
  return tables;
}

void Engine::ResetTask(int task) {
  Task& t = tasks_[static_cast<size_t>(task)];
  OperatorOptions task_options = options_.operators;
  task_options.emit_partial_updates = true;
  t.windows = std::make_unique<WindowOperator>(task_options, TaskSink(task));
  if (by_partition_) t.admission = std::make_unique<EventAdmission>(options_.operators);
  t.enricher = make_enricher_ ? make_enricher_(task) : nullptr;
  t.order = t.enricher ? std::make_unique<EventTimeOrder>() : nullptr;
  t.operators.clear();
  for (const TaskOperatorFactory& make : make_task_operators_) t.operators.push_back(make(task));
  t.reader.reset();
  t.counters = EngineCounters();
  t.live = false;
  t.in_commit = false;
}

void Engine::SetTaskResults(std::function<WindowResultSink*(int task)> sink_of) {
  task_results_ = std::move(sink_of);
  for (size_t t = 0; t < tasks_.size(); ++t) ResetTask(static_cast<int>(t));
}

void Engine::SetTaskEnricher(EnricherFactory make) {
  make_enricher_ = std::move(make);
  for (size_t t = 0; t < tasks_.size(); ++t) ResetTask(static_cast<int>(t));
}

void Engine::AddTaskOperator(TaskOperatorFactory make) {
  make_task_operators_.push_back(std::move(make));
  for (size_t t = 0; t < tasks_.size(); ++t) ResetTask(static_cast<int>(t));
}

void Engine::ProcessTask(int task, std::span<const RawRecord> batch, std::string_view source,
                         const InputFormat& format) {
  current_task_ = task;
  auto census = placement_.find(source);
  if (census == placement_.end())
    census = placement_.emplace(std::string(source), PlacementCensus()).first;
  census_ = &census->second;
  const EngineCounters before = counters_;
  defer_watermark_ = true;
  Process(batch, source, format);
  defer_watermark_ = false;
  // What this batch counted is the task's: its counters move with it.
  EngineCounters delta = counters_;
  Subtract(&delta, before);
  Add(&tasks_[static_cast<size_t>(task)].counters, delta);
}

bool Engine::Forwarded(const EventRecord& rec, const RawRecord& raw, std::string_view source,
                       int64_t wall_ms) {
  // By user; an event without one (spend) by its event id: every copy of
  // an event meets in one task, where it is counted once.
  const std::string& key = rec.user_id.empty() ? rec.event_id : rec.user_id;
  const auto tasks = static_cast<int32_t>(tasks_.size());
  int32_t home = current_task_;
  for (const auto& [name, p] : kInputPartitionerNames) {
    const int32_t there = PartitionOfKey(key, tasks, p);
    census_->matched[static_cast<size_t>(p)] += there == current_task_ ? 1 : 0;
    if (p == options_.input_partitioner) home = there;
  }
  ++census_->checked;
  if (home == current_task_) return false;
  if (!forwarder_->Forward(home, key, raw, source)) {
    // Too large to forward (kafka.max_record_bytes): kept, never retried.
    ++counters_.rejected[v1::REJECT_REASON_RECORD_TOO_LARGE];
    if (dead_letters_ != nullptr) {
      dead_letters_->Keep(raw, source, RejectReasonName(v1::REJECT_REASON_RECORD_TOO_LARGE),
                          fmt::format("a record of {} bytes is not in the partition of its user "
                                      "and too large to forward to it (kafka.max_record_bytes): "
                                      "send records under it, or key them by user id",
                                      raw.bytes.size()));
    }
    return true;
  }
  --counters_.read;
  ++counters_.repartitioned;
  // Its partition delivered it: that partition's time moves on (the record
  // itself holds the watermark until it is back, below).
  watermark_.Observe(raw.partition, rec.event_time_ms, wall_ms);
  if (tasks_[static_cast<size_t>(home)].live) {
    // (A task elsewhere reads it on its own watermark.)
    const auto [it, inserted] =
        in_flight_.try_emplace(fmt::format("{}/{}@{}", source, raw.source_partition, raw.offset),
                               InFlight{rec.event_time_ms, home});
    if (inserted) {
      in_flight_times_.insert(rec.event_time_ms);
      CapWatermark();
    }
  }
  return true;
}

void Engine::Arrived(const RawRecord& raw, std::string_view source) {
  auto it = in_flight_.find(fmt::format("{}/{}@{}", source, raw.source_partition, raw.offset));
  if (it == in_flight_.end()) return;
  in_flight_times_.erase(in_flight_times_.find(it->second.event_time_ms));
  in_flight_.erase(it);
  CapWatermark();
}

void Engine::CapWatermark() {
  watermark_.SetCap(in_flight_times_.empty() ? INT64_MAX : *in_flight_times_.begin());
}

void Engine::TasksOnWatermark(int64_t watermark_ms) {
  if (!by_partition_) {
    admission_.OnWatermark(watermark_ms);
    ReleaseOrdered(0, watermark_ms);  // (before the windows fire at it)
    return;
  }
  // Each task on its own watermark: its dedup ids, its enrichment's timers
  // (its windows: WindowsOnWatermark).
  for (size_t t = 0; t < tasks_.size(); ++t) {
    Task& task = tasks_[t];
    if (!task.live) continue;
    const int64_t wm = watermark_.task_current(static_cast<int>(t));
    task.admission->OnWatermark(wm);
    ReleaseOrdered(static_cast<int>(t), wm);  // (before its timers and windows)
    if (task.enricher) task.enricher->OnWatermark(wm);
    for (auto& op : task.operators) op->OnWatermark(wm);
  }
}

void Engine::SnapshotTasks(RocksStateBackend::Batch& batch, const SourcePosition& position,
                           TaskCheckpointer* tasks) {
  const std::map<std::string, int64_t> max_times = watermark_.Snapshot();
  for (size_t t = 0; t < tasks_.size(); ++t) {
    const int task = static_cast<int>(t);
    Task& slot = tasks_[t];
    if (!slot.live || (tasks != nullptr && !tasks->Owned(task))) continue;
    TaskPosition where;
    v1::OperatorMeta meta;
    StoreCounters(slot.counters, &meta);
    for (const auto& [name, time] : max_times) {
      if (PartitionOf(name) != task) continue;
      (*meta.mutable_counters())[std::string(kMaxTimePrefix) + name] = time;
      where.watermark_ms =
          where.watermark_ms == kNoWatermark ? time : std::min(where.watermark_ms, time);
    }
    for (const auto& [name, next] : position.offsets) {
      if (PartitionOf(name) == task) where.offsets[name] = next;
    }
    if (t < position.repartitioned_upto.size()) {
      for (const auto& [name, upto] : position.repartitioned_upto[t])
        (*meta.mutable_counters())[std::string(kRepartitionedPrefix) + name] = upto;
    }
    StateWriter* also = tasks != nullptr ? tasks->Also(task, &where) : nullptr;
    TaskStateWriter local(&batch, task);
    TeeStateWriter out(&local, also);
    ForEachTaskOperator(slot, [&](Operator* op) { op->Snapshot(out); });
    slot.admission->Snapshot(out);
    slot.in_commit = true;
    (*meta.mutable_counters())["changelog_sequence"] = where.sequence;
    (*meta.mutable_counters())["changelog_generation"] = where.generation;
    for (const auto& [name, next] : where.offsets) (*meta.mutable_source_offsets())[name] = next;
    meta.set_watermark_ms(where.watermark_ms);
    (*meta.mutable_counters())[std::string(kTaskWatermark)] = watermark_.task_current(task);
    (*meta.mutable_counters())[std::string(kInputPartitioner)] =
        static_cast<int64_t>(options_.input_partitioner);
    for (const auto& [source, mark] : watermark_.ForwarderMarks(task))
      (*meta.mutable_counters())[fmt::format("{}{}", kForwarderMarkPrefix, source)] = mark;
    out.Put(kTaskPositionTable, kTaskPositionKey, meta.SerializeAsString());
  }
}

// The task's position record: false when it was never checkpointed.
absl::StatusOr<bool> Engine::ReadTaskMeta(int task, v1::OperatorMeta* meta,
                                          TaskPosition* position) const {
  *position = TaskPosition();
  if (backend_ == nullptr) return false;
  std::string bytes;
  absl::Status s =
      TaskStateReader(backend_, task).Get(kTaskPositionTable, kTaskPositionKey, &bytes);
  if (absl::IsNotFound(s)) return false;
  if (!s.ok()) return s;
  if (!meta->ParseFromString(bytes)) {
    return absl::DataLossError("task " + std::to_string(task) + "'s task_position: undecodable");
  }
  const auto& c = meta->counters();
  if (auto it = c.find("changelog_sequence"); it != c.end()) position->sequence = it->second;
  if (auto it = c.find("changelog_generation"); it != c.end()) position->generation = it->second;
  for (const auto& [name, next] : meta->source_offsets()) position->offsets[name] = next;
  for (const auto& [k, v] : c) {
    if (k.rfind(kRepartitionedPrefix, 0) == 0)
      position->repartitioned_upto[k.substr(kRepartitionedPrefix.size())] = v;
  }
  position->watermark_ms = meta->watermark_ms();
  return true;
}

absl::Status Engine::ReadTaskPosition(int task, TaskPosition* position) const {
  v1::OperatorMeta meta;
  return ReadTaskMeta(task, &meta, position).status();
}

absl::Status Engine::RestoreTask(int task, TaskPosition* position) {
  const size_t t = static_cast<size_t>(task);
  DropTask(task);
  Task& slot = tasks_[t];
  slot.live = true;
  v1::OperatorMeta meta;
  auto found = ReadTaskMeta(task, &meta, position);
  if (!found.ok()) return found.status();
  watermark_.RestoreTask(task, kNoWatermark);
  // What its forwarders said, as of its repartition offset (none: a new
  // task waits for every forwarder's first mark).
  std::map<int, int64_t> marks;
  if (*found) {
    for (const auto& [k, v] : meta.counters()) {
      if (k.rfind(kForwarderMarkPrefix, 0) == 0)
        marks[std::atoi(k.c_str() + kForwarderMarkPrefix.size())] = v;
    }
  }
  watermark_.RestoreForwarderMarks(task, marks, wall_clock_ms_());
  // Its users are those of its partitioner: another one would split them.
  if (auto it = meta.counters().find(std::string(kInputPartitioner));
      *found && it != meta.counters().end() &&
      it->second != static_cast<int64_t>(options_.input_partitioner)) {
    const auto was = it->second == static_cast<int64_t>(InputPartitioner::kConsistent)
                         ? InputPartitioner::kConsistent
                         : InputPartitioner::kMurmur2;
    return absl::FailedPreconditionError(fmt::format(
        "task {}'s state was built with kafka.input_partitioner: {}, this run has {}: its users "
        "would be split between tasks. Keep {}, or start afresh under the new setting (a new "
        "kafka.group, empty state directories and new changelog, repartition and partials "
        "topics; docs/operations.md, 'Keying producers')",
        task, InputPartitionerName(was), InputPartitionerName(options_.input_partitioner),
        InputPartitionerName(was)));
  }
  if (backend_ != nullptr) {
    // Its operators, each through the task's view of the state (a new task
    // reads nothing: its tables hold no key of its prefix). The reader
    // stays: state larger than memory is read when needed.
    slot.reader = std::make_unique<TaskStateReader>(backend_, task);
    absl::Status restored;
    ForEachTaskOperator(slot, [&](Operator* op) {
      if (restored.ok()) restored = op->Restore(*slot.reader);
    });
    if (!restored.ok()) return restored;
    if (absl::Status s = slot.admission->Restore(*slot.reader); !s.ok()) return s;
  }
  if (!*found) return absl::OkStatus();  // a new task
  slot.counters = LoadCounters(meta);
  slot.counters.checkpoints = 0;
  Add(&counters_, slot.counters);
  std::map<std::string, int64_t> max_times;
  for (const auto& [k, v] : meta.counters()) {
    if (k.rfind(kMaxTimePrefix, 0) == 0) max_times[k.substr(kMaxTimePrefix.size())] = v;
  }
  watermark_.Restore(max_times);
  if (auto it = meta.counters().find(std::string(kTaskWatermark)); it != meta.counters().end())
    watermark_.RestoreTask(task, it->second);
  return absl::OkStatus();
}

void Engine::DropTask(int task) {
  // A commit in flight may still be writing what the task's operators
  // left to it (StateWriter::Defer): it ends before they go.
  (void)WaitForCommit();
  Task& slot = tasks_[static_cast<size_t>(task)];
  Subtract(&counters_, slot.counters);
  ForEachTaskOperator(slot, [](Operator* op) { op->Close(); });
  ResetTask(task);
  // What was on its way to the task is now its next owner's to wait for.
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    if (it->second.task == task) {
      in_flight_times_.erase(in_flight_times_.find(it->second.event_time_ms));
      in_flight_.erase(it++);
    } else {
      ++it;
    }
  }
  CapWatermark();
}

}  // namespace promowatch
