// The global stage's judges across instances: a global task does not judge
// its rules while a source task's instance says its inputs are incomplete,
// or while a source task is silent; the partials it reads say so
// (../shared/SCALE-OUT.md, one judge per alert scope).

#include "pipeline/live/global_stage.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "operators/state.h"
#include "pipeline/runtime/engine.h"
#include "pipeline/state/rocksdb_state.h"
#include "promowatch/v1/state.pb.h"
#include "unit/test_util.h"

namespace promowatch {
namespace {

constexpr int64_t kMin = 60'000;
constexpr int kTasks = 3;

class GlobalStageJudges : public ::testing::Test {
 protected:
  void SetUp() override {
    AlertRule rule;
    rule.name = "low_ctr";
    rule.window = "1m";
    rule.threshold = 0.015;
    rule.min_volume = 1000;
    config_.alert_rules = {rule};
    config_.operators.window_minutes = {1};
    GlobalStage::Callbacks on;
    on.on_alert = [this](const AlertEvent& a) {
      alerts_.push_back(a.state + " " + a.campaign_id + "/" + a.channel + "@" +
                        std::to_string(a.window_end_ms / kMin));
    };
    stage_ = std::make_unique<GlobalStage>(config_, kTasks, nullptr, &out_, std::move(on),
                                           "127.0.0.1:1");
    MemoryState empty;
    for (int g = 0; g < kTasks; ++g) {
      parts_.push_back(stage_->TaskPart(g));
      ASSERT_TRUE(parts_.back()->Restore(empty).ok());
    }
    owner_ = stage_->OwnerOf("c1");
    t0_ = std::chrono::steady_clock::now();
  }

  // Source task `source` sends its watermark (and a window of c1/douyin at
  // 0.5% CTR ending at `end`, if given) to every global task, as an
  // instance whose inputs are `incomplete` (empty: complete).
  void Send(int source, int64_t watermark_ms, const std::string& incomplete, int64_t end,
            std::chrono::steady_clock::time_point at) {
    for (int g = 0; g < kTasks; ++g) {
      v1::Partial p;
      p.set_source_task(source);
      p.set_source_tasks(kTasks);
      p.set_version(++version_);
      p.set_watermark_ms(watermark_ms);
      p.set_incomplete(incomplete);
      if (end > 0 && g == owner_) {
        v1::WindowResult& w = *p.add_windows();
        w.set_window("1m");
        w.set_campaign_id("c1");
        w.set_channel("douyin");
        w.set_impressions(1000);
        w.set_clicks(5);
        w.set_window_start_ms(end - kMin);
        w.set_window_end_ms(end);
      }
      stage_->Consume(g, p.SerializeAsString(), at);
      stage_->Flush(g);
    }
  }

  PipelineConfig config_;
  testing::CollectingSink out_;
  std::vector<std::string> alerts_;  // "state campaign/channel@minute"
  std::unique_ptr<GlobalStage> stage_;
  std::vector<std::unique_ptr<Operator>> parts_;  // task g's global part, all here
  int owner_ = 0;
  int64_t version_ = 0;
  std::chrono::steady_clock::time_point t0_;
};

TEST_F(GlobalStageJudges, AnIncompleteSourceHoldsTheJudgesOfEveryGlobalTask) {
  for (int s = 0; s < kTasks; ++s) Send(s, 1 * kMin, "", 0, t0_);
  stage_->JudgeSources(t0_);
  EXPECT_EQ(stage_->incomplete_count(), 0);

  // Source 1's instance lags: every global task here stops judging, also
  // the ones whose own instance is complete.
  Send(1, 1 * kMin, "lagging: clickstream/1 is 90000 records behind", 0, t0_);
  stage_->JudgeSources(t0_);
  EXPECT_EQ(stage_->incomplete_count(), kTasks);
  EXPECT_EQ(stage_->incomplete_reason(owner_).rfind("source task 1: lagging: clickstream/1", 0), 0u)
      << stage_->incomplete_reason(owner_);
  // Each source's third of a low-CTR minute: summed 3,000 impressions at
  // 0.5%, published, and not judged.
  for (int s = 0; s < kTasks; ++s)
    Send(s, 3 * kMin, s == 1 ? "lagging: clickstream/1 is 90000 records behind" : "", 2 * kMin,
         t0_);
  EXPECT_EQ(out_.results.size(), 1u);
  ASSERT_EQ(alerts_, std::vector<std::string>{"data_incomplete c1/douyin@2"});

  // Complete again: the next low minute fires.
  for (int s = 0; s < kTasks; ++s) Send(s, 3 * kMin, "", 0, t0_);
  stage_->JudgeSources(t0_);
  EXPECT_EQ(stage_->incomplete_count(), 0);
  for (int s = 0; s < kTasks; ++s) Send(s, 4 * kMin, "", 3 * kMin, t0_);
  EXPECT_EQ(alerts_.back(), "firing c1/douyin@3");
}

TEST_F(GlobalStageJudges, ASilentSourceHoldsTheJudgesAfterItsBound) {
  for (int s = 0; s < kTasks; ++s) Send(s, 1 * kMin, "", 0, t0_);
  const auto later = t0_ + GlobalStage::kSourceSilence + std::chrono::seconds(1);
  // Sources 0 and 2 keep announcing; 1's instance was killed.
  Send(0, 1 * kMin, "", 0, later);
  Send(2, 1 * kMin, "", 0, later);
  stage_->JudgeSources(t0_ + GlobalStage::kSourceSilence - std::chrono::seconds(1));
  EXPECT_EQ(stage_->incomplete_count(), 0);
  stage_->JudgeSources(later);
  EXPECT_EQ(stage_->incomplete_count(), kTasks);
  EXPECT_EQ(stage_->incomplete_reason(owner_).rfind("source_silent: source task 1 ", 0), 0u)
      << stage_->incomplete_reason(owner_);
  // Heard again (its task restarted elsewhere): judged again.
  Send(1, 1 * kMin, "", 0, later);
  stage_->JudgeSources(later);
  EXPECT_EQ(stage_->incomplete_count(), 0);
}

TEST_F(GlobalStageJudges, ThisInstancesOwnReasonComesFirst) {
  for (int s = 0; s < kTasks; ++s) Send(s, 1 * kMin, "", 0, t0_);
  stage_->SetDataIncomplete("unassigned: no input partition is assigned", t0_);
  EXPECT_EQ(stage_->incomplete_reason(owner_), "unassigned: no input partition is assigned");
  stage_->SetDataIncomplete("", t0_);
  EXPECT_EQ(stage_->incomplete_count(), 0);
}

// The job's shape in `run`: an engine with a task per partition whose
// windows go to the global stage, and the global stage's part of every
// task, on real RocksDB. A global task's held partials (a source ahead of
// the others) are its state, under its task's key prefix; a restart reads
// them back with the task, and the engine's own merge (unused in this
// shape) must not read them as its own: it did, called them
// "merged_held: undecodable", and `run` could not start again.
class LiveShape {
 public:
  LiveShape(const PipelineConfig& config, const std::string& dir, testing::CollectingSink* out)
      : stage_(config, kTasks, nullptr, out, {}, "127.0.0.1:1"),
        engine_(Options(config), out, &discard_, &discard_) {
    engine_.SetTaskResults([this](int task) { return stage_.SourceSink(task); });
    engine_.AddTaskOperator([this](int task) { return stage_.TaskPart(task); });
    auto db = RocksStateBackend::Open(dir, engine_.StateTables());
    EXPECT_TRUE(db.ok()) << db.status();
    if (db.ok()) db_ = std::move(*db);
  }
  // Restores the engine, then every task (all of them run here).
  absl::Status Restore() {
    SourcePosition position;
    if (absl::Status s = engine_.Restore(db_.get(), &position); !s.ok()) return s;
    for (int t = 0; t < kTasks; ++t) {
      TaskPosition task_position;
      if (absl::Status s = engine_.RestoreTask(t, &task_position); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  Engine& engine() { return engine_; }
  GlobalStage& stage() { return stage_; }

 private:
  static EngineOptions Options(const PipelineConfig& config) {
    EngineOptions options = EngineOptions::From(config);
    options.tasks = kTasks;
    options.task_per_partition = true;
    return options;
  }
  struct Discard final : RecordSink {
    void Keep(const RawRecord&, std::string_view, std::string_view, std::string_view) override {}
  };
  Discard discard_;
  GlobalStage stage_;
  Engine engine_;
  std::unique_ptr<RocksStateBackend> db_;
};

TEST(GlobalStageState, AGlobalTasksHeldPartialsSurviveARestart) {
  PipelineConfig config;
  config.operators.window_minutes = {1};
  testing::TempDir dir;
  testing::CollectingSink out;
  const int owner = GlobalStage(config, kTasks, nullptr, &out, {}, "").OwnerOf("c1");
  // Source task `source`'s partial for c1/douyin's minute [1m, 2m) (or only
  // its watermark), at `watermark_ms`.
  auto partial = [](int source, int64_t watermark_ms, bool window) {
    v1::Partial p;
    p.set_source_task(source);
    p.set_source_tasks(kTasks);
    p.set_version(watermark_ms);
    p.set_watermark_ms(watermark_ms);
    if (window) {
      v1::WindowResult& w = *p.add_windows();
      w.set_window("1m");
      w.set_campaign_id("c1");
      w.set_channel("douyin");
      w.set_impressions(400 + source);
      w.set_clicks(7);
      w.set_window_start_ms(1 * kMin);
      w.set_window_end_ms(2 * kMin);
    }
    return p.SerializeAsString();
  };
  const auto now = std::chrono::steady_clock::now();
  {
    LiveShape before(config, dir.path(), &out);
    ASSERT_TRUE(before.Restore().ok());
    // Sources 0 and 2 are past the minute, source 1 has not reported: held.
    before.stage().Consume(owner, partial(0, 3 * kMin, true), now);
    before.stage().Consume(owner, partial(2, 3 * kMin, true), now);
    before.stage().Flush(owner);
    ASSERT_TRUE(out.results.empty()) << "published before source 1 reported";
    ASSERT_TRUE(before.engine().Checkpoint(SourcePosition{}).ok());
  }
  LiveShape after(config, dir.path(), &out);
  absl::Status restored = after.Restore();
  ASSERT_TRUE(restored.ok()) << restored;
  after.stage().Consume(owner, partial(1, 3 * kMin, true), now);
  after.stage().Flush(owner);
  const auto minute = out.Find("1m", "c1", "douyin");
  ASSERT_EQ(minute.size(), 1u) << "the minute is published once source 1 passed it";
  EXPECT_EQ(minute[0].impressions(), 400 + 401 + 402) << "every source's partial, held ones too";
  EXPECT_EQ(minute[0].clicks(), 3 * 7);
}

}  // namespace
}  // namespace promowatch
