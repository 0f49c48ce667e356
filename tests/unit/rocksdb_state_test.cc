#include "pipeline/rocksdb_state.h"

#include <gtest/gtest.h>

#include "unit/test_util.h"

namespace promowatch {
namespace {

std::vector<std::pair<std::string, std::string>> ScanAll(const RocksStateBackend& db,
                                                         std::string_view table) {
  std::vector<std::pair<std::string, std::string>> out;
  EXPECT_TRUE(db.Scan(table, [&](std::string_view k, std::string_view v) {
                  out.emplace_back(k, v);
                  return absl::OkStatus();
                }).ok());
  return out;
}

TEST(RocksState, BatchesAreInvisibleUntilCommitAndSurviveReopen) {
  testing::TempDir dir;
  {
    auto db = RocksStateBackend::Open(dir.path(), {"a", "b"});
    ASSERT_TRUE(db.ok()) << db.status();
    auto batch = (*db)->NewBatch();
    batch->Put("a", "k1", "v1");
    batch->Put("b", "k1", "other table");
    EXPECT_TRUE(ScanAll(**db, "a").empty());
    EXPECT_EQ(batch->count(), 2u);
    ASSERT_TRUE((*db)->Commit(*batch).ok());
    EXPECT_EQ(ScanAll(**db, "a").size(), 1u);
  }
  auto db = RocksStateBackend::Open(dir.path(), {"a"});  // "b" exists on disk: opened too
  ASSERT_TRUE(db.ok()) << db.status();
  std::string v;
  ASSERT_TRUE((*db)->Get("b", "k1", &v).ok());
  EXPECT_EQ(v, "other table");
  EXPECT_TRUE(absl::IsNotFound((*db)->Get("a", "missing", &v)));
}

TEST(RocksState, RangeDeleteByTimePrefix) {
  testing::TempDir dir;
  auto db = RocksStateBackend::Open(dir.path(), {"t"});
  ASSERT_TRUE(db.ok());
  auto batch = (*db)->NewBatch();
  for (int64_t pane : {5, 6, 7, 300}) {
    std::string k;
    AppendBigEndian64(&k, pane);
    k += "c1";
    batch->Put("t", k, "x");
  }
  ASSERT_TRUE((*db)->Commit(*batch).ok());
  std::string begin, end;
  AppendBigEndian64(&begin, INT64_MIN);
  AppendBigEndian64(&end, 7);
  batch->DeleteRange("t", begin, end);
  ASSERT_TRUE((*db)->Commit(*batch).ok());
  auto rows = ScanAll(**db, "t");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(ReadBigEndian64(rows[0].first), 7);
  EXPECT_EQ(ReadBigEndian64(rows[1].first), 300);
}

TEST(RocksState, UnknownTableFailsTheCommitNotTheProcess) {
  testing::TempDir dir;
  auto db = RocksStateBackend::Open(dir.path(), {"t"});
  ASSERT_TRUE(db.ok());
  auto batch = (*db)->NewBatch();
  batch->Put("t", "k", "v");
  batch->Put("nope", "k", "v");
  EXPECT_FALSE((*db)->Commit(*batch).ok());
  EXPECT_TRUE(ScanAll(**db, "t").empty()) << "nothing of a failed batch is written";
}

TEST(RocksState, SecondOpenOfTheSameDirIsRefusedWithAHint) {
  testing::TempDir dir;
  auto a = RocksStateBackend::Open(dir.path(), {"t"});
  ASSERT_TRUE(a.ok());
  auto b = RocksStateBackend::Open(dir.path(), {"t"});
  ASSERT_FALSE(b.ok());
  EXPECT_NE(std::string(b.status().message()).find("--state-dir"), std::string::npos);
}

TEST(KeyEncoding, BigEndianKeepsOrderIncludingNegatives) {
  std::string a, b, c;
  AppendBigEndian64(&a, -5);
  AppendBigEndian64(&b, 3);
  AppendBigEndian64(&c, 1LL << 40);
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_EQ(ReadBigEndian64(a), -5);
  EXPECT_EQ(ReadBigEndian64(c), 1LL << 40);
  std::string packed;
  const uint64_t hs[] = {1, 0xfedcba9876543210ull};
  AppendHashes(&packed, hs, 2);
  std::vector<uint64_t> back;
  ForEachHash(packed, [&](uint64_t h) { back.push_back(h); });
  EXPECT_EQ(back, (std::vector<uint64_t>{1, 0xfedcba9876543210ull}));
}

}  // namespace
}  // namespace promowatch
