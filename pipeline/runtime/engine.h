#pragma once
// The runtime core shared by every command: raw records in, through decode +
// validate, admission (lateness, dedup) and the operators, with event-time
// watermarks and checkpoints of all state (plus the caller's source offsets)
// in one RocksDB WriteBatch.
//
//   source --raw records--> Engine::Process --> decode/validate --rejected--> dead letters
//                                                 |
//                                              admission --late--> late sink
//                                                 |            (duplicates: counted)
//                                              operators --results--> WindowResultSink
//
// Threading: one Engine per pipeline thread; nothing here is shared.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "operators/admission.h"
#include "operators/event_order.h"
#include "operators/operator.h"
#include "operators/partial_merge.h"
#include "operators/window_operator.h"
#include "pipeline/config/config.h"
#include "pipeline/decode/decode.h"
#include "pipeline/decode/partitioner.h"
#include "pipeline/runtime/clock.h"
#include "pipeline/runtime/watermarks.h"
#include "pipeline/state/rocksdb_state.h"

namespace promowatch {
namespace v1 {
class OperatorMeta;
}  // namespace v1

// One input record as it arrived, with where it came from.
struct RawRecord {
  std::string_view bytes;
  int64_t offset = 0;             // byte offset in a file, or Kafka offset
  uint32_t partition = 0;         // watermark slot (WatermarkTracker::Slot); 0 for a file
  int32_t source_partition = -1;  // Kafka partition, -1 for a file
  // Read back from the repartition topic: offset and partition are those of
  // where it was first read (task_per_partition).
  bool forwarded = false;
};

// Keeps records that were not counted, with their original bytes.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual void Keep(const RawRecord& record, std::string_view source, std::string_view reason,
                    std::string_view detail) = 0;
};

struct EngineCounters {
  int64_t read = 0;
  int64_t accepted = 0;
  int64_t duplicates = 0;
  int64_t late = 0;
  std::array<int64_t, kRejectReasonCount> rejected{};
  int64_t checkpoints = 0;
  // Forwarded to the task of their user (not counted as read here: they
  // are when that task reads them).
  int64_t repartitioned = 0;

  int64_t rejected_total() const {
    int64_t n = 0;
    for (int64_t v : rejected) n += v;
    return n;
  }
};

// The counters above but `rejected` (stored as rejected_<reason>), by the
// names checkpoints store them under. `per_task`: a task's own, moved with
// it; `zero_stored`: written even when 0.
struct EngineCounterField {
  const char* name;
  int64_t EngineCounters::*member;
  bool per_task;
  bool zero_stored;
};
inline constexpr EngineCounterField kEngineCounterFields[] = {
    {"read", &EngineCounters::read, true, true},
    {"accepted", &EngineCounters::accepted, true, true},
    {"duplicates", &EngineCounters::duplicates, true, true},
    {"late", &EngineCounters::late, true, true},
    {"checkpoints", &EngineCounters::checkpoints, false, true},
    {"repartitioned", &EngineCounters::repartitioned, true, false},
};

// Of the records a topic delivered (task_per_partition): how many sit in
// the partition each partitioner gives their user id (spend: event id) -
// which partitioner the producers use (kafka.input_partitioner).
struct PlacementCensus {
  int64_t checked = 0;
  std::array<int64_t, std::size(kInputPartitionerNames)> matched{};  // by InputPartitioner
  double ratio(InputPartitioner p) const {
    return checked == 0 ? 0.0
                        : static_cast<double>(matched[static_cast<size_t>(p)]) /
                              static_cast<double>(checked);
  }
};

// Where records that are not in the partition of their user go
// (task_per_partition): to partition `partition` of the repartition topic,
// keyed by the user id, with their origin.
class RecordForwarder {
 public:
  virtual ~RecordForwarder() = default;
  // False when the record cannot go (larger than a Kafka record may be):
  // the caller dead-letters it.
  virtual bool Forward(int32_t partition, std::string_view key, const RawRecord& record,
                       std::string_view source) = 0;
};

// What a checkpoint stored about the sources, returned by Restore.
struct SourcePosition {
  std::string fingerprint;
  std::map<std::string, int64_t> offsets;
  // task_per_partition, by task: of each input partition, the last offset
  // whose forwarded record the task took from the repartition topic (a
  // record forwarded twice, by a sender that crashed, is taken once).
  std::vector<std::map<std::string, int64_t>> repartitioned_upto;
  bool restored = false;
};

// Where a task's state stands (task_per_partition): stored with it.
struct TaskPosition {
  int64_t sequence = 0;  // the task's checkpoint number (0: never checkpointed)
  int64_t generation = 0;
  std::map<std::string, int64_t> offsets;             // next offset of each of its partitions
  std::map<std::string, int64_t> repartitioned_upto;  // as in SourcePosition
  int64_t watermark_ms = kNoWatermark;                // the lowest of its partitions' watermarks
};

// What a checkpoint does for each task beyond the local state
// (task_per_partition): the runner's changelog. The runtime's side of a
// task's state, as Kafka Streams' state manager is: operators never see
// it (their writes reach the changelog through the writer they are given).
class TaskCheckpointer {
 public:
  virtual ~TaskCheckpointer() = default;
  // Whether task `task` is checkpointed now (it runs here).
  virtual bool Owned(int task) const = 0;
  // Where the task's writes also go (its changelog batch), or nullptr; and
  // the sequence and generation its position records.
  virtual StateWriter* Also(int task, TaskPosition* position) = 0;
  // On the commit thread, before the local state is committed: what the
  // local state must never be ahead of (the changelog append).
  virtual absl::Status BeforeCommit() = 0;
};

// What the engine takes from the config: the operators' settings and the
// input guards; not the Kafka, HTTP or alerting options of the jobs around it.
struct EngineOptions {
  OperatorOptions operators;
  int64_t idle_partition_timeout_ms = 10'000;
  int64_t max_future_skew_ms = 10 * 60'000;
  PipelineConfig::SkewReference future_skew_reference = PipelineConfig::SkewReference::kWallClock;
  // Profiles on: orders without a campaign are attributed, not rejected.
  bool orders_may_lack_campaign = false;
  // Tasks the windows are split into by user (partitioner.h: the task of a
  // user is the Kafka partition of its user id among `tasks`), merged by
  // operators/partial_merge.h; results equal those of one task byte for
  // byte. 1: no split.
  int tasks = 1;
  // Which task a user belongs to (kafka.input_partitioner).
  InputPartitioner input_partitioner = InputPartitioner::kMurmur2;
  // Live (Kafka Streams' tasks): task p is partition p of every input topic
  // (co-partitioned), `tasks` the partition count, and the caller names the
  // task of each batch (ProcessTask). A task's windows, dedup ids, counters,
  // watermarks and input offsets are its own state ("task-<p>/..."),
  // restored when its partitions are assigned (RestoreTask) and forgotten
  // when they go (DropTask); the tasks' windows are merged as above.
  bool task_per_partition = false;

  static EngineOptions From(const PipelineConfig& config);
};

class Engine {
 public:
  // The sinks must outlive the Engine. `late` may equal `dead_letters`.
  // `wall_clock_ms` (default: the system clock) drives idle partitions.
  Engine(const EngineOptions& options, WindowResultSink* results, RecordSink* dead_letters,
         RecordSink* late, Clock wall_clock_ms = nullptr);

  // More operators, fed the admitted events before the windows, given the
  // watermark after them, checkpointed with them (an operator of results,
  // like the alert judge, takes its input as the results sink instead).
  // Call before StateTables and Restore; `op` must outlive the Engine.
  void AddOperator(Operator* op) { operators_.push_back(op); }
  // The enrichment step (user profiles: attribution, first paid order): an
  // operator as above that sees each batch first, mutable. One at most.
  // Records reach it in event-time order (operators/event_order.h: held
  // until the watermark passes them, checkpointed with the operators).
  void SetEnricher(EnrichingOperator* op) {
    enricher_ = op;
    order_ = std::make_unique<EventTimeOrder>();
    AddOperator(order_.get());
    AddOperator(op);
  }
  // task_per_partition: the enrichment step is task state (profiles: a
  // user's events are all in one task), one per task, made by `make` when
  // the task is created or dropped; its state is the task's (a key prefix,
  // its changelog), its watermark the task's. Call before StateTables.
  using EnricherFactory = std::function<std::unique_ptr<EnrichingOperator>(int task)>;
  void SetTaskEnricher(EnricherFactory make);
  // task_per_partition: where each task's windows go instead of the
  // engine's own merge (the live global stage: through Kafka). Call before
  // StateTables; the sinks must outlive the engine.
  void SetTaskResults(std::function<WindowResultSink*(int task)> sink_of);
  // task_per_partition: one more operator in every task, made by `make`
  // when the task is created or dropped (the live global stage's part of
  // task g: its merge and alert judges). Like the task's windows and
  // enrichment it is restored from the task's state when the task comes
  // here, snapshotted with it (into its changelog too), and closed when
  // the task goes. Call before StateTables.
  using TaskOperatorFactory = std::function<std::unique_ptr<Operator>(int task)>;
  void AddTaskOperator(TaskOperatorFactory make);

  // Every state table the engine, its operators and attached state use.
  std::vector<std::string> StateTables() const;

  // Reads state back from `backend` (which the Engine then checkpoints to;
  // nullptr runs without state on disk). Call once, before Process.
  absl::Status Restore(RocksStateBackend* backend, SourcePosition* position);

  // One batch of records from `source`, whose values are read as `format`
  // (framing.h). Never fails: bad records are counted and kept.
  void Process(std::span<const RawRecord> batch, std::string_view source,
               const InputFormat& format);
  // Event envelopes; with `wire` unset each record is sniffed ('{' = JSON).
  void Process(std::span<const RawRecord> batch, std::string_view source,
               std::optional<WireFormat> wire) {
    Process(batch, source, InputFormat{ValueType::kEvent, ValueFraming::kAuto, wire, "input"});
  }

  // A record the source could not even frame (a cut-off tail): counted as
  // read and rejected, and kept. `detail` empty: the reason's advice.
  void RejectUnframed(const RawRecord& record, std::string_view source, v1::RejectReason reason,
                      std::string_view detail = {});

  // Snapshots dirty state, watermarks, counters and `position` now (the only
  // pause in processing) and commits them atomically: before returning with
  // `wait`, else on a background thread while batches go on. One commit is
  // in flight at a time: the next Checkpoint waits for the previous one and
  // returns its error.
  // With task_per_partition, `tasks` says which tasks are checkpointed and
  // where else their writes go.
  absl::Status Checkpoint(const SourcePosition& position, bool wait = true,
                          TaskCheckpointer* tasks = nullptr);

  // task_per_partition (engine_tasks.cc): one batch of task `task`. The
  // watermark step (windows firing, every task's operators) waits for the
  // caller's Tick, once for the batches of all tasks polled together.
  void ProcessTask(int task, std::span<const RawRecord> batch, std::string_view source,
                   const InputFormat& format);
  // Loads task `task` from the state backend (where the runner put it: the
  // local copy, or one restored from its changelog); its position (offsets
  // to seek to) in `position`. No commit may be in flight (WaitForCommit).
  absl::Status RestoreTask(int task, TaskPosition* position);
  // Reads only the task's stored position.
  absl::Status ReadTaskPosition(int task, TaskPosition* position) const;
  // Records of a task whose user belongs to another task go there (one
  // forwarder for all tasks; `forwarder` must outlive the engine).
  void SetForwarder(RecordForwarder* forwarder) { forwarder_ = forwarder; }
  // A forwarded record read back and dropped (forwarded twice by a sender
  // that crashed): no longer on its way.
  void ForwardedDropped(const RawRecord& raw, std::string_view source) { Arrived(raw, source); }
  // Forwarded to a task here and not read back yet.
  size_t records_in_flight() const { return in_flight_.size(); }
  // By topic, of the records read here (not those read back forwarded).
  const std::map<std::string, PlacementCensus, std::less<>>& placement() const {
    return placement_;
  }
  // Forgets task `task` (its partitions went elsewhere); its state on disk stays.
  void DropTask(int task);
  // The state tables of one task, as the task sees them (without "task-<p>/").
  std::vector<std::string> TaskTables() const;
  // What task `task`'s records came to (zeros when it does not run here).
  const EngineCounters& task_counters(int task) const {
    return tasks_[static_cast<size_t>(task)].counters;
  }
  bool task_live(int task) const {
    return task >= 0 && static_cast<size_t>(task) < tasks_.size() &&
           tasks_[static_cast<size_t>(task)].live;
  }
  // Waits for the commit in flight, if any: OK once every checkpoint taken
  // is durable (an error sticks: later checkpoints are refused).
  absl::Status WaitForCommit();
  // Whether the last checkpoint's commit still runs (never blocks): a
  // caller that must not wait takes the next checkpoint later.
  bool CommitInFlight();
  // The watermark stored by the newest durable checkpoint (kNoWatermark:
  // none yet in this process).
  int64_t committed_watermark_ms();
  // The last commit collected: its checkpoint (counters().checkpoints at
  // the time), how long the commit ran, whether it succeeded.
  struct CommitReport {
    int64_t checkpoint = 0;  // 0: none yet
    double millis = 0;
    bool ok = true;
  };
  CommitReport last_commit() const { return last_commit_; }
  // How long the last Checkpoint waited for the commit before it (the rest
  // of its pause is the snapshot itself).
  double last_commit_wait_ms() const { return last_commit_wait_ms_; }

  // An operator needs a checkpoint to stay within its memory bound: the
  // caller should checkpoint after this batch.
  bool checkpoint_wanted() const;
  // Whether to take a checkpoint that is due now. Not while the previous
  // commit still runs: the snapshot would wait for it, pausing the pipeline
  // (up to 160 ms per checkpoint in replay with 10M users); batches go on
  // and the checkpoint follows as soon as the commit is done. Unless
  // `overdue` (the caller's bound on records or time) or an operator cannot
  // wait (NeedsCheckpoint: its memory bound).
  bool ReadyForCheckpoint(bool overdue);

  // End of a finite input: every open window is final (a record held by
  // the clock-skew guard is counted first: nothing after it contradicts it).
  void Finish();

  // The clock-skew guard (watermark.max_future_skew). Against the wall
  // clock (live), a record further ahead than the skew is rejected at once.
  // Against the input (replay: no wall clock; the same file gives the same
  // result every time, however it is batched), the reference is the newest
  // event time counted so far, and a record further ahead of it than the
  // skew - or the first record of all - is held until the next valid
  // record: if that one is at most the skew behind the held one, the input
  // really moved there (a gap in the data, a new day) and the held record
  // is counted before it; otherwise the held record is rejected with
  // future_event_time. So one record from a device whose clock says 2099
  // cannot make the rest of the input late, while sparse data with gaps
  // loses nothing. A held record is part of the checkpoint.
  int64_t held_records() const { return held_ ? 1 : 0; }

  const EngineCounters& counters() const { return counters_; }
  int64_t watermark_ms() { return watermark_.current(); }
  WatermarkTracker& watermarks() { return watermark_; }
  // Re-evaluates idle partitions and fires windows if the watermark moved;
  // call when no records arrive (a quiet stream still needs its windows).
  void Tick();
  // Of every task's windows (emitted: of the merged windows with tasks).
  WindowOperator::Stats window_stats() const;
  const EventAdmission& admission() const { return admission_; }
  uint64_t last_checkpoint_bytes() const { return last_checkpoint_bytes_; }
  // What the operators hold in memory, of the tasks here (their largest
  // parts: for the state memory gauges; a walk over every pane, so at
  // checkpoint cadence, not per batch).
  struct StateMemory {
    size_t window_user_bytes = 0;  // unique-visitor hashes of panes and day totals
    size_t dedup_bytes = 0;        // event ids inside the dedup horizon
  };
  StateMemory state_memory() const;

 private:
  EngineOptions options_;
  RecordSink* dead_letters_;
  RecordSink* late_;
  EventDecoder decoder_;
  EventAdmission admission_;
  WindowOperator windows_;     // the only windows without tasks
  bool by_partition_ = false;  // task_per_partition
  bool defer_watermark_ = false;
  int current_task_ = 0;
  // With tasks: each task's operators and bookkeeping, made afresh when
  // the task is created or dropped, restored and snapshotted through the
  // task's view of the state (task_state.h). Its windows are merged by
  // merger_ (or by the job: task_results_).
  struct Task {
    std::unique_ptr<WindowOperator> windows;
    std::unique_ptr<EventAdmission> admission;         // task_per_partition: its dedup ids
    std::unique_ptr<EnrichingOperator> enricher;       // SetTaskEnricher
    std::unique_ptr<EventTimeOrder> order;             // with an enricher: its input's order
    std::vector<std::unique_ptr<Operator>> operators;  // AddTaskOperator, in order
    std::unique_ptr<StateReader> reader;               // (operators read state on demand)
    EngineCounters counters;                           // what its records came to
    bool live = false;                                 // it runs here
    bool in_commit = false;                            // snapshotted in the commit in flight
  };
  std::vector<Task> tasks_;
  void ResetTask(int task);
  // A task's operators, all of the one contract: windows, enrichment, the job's.
  template <typename T, typename F>
  static void ForEachTaskOperator(T& task, F&& f) {
    f(task.windows.get());
    if (task.order) f(task.order.get());
    if (task.enricher) f(task.enricher.get());
    for (auto& op : task.operators) f(op.get());
  }
  EnricherFactory make_enricher_;
  std::vector<TaskOperatorFactory> make_task_operators_;
  std::function<WindowResultSink*(int task)> task_results_;  // unset: merger_
  WindowResultSink* TaskSink(int task) {
    return task_results_ ? task_results_(task) : merger_->task_sink(task);
  }
  // Every operator: the engine's, then those of the tasks that run here.
  template <typename F>
  void ForEachOperator(F&& f) const {
    for (Operator* op : operators_) f(op);
    for (const Task& t : tasks_) {
      if (t.live) ForEachTaskOperator(t, f);
    }
  }
  RecordForwarder* forwarder_ = nullptr;
  std::map<std::string, PlacementCensus, std::less<>> placement_;
  PlacementCensus* census_ = nullptr;  // of the batch at hand's topic
  // Records forwarded to a task of this instance and not read back yet (by
  // "topic/partition@offset" of where they were first read): the watermark
  // stays behind them, so the round trip through Kafka makes none late.
  struct InFlight {
    int64_t event_time_ms;
    int task;
  };
  absl::flat_hash_map<std::string, InFlight> in_flight_;
  std::multiset<int64_t> in_flight_times_;
  void Arrived(const RawRecord& raw, std::string_view source);
  void CapWatermark();
  // Whether record `i` of the batch went to the task of its user.
  bool Forwarded(const EventRecord& rec, const RawRecord& raw, std::string_view source,
                 int64_t wall_ms);
  EventAdmission& AdmissionOf(int task) {
    return by_partition_ ? *tasks_[static_cast<size_t>(task)].admission : admission_;
  }
  void TasksOnWatermark(int64_t watermark_ms);
  absl::StatusOr<bool> ReadTaskMeta(int task, v1::OperatorMeta* meta, TaskPosition* position) const;
  void SnapshotTasks(RocksStateBackend::Batch& batch, const SourcePosition& position,
                     TaskCheckpointer* tasks);
  // With tasks (replay's split by user, or task_per_partition): the merge
  // of the tasks' windows.
  std::unique_ptr<PartialMerger> merger_;
  std::vector<std::vector<const EventRecord*>> routed_;  // of the batch at hand, by task
  void WindowsOnWatermark(int64_t watermark_ms);
  WatermarkTracker watermark_;
  RocksStateBackend* backend_ = nullptr;
  EngineCounters counters_;
  std::vector<EventRecord> records_;    // reused across batches
  std::vector<EventRecord*> accepted_;  // mutable for the enrichment step only
  struct Reject {
    size_t index;  // in the batch
    v1::RejectReason reason;
    std::string detail;
  };
  std::vector<Reject> rejects_;  // of the batch at hand, in input order
  // Admits one decoded record (accepted, duplicate or late) at `wall_ms`.
  // The admitted records of the batch at hand through the enrichment step,
  // the operators and the windows.
  void RunOperators();
  // The admitted records of a batch of task `task` (or of the engine
  // without tasks) to the enrichment step and the operators.
  void Deliver(int task, std::span<EventRecord* const> records);
  // The order of task `task`'s enrichment (null: none); the engine's own without tasks.
  EventTimeOrder* OrderOf(int task) {
    if (!by_partition_) return order_.get();
    return tasks_[static_cast<size_t>(task)].order.get();
  }
  // Hands on what the watermark passed (every held record with `all`).
  void ReleaseOrdered(int task, int64_t watermark_ms, bool all = false);
  void Admit(EventRecord& rec, const RawRecord& raw, std::string_view source, int64_t wall_ms);
  // The clock-skew guard; true when `rec` was taken (held or rejected).
  bool GuardFutureTime(EventRecord& rec, const RawRecord& raw, std::string_view source,
                       const InputFormat& format, int64_t wall_ms);
  void ReleaseHeld(bool admit, int64_t next_ms, int64_t wall_ms);
  struct Held {
    EventRecord record;
    std::string bytes;
    RawRecord raw;
    std::string source;
    InputFormat format;
  };
  std::optional<Held> held_;
  // Held records admitted in the batch at hand (stable addresses for accepted_).
  std::deque<EventRecord> released_;
  // Newest event time counted (the input clock of the skew guard).
  int64_t newest_counted_ms_ = kNoWatermark;
  std::string detail_;
  Clock wall_clock_ms_;
  uint64_t last_checkpoint_bytes_ = 0;
  std::vector<Operator*> operators_;
  EnrichingOperator* enricher_ = nullptr;
  std::unique_ptr<EventTimeOrder> order_;  // with enricher_
  std::vector<EventRecord*> now_;          // RunOperators: admitted and not held

  // Collects the background commit if it is done (or `block`): operators
  // hear of it, an error sticks in commit_error_.
  void CollectCommit(bool block);
  std::unique_ptr<RocksStateBackend::Batch> inflight_batch_;  // (before the future: outlives it)
  // The last committed batch, empty, for the next snapshot: its memory is
  // already allocated (a new one page-faulted through tens of MB during
  // the pause).
  std::unique_ptr<RocksStateBackend::Batch> spare_batch_;
  int64_t inflight_watermark_ms_ = kNoWatermark;
  int64_t inflight_checkpoint_ = 0;
  std::chrono::steady_clock::time_point inflight_started_{};
  std::atomic<int64_t> inflight_commit_us_{0};  // set by the commit thread when it is done
  std::atomic<uint64_t> inflight_bytes_{0};     // the batch's bytes, deferred writes included
  CommitReport last_commit_;
  double last_commit_wait_ms_ = 0;
  std::future<absl::Status> inflight_;
  absl::Status commit_error_;
  int64_t committed_watermark_ms_ = kNoWatermark;
};

}  // namespace promowatch
