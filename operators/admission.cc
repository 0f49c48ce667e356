#include "operators/admission.h"

#include "operators/time_util.h"

namespace promowatch {

EventAdmission::EventAdmission(const OperatorOptions& options)
    : lateness_ms_(options.effective_lateness_ms()) {}

Admission EventAdmission::Admit(const EventRecord& e) {
  // Lateness first: it depends only on the record and the watermark at its
  // arrival, so the outcome never depends on how records were batched (ids
  // expire at batch ends). A late retry of a counted event is "late".
  const int64_t pane = PaneOf(e.event_time_ms);
  if (e.watermark_ms != kNoWatermark && PaneEndMs(pane) + lateness_ms_ <= e.watermark_ms) {
    return Admission::kLate;
  }
  if (!ids_.insert(e.event_id_hash).second) return Admission::kDuplicate;
  ++admitted_since_forget_;
  if (pane != last_pane_) {
    last_bucket_ = &buckets_[pane];
    last_pane_ = pane;
  }
  last_bucket_->ids.push_back(e.event_id_hash);
  return Admission::kAccepted;
}

void EventAdmission::OnWatermark(int64_t watermark_ms) {
  if (watermark_ms != kNoWatermark) {
    while (!buckets_.empty()) {
      auto it = buckets_.begin();
      if (PaneEndMs(it->first) + lateness_ms_ > watermark_ms) break;
      forgetting_.push_back(std::move(it->second.ids));
      expired_below_ = it->first + 1;
      if (&it->second == last_bucket_) {
        last_bucket_ = nullptr;
        last_pane_ = INT64_MIN;
      }
      buckets_.erase(it);
    }
  }
  // Expired ids leave the set a slice per call: a minute of a peak is
  // millions of ids, and erasing them all at once stalled the pipeline for
  // up to 0.8 s at each minute boundary (BENCHMARKS.md, section 4d). An id
  // kept a little longer changes nothing: its pane is past the lateness
  // bound, so Admit calls any event of that pane late before it looks at
  // ids. Erasing 4x what was admitted since the last call (and at least
  // kMinForgetPerCall) drains the backlog faster than it can grow.
  size_t budget = std::max<size_t>(kMinForgetPerCall, 4 * admitted_since_forget_);
  admitted_since_forget_ = 0;
  while (budget > 0 && !forgetting_.empty()) {
    std::vector<uint64_t>& ids = forgetting_.front();
    const size_t n = std::min(budget, ids.size() - forget_pos_);
    for (size_t i = forget_pos_; i < forget_pos_ + n; ++i) ids_.erase(ids[i]);
    forget_pos_ += n;
    budget -= n;
    if (forget_pos_ == ids.size()) {
      forgetting_.pop_front();
      forget_pos_ = 0;
    }
  }
}

void EventAdmission::Snapshot(StateWriter& out) {
  std::string key;
  std::string& value = snapshot_value_;
  if (expired_below_ > deleted_below_) {
    std::string begin, end;
    AppendBigEndian64(&begin, INT64_MIN);
    AppendBigEndian64(&end, expired_below_);
    out.DeleteRange(kIdsTable, begin, end);
    deleted_below_ = expired_below_;
  }
  for (auto& [pane, bucket] : buckets_) {
    if (bucket.saved == bucket.ids.size()) continue;
    key.clear();
    AppendBigEndian64(&key, pane);
    AppendBigEndian32(&key, bucket.chunks++);
    value.clear();
    AppendHashes(&value, bucket.ids.data() + bucket.saved, bucket.ids.size() - bucket.saved);
    out.Put(kIdsTable, key, value);
    bucket.saved = bucket.ids.size();
  }
}

absl::Status EventAdmission::Restore(const StateReader& in) {
  ids_.clear();
  buckets_.clear();
  forgetting_.clear();
  forget_pos_ = 0;
  last_bucket_ = nullptr;
  last_pane_ = INT64_MIN;
  return in.Scan(kIdsTable, [&](std::string_view key, std::string_view value) {
    if (key.size() != 12) return absl::DataLossError("dedup_ids: malformed key");
    const int64_t pane = ReadBigEndian64(key.substr(0, 8));
    const uint32_t chunk = ReadBigEndian32(key.substr(8, 4));
    Bucket& b = buckets_[pane];
    ForEachHash(value, [&](uint64_t h) {
      ids_.insert(h);
      b.ids.push_back(h);
    });
    b.saved = b.ids.size();
    b.chunks = std::max(b.chunks, chunk + 1);
    return absl::OkStatus();
  });
}

size_t EventAdmission::memory_bytes() const {
  // flat_hash_set: one slot (8 bytes) plus one control byte per capacity.
  size_t bytes = ids_.capacity() * (sizeof(uint64_t) + 1);
  for (const auto& [pane, b] : buckets_) bytes += b.ids.capacity() * sizeof(uint64_t) + 64;
  for (const auto& ids : forgetting_) bytes += ids.capacity() * sizeof(uint64_t);
  return bytes;
}

}  // namespace promowatch
