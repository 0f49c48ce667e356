#include "pipeline/engine.h"

#include <gtest/gtest.h>

#include "pipeline/file_io.h"
#include "pipeline/generator.h"
#include "unit/test_util.h"

namespace promowatch {
namespace {

class CountingRecords final : public RecordSink {
 public:
  void Keep(const RawRecord& r, std::string_view, std::string_view reason,
            std::string_view) override {
    kept.emplace_back(std::string(reason), std::string(r.bytes));
  }
  std::vector<std::pair<std::string, std::string>> kept;
};

std::vector<std::string> Generate(int64_t n) {
  GeneratorOptions g;
  g.records = n;
  g.events_per_second = 300;  // a few minutes of event time
  g.late_rate = 0.01;
  g.malformed_rate = 0.01;
  SaleGenerator gen(g, WireFormat::kBinary);
  std::vector<std::string> out;
  std::string rec;
  while (gen.Next(&rec)) out.push_back(rec);
  return out;
}

// Runs the engine over `records` in batches of `batch`, checkpointing to
// RocksDB and restarting from it every `restart_every` batches (0: never).
std::vector<std::string> RunEngine(const std::vector<std::string>& records, size_t batch,
                                   size_t restart_every, EngineCounters* counters) {
  testing::TempDir dir;
  testing::CollectingSink results;
  CountingRecords dead;
  PipelineConfig config;
  auto engine = std::make_unique<Engine>(config, &results, &dead, &dead);
  auto db = RocksStateBackend::Open(dir.path(), engine->StateTables());
  EXPECT_TRUE(db.ok());
  EXPECT_TRUE(engine->Restore(db->get(), nullptr).ok());
  std::vector<RawRecord> raw;
  size_t batches = 0;
  for (size_t i = 0; i < records.size(); i += batch) {
    raw.clear();
    for (size_t j = i; j < std::min(records.size(), i + batch); ++j) {
      raw.push_back(RawRecord{records[j], static_cast<int64_t>(j), 0});
    }
    engine->Process(raw, "test", std::nullopt);
    if (restart_every != 0 && ++batches % restart_every == 0) {
      SourcePosition p;
      p.offsets["next"] = static_cast<int64_t>(i + batch);
      EXPECT_TRUE(engine->Checkpoint(p).ok());
      // A new engine and a reopened database: everything comes from disk.
      engine.reset();
      db->reset();
      engine = std::make_unique<Engine>(config, &results, &dead, &dead);
      db = RocksStateBackend::Open(dir.path(), engine->StateTables());
      EXPECT_TRUE(db.ok());
      SourcePosition restored;
      EXPECT_TRUE(engine->Restore(db->get(), &restored).ok());
      EXPECT_TRUE(restored.restored);
      EXPECT_EQ(restored.offsets["next"], static_cast<int64_t>(i + batch));
    }
  }
  engine->Finish();
  *counters = engine->counters();
  std::vector<std::string> out;
  for (const auto& r : results.results) out.push_back(WindowResultToJson(r));
  return out;
}

TEST(Engine, ResultsDoNotDependOnBatchingOrRestarts) {
  const auto records = Generate(40'000);
  EngineCounters a, b, c;
  const auto whole = RunEngine(records, 4096, 0, &a);
  const auto small = RunEngine(records, 7, 0, &b);
  const auto restarted = RunEngine(records, 1000, 3, &c);
  ASSERT_GT(whole.size(), 100u);
  EXPECT_GT(a.duplicates, 0);
  EXPECT_GT(a.late, 0);
  EXPECT_GT(a.rejected_total(), 0);
  EXPECT_EQ(whole, small);
  EXPECT_EQ(whole, restarted);
  EXPECT_EQ(a.accepted, c.accepted) << "restored counters continue";
  EXPECT_EQ(a.duplicates, c.duplicates);
  EXPECT_EQ(a.late, c.late);
  EXPECT_EQ(a.rejected, c.rejected);
  EXPECT_EQ(a.read, static_cast<int64_t>(records.size()));
  EXPECT_EQ(a.read, a.accepted + a.duplicates + a.late + a.rejected_total());
}

TEST(Engine, BadRecordsAreKeptAndTheirNeighboursCounted) {
  testing::CollectingSink results;
  CountingRecords dead;
  Engine engine(PipelineConfig{}, &results, &dead, &dead);
  ASSERT_TRUE(engine.Restore(nullptr, nullptr).ok());
  const std::string good1 =
      R"({"click":{"event_id":"e1","user_id":"u","campaign_id":"c","channel":"x","type":1,"event_time_ms":1794326400000}})";
  const std::string bad = "{\"click\": garbage";
  const std::string good2 =
      R"({"click":{"event_id":"e2","user_id":"u","campaign_id":"c","channel":"x","type":2,"event_time_ms":1794326400001}})";
  std::vector<RawRecord> batch = {{good1, 0, 0}, {bad, 1, 0}, {good2, 2, 0}};
  engine.Process(batch, "t", std::nullopt);
  engine.Finish();
  ASSERT_EQ(dead.kept.size(), 1u);
  EXPECT_EQ(dead.kept[0].first, "decode_error");
  EXPECT_EQ(dead.kept[0].second, bad) << "original bytes";
  auto r = results.Find("1m", "c", "x");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].impressions(), 1);
  EXPECT_EQ(r[0].clicks(), 1);
}

}  // namespace
}  // namespace promowatch
