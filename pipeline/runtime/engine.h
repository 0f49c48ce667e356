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
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "operators/admission.h"
#include "operators/operator.h"
#include "operators/partial_merge.h"
#include "operators/window_operator.h"
#include "pipeline/config/config.h"
#include "pipeline/decode/decode.h"
#include "pipeline/runtime/clock.h"
#include "pipeline/runtime/watermarks.h"
#include "pipeline/state/rocksdb_state.h"

namespace promowatch {

// One input record as it arrived, with where it came from.
struct RawRecord {
  std::string_view bytes;
  int64_t offset = 0;             // byte offset in a file, or Kafka offset
  uint32_t partition = 0;         // watermark slot (WatermarkTracker::Slot); 0 for a file
  int32_t source_partition = -1;  // Kafka partition, -1 for a file
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

  int64_t rejected_total() const {
    int64_t n = 0;
    for (int64_t v : rejected) n += v;
    return n;
  }
};

// What a checkpoint stored about the sources, returned by Restore.
struct SourcePosition {
  std::string fingerprint;
  std::map<std::string, int64_t> offsets;
  bool restored = false;
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

  static EngineOptions From(const PipelineConfig& config);
};

class Engine {
 public:
  // The sinks must outlive the Engine. `late` may equal `dead_letters`.
  // `wall_clock_ms` (default: the system clock) drives idle partitions.
  Engine(const EngineOptions& options, WindowResultSink* results, RecordSink* dead_letters,
         RecordSink* late, Clock wall_clock_ms = nullptr);

  // State checkpointed together with the operators' (call before
  // StateTables and Restore; `state` must outlive the Engine).
  void Attach(Checkpointed* state) { attached_.push_back(state); }
  // More operators, fed the admitted events before the windows, given the
  // watermark after them, checkpointed with them. Call before StateTables
  // and Restore; `op` must outlive the Engine.
  void AddOperator(Operator* op) { operators_.push_back(op); }
  // The enrichment step (user profiles: attribution, first paid order): an
  // operator as above that sees each batch first, mutable. One at most.
  void SetEnricher(EnrichingOperator* op) {
    enricher_ = op;
    AddOperator(op);
  }

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
  absl::Status Checkpoint(const SourcePosition& position, bool wait = true);
  // Waits for the commit in flight, if any: OK once every checkpoint taken
  // is durable (an error sticks: later checkpoints are refused).
  absl::Status WaitForCommit();
  // The watermark stored by the newest durable checkpoint (kNoWatermark:
  // none yet in this process).
  int64_t committed_watermark_ms();

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

 private:
  EngineOptions options_;
  RecordSink* dead_letters_;
  RecordSink* late_;
  EventDecoder decoder_;
  EventAdmission admission_;
  WindowOperator windows_;  // the only windows without tasks
  // With tasks: a window operator per task, merged.
  std::unique_ptr<PartialMerger> merger_;
  std::vector<std::unique_ptr<WindowOperator>> task_windows_;
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
  std::vector<Checkpointed*> attached_;
  std::vector<Operator*> operators_;
  EnrichingOperator* enricher_ = nullptr;

  // Collects the background commit if it is done (or `block`): operators
  // hear of it, an error sticks in commit_error_.
  void CollectCommit(bool block);
  std::unique_ptr<RocksStateBackend::Batch> inflight_batch_;  // (before the future: outlives it)
  // The last committed batch, empty, for the next snapshot: its memory is
  // already allocated (a new one page-faulted through tens of MB during
  // the pause).
  std::unique_ptr<RocksStateBackend::Batch> spare_batch_;
  int64_t inflight_watermark_ms_ = kNoWatermark;
  std::future<absl::Status> inflight_;
  absl::Status commit_error_;
  int64_t committed_watermark_ms_ = kNoWatermark;
};

}  // namespace promowatch
