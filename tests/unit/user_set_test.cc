#include "operators/user_set.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace promowatch {
namespace {

TEST(UserSet, CountsExactlyAcrossCompactions) {
  std::mt19937_64 rng(1);
  UserSet s;
  std::set<uint64_t> truth;
  for (int i = 0; i < 50'000; ++i) {
    const uint64_t h = rng() % 7'000;  // many repeats
    s.Add(h);
    truth.insert(h);
    if (i % 9'999 == 0) {
      ASSERT_EQ(s.CountDistinct(), truth.size()) << i;
    }
  }
  auto sorted = s.Sorted();
  EXPECT_TRUE(std::equal(sorted.begin(), sorted.end(), truth.begin(), truth.end()));
  EXPECT_LE(s.raw_size(), 2 * truth.size() + 256) << "memory stays near the distinct count";
}

TEST(UserSet, FullWidthHashesSortExactlyInLargeCompactions) {
  // Real hashes use all 64 bits: compactions of thousands of them take the
  // bucketed sort path (the small-value tests above stay in one bucket).
  std::mt19937_64 rng(3);
  std::vector<uint64_t> pool(150'000);
  for (auto& h : pool) h = rng();
  pool[7] = 0;
  pool[8] = ~uint64_t{0};  // the extreme buckets
  UserSet s;
  std::set<uint64_t> truth;
  for (int i = 0; i < 400'000; ++i) {
    const uint64_t h = pool[rng() % pool.size()];
    s.Add(h);
    truth.insert(h);
    if (i % 99'999 == 0) {
      ASSERT_EQ(s.CountDistinct(), truth.size()) << i;
    }
  }
  auto sorted = s.Sorted();
  ASSERT_EQ(sorted.size(), truth.size());
  EXPECT_TRUE(std::equal(sorted.begin(), sorted.end(), truth.begin(), truth.end()));
}

std::vector<uint64_t> Distinct(std::vector<uint64_t> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// TakeFresh hands out what was appended since the last call as it is (no
// sort at a checkpoint), plus what compactions found new; a hash taken is
// not taken again once a compaction has seen it.
TEST(UserSet, FreshHashesAreTakenOnceCompacted) {
  UserSet day;
  for (uint64_t h : {5, 1, 9, 5}) day.Add(h);
  std::vector<uint64_t> fresh;
  day.TakeFresh(&fresh);
  EXPECT_EQ(fresh, (std::vector<uint64_t>{5, 1, 9, 5})) << "appended, not compacted: as added";
  std::vector<uint64_t> pane = {1, 2, 9, 10};
  day.MergeSorted(pane);  // compacts 5, 1, 9 (taken) and merges 2 and 10 (fresh)
  day.Add(11);
  day.Add(2);
  day.TakeFresh(&fresh);
  EXPECT_EQ(Distinct(fresh), (std::vector<uint64_t>{2, 10, 11}));
  EXPECT_EQ(day.CountDistinct(), 6u);
  day.TakeFresh(&fresh);
  EXPECT_TRUE(fresh.empty()) << "11 and 2 were taken before the compaction";
}

TEST(UserSet, TakenAppendedHashesAreNotFreshAfterCompaction) {
  UserSet s;
  s.Add(5);
  std::vector<uint64_t> fresh;
  s.TakeFresh(&fresh);
  EXPECT_EQ(fresh, (std::vector<uint64_t>{5}));
  s.Add(7);
  s.Add(5);
  EXPECT_EQ(s.CountDistinct(), 2u);  // compacts {5} taken, {7, 5} not
  s.TakeFresh(&fresh);
  EXPECT_EQ(fresh, (std::vector<uint64_t>{7}));
  s.TakeFresh(&fresh);
  EXPECT_TRUE(fresh.empty());
}

TEST(UserSet, FreshOverManyCompactionsCoversTheDistinctSet) {
  std::mt19937_64 rng(2);
  UserSet s;
  std::vector<uint64_t> all, fresh;
  std::set<uint64_t> truth;
  constexpr size_t kAdds = 30'000;
  for (size_t i = 0; i < kAdds; ++i) {
    const uint64_t h = rng() % 5'000;
    s.Add(h);
    truth.insert(h);
    if (i % 997 == 0) {
      s.TakeFresh(&fresh);
      all.insert(all.end(), fresh.begin(), fresh.end());
    }
  }
  s.TakeFresh(&fresh);
  all.insert(all.end(), fresh.begin(), fresh.end());
  const std::vector<uint64_t> taken = Distinct(all);
  EXPECT_TRUE(std::equal(taken.begin(), taken.end(), truth.begin(), truth.end()));
  // Each add is handed out at most once as appended, each distinct hash at
  // most once as found new by a compaction.
  EXPECT_LE(all.size(), kAdds + truth.size());
}

TEST(UserSet, RestoredSetHoldsTheDistinctHashesAndNothingFresh) {
  // A restore hands a set all its saved chunks at once (repeats across
  // chunks, full-width hashes: the bucketed sort).
  std::mt19937_64 rng(5);
  std::vector<uint64_t> chunks;
  std::set<uint64_t> truth;
  for (int i = 0; i < 60'000; ++i) {
    const uint64_t h = i % 3 == 0 && !chunks.empty() ? chunks[rng() % chunks.size()] : rng();
    chunks.push_back(h);
    truth.insert(h);
  }
  UserSet s;
  s.RestoreSaved(&chunks);
  auto sorted = s.Sorted();
  EXPECT_TRUE(std::equal(sorted.begin(), sorted.end(), truth.begin(), truth.end()));
  std::vector<uint64_t> fresh;
  s.TakeFresh(&fresh);
  EXPECT_TRUE(fresh.empty()) << "restored hashes are on disk already";
  // After it: only what is new is fresh, once compacted.
  s.Add(*truth.begin());
  s.Add(42);
  if (truth.count(42) == 0) truth.insert(42);
  EXPECT_EQ(s.CountDistinct(), truth.size());
  s.TakeFresh(&fresh);
  EXPECT_EQ(fresh, std::vector<uint64_t>{42});
}

TEST(UserSet, ARestoredSetIsSortedOnlyWhenRead) {
  std::vector<uint64_t> chunks = {9, 3, 9, 7, 3};
  UserSet s;
  s.RestoreSaved(&chunks);
  EXPECT_TRUE(chunks.empty());
  EXPECT_EQ(s.unsorted(), 5u) << "kept as restored until read (a restart with nothing to read)";
  s.Add(3);   // restored before
  s.Add(11);  // new
  std::vector<uint64_t> fresh;
  s.TakeFresh(&fresh);
  EXPECT_EQ(fresh, (std::vector<uint64_t>{3, 11})) << "appended since the restore, as they are";
  s.Add(1);
  const auto sorted = s.Sorted();
  EXPECT_EQ(std::vector<uint64_t>(sorted.begin(), sorted.end()),
            (std::vector<uint64_t>{1, 3, 7, 9, 11}));
  s.TakeFresh(&fresh);
  EXPECT_EQ(fresh, std::vector<uint64_t>{1}) << "neither restored nor taken hashes are fresh again";
}

TEST(UserSet, UnionOfPanes) {
  std::vector<uint64_t> a = {1, 3, 5}, b = {2, 3}, c = {}, d = {5, 8};
  std::vector<std::span<const uint64_t>> sets = {a, b, c, d};
  std::vector<uint64_t> s1, s2;
  EXPECT_EQ(CountDistinctUnion(sets, &s1, &s2), 5u);
  EXPECT_EQ(CountDistinctUnion({}, &s1, &s2), 0u);
}

// Against std::set, with overlaps, an empty pane and extreme hashes, for
// 5m, 15m and other window lengths.
TEST(UserSet, UnionOfManyPanesAgreesWithASet) {
  std::mt19937_64 rng(7);
  for (size_t k : {2, 5, 8, 15, 60}) {
    std::vector<std::vector<uint64_t>> panes(k);
    std::set<uint64_t> truth;
    for (size_t i = 0; i < k; ++i) {
      if (i == 1) continue;  // one empty pane
      const size_t n = 1000 + rng() % 3000;
      for (size_t j = 0; j < n; ++j) {
        // A shared pool makes panes overlap; some hashes only once.
        const uint64_t h = j % 3 == 0 ? rng() : rng() % 4000;
        panes[i].push_back(h);
      }
      panes[i].push_back(0);
      panes[i].push_back(~uint64_t{0});
      std::sort(panes[i].begin(), panes[i].end());
      panes[i].erase(std::unique(panes[i].begin(), panes[i].end()), panes[i].end());
      truth.insert(panes[i].begin(), panes[i].end());
    }
    std::vector<std::span<const uint64_t>> sets(panes.begin(), panes.end());
    std::vector<uint64_t> s1, s2;
    EXPECT_EQ(CountDistinctUnion(sets, &s1, &s2), truth.size()) << k << " panes";
  }
}

}  // namespace
}  // namespace promowatch
