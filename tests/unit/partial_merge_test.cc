// A run split into tasks by user, merged, equals the unsplit run byte for
// byte: the windows of one WindowOperator over every event against N
// operators over their users' events and a PartialMerger.

#include "operators/partial_merge.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "operators/admission.h"
#include "operators/time_util.h"

namespace promowatch {
namespace {

struct Capture final : WindowResultSink {
  std::vector<std::string> rows;
  void Emit(const v1::WindowResult& r) override { rows.push_back(r.SerializeAsString()); }
};

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
  Capture out;
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
  if (merger) merger->Flush(kNoWatermark);
  return out.rows;
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
  Capture out;
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

}  // namespace
}  // namespace promowatch
