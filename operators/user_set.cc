#include "operators/user_set.h"

#include <bit>

namespace promowatch {

void UserSet::MergeInto(std::span<const uint64_t> other, const uint8_t* saved) {
  merge_buffer_.clear();
  merge_buffer_.reserve(sorted_ + other.size());
  auto a = items_.begin();
  const auto a_end = items_.begin() + static_cast<std::ptrdiff_t>(sorted_);
  auto b = other.begin();
  while (a != a_end && b != other.end()) {
    if (*a < *b) {
      merge_buffer_.push_back(*a++);
    } else if (*b < *a) {
      if (saved == nullptr || !saved[b - other.begin()]) fresh_.push_back(*b);
      merge_buffer_.push_back(*b++);
    } else {
      merge_buffer_.push_back(*a++);
      ++b;
    }
  }
  merge_buffer_.insert(merge_buffer_.end(), a, a_end);
  if (saved == nullptr) {
    fresh_.insert(fresh_.end(), b, other.end());
  } else {
    for (auto r = b; r != other.end(); ++r) {
      if (!saved[r - other.begin()]) fresh_.push_back(*r);
    }
  }
  merge_buffer_.insert(merge_buffer_.end(), b, other.end());
  items_.swap(merge_buffer_);
  sorted_ = items_.size();
  saved_upto_ = sorted_;
  compact_at_ = std::max<size_t>(256, 2 * sorted_);
  if (merge_buffer_.capacity() > 4 * items_.size() + 1024) {
    std::vector<uint64_t>().swap(merge_buffer_);  // do not hoard memory after a shrink
  }
}

namespace {

// Sorts `in` into `out`, for uniformly distributed keys (hashes): one pass
// distributes them by their top bits into buckets of ~16 keys, which are
// then sorted where they lie, in cache. About 2x faster than std::sort on
// 10^4-10^6 hashes; std::sort below that.
void SortHashesInto(std::span<const uint64_t> in, std::vector<uint64_t>* out) {
  out->resize(in.size());
  if (in.size() < 2048) {
    std::copy(in.begin(), in.end(), out->begin());
    std::sort(out->begin(), out->end());
    return;
  }
  const int bits = std::clamp(static_cast<int>(std::bit_width(in.size())) - 4, 7, 16);
  const int shift = 64 - bits;
  std::vector<uint32_t> start((size_t{1} << bits) + 1, 0);
  for (const uint64_t h : in) ++start[(h >> shift) + 1];
  for (size_t b = 1; b < start.size(); ++b) start[b] += start[b - 1];
  std::vector<uint32_t> next(start.begin(), start.end() - 1);
  for (const uint64_t h : in) (*out)[next[h >> shift]++] = h;
  for (size_t b = 0; b + 1 < start.size(); ++b) {
    std::sort(out->begin() + start[b], out->begin() + start[b + 1]);
  }
}

}  // namespace

void UserSet::Compact() {
  if (sorted_ == items_.size()) return;
  const std::span<const uint64_t> all(items_);
  const size_t unsaved_from = std::max(sorted_, saved_upto_);
  std::vector<uint64_t> tail;
  SortHashesInto(all.subspan(unsaved_from), &tail);
  tail.erase(std::unique(tail.begin(), tail.end()), tail.end());
  std::vector<uint8_t> saved;  // per hash of `tail`: taken by TakeFresh already
  if (unsaved_from > sorted_) {
    // Appended hashes TakeFresh handed out: merged like the others, but not
    // fresh. One pass joins them to the tail, flagged.
    std::vector<uint64_t> taken;
    SortHashesInto(all.subspan(sorted_, unsaved_from - sorted_), &taken);
    taken.erase(std::unique(taken.begin(), taken.end()), taken.end());
    std::vector<uint64_t> joined;
    joined.reserve(tail.size() + taken.size());
    saved.reserve(tail.size() + taken.size());
    auto t = taken.begin();
    auto u = tail.begin();
    while (t != taken.end() || u != tail.end()) {
      if (u == tail.end() || (t != taken.end() && *t <= *u)) {
        if (u != tail.end() && *t == *u) ++u;
        joined.push_back(*t++);
        saved.push_back(1);
      } else {
        joined.push_back(*u++);
        saved.push_back(0);
      }
    }
    tail.swap(joined);
  }
  items_.resize(sorted_);
  // The tail is sorted and distinct: merge it into the head.
  MergeInto(tail, saved.empty() ? nullptr : saved.data());
}

void UserSet::RestoreSaved(std::vector<uint64_t>* hashes) {
  // Kept as they came, all saved: the first read or doubling sorts them
  // (Compact's path for taken hashes), so a set nobody reads again - a
  // closed window waiting out its lateness, any set of a restart with
  // nothing left to read - is never sorted.
  items_.swap(*hashes);
  hashes->clear();
  items_.shrink_to_fit();
  sorted_ = 0;
  saved_upto_ = items_.size();
  fresh_.clear();
  compact_at_ = std::max<size_t>(256, 2 * items_.size());
}

void UserSet::MergeSorted(std::span<const uint64_t> other) {
  Compact();
  MergeInto(other);
}

size_t CountDistinctUnion(std::span<const std::span<const uint64_t>> sets,
                          std::vector<uint64_t>* scratch, std::vector<uint64_t>* scratch2) {
  if (sets.empty()) return 0;
  if (sets.size() == 1) return sets[0].size();
  scratch->assign(sets[0].begin(), sets[0].end());
  for (size_t i = 1; i < sets.size(); ++i) {
    scratch2->resize(scratch->size() + sets[i].size());
    auto end = std::set_union(scratch->begin(), scratch->end(), sets[i].begin(), sets[i].end(),
                              scratch2->begin());
    scratch2->resize(static_cast<size_t>(end - scratch2->begin()));
    scratch->swap(*scratch2);
  }
  return scratch->size();
}

}  // namespace promowatch
