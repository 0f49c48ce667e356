#pragma once
// The contract between the runtime (pipeline/) and an operator: the one kind
// of operator there is. The windows, the enrichment step (user profiles),
// the alert judge on the final windows and the partial merge of tasks'
// windows all are one; an operator of events gets batches, one of results
// gets them as the WindowResultSink it also is; each has its own state
// tables, restored and snapshotted with every other's in one atomic commit.
//
// Lifecycle, all on the pipeline thread:
//   Restore(state)            once, before the first batch (state may be empty);
//                             `state` stays valid for the operator's life, so
//                             state larger than memory can be read on demand
//                             (it reflects every committed Snapshot)
//   { EnrichBatch(events)     EnrichingOperator only: the batch, mutable,
//                             before any operator sees it
//     ProcessBatch(events)    admitted events of one input batch, arrival order
//     OnWatermark(wm) }*      after each batch; wm never decreases
//   Snapshot(writer)          at a checkpoint, between batches: write dirty state
//   OnCheckpointCommitted()   later, on the same thread: that snapshot is
//                             durable (the runtime may commit in the
//                             background while batches go on), so state it
//                             wrote may now be dropped from memory and read
//                             back (Flink's notifyCheckpointComplete)
//   OnEndOfInput()            replay/backtest only: every open window is final
//   Close()                   live, an operator of a task: the task went to
//                             another instance; let go of what it holds here
//                             (its state stays on disk, and in the changelog)
//
// Its runtime context (Flink's KeyedProcessFunction, Kafka Streams'
// Processor): state by table name through the reader and writer the
// runtime hands it - an operator of a task (task_per_partition) sees only
// that task's keys, and its writes go to the task's changelog too, without
// knowing either; event time through OnWatermark, the one timer (an
// operator keeps its timers by due time and fires those the watermark
// passed: windows, dedup horizons, tag expiries); outputs through the
// sinks it was made with (the Collector).
// An operator emits through the sinks it was constructed with; it never
// blocks on I/O and never sees Kafka or RocksDB.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "operators/event_record.h"
#include "operators/state.h"

namespace promowatch {

class Operator {
 public:
  virtual ~Operator() = default;
  virtual std::string_view name() const = 0;
  // Names of the state tables this operator reads and writes.
  virtual std::vector<std::string> StateTables() const = 0;
  virtual absl::Status Restore(const StateReader& in) = 0;
  virtual void Snapshot(StateWriter& out) = 0;
  // Events and time (an operator of results, like the alert judge, takes
  // neither: its input is the results it is given).
  virtual void ProcessBatch(std::span<const EventRecord* const> /*events*/) {}
  virtual void OnWatermark(int64_t /*watermark_ms*/) {}
  virtual void OnEndOfInput() {}
  virtual void Close() {}
  // True when the operator needs a checkpoint soon to stay within its
  // memory bound (only checkpointed state can be evicted); the runtime
  // checkpoints after the current batch.
  virtual bool WantsCheckpoint() const { return false; }
  // True when it cannot wait for one any longer: the runtime checkpoints
  // even if that means waiting for the previous commit (which it otherwise
  // lets finish while batches go on).
  virtual bool NeedsCheckpoint() const { return false; }
  virtual void OnCheckpointCommitted() {}
  // The first error reading state on demand; the runtime refuses to
  // checkpoint past it (state and outputs would disagree).
  virtual absl::Status status() const { return absl::OkStatus(); }
};

// The enrichment step: an operator whose state annotates the records for
// the operators after it (the user-profile operator: last-click attribution
// of orders without a campaign, first paid order). The runtime hands each
// batch to it first, mutable; every operator then sees the records const.
// It may write only campaign_id and channel when they are empty, and the
// fields EventRecord marks as the enrichment step's. Its own work on the
// batch is done in the same pass (the profile that is read to annotate a
// record is the one that record then changes), so ProcessBatch is empty.
class EnrichingOperator : public Operator {
 public:
  virtual void EnrichBatch(std::span<EventRecord* const> events) = 0;
  void ProcessBatch(std::span<const EventRecord* const>) final {}
};

}  // namespace promowatch
