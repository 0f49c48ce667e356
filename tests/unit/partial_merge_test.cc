// A run split into tasks by user, merged, equals the unsplit run byte for
// byte: the windows of one WindowOperator over every event against N
// operators over their users' events and a PartialMerger.

#include "operators/partial_merge.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "operators/admission.h"
#include "operators/state.h"
#include "operators/time_util.h"
#include "unit/test_util.h"

namespace promowatch {
namespace {

// A sale: users, campaigns and channels skewed, out-of-order times, some
// records behind the watermark (late, or within the allowed lateness).
std::vector<EventRecord> Sale(uint64_t seed, int n) {
  std::mt19937_64 rng(seed);
  std::vector<EventRecord> events;
  int64_t t = 1'794'326'400'000;  // 2026-11-11 00:00 UTC+8 is near: days roll over too
  for (int i = 0; i < n; ++i) {
    EventRecord e;
    t += static_cast<int64_t>(rng() % 400);
    const int64_t jitter = rng() % 20 == 0 ? static_cast<int64_t>(rng() % 240'000)
                                           : static_cast<int64_t>(rng() % 4'000);
    e.event_time_ms = t - jitter;
    e.event_id = "e" + std::to_string(i);
    e.event_id_hash = rng();
    const int kind = static_cast<int>(rng() % 10);
    e.campaign_id = "c" + std::to_string(rng() % 4 == 0 ? rng() % 7 : 0);
    e.channel = std::vector<std::string>{"douyin", "tmall", "jd"}[rng() % 3];
    if (kind == 9) {
      e.kind = EventKind::kSpend;
      e.amount_cents = static_cast<int64_t>(rng() % 10'000);
    } else {
      e.user_id = "u" + std::to_string(rng() % 300);
      e.user_hash = std::hash<std::string>()(e.user_id) | 1;
      if (kind < 6) {
        e.kind = EventKind::kClick;
        e.code = static_cast<int32_t>(1 + rng() % 4);
      } else {
        e.kind = EventKind::kOrder;
        e.code = static_cast<int32_t>(1 + rng() % 4);
        e.amount_cents = static_cast<int64_t>(rng() % 100'000);
        e.first_paid_order = e.code == kPaid && rng() % 3 == 0;
      }
    }
    events.push_back(std::move(e));
  }
  return events;
}

// Runs `events` in batches through admission (one, shared: the same events
// count either way), then through one operator, or `tasks` operators by user
// and the merger; returns the serialized windows in emission order.
std::vector<std::string> Run(const std::vector<EventRecord>& events, OperatorOptions options,
                             int tasks) {
  testing::CollectingSink out;
  EventAdmission admission(options);
  std::vector<std::unique_ptr<WindowOperator>> ops;
  std::unique_ptr<PartialMerger> merger;
  if (tasks == 0) {
    ops.push_back(std::make_unique<WindowOperator>(options, &out));
  } else {
    OperatorOptions task_options = options;
    task_options.emit_partial_updates = true;
    merger = std::make_unique<PartialMerger>(options, tasks, &out);
    for (int t = 0; t < tasks; ++t) {
      ops.push_back(std::make_unique<WindowOperator>(task_options, merger->task_sink(t)));
    }
  }
  int64_t newest = kNoWatermark;
  int64_t watermark = kNoWatermark;
  std::mt19937_64 rng(5);
  std::vector<std::vector<const EventRecord*>> batch(ops.size());
  std::vector<EventRecord> admitted;
  admitted.reserve(events.size());
  for (size_t i = 0; i < events.size();) {
    const size_t n = 1 + rng() % 300;
    for (auto& b : batch) b.clear();
    for (size_t j = i; j < std::min(events.size(), i + n); ++j) {
      EventRecord e = events[j];
      e.watermark_ms = watermark;
      newest = std::max(newest, e.event_time_ms);
      if (admission.Admit(e) != Admission::kAccepted) continue;
      admitted.push_back(std::move(e));
      const EventRecord& a = admitted.back();
      // Users by their hash; spend (no user) by its event.
      const uint64_t h = a.user_hash != 0 ? a.user_hash : a.event_id_hash;
      batch[ops.size() == 1 ? 0 : h % ops.size()].push_back(&a);
    }
    i += n;
    watermark = newest - options.max_out_of_orderness_ms;
    for (size_t t = 0; t < ops.size(); ++t) ops[t]->ProcessBatch(batch[t]);
    admission.OnWatermark(watermark);
    for (auto& op : ops) op->OnWatermark(watermark);
    if (merger) merger->Flush(watermark);
  }
  for (auto& op : ops) op->OnEndOfInput();
  if (merger) merger->Flush(kNoWatermark, /*end_of_input=*/true);
  return out.Serialized();
}

void ExpectSplitEqualsWhole(OperatorOptions options, uint64_t seed) {
  const auto events = Sale(seed, 40'000);
  const auto whole = Run(events, options, 0);
  ASSERT_GT(whole.size(), 1000u);
  for (int tasks : {1, 3, 8}) {
    const auto split = Run(events, options, tasks);
    for (size_t i = 0; i < std::min(whole.size(), split.size()); ++i) {
      if (split[i] != whole[i]) {
        v1::WindowResult a, b;
        a.ParseFromString(whole[i]);
        b.ParseFromString(split[i]);
        FAIL() << tasks << " tasks, row " << i << ":\n whole " << a.ShortDebugString()
               << "\n split " << b.ShortDebugString();
      }
    }
    ASSERT_EQ(split.size(), whole.size()) << tasks << " tasks";
  }
}

TEST(PartialMerge, SplitByUserEqualsOneOperatorDroppingLateRecords) {
  OperatorOptions options;
  options.window_minutes = {5, 1, 15};
  ExpectSplitEqualsWhole(options, 1);
}

TEST(PartialMerge, SplitByUserEqualsOneOperatorCorrectingLateRecords) {
  OperatorOptions options;
  options.late_policy = LatePolicy::kCorrect;
  options.allowed_lateness_ms = 180'000;
  options.count_new_customers = true;
  ExpectSplitEqualsWhole(options, 2);
}

TEST(PartialMerge, ForgetsWindowsNoLateRecordCanReach) {
  OperatorOptions options;
  testing::CollectingSink out;
  PartialMerger merger(options, 2, &out);
  WindowOperator a(options, merger.task_sink(0));
  EventRecord e;
  e.kind = EventKind::kClick;
  e.code = kImpression;
  e.campaign_id = "c";
  e.channel = "jd";
  e.user_hash = 7;
  e.event_time_ms = 1'794'326'400'000;
  const EventRecord* p = &e;
  a.ProcessBatch(std::span<const EventRecord* const>(&p, 1));
  a.OnWatermark(e.event_time_ms + 6 * kMinuteMs);
  merger.Flush(e.event_time_ms + 6 * kMinuteMs);
  EXPECT_GT(merger.windows(), 0u);
  const int64_t later = e.event_time_ms + 2 * 24 * 3'600'000LL;
  a.OnWatermark(later);
  merger.Flush(later);
  EXPECT_EQ(merger.windows(), 0u);
}

// Live tasks by partition run on watermarks of their own: what a task ahead
// fires waits for the merged watermark, is published once with every
// task's partial, and survives a checkpoint while it waits.
TEST(PartialMerge, ATaskAheadWaitsForTheMergedWatermark) {
  OperatorOptions options;
  options.window_minutes = {1};
  options.cumulative = false;
  OperatorOptions task_options = options;
  task_options.emit_partial_updates = true;
  testing::CollectingSink out;
  auto merger = std::make_unique<PartialMerger>(options, 2, &out);
  WindowOperator ahead(task_options, merger->task_sink(0));
  WindowOperator behind(task_options, merger->task_sink(1));
  auto click = [](const char* user, int64_t t) {
    EventRecord e;
    e.kind = EventKind::kClick;
    e.code = kImpression;
    e.campaign_id = "c";
    e.channel = "jd";
    e.user_id = user;
    e.user_hash = std::hash<std::string>()(e.user_id) | 1;
    e.event_time_ms = t;
    return e;
  };
  const int64_t t0 = 1'794'326'400'000;
  const EventRecord a = click("u1", t0 + 1'000), b = click("u2", t0 + 2'000);
  const EventRecord* pa = &a;
  const EventRecord* pb = &b;
  ahead.ProcessBatch(std::span<const EventRecord* const>(&pa, 1));
  behind.ProcessBatch(std::span<const EventRecord* const>(&pb, 1));
  ahead.OnWatermark(t0 + 3 * kMinuteMs);  // fires [t0, t0 + 1m)
  behind.OnWatermark(t0 + 30'000);
  merger->Flush(t0 + 30'000);  // the merged watermark: the lower one
  EXPECT_TRUE(out.results.empty()) << "published before every task passed the window's end";
  EXPECT_EQ(merger->held(), 3u) << "the window and its two rollups";

  // A checkpoint while the partial waits, and a restart.
  MemoryState state;
  merger->Snapshot(state);
  merger = std::make_unique<PartialMerger>(options, 2, &out);
  ASSERT_TRUE(merger->Restore(state).ok());
  ASSERT_EQ(merger->held(), 3u);
  WindowOperator behind_again(task_options, merger->task_sink(1));
  behind_again.ProcessBatch(std::span<const EventRecord* const>(&pb, 1));
  behind_again.OnWatermark(t0 + 3 * kMinuteMs);
  merger->Flush(t0 + 3 * kMinuteMs);
  ASSERT_EQ(out.results.size(), 3u) << "one window (and its two rollups), published once";
  v1::WindowResult r;
  r = out.results[2];  // (keys in byte order: "*", "c/*", "c/jd")
  EXPECT_EQ(r.channel(), "jd");
  EXPECT_EQ(r.window_start_ms(), t0);
  EXPECT_EQ(r.impressions(), 2) << "both tasks' partials";
  EXPECT_EQ(r.uv(), 2);
  EXPECT_EQ(r.revision(), 0);
  EXPECT_EQ(merger->held(), 0u);
}

// The live global stage: partials come through Kafka with versions; a
// re-publication (a task restarted from its checkpoint, or moved) changes
// nothing, an older version is dropped, a newer one that changes the window
// is a correction.
TEST(PartialMerge, OfferedPartialsAreIdempotent) {
  OperatorOptions options;
  options.window_minutes = {1};
  options.cumulative = false;
  testing::CollectingSink out;
  PartialMerger merger(options, 2, &out);
  const int64_t t0 = 1'794'326'400'000;
  auto partial = [&](int64_t impressions) {
    v1::WindowResult r;
    r.set_window("1m");
    r.set_window_start_ms(t0);
    r.set_window_end_ms(t0 + kMinuteMs);
    r.set_campaign_id("c");
    r.set_channel("jd");
    r.set_impressions(impressions);
    r.set_uv(impressions);
    return r;
  };
  ASSERT_TRUE(merger.Offer(0, partial(3), 10));
  ASSERT_TRUE(merger.Offer(1, partial(4), 7));
  merger.Flush(t0 + kMinuteMs);
  ASSERT_EQ(out.results.size(), 1u);
  v1::WindowResult r;
  r = out.results[0];
  EXPECT_EQ(r.impressions(), 7);
  EXPECT_EQ(r.uv(), 7);

  // Task 0 again, as after a crash: the same partial, a later position.
  EXPECT_TRUE(merger.Offer(0, partial(3), 12));
  merger.Flush(t0 + kMinuteMs);
  EXPECT_EQ(out.results.size(), 1u) << "a re-publication that changes nothing published again";
  // An older version of task 1 (its previous owner's, arriving late): dropped.
  EXPECT_FALSE(merger.Offer(1, partial(1), 6));
  // A late record at task 1: a correction with both tasks' values.
  v1::WindowResult late = partial(5);
  late.set_revision(1);
  EXPECT_TRUE(merger.Offer(1, late, 9));
  merger.Flush(t0 + kMinuteMs);
  ASSERT_EQ(out.results.size(), 2u);
  r = out.results[1];
  EXPECT_EQ(r.impressions(), 8);
  EXPECT_EQ(r.revision(), 1);

  // Versions survive a checkpoint.
  MemoryState state;
  merger.Snapshot(state);
  PartialMerger restored(options, 2, &out);
  ASSERT_TRUE(restored.Restore(state).ok());
  EXPECT_FALSE(restored.Offer(1, partial(4), 8)) << "older than the version restored";
}

// A cumulative window is published at many ends of its day. A task restored
// from a checkpoint re-fires an earlier end at a later input position (it
// reads its partitions in another interleaving): that must not replace the
// later day total its previous owner sent, or the global task publishes the
// earlier end with the other tasks' later totals (seen in the scale-out
// test: a first minute's day total with a minute and a half in it).
TEST(PartialMerge, ARestoredTasksEarlierDayTotalDoesNotReplaceALaterOne) {
  OperatorOptions options;
  options.window_minutes = {1};
  testing::CollectingSink out;
  PartialMerger merger(options, 2, &out);
  const int64_t t0 = 1'794'326'400'000, day = t0;  // (a day's first minutes)
  auto total = [&](int64_t end, int64_t impressions) {
    v1::WindowResult r;
    r.set_window(std::string(kCumulativeWindow));
    r.set_window_start_ms(day);
    r.set_window_end_ms(end);
    r.set_campaign_id("c");
    r.set_channel("jd");
    r.set_impressions(impressions);
    r.set_uv(impressions);
    return r;
  };
  ASSERT_TRUE(merger.Offer(0, total(t0 + kMinuteMs, 10), 100));
  ASSERT_TRUE(merger.Offer(1, total(t0 + kMinuteMs, 5), 50));
  ASSERT_TRUE(merger.Offer(0, total(t0 + 2 * kMinuteMs, 30), 200));
  ASSERT_TRUE(merger.Offer(1, total(t0 + 2 * kMinuteMs, 7), 70));
  merger.Flush(t0 + 2 * kMinuteMs);
  ASSERT_EQ(out.results.size(), 2u);
  // Task 1's next owner, restored at its first minute, re-fires it at a
  // later position: dropped; its later end is taken as usual.
  EXPECT_FALSE(merger.Offer(1, total(t0 + kMinuteMs, 5), 90));
  merger.Flush(t0 + 2 * kMinuteMs);
  EXPECT_EQ(out.results.size(), 2u) << "an earlier end re-published with later totals";
  EXPECT_TRUE(merger.Offer(1, total(t0 + 2 * kMinuteMs, 7), 95));
  EXPECT_TRUE(merger.Offer(1, total(t0 + 3 * kMinuteMs, 9), 96));
  // And across a restore of the merger itself.
  MemoryState state;
  merger.Snapshot(state);
  PartialMerger restored(options, 2, &out);
  ASSERT_TRUE(restored.Restore(state).ok());
  EXPECT_FALSE(restored.Offer(1, total(t0 + 2 * kMinuteMs, 7), 500));
}

}  // namespace
}  // namespace promowatch
