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
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "operators/admission.h"
#include "operators/window_operator.h"
#include "pipeline/config.h"
#include "pipeline/decode.h"
#include "pipeline/rocksdb_state.h"

namespace promowatch {

// One input record as it arrived, with where it came from.
struct RawRecord {
  std::string_view bytes;
  int64_t offset = 0;      // byte offset in a file, or Kafka offset
  uint32_t partition = 0;  // watermark partition: 0 for a file
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

// Bounded out-of-orderness per partition; the watermark is the minimum over
// partitions that have seen data.
class WatermarkTracker {
 public:
  explicit WatermarkTracker(int64_t max_out_of_orderness_ms)
      : out_of_orderness_ms_(max_out_of_orderness_ms) {}
  void Observe(uint32_t partition, int64_t event_time_ms) {
    if (partition >= max_time_.size()) max_time_.resize(partition + 1, kNoWatermark);
    int64_t& m = max_time_[partition];
    if (event_time_ms > m) {
      m = event_time_ms;
      Recompute();
    }
  }
  int64_t current() const { return current_; }
  const std::vector<int64_t>& max_times() const { return max_time_; }
  void Restore(std::vector<int64_t> max_times) {
    max_time_ = std::move(max_times);
    Recompute();
  }

 private:
  void Recompute() {
    int64_t low = INT64_MAX;
    for (int64_t m : max_time_) {
      if (m != kNoWatermark && m < low) low = m;
    }
    current_ = low == INT64_MAX ? kNoWatermark : low - out_of_orderness_ms_;
  }
  int64_t out_of_orderness_ms_;
  std::vector<int64_t> max_time_;
  int64_t current_ = kNoWatermark;
};

// What a checkpoint stored about the sources, returned by Restore.
struct SourcePosition {
  std::string fingerprint;
  std::map<std::string, int64_t> offsets;
  bool restored = false;
};

class Engine {
 public:
  // The sinks must outlive the Engine. `late` may equal `dead_letters`.
  Engine(const PipelineConfig& config, WindowResultSink* results, RecordSink* dead_letters,
         RecordSink* late);

  // Every state table the engine and its operators use.
  std::vector<std::string> StateTables() const;

  // Reads state back from `backend` (which the Engine then checkpoints to;
  // nullptr runs without state on disk). Call once, before Process.
  absl::Status Restore(RocksStateBackend* backend, SourcePosition* position);

  // One batch of records from `source`. With `format` unset, each record is
  // sniffed ('{' = JSON). Never fails: bad records are counted and kept.
  void Process(std::span<const RawRecord> batch, std::string_view source,
               std::optional<WireFormat> format);

  // A record the source could not even frame (a cut-off tail): counted as
  // read and rejected, and kept.
  void RejectUnframed(const RawRecord& record, std::string_view source, v1::RejectReason reason);

  // Writes dirty state, watermarks, counters and `position` atomically.
  absl::Status Checkpoint(const SourcePosition& position);

  // End of a finite input: every open window is final.
  void Finish();

  const EngineCounters& counters() const { return counters_; }
  int64_t watermark_ms() const { return watermark_.current(); }
  const WindowOperator& windows() const { return windows_; }
  const EventAdmission& admission() const { return admission_; }
  uint64_t last_checkpoint_bytes() const { return last_checkpoint_bytes_; }

 private:
  PipelineConfig config_;
  RecordSink* dead_letters_;
  RecordSink* late_;
  EventDecoder decoder_;
  EventAdmission admission_;
  WindowOperator windows_;
  WatermarkTracker watermark_;
  RocksStateBackend* backend_ = nullptr;
  EngineCounters counters_;
  std::vector<EventRecord> records_;  // reused across batches
  std::vector<const EventRecord*> accepted_;
  std::string detail_;
  uint64_t last_checkpoint_bytes_ = 0;
};

}  // namespace promowatch
