#include "operators/user_set.h"

namespace promowatch {

void UserSet::Compact() {
  if (sorted_ == items_.size()) return;
  auto mid = items_.begin() + static_cast<std::ptrdiff_t>(sorted_);
  std::sort(mid, items_.end());
  items_.erase(std::unique(mid, items_.end()), items_.end());
  if (sorted_ > 0) {
    std::inplace_merge(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(sorted_),
                       items_.end());
    items_.erase(std::unique(items_.begin(), items_.end()), items_.end());
  }
  sorted_ = items_.size();
  compact_at_ = std::max<size_t>(256, 2 * sorted_);
}

void UserSet::MergeSorted(std::span<const uint64_t> other, std::vector<uint64_t>* added) {
  Compact();
  std::vector<uint64_t> merged;
  merged.reserve(items_.size() + other.size());
  auto a = items_.begin();
  auto b = other.begin();
  while (a != items_.end() && b != other.end()) {
    if (*a < *b) {
      merged.push_back(*a++);
    } else if (*b < *a) {
      if (added != nullptr) added->push_back(*b);
      merged.push_back(*b++);
    } else {
      merged.push_back(*a++);
      ++b;
    }
  }
  merged.insert(merged.end(), a, items_.end());
  if (added != nullptr) added->insert(added->end(), b, other.end());
  merged.insert(merged.end(), b, other.end());
  items_.swap(merged);
  sorted_ = items_.size();
  compact_at_ = std::max<size_t>(256, 2 * sorted_);
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
