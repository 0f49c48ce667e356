#include "pipeline/io/file_io.h"

#include <gtest/gtest.h>

#include <fstream>

#include "operators/encoding.h"
#include "unit/test_util.h"

namespace promowatch {
namespace {

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::vector<std::string> ReadAll(const std::string& path, size_t batch, bool* truncated_seen,
                                 WireFormat* format) {
  auto r = FileRecordReader::Open(path, std::nullopt);
  EXPECT_TRUE(r.ok());
  *format = (*r)->format();
  std::vector<std::string> out;
  std::vector<RawRecord> b;
  std::optional<ReadProblem> problem;
  *truncated_seen = false;
  while ((*r)->Next(batch, &b, &problem)) {
    const bool truncated = problem.has_value();
    for (const auto& rec : b) out.emplace_back(rec.bytes);
    *truncated_seen |= truncated;
  }
  return out;
}

TEST(FileRecordReader, JsonLinesSkipBlankLinesAndCarriageReturns) {
  testing::TempDir dir;
  Write(dir.file("a.jsonl"), "{\"a\":1}\r\n\n  \n{\"b\":2}\n{\"c\":3}");
  bool truncated;
  WireFormat f;
  auto recs = ReadAll(dir.file("a.jsonl"), 2, &truncated, &f);
  EXPECT_EQ(f, WireFormat::kJson);
  EXPECT_EQ(recs, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"}));
  EXPECT_FALSE(truncated);
}

TEST(FileRecordReader, BinaryDelimitedWithATruncatedTail) {
  testing::TempDir dir;
  std::string bytes;
  std::vector<std::string> msgs;
  for (int i = 0; i < 1000; ++i) {
    v1::Event e;
    e.mutable_click()->set_event_id(std::string(static_cast<size_t>(i % 300), 'x'));
    msgs.push_back(e.SerializeAsString());
    uint64_t len = msgs.back().size();
    while (len >= 0x80) {
      bytes.push_back(static_cast<char>((len & 0x7f) | 0x80));
      len >>= 7;
    }
    bytes.push_back(static_cast<char>(len));
    bytes += msgs.back();
  }
  bytes += std::string("\x20\x0a\x01", 3);  // says 32 bytes, has 2
  Write(dir.file("b.bin"), bytes);
  bool truncated;
  WireFormat f;
  auto recs = ReadAll(dir.file("b.bin"), 7, &truncated, &f);
  EXPECT_EQ(f, WireFormat::kBinary);
  ASSERT_EQ(recs.size(), 1001u);
  EXPECT_TRUE(truncated);
  for (size_t i = 0; i < msgs.size(); ++i) ASSERT_EQ(recs[i], msgs[i]) << i;
  EXPECT_EQ(recs.back(), std::string("\x20\x0a\x01", 3)) << "the tail is kept with its bytes";
}

TEST(FileRecordReader, StartsAtAnOffset) {
  testing::TempDir dir;
  Write(dir.file("a.jsonl"), "{\"a\":1}\n{\"b\":2}\n");
  auto r = FileRecordReader::Open(dir.file("a.jsonl"), WireFormat::kJson, 8);
  ASSERT_TRUE(r.ok());
  std::vector<RawRecord> b;
  std::optional<ReadProblem> problem;
  ASSERT_TRUE((*r)->Next(10, &b, &problem));
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].bytes, "{\"b\":2}");
  EXPECT_EQ(b[0].offset, 8);
}

// Everything a reader hands out, with the problems it reported.
struct ReadOut {
  std::vector<std::string> records;
  std::vector<ReadProblem> problems;
  WireFormat format;
};
ReadOut ReadWithProblems(const std::string& path, size_t batch) {
  ReadOut o;
  auto r = FileRecordReader::Open(path, std::nullopt);
  EXPECT_TRUE(r.ok());
  o.format = (*r)->format();
  std::vector<RawRecord> b;
  std::optional<ReadProblem> problem;
  while ((*r)->Next(batch, &b, &problem)) {
    for (const auto& rec : b) o.records.emplace_back(rec.bytes);
    if (problem) o.problems.push_back(*problem);
  }
  return o;
}

TEST(FileRecordReader, AnOverlongJsonLineIsSkippedAndReadingGoesOn) {
  testing::TempDir dir;
  const std::string huge =
      "{\"click\":\"" + std::string(FileRecordReader::kMaxRecord + 10, 'x') + "\"}";
  Write(dir.file("a.jsonl"), "{\"a\":1}\n" + huge + "\n{\"b\":2}\n{\"c\":3}");
  for (size_t batch : {1, 7}) {
    const ReadOut o = ReadWithProblems(dir.file("a.jsonl"), batch);
    ASSERT_EQ(o.records.size(), 4u) << "batch " << batch;
    EXPECT_EQ(o.records[0], "{\"a\":1}");
    EXPECT_EQ(o.records[1].size(), FileRecordReader::kKeptPrefix);  // what is kept of it
    EXPECT_EQ(o.records[1].substr(0, 10), huge.substr(0, 10));
    EXPECT_EQ(o.records[2], "{\"b\":2}");
    EXPECT_EQ(o.records[3], "{\"c\":3}");
    ASSERT_EQ(o.problems.size(), 1u);
    EXPECT_EQ(o.problems[0].reason, v1::REJECT_REASON_RECORD_TOO_LARGE);
    EXPECT_EQ(o.problems[0].skipped_bytes, static_cast<int64_t>(huge.size() + 1));
  }
}

TEST(FileRecordReader, AHugeLengthPrefixSkipsTheRestAndSaysHowMuch) {
  testing::TempDir dir;
  // One good record, then a varint claiming 4 GiB, then 100 bytes.
  std::string bytes = std::string("\x03", 1) + "abc" + std::string("\x80\x80\x80\x80\x10", 5) +
                      std::string(100, 'z');
  Write(dir.file("b.bin"), bytes);
  const ReadOut o = ReadWithProblems(dir.file("b.bin"), 4);
  ASSERT_EQ(o.records.size(), 2u);
  EXPECT_EQ(o.records[0], "abc");
  ASSERT_EQ(o.problems.size(), 1u);
  EXPECT_EQ(o.problems[0].reason, v1::REJECT_REASON_RECORD_TOO_LARGE);
  EXPECT_EQ(o.problems[0].skipped_bytes, 105);
  EXPECT_NE(o.problems[0].detail.find("4294967296"), std::string::npos) << o.problems[0].detail;
}

TEST(FileRecordReader, AByteOrderMarkIsJson) {
  testing::TempDir dir;
  Write(dir.file("bom.jsonl"), "\xEF\xBB\xBF{\"a\":1}\n{\"b\":2}\n");
  const ReadOut o = ReadWithProblems(dir.file("bom.jsonl"), 10);
  EXPECT_EQ(o.format, WireFormat::kJson);
  ASSERT_EQ(o.records.size(), 2u);
  EXPECT_TRUE(o.problems.empty());
}

TEST(ResultJson, MatchesTheDocumentedShape) {
  v1::WindowResult r;
  r.set_window("1m");
  r.set_window_start_ms(1762790400000);
  r.set_window_end_ms(1762790460000);
  r.set_campaign_id("c\"1");
  r.set_channel("douyin");
  r.set_impressions(812);
  r.set_clicks(23);
  r.set_ctr(23.0 / 812);
  const std::string j = WindowResultToJson(r);
  EXPECT_EQ(
      j.rfind("{\"window\":\"1m\",\"window_start_ms\":1762790400000,"
              "\"window_end_ms\":1762790460000,\"campaign_id\":\"c\\\"1\",\"channel\":\"douyin\","
              "\"impressions\":812,\"clicks\":23,",
              0),
      0u)
      << j;
  EXPECT_NE(j.find("\"cvr\":null"), std::string::npos) << j;
  EXPECT_NE(j.find("\"ctr\":0.02832512315270936"), std::string::npos) << j;
}

}  // namespace
}  // namespace promowatch
