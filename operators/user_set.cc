#include "operators/user_set.h"

namespace promowatch {

void UserSet::MergeInto(std::span<const uint64_t> other) {
  merge_buffer_.clear();
  merge_buffer_.reserve(sorted_ + other.size());
  auto a = items_.begin();
  const auto a_end = items_.begin() + static_cast<std::ptrdiff_t>(sorted_);
  auto b = other.begin();
  while (a != a_end && b != other.end()) {
    if (*a < *b) {
      merge_buffer_.push_back(*a++);
    } else if (*b < *a) {
      fresh_.push_back(*b);
      merge_buffer_.push_back(*b++);
    } else {
      merge_buffer_.push_back(*a++);
      ++b;
    }
  }
  merge_buffer_.insert(merge_buffer_.end(), a, a_end);
  fresh_.insert(fresh_.end(), b, other.end());
  merge_buffer_.insert(merge_buffer_.end(), b, other.end());
  items_.swap(merge_buffer_);
  sorted_ = items_.size();
  compact_at_ = std::max<size_t>(256, 2 * sorted_);
  if (merge_buffer_.capacity() > 4 * items_.size() + 1024) {
    std::vector<uint64_t>().swap(merge_buffer_);  // do not hoard memory after a shrink
  }
}

void UserSet::Compact() {
  if (sorted_ == items_.size()) return;
  auto mid = items_.begin() + static_cast<std::ptrdiff_t>(sorted_);
  std::sort(mid, items_.end());
  items_.erase(std::unique(mid, items_.end()), items_.end());
  if (sorted_ == 0) {
    fresh_.insert(fresh_.end(), items_.begin(), items_.end());
    sorted_ = items_.size();
    compact_at_ = std::max<size_t>(256, 2 * sorted_);
    return;
  }
  // The tail is sorted and distinct: merge it into the head.
  std::vector<uint64_t> tail(mid, items_.end());
  items_.resize(sorted_);
  MergeInto(tail);
}

void UserSet::MergeSorted(std::span<const uint64_t> other) {
  Compact();
  MergeInto(other);
}

void UserSet::TakeFresh(std::vector<uint64_t>* out) {
  Compact();
  out->swap(fresh_);
  fresh_.clear();
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
