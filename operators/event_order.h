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
// one and range-deletes the released ones (table "event_order"), so that a
// record admitted before a checkpoint and held across it is neither lost
// (its input position is behind the checkpoint) nor counted twice.
//
// Threading: the pipeline thread.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "operators/event_record.h"
#include "operators/operator.h"

namespace promowatch {

class EventTimeOrder final : public Operator {
 public:
  static constexpr std::string_view kTable = "event_order";

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

  size_t held() const { return heap_.size(); }
  int64_t released_upto() const { return released_upto_; }

 private:
  // The heap orders small entries; the records stay in their slots (a
  // record is copied once in and handed out by pointer: no string moves
  // per heap step, and a slot's strings keep their capacity for the next).
  struct Held {
    int64_t time;
    uint64_t seq;   // arrival order: the state key's
    uint32_t slot;  // in slots_
  };
  // A min-heap on (time, kind, event id) through std::push_heap with this
  // "later" (admission let one record per event id through).
  struct Later {
    const std::vector<EventRecord>* slots;
    bool operator()(const Held& a, const Held& b) const {
      if (a.time != b.time) return a.time > b.time;
      const EventRecord& x = (*slots)[a.slot];
      const EventRecord& y = (*slots)[b.slot];
      if (x.kind != y.kind) return x.kind > y.kind;
      return x.event_id > y.event_id;
    }
  };
  Later later() const { return Later{&slots_}; }
  static std::string Key(int64_t time, uint64_t seq);
  uint32_t TakeSlot();
  void FreeReleased();  // the slots handed out by the last Release

  std::vector<Held> heap_;
  std::vector<EventRecord> slots_;
  std::vector<uint32_t> free_slots_;
  std::vector<uint32_t> released_slots_;
  std::vector<EventRecord*> released_ptrs_;
  uint64_t next_seq_ = 0;
  uint64_t saved_below_seq_ = 0;  // held records with seq >= this are not on disk yet
  int64_t released_upto_ = kNoWatermark;
  int64_t deleted_upto_ = kNoWatermark;  // released records removed from disk up to here
};

}  // namespace promowatch
