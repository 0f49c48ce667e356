#include "operators/event_order.h"

#include <algorithm>

#include "operators/state.h"
#include "promowatch/v1/state.pb.h"

namespace promowatch {
namespace {

constexpr char kRecordPrefix = 'r';
constexpr std::string_view kReleasedKey = "m";  // released_upto, sorts before "r..."

void ToProto(const EventRecord& r, v1::HeldEvent* p) {
  p->set_kind(static_cast<int32_t>(r.kind));
  p->set_code(r.code);
  p->set_event_time_ms(r.event_time_ms);
  p->set_amount_cents(r.amount_cents);
  p->set_event_id_hash(r.event_id_hash);
  p->set_user_hash(r.user_hash);
  p->set_event_id(r.event_id);
  p->set_user_id(r.user_id);
  p->set_campaign_id(r.campaign_id);
  p->set_channel(r.channel);
  p->set_order_id(r.order_id);
  p->set_watermark_ms(r.watermark_ms);
}

void FromProto(const v1::HeldEvent& p, EventRecord* r) {
  r->kind = static_cast<EventKind>(p.kind());
  r->code = p.code();
  r->event_time_ms = p.event_time_ms();
  r->amount_cents = p.amount_cents();
  r->event_id_hash = p.event_id_hash();
  r->user_hash = p.user_hash();
  r->event_id = p.event_id();
  r->user_id = p.user_id();
  r->campaign_id = p.campaign_id();
  r->channel = p.channel();
  r->order_id = p.order_id();
  r->watermark_ms = p.watermark_ms();
}

}  // namespace

std::string EventTimeOrder::Key(int64_t time, uint64_t seq) {
  std::string k(1, kRecordPrefix);
  AppendBigEndian64(&k, time);  // event times are > 0: byte order is time order
  AppendBigEndian64(&k, static_cast<int64_t>(seq));
  return k;
}

uint32_t EventTimeOrder::TakeSlot() {
  FreeReleased();
  if (free_slots_.empty()) {
    slots_.emplace_back();
    return static_cast<uint32_t>(slots_.size() - 1);
  }
  const uint32_t slot = free_slots_.back();
  free_slots_.pop_back();
  return slot;
}

void EventTimeOrder::FreeReleased() {
  free_slots_.insert(free_slots_.end(), released_slots_.begin(), released_slots_.end());
  released_slots_.clear();
  released_ptrs_.clear();
}

bool EventTimeOrder::Hold(const EventRecord& r) {
  if (released_upto_ != kNoWatermark && r.event_time_ms <= released_upto_) return false;
  const uint32_t slot = TakeSlot();
  slots_[slot] = r;  // (copy-assigned: the slot's strings keep their capacity)
  const HeldKey key(r.event_time_ms, next_seq_++);
  Enter(key, slot);
  unsaved_.push_back({key, slot});
  return true;
}

void EventTimeOrder::Enter(HeldKey key, uint32_t slot) {
  // (seq grows with arrival: not before the queue's last means after it.)
  if (in_order_.empty() || in_order_.back().key.first <= key.first) {
    in_order_.push_back({key, slot});
  } else {
    out_of_order_.emplace(key, slot);
  }
}

std::span<EventRecord* const> EventTimeOrder::Release(int64_t watermark_ms) {
  FreeReleased();
  if (watermark_ms == kNoWatermark) return {};
  if (released_upto_ == kNoWatermark || watermark_ms > released_upto_)
    released_upto_ = watermark_ms;
  // Without checkpoints (a run with no state) nothing empties unsaved_:
  // forget what was released once it outgrows what is held.
  if (unsaved_.size() > 2 * held() + 4096) {
    std::erase_if(unsaved_, [this](const auto& u) { return u.first.first <= released_upto_; });
  }
  // The two fronts merged, in (time, seq) order.
  auto end = out_of_order_.begin();
  while (true) {
    const bool queued = !in_order_.empty() && in_order_.front().key.first <= released_upto_;
    const bool other = end != out_of_order_.end() && end->first.first <= released_upto_;
    if (!queued && !other) break;
    if (queued && (!other || in_order_.front().key < end->first)) {
      released_slots_.push_back(in_order_.front().slot);
      in_order_.pop_front();
    } else {
      released_slots_.push_back(end->second);
      ++end;
    }
  }
  out_of_order_.erase(out_of_order_.begin(), end);
  // The same millisecond: clicks before orders, then by event id (arrival
  // order differs between runs; admission let one record per id through).
  const auto first = [this](uint32_t a, uint32_t b) {
    const EventRecord& x = slots_[a];
    const EventRecord& y = slots_[b];
    if (x.event_time_ms != y.event_time_ms) return x.event_time_ms < y.event_time_ms;
    if (x.kind != y.kind) return x.kind < y.kind;
    return x.event_id < y.event_id;
  };
  for (size_t i = 0; i < released_slots_.size();) {
    size_t j = i + 1;
    const int64_t t = slots_[released_slots_[i]].event_time_ms;
    while (j < released_slots_.size() && slots_[released_slots_[j]].event_time_ms == t) ++j;
    if (j - i > 1) std::sort(released_slots_.begin() + i, released_slots_.begin() + j, first);
    i = j;
  }
  // (Pointers after the loop: slots_ does not grow while releasing.)
  for (uint32_t slot : released_slots_) released_ptrs_.push_back(&slots_[slot]);
  return released_ptrs_;
}

std::span<EventRecord* const> EventTimeOrder::ReleaseAll() {
  int64_t newest = released_upto_;
  for (const int64_t last :
       {in_order_.empty() ? kNoWatermark : in_order_.back().key.first,
        out_of_order_.empty() ? kNoWatermark : out_of_order_.rbegin()->first.first}) {
    if (last != kNoWatermark) newest = newest == kNoWatermark ? last : std::max(newest, last);
  }
  return Release(newest);
}

void EventTimeOrder::Snapshot(StateWriter& out) {
  // Released since the last checkpoint: off the disk by one range delete.
  if (released_upto_ != kNoWatermark && released_upto_ != deleted_upto_) {
    out.DeleteRange(kTable, Key(0, 0), Key(released_upto_ + 1, 0));
    std::string upto;
    AppendBigEndian64(&upto, released_upto_);
    out.Put(kTable, kReleasedKey, upto);
    deleted_upto_ = released_upto_;
  }
  // Held since the last checkpoint: onto it, in chunks of records in time
  // order, each keyed by its newest (a range delete takes a chunk once
  // everything in it was released).
  v1::HeldEvents chunk;
  std::string value;
  int64_t newest = 0;
  uint64_t newest_seq = 0;
  const auto put = [&] {
    if (chunk.events_size() == 0) return;
    chunk.SerializeToString(&value);
    out.Put(kTable, Key(newest, newest_seq), value);
    chunk.Clear();
  };
  // Held since the last checkpoint and not released yet (released: every
  // record up to released_upto_), in (time, seq) order; not a walk over
  // everything held.
  std::sort(unsaved_.begin(), unsaved_.end());
  for (const auto& [key, slot] : unsaved_) {
    const auto [time, seq] = key;
    if (released_upto_ != kNoWatermark && time <= released_upto_) continue;
    v1::HeldEvent* p = chunk.add_events();
    ToProto(slots_[slot], p);
    p->set_seq(seq);
    newest = time;
    newest_seq = seq;
    if (chunk.events_size() == kChunkRecords) put();
  }
  put();
  unsaved_.clear();
}

absl::Status EventTimeOrder::Restore(const StateReader& in) {
  in_order_.clear();
  out_of_order_.clear();
  slots_.clear();
  free_slots_.clear();
  released_slots_.clear();
  released_ptrs_.clear();
  next_seq_ = 0;
  unsaved_.clear();
  released_upto_ = kNoWatermark;
  v1::HeldEvents chunk;
  // (The released mark is read first: "m" sorts before "r".)
  absl::Status s = in.Scan(kTable, [&](std::string_view key, std::string_view value) {
    if (key == kReleasedKey) {
      if (value.size() != 8) return absl::DataLossError("event_order: malformed released mark");
      released_upto_ = ReadBigEndian64(value);
      return absl::OkStatus();
    }
    if (key.size() != 17 || key[0] != kRecordPrefix ||
        !chunk.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      return absl::DataLossError("event_order: undecodable held records");
    }
    for (const v1::HeldEvent& p : chunk.events()) {
      // A chunk outlives its oldest records: those released are skipped.
      if (released_upto_ != kNoWatermark && p.event_time_ms() <= released_upto_) continue;
      FromProto(p, &slots_.emplace_back());
      Enter(HeldKey(p.event_time_ms(), p.seq()), static_cast<uint32_t>(slots_.size() - 1));
      next_seq_ = std::max(next_seq_, p.seq() + 1);
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  deleted_upto_ = released_upto_;
  return absl::OkStatus();
}

}  // namespace promowatch
