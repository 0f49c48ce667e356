#pragma once
// The profile step's event-time timers of the users held in memory, in
// buckets by due minute: setting a timer appends a 4-byte record handle to
// its minute's bucket (no node per user, no ordered insert); firing takes
// the buckets up to the watermark's minute whole. A record's timer may
// change while an older entry stays in some bucket: entries are checked
// against the record when taken (the record's timer_ms is the truth) and
// a stale one is dropped then.
//
// Timers of users not in memory are in the state's index table (BE64(time)
// + user id), read from a cursor as the watermark passes them: a restart
// reads neither every profile nor every timer.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"

namespace promowatch {

class ProfileTimers {
 public:
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

  void Add(int64_t at_ms, uint32_t handle) {
    const int64_t minute = Minute(at_ms);
    auto [it, created] = buckets_.try_emplace(minute);
    if (created) {
      order_.insert(minute);
      it->second.earliest = at_ms;
    }
    it->second.earliest = std::min(it->second.earliest, at_ms);
    it->second.handles.push_back(handle);
  }

  // At or before the earliest timer (kNever: none). Stale entries may make
  // it early; Take corrects it.
  int64_t earliest() const {
    return order_.empty() ? kNever : buckets_.find(*order_.begin())->second.earliest;
  }

  // Appends the handles of every bucket whose minute begins at or before
  // `upto` to `out` and forgets them: due entries, stale ones, and live
  // ones due later in upto's own minute (the caller adds those back).
  void Take(int64_t upto, std::vector<uint32_t>* out) {
    while (!order_.empty() && *order_.begin() <= Minute(upto)) {
      auto it = buckets_.find(*order_.begin());
      out->insert(out->end(), it->second.handles.begin(), it->second.handles.end());
      buckets_.erase(it);
      order_.erase(order_.begin());
    }
  }

  // Entries held (live and stale).
  size_t entries() const {
    size_t n = 0;
    for (const auto& [minute, b] : buckets_) n += b.handles.size();
    return n;
  }

  static int64_t Minute(int64_t at_ms) { return at_ms >= 0 ? at_ms / 60'000 : -1; }

 private:
  struct Bucket {
    int64_t earliest = kNever;
    std::vector<uint32_t> handles;
  };
  absl::flat_hash_map<int64_t, Bucket> buckets_;
  absl::btree_set<int64_t> order_;  // minutes with a bucket, ascending
};

}  // namespace promowatch
