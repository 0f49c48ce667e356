#include "pipeline/runtime/engine.h"

#include <gtest/gtest.h>

#include "pipeline/io/file_io.h"
#include "pipeline/generator/generator.h"
#include "unit/test_util.h"
#include "operators/encoding.h"

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
  auto engine = std::make_unique<Engine>(EngineOptions::From(config), &results, &dead, &dead);
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
      engine = std::make_unique<Engine>(EngineOptions::From(config), &results, &dead, &dead);
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
  Engine engine(EngineOptions{}, &results, &dead, &dead);
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

std::string ClickAt(const std::string& id, int64_t t_ms) {
  return R"({"event_id":")" + id + R"(","user_id":"u","campaign_id":"c","channel":"x","type":1,"event_time_ms":)" +
         std::to_string(t_ms) + "}";
}

constexpr int64_t kT0 = 1794326400000;          // 2026-11-10T16:00:00Z
constexpr int64_t kYear2099 = 4'070'908'800'000;  // 2099-01-01

struct GuardRun {
  EngineCounters counters;
  std::vector<std::pair<std::string, std::string>> kept;  // reason, bytes
  int64_t impressions = 0;                                // over every 1m window of c/x
  int64_t max_watermark = kNoWatermark;
};

// `records` through an engine in batches of `batch` with the clock-skew
// guard against `reference`, the wall clock standing at `wall_ms`; with
// `restart_at` > 0, a checkpoint and a new engine after that many batches.
GuardRun RunGuard(const std::vector<std::string>& records, size_t batch,
                  PipelineConfig::SkewReference reference, int64_t wall_ms, size_t restart_at = 0) {
  testing::TempDir dir;
  testing::CollectingSink results;
  CountingRecords dead;
  PipelineConfig config;
  config.future_skew_reference = reference;
  auto make = [&] {
    return std::make_unique<Engine>(EngineOptions::From(config), &results, &dead, &dead, [wall_ms] { return wall_ms; });
  };
  auto engine = make();
  auto db = RocksStateBackend::Open(dir.path(), engine->StateTables());
  EXPECT_TRUE(db.ok());
  EXPECT_TRUE(engine->Restore(db->get(), nullptr).ok());
  GuardRun run;
  size_t batches = 0;
  for (size_t i = 0; i < records.size(); i += batch) {
    std::vector<RawRecord> raw;
    for (size_t j = i; j < std::min(records.size(), i + batch); ++j) {
      raw.push_back(RawRecord{records[j], static_cast<int64_t>(j), 0});
    }
    engine->Process(raw, "clickstream", InputFormat{ValueType::kClick, ValueFraming::kAuto, std::nullopt, "input"});
    run.max_watermark = std::max(run.max_watermark, engine->watermark_ms());
    if (restart_at != 0 && ++batches == restart_at) {
      EXPECT_TRUE(engine->Checkpoint(SourcePosition{}).ok());
      engine.reset();
      db->reset();
      engine = make();
      db = RocksStateBackend::Open(dir.path(), engine->StateTables());
      EXPECT_TRUE(engine->Restore(db->get(), nullptr).ok());
    }
  }
  engine->Finish();
  run.counters = engine->counters();
  run.kept = dead.kept;
  for (const auto& r : results.Find("1m", "c", "x")) run.impressions += r.impressions();
  return run;
}

TEST(Engine, AFarFutureRecordIsRejectedAgainstTheWallClock) {
  const std::vector<std::string> records = {ClickAt("a", kT0), ClickAt("b", kT0 + 1000),
                                            ClickAt("bad", kYear2099), ClickAt("c", kT0 + 2000),
                                            ClickAt("d", kT0 + 9 * 60'000)};
  // The wall clock at kT0 + 1 min: 9 minutes ahead is within the 10m skew.
  const GuardRun run = RunGuard(records, 2, PipelineConfig::SkewReference::kWallClock, kT0 + 60'000);
  EXPECT_EQ(run.counters.accepted, 4);
  EXPECT_EQ(run.counters.late, 0);
  EXPECT_EQ(run.counters.rejected[v1::REJECT_REASON_FUTURE_EVENT_TIME], 1);
  ASSERT_EQ(run.kept.size(), 1u);
  EXPECT_EQ(run.kept[0].first, "future_event_time");
  EXPECT_EQ(run.kept[0].second, records[2]) << "original bytes";
  EXPECT_EQ(run.impressions, 4);
  EXPECT_LT(run.max_watermark, kT0 + 10 * 60'000);
}

TEST(Engine, ReplayJudgesFutureTimesAgainstTheInputWhateverTheBatching) {
  // A 2099 record between normal ones, another one first of all, and a
  // real gap of 3 hours (sparse data): only the two 2099 records go.
  std::vector<std::string> records = {ClickAt("first-bad", kYear2099)};
  for (int i = 0; i < 20; ++i) records.push_back(ClickAt("n" + std::to_string(i), kT0 + i * 1000));
  records.insert(records.begin() + 8, ClickAt("bad", kYear2099 + 5));
  for (int i = 0; i < 5; ++i) {
    records.push_back(ClickAt("g" + std::to_string(i), kT0 + 3 * 3'600'000 + i * 1000));
  }
  const int64_t wall = kT0 - 86'400'000;  // the wall clock plays no part in a replay
  for (size_t batch : {1, 2, 3, 7, 100}) {
    for (size_t restart : {0, 1, 4}) {
      const GuardRun run = RunGuard(records, batch, PipelineConfig::SkewReference::kInput, wall, restart);
      SCOPED_TRACE(::testing::Message() << "batch " << batch << " restart after " << restart);
      EXPECT_EQ(run.counters.accepted, 25);
      EXPECT_EQ(run.counters.late, 0);
      EXPECT_EQ(run.counters.rejected[v1::REJECT_REASON_FUTURE_EVENT_TIME], 2);
      ASSERT_EQ(run.kept.size(), 2u);
      EXPECT_EQ(run.kept[0].second, records[0]);
      EXPECT_EQ(run.kept[1].second, records[8]);
      EXPECT_EQ(run.impressions, 25);
      EXPECT_LT(run.max_watermark, kT0 + 4 * 3'600'000);
    }
  }
}

TEST(Engine, ReplayCountsARecordAheadAtTheEndOfInput) {
  // Nothing after it says it is wrong: the last record, far ahead, counts.
  const std::vector<std::string> records = {ClickAt("a", kT0), ClickAt("b", kT0 + 1000),
                                            ClickAt("last", kT0 + 86'400'000)};
  const GuardRun run = RunGuard(records, 2, PipelineConfig::SkewReference::kInput, 0);
  EXPECT_EQ(run.counters.accepted, 3);
  EXPECT_EQ(run.counters.rejected_total(), 0);
}

}  // namespace
}  // namespace promowatch
