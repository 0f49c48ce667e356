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
  heap_.push_back({r.event_time_ms, next_seq_++, slot});
  std::push_heap(heap_.begin(), heap_.end(), later());
  return true;
}

std::span<EventRecord* const> EventTimeOrder::Release(int64_t watermark_ms) {
  FreeReleased();
  if (watermark_ms == kNoWatermark) return {};
  if (released_upto_ == kNoWatermark || watermark_ms > released_upto_)
    released_upto_ = watermark_ms;
  while (!heap_.empty() && heap_.front().time <= released_upto_) {
    std::pop_heap(heap_.begin(), heap_.end(), later());
    released_slots_.push_back(heap_.back().slot);
    heap_.pop_back();
  }
  // (Pointers after the loop: slots_ does not grow while releasing.)
  for (uint32_t slot : released_slots_) released_ptrs_.push_back(&slots_[slot]);
  return released_ptrs_;
}

std::span<EventRecord* const> EventTimeOrder::ReleaseAll() {
  int64_t newest = released_upto_;
  for (const Held& h : heap_) newest = newest == kNoWatermark ? h.time : std::max(newest, h.time);
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
  // Held since the last checkpoint: onto it.
  v1::HeldEvent p;
  std::string value;
  for (const Held& h : heap_) {
    if (h.seq < saved_below_seq_) continue;
    ToProto(slots_[h.slot], &p);
    p.SerializeToString(&value);
    out.Put(kTable, Key(h.time, h.seq), value);
  }
  saved_below_seq_ = next_seq_;
}

absl::Status EventTimeOrder::Restore(const StateReader& in) {
  heap_.clear();
  slots_.clear();
  free_slots_.clear();
  released_slots_.clear();
  released_ptrs_.clear();
  next_seq_ = 0;
  released_upto_ = kNoWatermark;
  v1::HeldEvent p;
  absl::Status s = in.Scan(kTable, [&](std::string_view key, std::string_view value) {
    if (key == kReleasedKey) {
      if (value.size() != 8) return absl::DataLossError("event_order: malformed released mark");
      released_upto_ = ReadBigEndian64(value);
      return absl::OkStatus();
    }
    if (key.size() != 17 || key[0] != kRecordPrefix ||
        !p.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      return absl::DataLossError("event_order: undecodable held record");
    }
    Held h{ReadBigEndian64(key.substr(1, 8)),
           static_cast<uint64_t>(ReadBigEndian64(key.substr(9, 8))),
           static_cast<uint32_t>(slots_.size())};
    FromProto(p, &slots_.emplace_back());
    next_seq_ = std::max(next_seq_, h.seq + 1);
    heap_.push_back(h);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  std::make_heap(heap_.begin(), heap_.end(), later());
  saved_below_seq_ = next_seq_;
  deleted_upto_ = released_upto_;
  return absl::OkStatus();
}

}  // namespace promowatch
