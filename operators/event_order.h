#pragma once
// Event-time order for the enrichment step (Flink's event-time temporal
// join holds its input the same way): admitted records are held until the
// watermark passes them, then handed on sorted by event time (the same
// millisecond: clicks before orders, then by event id - never by arrival,
// which differs between runs), so that the profile step applies each user's clicks and
// orders in the order they happened, whatever order two topics or the
// repartition topic delivered them in - and a segment, a first paid order,
// an attribution, is the same in every run over the same events. Windows
// lose nothing: they fire when the watermark passes, after the release.
//
// A record not newer than what was already released (late, accepted within
// the allowed lateness) is not held: it goes on at once and the profile
// step judges it as of its own time (user_profiles.h, UserAsOfTime).
//
// Held records are state: a checkpoint writes the ones held since the last
// one, in chunks of kChunkRecords (a value each), and range-deletes the
// chunks whose records were all released (table "event_order"), so that a
// record admitted before a checkpoint and held across it is neither lost
// (its input position is behind the checkpoint) nor counted twice.
//
// Threading: the pipeline thread.

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "operators/event_record.h"
#include "operators/operator.h"

namespace promowatch {

class EventTimeOrder final : public Operator {
 public:
  static constexpr std::string_view kTable = "event_order";
  static constexpr int kChunkRecords = 512;  // held records per state value

  std::string_view name() const override { return "event_order"; }
  std::vector<std::string> StateTables() const override { return {std::string(kTable)}; }
  absl::Status Restore(const StateReader& in) override;
  void Snapshot(StateWriter& out) override;

  // Holds a copy of `r` unless its time is not after what was released
  // (then false: the caller processes it now).
  bool Hold(const EventRecord& r);
  // The held records with event time <= `watermark_ms`, in order; valid
  // until the next call.
  std::span<EventRecord* const> Release(int64_t watermark_ms);
  // Every held record, in order (the end of the input); what comes after
  // is held again behind the newest one released.
  std::span<EventRecord* const> ReleaseAll();

  size_t held() const { return held_; }
  int64_t released_upto() const { return released_upto_; }

 private:
  // Held records by event time in buckets of 2^kBucketShift ms, each in
  // arrival order: a record goes to the back of its bucket (no search, no
  // node split: the B-tree insert per out-of-order record this replaced
  // missed the cache; BENCHMARKS.md section 5), and a release takes the
  // buckets the watermark passed, the last one partly, and sorts what it
  // took by (time, arrival), mostly in order already, in cache. Records of the
  // same millisecond are put in their final order (kind, event id) then.
  // The records stay in their slots (a record is copied once in and handed
  // out by pointer; a slot's strings keep their capacity).
  static constexpr int kBucketShift = 7;
  using HeldKey = std::pair<int64_t, uint64_t>;  // (time, seq)
  struct Held {
    HeldKey key;
    uint32_t slot;
  };
  static std::string Key(int64_t time, uint64_t seq);
  uint32_t TakeSlot();
  void FreeReleased();  // the slots handed out by the last Release

  void Enter(HeldKey key, uint32_t slot);
  // time >> kBucketShift -> its records (a node map: the bucket of the last
  // hold is kept by pointer). Emptied buckets give their vectors to spare_.
  std::map<int64_t, std::vector<Held>> buckets_;
  int64_t last_bucket_ = kNoWatermark;
  std::vector<Held>* last_held_ = nullptr;
  std::vector<std::vector<Held>> spare_;
  size_t held_ = 0;
  std::vector<Held> releasing_;
  std::vector<EventRecord> slots_;
  std::vector<uint32_t> free_slots_;
  std::vector<uint32_t> released_slots_;
  std::vector<EventRecord*> released_ptrs_;
  uint64_t next_seq_ = 0;
  // Records held since the last checkpoint (not on disk yet), as held.
  std::vector<std::pair<HeldKey, uint32_t>> unsaved_;
  int64_t released_upto_ = kNoWatermark;
  int64_t deleted_upto_ = kNoWatermark;  // released records removed from disk up to here
};

}  // namespace promowatch
