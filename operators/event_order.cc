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
  const int64_t bucket = key.first >> kBucketShift;
  if (bucket != last_bucket_ || last_held_ == nullptr) {
    auto [it, added] = buckets_.try_emplace(bucket);
    if (added && !spare_.empty()) {
      it->second.swap(spare_.back());
      spare_.pop_back();
    }
    last_bucket_ = bucket;
    last_held_ = &it->second;
  }
  last_held_->push_back({key, slot});
  ++held_;
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
  // The buckets the watermark passed whole, then the part of the next one
  // it reached.
  releasing_.clear();
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    const int64_t first_ms = it->first << kBucketShift;
    if (first_ms > released_upto_) break;
    std::vector<Held>& bucket = it->second;
    if (first_ms + ((int64_t{1} << kBucketShift) - 1) > released_upto_) {
      const auto kept = std::partition(bucket.begin(), bucket.end(), [this](const Held& h) {
        return h.key.first > released_upto_;
      });
      releasing_.insert(releasing_.end(), kept, bucket.end());
      bucket.erase(kept, bucket.end());
      if (!bucket.empty()) break;
    } else {
      releasing_.insert(releasing_.end(), bucket.begin(), bucket.end());
    }
    bucket.clear();
    spare_.push_back(std::move(bucket));
    if (last_held_ == &it->second) last_held_ = nullptr;
    it = buckets_.erase(it);
  }
  held_ -= releasing_.size();
  std::sort(releasing_.begin(), releasing_.end(),
            [](const Held& x, const Held& y) { return x.key < y.key; });
  for (const Held& h : releasing_) released_slots_.push_back(h.slot);
  // The same millisecond: clicks before orders, then by event id (arrival
  // order differs between runs; admission let one record per id through).
  const auto first = [this](uint32_t a, uint32_t b) {
    const EventRecord& x = slots_[a];
    const EventRecord& y = slots_[b];
    if (x.kind != y.kind) return x.kind < y.kind;
    return x.event_id < y.event_id;
  };
  for (size_t i = 0; i < releasing_.size();) {
    size_t j = i + 1;
    const int64_t t = releasing_[i].key.first;
    while (j < releasing_.size() && releasing_[j].key.first == t) ++j;
    if (j - i > 1) std::sort(released_slots_.begin() + i, released_slots_.begin() + j, first);
    i = j;
  }
  // (Pointers after the loop: slots_ does not grow while releasing.)
  for (uint32_t slot : released_slots_) released_ptrs_.push_back(&slots_[slot]);
  return released_ptrs_;
}

std::span<EventRecord* const> EventTimeOrder::ReleaseAll() {
  int64_t newest = released_upto_;
  if (!buckets_.empty()) {
    for (const Held& h : buckets_.rbegin()->second) {
      newest = newest == kNoWatermark ? h.key.first : std::max(newest, h.key.first);
    }
  }
  return Release(newest);
}

namespace {
constexpr size_t kHeldPrefetch = 8;
}  // namespace

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
  for (size_t i = 0; i < unsaved_.size(); ++i) {
    // Held records are scattered over the slots and cold by now: fetch the
    // ones a few places ahead while this one is encoded.
    if (i + kHeldPrefetch < unsaved_.size()) {
      const char* ahead =
          reinterpret_cast<const char*>(&slots_[unsaved_[i + kHeldPrefetch].second]);
      for (size_t line = 0; line < sizeof(EventRecord); line += 64)
        __builtin_prefetch(ahead + line);
    }
    const auto& [key, slot] = unsaved_[i];
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
  buckets_.clear();
  last_bucket_ = kNoWatermark;
  last_held_ = nullptr;
  held_ = 0;
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
