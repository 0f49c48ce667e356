#pragma once
// Admission: decides, per validated event, whether the operators count it.
//
//   late       its minute pane is final (watermark at arrival >= pane end +
//              allowed lateness), so counting it would change a published
//              result beyond what the late policy allows
//   duplicate  otherwise, when its event_id was already accepted (producers
//              retry)
//   accepted   otherwise; its event_id is remembered
//
// How long ids are remembered, and why that is enough: an id is kept exactly
// as long as an event with its event time could still be accepted, i.e. until
// the watermark passes the end of its minute pane plus the allowed lateness.
// A retry arriving after that is late whatever its id, so it cannot be
// counted twice. Memory is bounded by (event rate) x (out-of-orderness +
// allowed lateness + 1 minute) ids, about 20-30 bytes each (see
// memory_bytes()); expired ids leave memory and RocksDB (one range delete).

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "operators/event_record.h"
#include "operators/options.h"
#include "operators/state.h"

namespace promowatch {

enum class Admission : uint8_t { kAccepted, kDuplicate, kLate };

class EventAdmission {
 public:
  static constexpr std::string_view kIdsTable = "dedup_ids";

  explicit EventAdmission(const OperatorOptions& options);

  // Called once per validated event, in arrival order.
  Admission Admit(const EventRecord& e);
  // Starts loading the dedup-set slot of an event Admit will see soon (a
  // few records ahead), so that Admit does not wait for memory.
  void Prefetch(const EventRecord& e) const { ids_.prefetch(e.event_id_hash); }
  // Forgets ids that can no longer matter (a bounded slice of them per
  // call, see admission.cc). Called after each batch.
  void OnWatermark(int64_t watermark_ms);

  void Snapshot(StateWriter& out);
  absl::Status Restore(const StateReader& in);

  // Ids in the dedup set, including expired ones not yet erased.
  size_t remembered_ids() const { return ids_.size(); }
  static constexpr size_t kMinForgetPerCall = 16'384;
  size_t memory_bytes() const;

 private:
  struct Bucket {  // ids admitted with event time in one minute pane
    std::vector<uint64_t> ids;
    size_t saved = 0;     // ids[0, saved) are in the state backend
    uint32_t chunks = 0;  // chunks written for this bucket
  };

  int64_t lateness_ms_;
  absl::flat_hash_set<uint64_t> ids_;
  std::map<int64_t, Bucket> buckets_;  // by pane index
  int64_t last_pane_ = INT64_MIN;      // one-entry cache: most events share a pane
  Bucket* last_bucket_ = nullptr;
  std::deque<std::vector<uint64_t>> forgetting_;  // ids of expired buckets, to erase
  std::string snapshot_value_;                    // kept: a checkpoint's new ids reach megabytes
  size_t forget_pos_ = 0;                         // forgetting_.front()[0, forget_pos_) are erased
  size_t admitted_since_forget_ = 0;
  int64_t expired_below_ = 0;  // buckets below this pane are gone
  int64_t deleted_below_ = 0;  // ... and deleted from the backend
};

}  // namespace promowatch
