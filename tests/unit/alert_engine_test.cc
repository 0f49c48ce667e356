#include "operators/alert_engine.h"

#include <gtest/gtest.h>

namespace promowatch {
namespace {

constexpr int64_t kMin = 60'000;

v1::WindowResult Window(const std::string& channel, int64_t impressions, int64_t clicks, int64_t end,
                        const std::string& campaign = "c1") {
  v1::WindowResult r;
  r.set_window("1m");
  r.set_campaign_id(campaign);
  r.set_channel(channel);
  r.set_impressions(impressions);
  r.set_clicks(clicks);
  if (impressions > 0) r.set_ctr(static_cast<double>(clicks) / static_cast<double>(impressions));
  r.set_window_start_ms(end - kMin);
  r.set_window_end_ms(end);
  return r;
}

// CTR in percent with 10,000 impressions (enough volume).
v1::WindowResult Ctr(double percent, int64_t end, const std::string& campaign = "c1") {
  return Window("douyin", 10'000, static_cast<int64_t>(percent * 100), end, campaign);
}

AlertRule LowCtr() {
  AlertRule rule;
  rule.name = "low_ctr";
  rule.window = "1m";
  rule.threshold = 0.015;
  rule.min_volume = 1000;
  return rule;
}

struct Recorder {
  std::vector<AlertEvent> events;
  AlertEngine::AlertCallback cb() {
    return [this](const AlertEvent& a) { events.push_back(a); };
  }
  std::string states() const {
    std::string s;
    for (const auto& e : events) s += e.state + "@" + std::to_string(e.window_end_ms / kMin) + " ";
    return s;
  }
};

TEST(AlertEngine, FiresOnceResolvesOnceAndRespectsMinVolume) {
  Recorder rec;
  AlertEngine alerts({LowCtr()}, nullptr, rec.cb());
  alerts.Emit(Window("douyin", 500, 1, 1 * kMin));   // too little volume
  alerts.Emit(Window("douyin", 2000, 10, 2 * kMin));  // 0.5%: fires
  alerts.Emit(Window("douyin", 2000, 12, 3 * kMin));  // still low: no new event
  alerts.Emit(Window("*", 2000, 1, 3 * kMin));        // rollup: not this rule's scope
  alerts.Emit(Window("douyin", 2000, 60, 4 * kMin));  // 3%: resolves
  EXPECT_EQ(rec.states(), "firing@2 resolved@4 ");
  EXPECT_DOUBLE_EQ(rec.events[0].value, 0.005);
  EXPECT_EQ(rec.events[0].active_since_ms, 2 * kMin);
  EXPECT_TRUE(alerts.Firing().empty());
  // The contract's key order: log greps and consumers read rule and state first.
  EXPECT_EQ(AlertToJson(rec.events[0]).rfind(R"({"rule":"low_ctr","state":"firing","campaign_id":"c1","channel":"douyin")", 0), 0u)
      << AlertToJson(rec.events[0]);
}

TEST(AlertEngine, ForHoldsPendingUntilTheBreachLastedThatLong) {
  AlertRule rule = LowCtr();
  rule.for_ms = 2 * kMin;
  Recorder rec;
  AlertEngine alerts({rule}, nullptr, rec.cb());
  alerts.Emit(Ctr(1.0, 1 * kMin));  // pending since 1
  alerts.Emit(Ctr(1.0, 2 * kMin));  // 1 minute held
  alerts.Emit(Ctr(2.0, 3 * kMin));  // clear before `for`: back to inactive, nothing to resolve
  alerts.Emit(Ctr(1.0, 4 * kMin));  // pending again since 4
  alerts.Emit(Ctr(1.0, 5 * kMin));
  EXPECT_TRUE(alerts.Firing().empty()) << rec.states();
  alerts.Emit(Ctr(1.0, 6 * kMin));  // held 2 minutes: fires
  EXPECT_EQ(rec.states(), "pending@1 pending@4 firing@6 ");
  EXPECT_EQ(rec.events.back().active_since_ms, 4 * kMin);
  EXPECT_EQ(alerts.FiringByRule().at("low_ctr"), 1);
}

TEST(AlertEngine, HysteresisFiresOnceForAValueHoveringAroundTheLine) {
  AlertRule rule = LowCtr();
  rule.resolve_threshold = 0.02;
  Recorder rec;
  AlertEngine alerts({rule}, nullptr, rec.cb());
  const double values[] = {1.4, 1.6, 1.4, 1.7, 1.45, 1.9, 1.3, 2.1};
  int64_t t = 0;
  for (double v : values) alerts.Emit(Ctr(v, ++t * kMin));
  EXPECT_EQ(rec.states(), "firing@1 resolved@8 ");
  // Without hysteresis the same series flaps.
  Recorder flappy;
  AlertEngine plain({LowCtr()}, nullptr, flappy.cb());
  t = 0;
  for (double v : values) plain.Emit(Ctr(v, ++t * kMin));
  EXPECT_EQ(flappy.states(), "firing@1 resolved@2 firing@3 resolved@4 firing@5 resolved@6 firing@7 resolved@8 ");
}

TEST(AlertEngine, KeepFiringForNeedsTheClearToLast) {
  AlertRule rule = LowCtr();
  rule.keep_firing_for_ms = 2 * kMin;
  Recorder rec;
  AlertEngine alerts({rule}, nullptr, rec.cb());
  alerts.Emit(Ctr(1.0, 1 * kMin));  // fires
  alerts.Emit(Ctr(2.0, 2 * kMin));  // clear since 2
  alerts.Emit(Ctr(1.0, 3 * kMin));  // breach again: the clear restarts
  alerts.Emit(Ctr(2.0, 4 * kMin));  // clear since 4
  alerts.Emit(Ctr(2.0, 5 * kMin));
  EXPECT_EQ(rec.states(), "firing@1 ");
  alerts.Emit(Ctr(2.0, 6 * kMin));  // clear held 2 minutes
  EXPECT_EQ(rec.states(), "firing@1 resolved@6 ");
}

TEST(AlertEngine, TooLittleVolumeWhileFiringResolves) {
  Recorder rec;
  AlertEngine alerts({LowCtr()}, nullptr, rec.cb());
  alerts.Emit(Ctr(1.0, 1 * kMin));
  alerts.Emit(Window("douyin", 10, 0, 2 * kMin));  // the campaign stopped: cannot judge
  EXPECT_EQ(rec.states(), "firing@1 resolved@2 ");
}

TEST(AlertEngine, CampaignListScopeAndTemplatedAnnotations) {
  AlertRule rule = LowCtr();
  rule.campaigns = {"c2"};
  rule.labels = {{"team", "growth"}};
  rule.annotations = {{"summary", "CTR of {{campaign}} on {{channel}} is {{value}} (< {{threshold}}, {{window}})"}};
  Recorder rec;
  AlertEngine alerts({rule}, nullptr, rec.cb());
  alerts.Emit(Ctr(1.0, 1 * kMin, "c1"));  // not in the list
  alerts.Emit(Ctr(1.0, 1 * kMin, "c2"));
  ASSERT_EQ(rec.events.size(), 1u);
  EXPECT_EQ(rec.events[0].campaign_id, "c2");
  EXPECT_EQ(rec.events[0].labels.at("team"), "growth");
  EXPECT_EQ(rec.events[0].annotations.at("summary"), "CTR of c2 on douyin is 0.01 (< 0.015, 1m)");
}

TEST(AlertEngine, StateSurvivesARestartWithoutRepeatingANotification) {
  AlertRule rule = LowCtr();
  rule.for_ms = kMin;
  MemoryState state;
  {
    Recorder rec;
    AlertEngine alerts({rule}, nullptr, rec.cb());
    alerts.Emit(Ctr(1.0, 1 * kMin, "c1"));  // c1 pending
    alerts.Emit(Ctr(1.0, 1 * kMin, "c2"));  // c2 pending
    alerts.Emit(Ctr(1.0, 2 * kMin, "c1"));  // c1 firing
    alerts.Snapshot(state);
    EXPECT_EQ(state.size(AlertEngine::kStateTable), 2u);
    alerts.Emit(Ctr(3.0, 2 * kMin, "c2"));  // c2 back to inactive
    alerts.Snapshot(state);
    EXPECT_EQ(state.size(AlertEngine::kStateTable), 1u);
  }
  Recorder rec;
  AlertEngine restored({rule}, nullptr, rec.cb());
  ASSERT_TRUE(restored.Restore(state).ok());
  ASSERT_EQ(restored.Firing().size(), 1u);
  EXPECT_EQ(restored.Firing()[0].active_since_ms, 1 * kMin);
  restored.Emit(Ctr(1.0, 3 * kMin, "c1"));  // still firing: no second notification
  EXPECT_TRUE(rec.events.empty()) << rec.states();
  restored.Emit(Ctr(3.0, 4 * kMin, "c1"));
  EXPECT_EQ(rec.states(), "resolved@4 ");
  // A rule removed from the config drops its restored instances.
  AlertRule other = LowCtr();
  other.name = "renamed";
  AlertEngine without({other}, nullptr, nullptr);
  ASSERT_TRUE(without.Restore(state).ok());
  EXPECT_TRUE(without.Firing().empty());
}

TEST(AlertEngine, ReloadKeepsTheStateOfKeptRulesAndResolvesRemovedOnes) {
  AlertRule low = LowCtr();
  AlertRule other = LowCtr();
  other.name = "other";
  other.severity = "info";
  Recorder rec;
  AlertEngine alerts({low, other}, nullptr, rec.cb());
  alerts.Emit(Ctr(1.0, 1 * kMin));  // both fire
  ASSERT_EQ(rec.states(), "firing@1 firing@1 ");
  rec.events.clear();

  // low_ctr stays with a new severity and annotation; `other` is removed.
  low.severity = "page";
  low.annotations["summary"] = "{{channel}} at {{value}}";
  alerts.ReplaceRules({low}, 2 * kMin);
  ASSERT_EQ(rec.events.size(), 1u);
  EXPECT_EQ(rec.events[0].rule, "other");
  EXPECT_EQ(rec.events[0].state, "resolved");
  EXPECT_EQ(rec.events[0].window_end_ms, 2 * kMin);
  ASSERT_EQ(alerts.Firing().size(), 1u);
  EXPECT_EQ(alerts.Firing()[0].severity, "page");
  EXPECT_EQ(alerts.Firing()[0].active_since_ms, 1 * kMin);  // not a new alert
  EXPECT_EQ(alerts.Firing()[0].annotations.at("summary"), "douyin at 0.01");
  const auto counts = alerts.FiringCounts();
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[0].rule, "low_ctr");
  EXPECT_EQ(counts[0].severity, "page");
  EXPECT_EQ(counts[0].firing, 1);

  // The removed rule's instance leaves the checkpoint too.
  MemoryState state;
  alerts.Snapshot(state);
  EXPECT_EQ(state.size(AlertEngine::kStateTable), 1u);
  rec.events.clear();
  alerts.Emit(Ctr(1.0, 3 * kMin));  // still firing under the kept rule: nothing new
  EXPECT_TRUE(rec.events.empty()) << rec.states();
}

TEST(AlertEngine, IncompleteDataIsNotJudgedAndReportedOncePerInstance) {
  AlertRule rule = LowCtr();
  rule.for_ms = kMin;
  Recorder rec;
  AlertEngine alerts({rule}, nullptr, rec.cb());
  alerts.Emit(Ctr(1.0, 1 * kMin));  // pending
  alerts.SetDataIncomplete("lagging: orders/0 is 200000 records behind");
  alerts.Emit(Ctr(1.0, 2 * kMin));  // would fire: not judged
  alerts.Emit(Ctr(1.0, 3 * kMin));  // still incomplete: reported once
  alerts.Emit(Ctr(0.5, 3 * kMin, "c2"));  // another instance: its own report
  EXPECT_EQ(rec.states(), "pending@1 data_incomplete@2 data_incomplete@3 ");
  EXPECT_EQ(rec.events[1].annotations.at("data_incomplete_reason"),
            "lagging: orders/0 is 200000 records behind");
  EXPECT_EQ(rec.events[1].severity, "warning");
  EXPECT_TRUE(alerts.Firing().empty());
  EXPECT_EQ(alerts.data_incomplete_instances(), 2u);
  alerts.SetDataIncomplete("");
  alerts.Emit(Ctr(1.0, 4 * kMin));  // judged again: pending since 1 -> fires
  EXPECT_EQ(rec.events.back().state, "firing");
  EXPECT_EQ(rec.events.back().active_since_ms, 1 * kMin);
  EXPECT_EQ(alerts.data_incomplete_instances(), 1u);

  // A firing alert does not resolve on incomplete data either.
  rec.events.clear();
  alerts.SetDataIncomplete("partition_silent: orders/1");
  alerts.Emit(Window("douyin", 10, 0, 5 * kMin));  // too little volume would resolve it
  EXPECT_EQ(rec.states(), "data_incomplete@5 ");
  EXPECT_EQ(alerts.Firing().size(), 1u);
}

TEST(AlertEngine, MetricValues) {
  v1::WindowResult r;
  r.set_gmv_cents(123'456);
  r.set_paid_orders(4);
  int64_t volume = 0;
  EXPECT_DOUBLE_EQ(*MetricValue(r, "gmv", &volume), 1234.56);
  EXPECT_DOUBLE_EQ(*MetricValue(r, "aov", &volume), 308.64);
  EXPECT_EQ(volume, 4);
  EXPECT_FALSE(MetricValue(r, "ctr", &volume).has_value());  // no impressions
  EXPECT_FALSE(MetricValue(r, "nonsense", &volume).has_value());
}

}  // namespace
}  // namespace promowatch
