#include "pipeline/runtime/engine.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "operators/encoding.h"
#include "pipeline/decode/partitioner.h"
#include "pipeline/generator/generator.h"
#include "pipeline/io/file_io.h"
#include "unit/test_util.h"
#include "unit/topology_driver.h"

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

// Runs the topology over `records` in batches of `batch`, checkpointing
// and restarting from disk every `restart_every` batches (0: never).
std::vector<std::string> RunEngine(const std::vector<std::string>& records, size_t batch,
                                   size_t restart_every, EngineCounters* counters) {
  testing::TopologyTestDriver driver{PipelineConfig{}};
  driver.Pipe(records, batch,
              InputFormat{ValueType::kEvent, ValueFraming::kAuto, std::nullopt, "input"},
              [&](size_t batches) {
                if (restart_every == 0 || batches % restart_every != 0) return;
                SourcePosition p;
                p.offsets["next"] = static_cast<int64_t>(batches * batch);
                const SourcePosition restored = driver.Restart(p);
                EXPECT_TRUE(restored.restored);
                EXPECT_EQ(restored.offsets.at("next"), static_cast<int64_t>(batches * batch));
              });
  driver.EndOfInput();
  *counters = driver.counters();
  std::vector<std::string> out;
  for (const auto& r : driver.results()) out.push_back(WindowResultToJson(r));
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
  testing::TopologyTestDriver driver{PipelineConfig{}};
  const std::string good1 =
      R"({"click":{"event_id":"e1","user_id":"u","campaign_id":"c","channel":"x","type":1,"event_time_ms":1794326400000}})";
  const std::string bad = "{\"click\": garbage";
  const std::string good2 =
      R"({"click":{"event_id":"e2","user_id":"u","campaign_id":"c","channel":"x","type":2,"event_time_ms":1794326400001}})";
  driver.Pipe({good1, bad, good2});
  driver.EndOfInput();
  ASSERT_EQ(driver.dead_letters().size(), 1u);
  EXPECT_EQ(driver.dead_letters()[0].reason, "decode_error");
  EXPECT_EQ(driver.dead_letters()[0].bytes, bad) << "original bytes";
  auto r = driver.Find("1m", "c", "x");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].impressions(), 1);
  EXPECT_EQ(r[0].clicks(), 1);
}

std::string ClickAt(const std::string& id, int64_t t_ms) {
  return R"({"event_id":")" + id +
         R"(","user_id":"u","campaign_id":"c","channel":"x","type":1,"event_time_ms":)" +
         std::to_string(t_ms) + "}";
}

constexpr int64_t kT0 = 1794326400000;            // 2026-11-10T16:00:00Z
constexpr int64_t kYear2099 = 4'070'908'800'000;  // 2099-01-01

struct GuardRun {
  EngineCounters counters;
  std::vector<std::pair<std::string, std::string>> kept;  // reason, bytes
  int64_t impressions = 0;                                // over every 1m window of c/x
  int64_t max_watermark = kNoWatermark;
};

// `records` through the topology in batches of `batch` with the clock-skew
// guard against `reference`, the wall clock standing at `wall_ms`; with
// `restart_at` > 0, a checkpoint and a restart after that many batches.
GuardRun RunGuard(const std::vector<std::string>& records, size_t batch,
                  PipelineConfig::SkewReference reference, int64_t wall_ms, size_t restart_at = 0) {
  PipelineConfig config;
  config.future_skew_reference = reference;
  testing::TopologyTestDriver driver(config, wall_ms);
  driver.Pipe(records, batch,
              InputFormat{ValueType::kClick, ValueFraming::kAuto, std::nullopt, "input"},
              [&](size_t batches) {
                if (restart_at != 0 && batches == restart_at) driver.Restart();
              });
  driver.EndOfInput();
  GuardRun run;
  run.counters = driver.counters();
  for (const auto& k : driver.dead_letters()) run.kept.emplace_back(k.reason, k.bytes);
  run.max_watermark = driver.max_watermark();
  for (const auto& r : driver.Find("1m", "c", "x")) run.impressions += r.impressions();
  return run;
}

TEST(Engine, AFarFutureRecordIsRejectedAgainstTheWallClock) {
  const std::vector<std::string> records = {ClickAt("a", kT0), ClickAt("b", kT0 + 1000),
                                            ClickAt("bad", kYear2099), ClickAt("c", kT0 + 2000),
                                            ClickAt("d", kT0 + 9 * 60'000)};
  // The wall clock at kT0 + 1 min: 9 minutes ahead is within the 10m skew.
  const GuardRun run =
      RunGuard(records, 2, PipelineConfig::SkewReference::kWallClock, kT0 + 60'000);
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
      const GuardRun run =
          RunGuard(records, batch, PipelineConfig::SkewReference::kInput, wall, restart);
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

// Live tasks (task_per_partition): a task on this instance whose records
// are forwarded to it by task 0 elsewhere. The forwarder's mark holds it,
// and the hold survives a restart (the marks are the task's state, stored
// with its repartition offset).
TEST(Engine, AForwardersMarkHoldsItsTaskAcrossARestart) {
  testing::TempDir dir;
  testing::CollectingSink results;
  CountingRecords dead;
  int64_t wall = testing::kMidnight + 200'000;  // (event times ahead of it are rejected)
  PipelineConfig config;
  EngineOptions options = EngineOptions::From(config);
  options.tasks = 2;
  options.task_per_partition = true;
  const InputFormat clicks = config.kafka.InputFormatOf("clickstream");
  std::vector<std::string> users;  // users of task 1
  for (int i = 0; users.size() < 3; ++i) {
    std::string u = "u" + std::to_string(i);
    if (PartitionOfKey(u, 2, options.input_partitioner) == 1) users.push_back(u);
  }
  auto click = [&](int n, int64_t t) {
    return fmt::format(
        R"({{"eventId":"e{}","userId":"{}","campaignId":"c0","channel":"app","type":"EVENT_TYPE_CLICK","eventTimeMs":"{}"}})",
        n, users[static_cast<size_t>(n) % users.size()], t);
  };
  auto open = [&](std::unique_ptr<Engine>* engine, std::unique_ptr<RocksStateBackend>* db) {
    *engine = std::make_unique<Engine>(options, &results, &dead, &dead, [&] { return wall; });
    (*engine)->watermarks().EnableForwarders(60'000);
    auto opened = RocksStateBackend::Open(dir.path(), (*engine)->StateTables());
    ASSERT_TRUE(opened.ok());
    *db = std::move(*opened);
    SourcePosition position;
    ASSERT_TRUE((*engine)->Restore(db->get(), &position).ok());
    TaskPosition task;
    ASSERT_TRUE((*engine)->RestoreTask(1, &task).ok());
  };
  std::unique_ptr<Engine> engine;
  std::unique_ptr<RocksStateBackend> db;
  open(&engine, &db);
  const int64_t t0 = testing::kMidnight;
  auto process = [&](int n, int64_t t, int64_t offset) {
    const std::string bytes = click(n, t);
    RawRecord r{bytes, offset, engine->watermarks().Slot("clickstream/1"), 1};
    engine->ProcessTask(1, std::span<const RawRecord>(&r, 1), "clickstream", clicks);
    engine->Tick();
  };
  process(0, t0 + 60'000, 0);
  EXPECT_EQ(engine->watermarks().task_current(1), kNoWatermark)
      << "task 0 forwards to it and has not said how far it is";
  engine->watermarks().SetForwarderMark(1, 0, t0 + 10'000, wall);
  engine->Tick();
  EXPECT_EQ(engine->watermarks().task_current(1), t0 + 5'000);
  // A record task 0 forwards at its mark is on time.
  process(1, t0 + 6'000, 1);
  EXPECT_EQ(engine->counters().late, 0);
  SourcePosition p;
  p.offsets["clickstream/1"] = 2;
  ASSERT_TRUE(engine->Checkpoint(p, /*wait=*/true).ok());
  // Killed and restarted: its own partition is ahead, the mark still holds.
  engine.reset();
  db.reset();
  wall += 5'000;
  open(&engine, &db);
  process(2, t0 + 120'000, 2);
  EXPECT_EQ(engine->watermarks().task_current(1), t0 + 5'000)
      << "the restored task forgot what task 0 may still forward";
  process(3, t0 + 7'000, 3);  // forwarded before the crash, read after it
  EXPECT_EQ(engine->counters().late, 0);
  EXPECT_TRUE(dead.kept.empty()) << dead.kept[0].first;
  EXPECT_EQ(engine->counters().accepted, 4) << "(two before the checkpoint, restored; two now)";
  // Task 0's instance died and nobody runs it: after the timeout it holds
  // task 1 no longer.
  wall += 60'000;
  engine->Tick();
  EXPECT_EQ(engine->watermarks().task_current(1), t0 + 115'000);
}

}  // namespace
}  // namespace promowatch
