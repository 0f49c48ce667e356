#include "operators/window_operator.h"

#include <gtest/gtest.h>

#include <map>

#include "operators/aggregate.h"
#include "operators/time_util.h"
#include "promowatch/v1/state.pb.h"
#include "unit/test_util.h"

namespace promowatch {
namespace {

using testing::Click;
using testing::CollectingSink;
using testing::kMidnight;
using testing::Order;

constexpr int64_t kMin = kMinuteMs;

TEST(WindowOperator, TumblingWindowBoundsAreHalfOpen) {
  CollectingSink sink;
  OperatorOptions o;
  o.window_minutes = {1};
  o.cumulative = false;
  WindowOperator w(o, &sink);
  w.Add(Click("a", "u1", "c1", "douyin", kImpression, kMidnight));
  w.Add(Click("b", "u1", "c1", "douyin", kImpression, kMidnight + kMin - 1));
  w.Add(Click("c", "u1", "c1", "douyin", kImpression, kMidnight + kMin));
  w.OnWatermark(kMidnight + kMin - 1);
  EXPECT_TRUE(sink.results.empty()) << "no window is final before the watermark reaches its end";
  w.OnWatermark(kMidnight + kMin);
  auto r = sink.Find("1m", "c1", "douyin");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].window_start_ms(), kMidnight);
  EXPECT_EQ(r[0].window_end_ms(), kMidnight + kMin);
  EXPECT_EQ(r[0].impressions(), 2);
  w.OnEndOfInput();
  r = sink.Find("1m", "c1", "douyin");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].window_start_ms(), kMidnight + kMin);
  EXPECT_EQ(r[1].impressions(), 1);
}

// Once events of the next minute arrive, the closing minute's user sets are
// compacted ahead of its boundary (which then only merges stragglers); the
// results are the same.
TEST(WindowOperator, ClosingPanesAreCompactedBeforeTheirBoundary) {
  CollectingSink sink;
  OperatorOptions o;
  o.window_minutes = {1};
  o.cumulative = false;
  WindowOperator w(o, &sink);
  std::vector<EventRecord> minute0;
  for (int u = 0; u < 5000; ++u) {
    minute0.push_back(Click("e" + std::to_string(u), "u" + std::to_string(u), "c1", "douyin",
                            kImpression, kMidnight + u));
  }
  std::vector<const EventRecord*> batch;
  for (const auto& e : minute0) batch.push_back(&e);
  w.ProcessBatch(batch);
  const size_t unsorted_open = w.stats().pane_users_unsorted;
  EXPECT_GT(unsorted_open, 0u) << "an open minute's sets are compacted only as they double";
  const EventRecord next = Click("n", "u1", "c1", "douyin", kImpression, kMidnight + kMin + 5);
  const EventRecord* next_batch[] = {&next};
  w.ProcessBatch(next_batch);
  EXPECT_EQ(w.stats().pane_users_unsorted, 3u)
      << "only the new minute's event (3 keys) is left to sort; before: " << unsorted_open;
  w.OnWatermark(kMidnight + kMin);
  auto r = sink.Find("1m", "c1", "douyin");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].uv(), 5000);
  EXPECT_EQ(r[0].impressions(), 5000);
}

TEST(WindowOperator, SlidingWindowsCoverEveryEndWithinSize) {
  CollectingSink sink;
  OperatorOptions o;
  o.cumulative = false;
  WindowOperator w(o, &sink);
  w.Add(Click("a", "u1", "c1", "douyin", kClick, kMidnight + 30'000));
  w.OnEndOfInput();
  auto r = sink.Find("5m", "c1", "douyin");
  ASSERT_EQ(r.size(), 5u);
  for (int k = 0; k < 5; ++k) {
    EXPECT_EQ(r[k].window_end_ms(), kMidnight + (k + 1) * kMin);
    EXPECT_EQ(r[k].window_start_ms(), kMidnight + (k + 1) * kMin - 5 * kMin);
    EXPECT_EQ(r[k].clicks(), 1);
  }
  EXPECT_EQ(sink.Find("1m", "c1", "douyin").size(), 1u);
}

TEST(WindowOperator, RollupsAndMetrics) {
  CollectingSink sink;
  OperatorOptions o;
  o.window_minutes = {1};
  o.cumulative = false;
  WindowOperator w(o, &sink);
  const int64_t t = kMidnight + 1'000;
  for (int i = 0; i < 4; ++i) {
    w.Add(Click("i" + std::to_string(i), "u" + std::to_string(i % 2), "c1", "douyin", kImpression,
                t));
  }
  w.Add(Click("k1", "u0", "c1", "douyin", kClick, t));
  w.Add(Click("k2", "u9", "c1", "jd", kClick, t));
  w.Add(Click("pv", "u7", "c1", "jd", kPageView, t));
  w.Add(Order("o1", "u0", "c1", "douyin", kPaid, 9'900, t));
  w.Add(Order("o2", "u0", "c1", "douyin", kRefunded, 900, t));
  w.Add(Order("o3", "u8", "c2", "jd", kCancelled, 5'000, t));
  w.Add(Order("o4", "u8", "c2", "jd", kCreated, 5'000, t));
  w.OnEndOfInput();

  auto d = sink.Find("1m", "c1", "douyin");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].impressions(), 4);
  EXPECT_EQ(d[0].clicks(), 1);
  EXPECT_EQ(d[0].paid_orders(), 1);
  EXPECT_EQ(d[0].gmv_cents(), 9'900);
  EXPECT_EQ(d[0].refund_cents(), 900);
  EXPECT_DOUBLE_EQ(d[0].ctr(), 0.25);
  EXPECT_DOUBLE_EQ(d[0].cvr(), 1.0);
  EXPECT_EQ(d[0].uv(), 2);  // u0, u1

  auto jd = sink.Find("1m", "c1", "jd");
  ASSERT_EQ(jd.size(), 1u);
  EXPECT_FALSE(jd[0].has_ctr()) << "ctr is null without impressions";
  EXPECT_TRUE(jd[0].has_cvr());
  EXPECT_DOUBLE_EQ(jd[0].cvr(), 0.0);
  EXPECT_EQ(jd[0].uv(), 2);  // u9 and the page view's u7: page views count toward uv only
  EXPECT_EQ(jd[0].page_views(), 1);

  auto c2 = sink.Find("1m", "c2", "jd");
  ASSERT_EQ(c2.size(), 1u);
  EXPECT_EQ(c2[0].orders(), 1);
  EXPECT_EQ(c2[0].cancelled_orders(), 1);
  EXPECT_EQ(c2[0].gmv_cents(), 0) << "cancelled and created orders are not GMV";
  EXPECT_FALSE(c2[0].has_cvr());

  auto camp = sink.Find("1m", "c1", "*");
  ASSERT_EQ(camp.size(), 1u);
  EXPECT_EQ(camp[0].impressions(), 4);
  EXPECT_EQ(camp[0].clicks(), 2);
  EXPECT_EQ(camp[0].uv(), 4);  // u0 u1 u9 u7
  auto all = sink.Find("1m", "*", "*");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].uv(), 5);
  EXPECT_EQ(all[0].orders(), 1);
  EXPECT_EQ(all[0].gmv_cents(), 9'900);
}

TEST(WindowOperator, SlidingUvIsTheUnionNotTheSum) {
  CollectingSink sink;
  OperatorOptions o;
  o.cumulative = false;
  WindowOperator w(o, &sink);
  w.Add(Click("a", "u1", "c1", "douyin", kImpression, kMidnight));
  w.Add(Click("b", "u1", "c1", "douyin", kImpression, kMidnight + kMin));
  w.Add(Click("c", "u2", "c1", "douyin", kImpression, kMidnight + 2 * kMin));
  w.OnEndOfInput();
  auto r = sink.Find("5m", "c1", "douyin");
  ASSERT_EQ(r.size(), 7u);
  // The window ending at midnight+3m holds all three panes.
  EXPECT_EQ(r[2].window_end_ms(), kMidnight + 3 * kMin);
  EXPECT_EQ(r[2].impressions(), 3);
  EXPECT_EQ(r[2].uv(), 2);
}

// buyers: distinct users with a paid order (profiles on), the union over
// panes and days as uv; their chunks survive a restore.
TEST(WindowOperator, BuyersAreDistinctPayingUsersAcrossPanesAndRestores) {
  OperatorOptions o;
  o.count_new_customers = true;  // profiles on
  CollectingSink sink;
  MemoryState state;
  auto w = std::make_unique<WindowOperator>(o, &sink);
  w->Add(Order("o1", "u1", "c1", "douyin", kPaid, 10'000, kMidnight));
  w->Add(Order("o2", "u1", "c1", "douyin", kPaid, 10'000, kMidnight + kMin));     // the same buyer
  w->Add(Order("o3", "u2", "c1", "douyin", kCreated, 10'000, kMidnight + kMin));  // not paid
  w->Snapshot(state);
  w = std::make_unique<WindowOperator>(o, &sink);
  ASSERT_TRUE(w->Restore(state).ok());
  w->Add(Order("o4", "u2", "c1", "douyin", kPaid, 10'000, kMidnight + 2 * kMin));
  w->OnEndOfInput();
  const auto five = sink.Find("5m", "c1", "douyin");
  ASSERT_GE(five.size(), 3u);
  EXPECT_EQ(five[2].window_end_ms(), kMidnight + 3 * kMin);
  EXPECT_EQ(five[2].paid_orders(), 3);
  EXPECT_EQ(five[2].buyers(), 2);
  EXPECT_EQ(five[2].uv(), 2);
  const auto day = sink.Find("cumulative", "c1", "douyin");
  ASSERT_FALSE(day.empty());
  EXPECT_EQ(day.back().buyers(), 2);
  // Without profiles: no buyers field.
  CollectingSink plain_sink;
  WindowOperator plain(OperatorOptions{}, &plain_sink);
  plain.Add(Order("o1", "u1", "c1", "douyin", kPaid, 10'000, kMidnight));
  plain.OnEndOfInput();
  EXPECT_FALSE(plain_sink.results.at(0).has_buyers());
}

TEST(WindowOperator, CumulativeRestartsAtLocalMidnight) {
  CollectingSink sink;
  OperatorOptions o;
  o.window_minutes = {1};
  WindowOperator w(o, &sink);  // day starts at midnight UTC+8 by default
  w.Add(Order("a", "u1", "c1", "tmall", kPaid, 100, kMidnight - 2 * kMin));
  w.Add(Order("b", "u2", "c1", "tmall", kPaid, 200, kMidnight - kMin));
  w.Add(Order("c", "u1", "c1", "tmall", kPaid, 400, kMidnight));
  w.Add(Order("d", "u3", "c1", "tmall", kPaid, 800, kMidnight + 2 * kMin));
  w.OnEndOfInput();
  auto r = sink.Find("cumulative", "c1", "tmall");
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].gmv_cents(), 100);
  EXPECT_EQ(r[1].gmv_cents(), 300);
  EXPECT_EQ(r[1].uv(), 2);
  EXPECT_EQ(r[1].window_end_ms(), kMidnight);
  EXPECT_EQ(r[2].gmv_cents(), 400) << "a new day starts at 00:00 UTC+8";
  EXPECT_EQ(r[2].window_start_ms(), kMidnight);
  EXPECT_EQ(r[3].gmv_cents(), 1200);
  EXPECT_EQ(r[3].uv(), 2);
  EXPECT_EQ(r[3].window_end_ms(), kMidnight + 3 * kMin);
}

TEST(WindowOperator, CorrectionsReEmitEveryWindowHoldingALateRecord) {
  CollectingSink sink;
  OperatorOptions o;
  o.window_minutes = {1, 2};
  o.cumulative = false;
  o.late_policy = LatePolicy::kCorrect;
  o.allowed_lateness_ms = 5 * kMin;
  WindowOperator w(o, &sink);
  w.Add(Click("a", "u1", "c1", "douyin", kImpression, kMidnight));
  w.OnWatermark(kMidnight + 3 * kMin);  // 1m [0,1) and 2m [-1,1), [0,2) are emitted
  const size_t before = sink.results.size();
  EventRecord late = Click("b", "u2", "c1", "douyin", kImpression, kMidnight + 10);
  w.Add(late);
  w.OnWatermark(kMidnight + 3 * kMin + 1);
  std::vector<v1::WindowResult> corrections(sink.results.begin() + static_cast<long>(before),
                                            sink.results.end());
  // For each of the three keys: 1m [0,1), 2m ending at 1 and at 2.
  ASSERT_EQ(corrections.size(), 9u);
  for (const auto& r : corrections) {
    EXPECT_EQ(r.revision(), 1);
    EXPECT_EQ(r.impressions(), 2);
    EXPECT_EQ(r.uv(), 2);
  }
  w.Add(Click("c", "u3", "c1", "douyin", kImpression, kMidnight + 20));
  w.OnWatermark(kMidnight + 3 * kMin + 2);
  EXPECT_EQ(sink.results.back().revision(), 2);
  EXPECT_EQ(sink.results.back().impressions(), 3);
}

TEST(WindowOperator, StateIsBoundedAndLeavesWithItsWindows) {
  CollectingSink sink;
  WindowOperator w(OperatorOptions{}, &sink);
  for (int m = 0; m < 60; ++m) {
    w.Add(Click("e" + std::to_string(m), "u", "c1", "douyin", kImpression, kMidnight + m * kMin));
    w.OnWatermark(kMidnight + m * kMin);
  }
  const auto s = w.stats();
  // 5m windows need the last 5 panes per key; 3 keys.
  EXPECT_LE(s.panes, 3u * 6u);
  EXPECT_EQ(s.keys, 3u);
}

TEST(WindowOperator, StateOnDiskIsRemovedWithItsWindows) {
  CollectingSink sink;
  MemoryState state;
  WindowOperator w(OperatorOptions{}, &sink);
  size_t most = 0;
  for (int m = 0; m < 3 * 24 * 60; m += 7) {  // three days, a pane every 7 minutes
    w.Add(Click("e" + std::to_string(m), "u" + std::to_string(m % 5), "c1", "douyin", kImpression,
                kMidnight + m * kMin));
    w.OnWatermark(kMidnight + m * kMin);
    w.Snapshot(state);
    most = std::max(most, state.size(WindowOperator::kPanesTable));
    EXPECT_LE(state.size(WindowOperator::kDaysTable), 2u * 3u) << "at most two days per key";
  }
  EXPECT_LE(most, 3u * 2u) << "panes leave RocksDB once their last window is emitted";
  EXPECT_LE(state.size(WindowOperator::kPaneUsersTable), 3u * 2u * 2u);
}

// Restoring from a snapshot taken mid-stream and continuing gives exactly
// the results of an uninterrupted run.
TEST(WindowOperator, SnapshotRestoreContinuesExactly) {
  auto events = [] {
    std::vector<EventRecord> v;
    for (int i = 0; i < 400; ++i) {
      const int64_t t = kMidnight - 3 * kMin + i * 1'700;
      v.push_back(Click("e" + std::to_string(i), "u" + std::to_string(i % 37),
                        "c" + std::to_string(i % 3), i % 2 ? "douyin" : "jd", 1 + i % 4, t));
    }
    return v;
  }();
  auto run = [&](bool restart) {
    CollectingSink sink;
    MemoryState state;
    auto op = std::make_unique<WindowOperator>(OperatorOptions{}, &sink);
    for (size_t i = 0; i < events.size(); ++i) {
      op->Add(events[i]);
      if (i % 10 == 9) op->OnWatermark(events[i].event_time_ms - 5'000);
      if (restart && i % 97 == 0) {
        op->Snapshot(state);
        op = std::make_unique<WindowOperator>(OperatorOptions{}, &sink);
        EXPECT_TRUE(op->Restore(state).ok());
      }
    }
    op->OnEndOfInput();
    std::vector<std::string> out;
    for (const auto& r : sink.results) out.push_back(r.SerializeAsString());
    return out;
  };
  const auto plain = run(false);
  const auto restarted = run(true);
  ASSERT_GT(plain.size(), 50u);
  EXPECT_EQ(plain, restarted);
}

TEST(Counters, EachIsInStateAndResultsUnderItsName) {
  for (const CounterField& f : kCounterFields) {
    for (const auto* d : {v1::AggregateState::descriptor(), v1::WindowResult::descriptor()}) {
      const auto* field = d->FindFieldByName(std::string(f.name));
      ASSERT_NE(field, nullptr) << f.name << " is not a field of " << d->name();
      EXPECT_EQ(field->cpp_type(), google::protobuf::FieldDescriptor::CPPTYPE_INT64) << f.name;
    }
  }
  // Combine adds every one of them.
  Counters a, b;
  for (size_t i = 0; i < std::size(kCounterFields); ++i) {
    a.*kCounterFields[i].member = static_cast<int64_t>(i + 1);
    b.*kCounterFields[i].member = 100;
  }
  a.Combine(b);
  for (size_t i = 0; i < std::size(kCounterFields); ++i) {
    EXPECT_EQ(a.*kCounterFields[i].member, static_cast<int64_t>(i + 101)) << kCounterFields[i].name;
  }
}

TEST(Ratios, EachInResultsIsAnOptionalDoubleUnderItsName) {
  for (const RatioField& f : kRatioFields) {
    EXPECT_LT(CounterIndex(f.numerator), std::size(kCounterFields)) << f.name;
    EXPECT_LT(CounterIndex(f.denominator), std::size(kCounterFields)) << f.name;
    const auto* field = v1::WindowResult::descriptor()->FindFieldByName(std::string(f.name));
    if (!f.in_results) {
      EXPECT_EQ(field, nullptr) << f.name << " is an alert metric only, yet a result field";
      continue;
    }
    ASSERT_NE(field, nullptr) << f.name << " is not a field of WindowResult";
    EXPECT_EQ(field->cpp_type(), google::protobuf::FieldDescriptor::CPPTYPE_DOUBLE) << f.name;
    EXPECT_TRUE(field->has_presence()) << f.name << " must be optional: null without a denominator";
  }
  // Values: null without a denominator, yuan for a ratio of an amount.
  Counters c;
  c.gmv_cents = 12345;
  c.paid_orders = 2;
  c.clicks = 4;
  std::map<std::string_view, std::optional<double>> value;
  for (const RatioField& f : kRatioFields)
    value[f.name] = RatioOf(f, c.*f.numerator, c.*f.denominator);
  EXPECT_FALSE(value.at("ctr")) << "no impressions";
  EXPECT_DOUBLE_EQ(value.at("cvr").value(), 0.5);
  EXPECT_DOUBLE_EQ(value.at("aov").value(), 61.725);
}

}  // namespace
}  // namespace promowatch
