#pragma once
// An exact set of 64-bit user hashes, shaped for the hot path: Add is an
// append to a vector (sequential memory, no hashing, no cache miss per
// event); duplicates are removed by sort + unique when the vector has doubled
// since the last compaction, and before the set is read. Memory stays within
// about 2x the distinct users; the amortized cost per Add is a share of a
// sort of new elements, far cheaper than a hash-set insert that misses the
// cache (measured in BENCHMARKS.md).
//
// Not thread-safe; owned by one operator on the pipeline thread.

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

namespace promowatch {

class UserSet {
 public:
  void Add(uint64_t h) {
    items_.push_back(h);
    if (items_.size() >= compact_at_) Compact();
  }

  // The distinct hashes, sorted.
  std::span<const uint64_t> Sorted() {
    Compact();
    return items_;
  }
  size_t CountDistinct() { return Sorted().size(); }

  // Adds every hash of a sorted, distinct `other`.
  void MergeSorted(std::span<const uint64_t> other);

  // Incremental checkpoints: moves the distinct hashes added since the last
  // call into `out` (found as a by-product of compaction, so nothing extra is
  // done per Add). MarkSaved forgets them without taking (after a restore).
  void TakeFresh(std::vector<uint64_t>* out);
  void MarkSaved() {
    Compact();
    fresh_.clear();
  }

  size_t memory_bytes() const { return items_.capacity() * sizeof(uint64_t); }
  size_t raw_size() const { return items_.size(); }

 private:
  void Compact();
  // items_ = items_ U other (both sorted, distinct); the new ones go to fresh_.
  void MergeInto(std::span<const uint64_t> other);

  std::vector<uint64_t> items_;  // [0, sorted_) sorted and distinct, then appended
  std::vector<uint64_t> fresh_;  // distinct hashes not yet taken by TakeFresh
  std::vector<uint64_t> merge_buffer_;
  size_t sorted_ = 0;
  size_t compact_at_ = 256;
};

// Counts the distinct hashes in the union of sorted, distinct sets, using
// `scratch` as working memory (kept by the caller to avoid allocations).
size_t CountDistinctUnion(std::span<const std::span<const uint64_t>> sets,
                          std::vector<uint64_t>* scratch, std::vector<uint64_t>* scratch2);

}  // namespace promowatch
