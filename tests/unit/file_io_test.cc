#include "pipeline/file_io.h"

#include <gtest/gtest.h>

#include <fstream>

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
  bool truncated = false;
  *truncated_seen = false;
  while ((*r)->Next(batch, &b, &truncated)) {
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
  bool truncated;
  ASSERT_TRUE((*r)->Next(10, &b, &truncated));
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].bytes, "{\"b\":2}");
  EXPECT_EQ(b[0].offset, 8);
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
  EXPECT_EQ(j.rfind("{\"window\":\"1m\",\"window_start_ms\":1762790400000,"
                    "\"window_end_ms\":1762790460000,\"campaign_id\":\"c\\\"1\",\"channel\":\"douyin\","
                    "\"impressions\":812,\"clicks\":23,", 0), 0u) << j;
  EXPECT_NE(j.find("\"cvr\":null"), std::string::npos) << j;
  EXPECT_NE(j.find("\"ctr\":0.02832512315270936"), std::string::npos) << j;
}

}  // namespace
}  // namespace promowatch
