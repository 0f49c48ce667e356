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

TEST(UserSet, FreshHashesAreEachTakenOnce) {
  UserSet day;
  for (uint64_t h : {5, 1, 9, 5}) day.Add(h);
  std::vector<uint64_t> fresh;
  day.TakeFresh(&fresh);
  EXPECT_EQ(fresh, (std::vector<uint64_t>{1, 5, 9}));
  std::vector<uint64_t> pane = {1, 2, 9, 10};
  day.MergeSorted(pane);
  day.Add(11);
  day.Add(2);
  day.TakeFresh(&fresh);
  std::sort(fresh.begin(), fresh.end());
  EXPECT_EQ(fresh, (std::vector<uint64_t>{2, 10, 11}));
  EXPECT_EQ(day.CountDistinct(), 6u);
  day.TakeFresh(&fresh);
  EXPECT_TRUE(fresh.empty());
}

TEST(UserSet, FreshOverManyCompactionsIsExactlyTheDistinctSet) {
  std::mt19937_64 rng(2);
  UserSet s;
  std::vector<uint64_t> all, fresh;
  std::set<uint64_t> truth;
  for (int i = 0; i < 30'000; ++i) {
    const uint64_t h = rng() % 5'000;
    s.Add(h);
    truth.insert(h);
    if (i % 7'000 == 0) {
      s.TakeFresh(&fresh);
      all.insert(all.end(), fresh.begin(), fresh.end());
    }
  }
  s.TakeFresh(&fresh);
  all.insert(all.end(), fresh.begin(), fresh.end());
  std::sort(all.begin(), all.end());
  EXPECT_TRUE(std::adjacent_find(all.begin(), all.end()) == all.end()) << "no hash taken twice";
  EXPECT_TRUE(std::equal(all.begin(), all.end(), truth.begin(), truth.end()));
}

TEST(UserSet, UnionOfPanes) {
  std::vector<uint64_t> a = {1, 3, 5}, b = {2, 3}, c = {}, d = {5, 8};
  std::vector<std::span<const uint64_t>> sets = {a, b, c, d};
  std::vector<uint64_t> s1, s2;
  EXPECT_EQ(CountDistinctUnion(sets, &s1, &s2), 5u);
  EXPECT_EQ(CountDistinctUnion({}, &s1, &s2), 0u);
}

}  // namespace
}  // namespace promowatch
