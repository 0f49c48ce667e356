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

  // Incremental checkpoints: moves the hashes added since the last call
  // into `out`: the new distinct ones found by compactions since (a
  // by-product, so nothing extra is done per Add), then the appended ones
  // not compacted yet, as they are (they may repeat each other or hashes
  // saved before: readers Add them back, which removes repeats). Sorting
  // them here would pause the pipeline at every checkpoint for a sort that
  // the next compaction does anyway (a sort of every set's tail: up to
  // 200 ms at 200k events/s, BENCHMARKS.md section 4d).
  void TakeFresh(std::vector<uint64_t>* out) {
    out->clear();
    TakeFresh([out](std::span<const uint64_t> part) {
      out->insert(out->end(), part.begin(), part.end());
    });
  }
  // The same, handed to `take` in at most two parts, without a copy (a
  // checkpoint appends them straight to the value it writes).
  template <class Take>
  void TakeFresh(Take&& take) {
    if (!fresh_.empty()) take(std::span<const uint64_t>(fresh_));
    const size_t from = std::max(sorted_, saved_upto_);
    if (from < items_.size()) take(std::span<const uint64_t>(items_).subspan(from));
    fresh_.clear();
    saved_upto_ = items_.size();
  }
  // An empty set becomes the distinct hashes of `hashes` (in any order,
  // repeats allowed; left empty), all saved already: a restore collects a
  // set's chunks and hands them over at once instead of adding them one by
  // one (a merge per doubling, and every hash fresh). They are sorted when
  // the set is first read or doubles.
  void RestoreSaved(std::vector<uint64_t>* hashes);

  size_t memory_bytes() const { return items_.capacity() * sizeof(uint64_t); }
  // Hashes appended since the last compaction.
  size_t unsorted() const { return items_.size() - sorted_; }
  size_t raw_size() const { return items_.size(); }

 private:
  void Compact();
  // items_ = items_ U other (both sorted, distinct); the new ones go to
  // fresh_ unless flagged in `saved` (one flag per hash of `other`; null:
  // none is): TakeFresh handed them out already.
  void MergeInto(std::span<const uint64_t> other, const uint8_t* saved = nullptr);

  // [0, sorted_) sorted and distinct; then appended: [sorted_, saved_upto_)
  // taken by TakeFresh, [saved_upto_, size) not yet.
  std::vector<uint64_t> items_;
  std::vector<uint64_t> fresh_;  // distinct hashes not yet taken by TakeFresh
  std::vector<uint64_t> merge_buffer_;
  size_t sorted_ = 0;
  size_t saved_upto_ = 0;
  size_t compact_at_ = 256;
};

// Counts the distinct hashes in the union of sorted, distinct sets, using
// `scratch` as working memory (kept by the caller to avoid allocations).
size_t CountDistinctUnion(std::span<const std::span<const uint64_t>> sets,
                          std::vector<uint64_t>* scratch, std::vector<uint64_t>* scratch2);

}  // namespace promowatch
