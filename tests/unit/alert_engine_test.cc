#include "operators/alert_engine.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "operators/encoding.h"

namespace promowatch {
namespace {

constexpr int64_t kMin = 60'000;

v1::WindowResult Window(const std::string& channel, int64_t impressions, int64_t clicks,
                        int64_t end, const std::string& campaign = "c1") {
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
  alerts.Emit(Window("douyin", 500, 1, 1 * kMin));    // too little volume
  alerts.Emit(Window("douyin", 2000, 10, 2 * kMin));  // 0.5%: fires
  alerts.Emit(Window("douyin", 2000, 12, 3 * kMin));  // still low: no new event
  alerts.Emit(Window("*", 2000, 1, 3 * kMin));        // rollup: not this rule's scope
  alerts.Emit(Window("douyin", 2000, 60, 4 * kMin));  // 3%: resolves
  EXPECT_EQ(rec.states(), "firing@2 resolved@4 ");
  EXPECT_DOUBLE_EQ(rec.events[0].value, 0.005);
  EXPECT_EQ(rec.events[0].active_since_ms, 2 * kMin);
  EXPECT_TRUE(alerts.Firing().empty());
  // The contract's key order: log greps and consumers read rule and state first.
  EXPECT_EQ(
      AlertToJson(rec.events[0])
          .rfind(R"({"rule":"low_ctr","state":"firing","campaign_id":"c1","channel":"douyin")", 0),
      0u)
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
  EXPECT_EQ(flappy.states(),
            "firing@1 resolved@2 firing@3 resolved@4 firing@5 resolved@6 firing@7 resolved@8 ");
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
  rule.annotations = {
      {"summary", "CTR of {{campaign}} on {{channel}} is {{value}} (< {{threshold}}, {{window}})"}};
  Recorder rec;
  AlertEngine alerts({rule}, nullptr, rec.cb());
  alerts.Emit(Ctr(1.0, 1 * kMin, "c1"));  // not in the list
  alerts.Emit(Ctr(1.0, 1 * kMin, "c2"));
  ASSERT_EQ(rec.events.size(), 1u);
  EXPECT_EQ(rec.events[0].campaign_id, "c2");
  EXPECT_EQ(rec.events[0].labels.at("team"), "growth");
  EXPECT_EQ(rec.events[0].annotations.at("summary"), "CTR of c2 on douyin is 0.01 (< 0.015, 1m)");
}

TEST(AlertEngine, ASegmentRuleJudgesThatSegmentsRowsOnly) {
  Recorder rec;
  AlertRule dormant = LowCtr();
  dormant.name = "dormant_low_ctr";
  dormant.segment = "dormant";
  dormant.annotations["summary"] = "{{segment}} users on {{channel}}";
  AlertRule everyone = LowCtr();
  AlertEngine alerts({dormant, everyone}, nullptr, rec.cb());
  auto of = [](v1::WindowResult r, const std::string& segment) {
    r.set_segment(segment);
    return r;
  };
  // Dormant users stop clicking; the channel as a whole does not.
  alerts.Emit(Ctr(3.0, 1 * kMin));
  alerts.Emit(of(Ctr(0.5, 1 * kMin), "dormant"));
  alerts.Emit(of(Ctr(0.4, 1 * kMin), "active"));  // no rule of the active segment
  ASSERT_EQ(rec.events.size(), 1u) << rec.states();
  const AlertEvent& a = rec.events[0];
  EXPECT_EQ(a.rule, "dormant_low_ctr");
  EXPECT_EQ(a.state, kAlertFiring);
  EXPECT_EQ(a.channel, "douyin");
  EXPECT_DOUBLE_EQ(a.value, 0.005);
  EXPECT_EQ(a.labels.at("segment"), "dormant");
  EXPECT_EQ(a.annotations.at("summary"), "dormant users on douyin");
  // The rule of all users judges the rows of all users: its CTR falls now.
  alerts.Emit(Ctr(1.0, 2 * kMin));
  alerts.Emit(of(Ctr(2.0, 2 * kMin), "dormant"));
  ASSERT_EQ(rec.events.size(), 3u) << rec.states();
  EXPECT_EQ(rec.events[1].rule, "low_ctr");
  EXPECT_EQ(rec.events[1].state, kAlertFiring);
  EXPECT_EQ(rec.events[1].labels.count("segment"), 0u);
  EXPECT_EQ(rec.events[2].rule, "dormant_low_ctr");
  EXPECT_EQ(rec.events[2].state, kAlertResolved);
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
  alerts.Emit(Ctr(1.0, 2 * kMin));        // would fire: not judged
  alerts.Emit(Ctr(1.0, 3 * kMin));        // still incomplete: reported once
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

v1::WindowResult Gmv(double yuan, int64_t end, const std::string& window = "1m",
                     const std::string& channel = "douyin") {
  v1::WindowResult r = Window(channel, 0, 0, end);
  r.set_window(window);
  r.set_gmv_cents(static_cast<int64_t>(yuan * 100));
  r.set_paid_orders(yuan > 0 ? 1 : 0);
  return r;
}

AlertRule GmvDrop() {
  AlertRule rule;
  rule.name = "gmv_drop";
  rule.kind = AlertRule::Kind::kRelativeDrop;
  rule.metric = "gmv";
  rule.window = "1m";
  rule.against_ms = 3 * kMin;
  rule.drop = 0.5;
  rule.min_baseline = 100;
  return rule;
}

TEST(AlertEngine, RelativeDropAgainstTheSameWindowEarlier) {
  Recorder rec;
  AlertEngine alerts({GmvDrop()}, nullptr, rec.cb());
  // No baseline for the first 3 minutes: a zero GMV is not a drop yet.
  alerts.Emit(Gmv(1000, 1 * kMin));
  alerts.Emit(Gmv(50, 2 * kMin));  // baseline would be minute -1: missing
  alerts.Emit(Gmv(1000, 3 * kMin));
  EXPECT_TRUE(rec.events.empty()) << rec.states();
  alerts.Emit(Gmv(500, 4 * kMin));  // against minute 1 (1000): exactly half -> fires
  alerts.Emit(Gmv(60, 5 * kMin));   // against minute 2 (50): under min_baseline, holds
  alerts.Emit(Gmv(600, 6 * kMin));  // against minute 3 (1000): 60% -> clear, resolves
  EXPECT_EQ(rec.states(), "firing@4 resolved@6 ");
  ASSERT_EQ(rec.events.size(), 2u);
  EXPECT_DOUBLE_EQ(*rec.events[0].baseline, 1000);
  EXPECT_DOUBLE_EQ(rec.events[0].threshold, 500);
  EXPECT_DOUBLE_EQ(rec.events[0].value, 500);
}

TEST(AlertEngine, RelativeDropAgainstTheRecentMedianWithHysteresis) {
  AlertRule rule = GmvDrop();
  rule.against_ms = 0;
  rule.median_of = 3;
  rule.resolve_drop = 0.2;  // resolves only back at 80% of the baseline
  Recorder rec;
  AlertEngine alerts({rule}, nullptr, rec.cb());
  alerts.Emit(Gmv(900, 1 * kMin));
  alerts.Emit(Gmv(1000, 2 * kMin));
  alerts.Emit(Gmv(5000, 3 * kMin));  // an outlier does not move the median
  alerts.Emit(Gmv(400, 4 * kMin));   // median(900, 1000, 5000) = 1000: fires
  alerts.Emit(Gmv(700, 5 * kMin));   // median(1000, 5000, 400) = 1000: 70% is between the lines
  alerts.Emit(Gmv(4000, 6 * kMin));  // median(5000, 400, 700) = 700: clear
  EXPECT_EQ(rec.states(), "firing@4 resolved@6 ");
  EXPECT_DOUBLE_EQ(*rec.events[0].baseline, 1000);
}

TEST(AlertEngine, PacingProjectsTheCumulativeRateToTheDeadline) {
  AlertRule rule;
  rule.name = "pacing";
  rule.kind = AlertRule::Kind::kPacing;
  rule.metric = "gmv";
  rule.window = "cumulative";
  rule.scope = AlertRule::Scope::kCampaign;
  rule.target = 10'000;
  rule.campaign_thresholds["c2"] = 4'000;
  rule.deadline_ms = 100 * kMin;
  rule.below_target = 0.3;
  rule.min_elapsed_ms = 10 * kMin;
  Recorder rec;
  AlertEngine alerts({rule}, nullptr, rec.cb());
  auto cumulative = [](const std::string& campaign, double yuan, int64_t end) {
    v1::WindowResult r = Gmv(yuan, end, "cumulative", "*");
    r.set_campaign_id(campaign);
    r.set_window_start_ms(0);
    return r;
  };
  alerts.Emit(cumulative("c1", 10, 5 * kMin));      // too early to project
  alerts.Emit(cumulative("c1", 1'000, 20 * kMin));  // 1000 in 20 min -> 5000 at 100: < 7000, fires
  alerts.Emit(cumulative("c2", 1'000, 20 * kMin));  // c2's own target 4000: 5000 >= 2800, fine
  alerts.Emit(cumulative("c1", 4'000, 50 * kMin));  // -> 8000: back on pace
  EXPECT_EQ(rec.states(), "firing@20 resolved@50 ");
  EXPECT_EQ(rec.events[0].campaign_id, "c1");
  EXPECT_DOUBLE_EQ(rec.events[0].value, 5'000);
  EXPECT_DOUBLE_EQ(rec.events[0].threshold, 7'000);
  EXPECT_DOUBLE_EQ(*rec.events[0].baseline, 10'000);
}

TEST(AlertEngine, NoDataFiresForASilentCampaignWhileOthersFlow) {
  AlertRule rule;
  rule.name = "silent";
  rule.kind = AlertRule::Kind::kNoData;
  rule.metric = "impressions";
  rule.window = "1m";
  rule.scope = AlertRule::Scope::kCampaignChannel;
  rule.silence_ms = 3 * kMin;
  rule.forget_after_ms = 10 * kMin;
  Recorder rec;
  AlertEngine alerts({rule}, nullptr, rec.cb());
  for (int m = 1; m <= 20; ++m) {
    alerts.Emit(Window("douyin", 100, 1, m * kMin, "c1"));  // the clock
    if (m <= 2 || (m >= 8 && m <= 9)) alerts.Emit(Window("jd", 100, 1, m * kMin, "c2"));
  }
  // c2/jd: data until 2, silent 3 min at 5 -> fires; data at 8 resolves;
  // silent again from 9: fires at 12, forgotten (resolved) at 19.
  EXPECT_EQ(rec.states(), "firing@5 resolved@8 firing@12 resolved@19 ");
  EXPECT_EQ(rec.events[0].campaign_id, "c2");
  EXPECT_DOUBLE_EQ(rec.events[0].value, 180);  // seconds silent
  // History is checkpointed: a restart still knows when c2 last had data.
  MemoryState state;
  alerts.Snapshot(state);
  EXPECT_EQ(state.size(AlertEngine::kHistoryTable), 1u) << "c2 was forgotten, c1 remains";
}

TEST(AlertEngine, NoDataOnATopicIsJudgedInWallTime) {
  AlertRule rule;
  rule.name = "orders_silent";
  rule.kind = AlertRule::Kind::kNoData;
  rule.topic = "orders";
  rule.scope = AlertRule::Scope::kOverall;
  rule.silence_ms = 120'000;
  rule.for_ms = 30'000;
  Recorder rec;
  AlertEngine alerts({rule}, nullptr, rec.cb());
  alerts.Emit(Ctr(1.0, 1 * kMin));  // windows do not judge it
  alerts.CheckTopicSilence({{"orders", 119'999}, {"clickstream", 999'999}}, 1'000'000);
  EXPECT_TRUE(rec.events.empty()) << rec.states();
  alerts.CheckTopicSilence({{"orders", 120'000}}, 1'000'000);  // pending
  alerts.CheckTopicSilence({{"orders", 149'999}}, 1'029'999);  // `for` not yet over
  alerts.CheckTopicSilence({{"orders", 150'000}}, 1'030'000);  // fires
  alerts.CheckTopicSilence({}, 1'040'000);                     // topic unassigned: no judgement
  alerts.CheckTopicSilence({{"orders", 0}}, 1'050'000);        // a record: resolved
  ASSERT_EQ(rec.events.size(), 3u);
  EXPECT_EQ(rec.events[0].state, "pending");
  EXPECT_EQ(rec.events[1].state, "firing");
  EXPECT_EQ(rec.events[1].labels.at("topic"), "orders");
  EXPECT_DOUBLE_EQ(rec.events[1].value, 150);
  EXPECT_EQ(rec.events[2].state, "resolved");
}

TEST(AlertEngine, CampaignOverrideMovesTheThresholdAndItsResolveLine) {
  AlertRule rule = LowCtr();
  rule.resolve_threshold = 0.02;
  rule.campaign_thresholds["launch"] = 0.03;  // resolve line moves with it: 0.035
  Recorder rec;
  AlertEngine alerts({rule}, nullptr, rec.cb());
  alerts.Emit(Ctr(2.5, 1 * kMin, "launch"));  // 2.5% < 3%: fires
  alerts.Emit(Ctr(2.5, 1 * kMin, "other"));   // 2.5% >= 1.5%: fine
  alerts.Emit(Ctr(3.2, 2 * kMin, "launch"));  // between 3% and 3.5%: holds
  alerts.Emit(Ctr(3.6, 3 * kMin, "launch"));  // resolves
  EXPECT_EQ(rec.states(), "firing@1 resolved@3 ");
  EXPECT_DOUBLE_EQ(rec.events[0].threshold, 0.03);
}

TEST(AlertEngine, LateDataCorrectingTheWindowAnAlertFiredOnRejudgesIt) {
  Recorder rec;
  AlertEngine alerts({LowCtr()}, nullptr, rec.cb());
  alerts.Emit(Ctr(1.0, 1 * kMin));  // fires on 1.0%
  v1::WindowResult corrected = Ctr(1.2, 1 * kMin);
  corrected.set_revision(1);
  alerts.Emit(corrected);  // still under 1.5%: the firing alert carries the corrected value
  ASSERT_EQ(rec.states(), "firing@1 firing@1 ");
  EXPECT_TRUE(rec.events[1].correction);
  EXPECT_DOUBLE_EQ(rec.events[1].value, 0.012);
  EXPECT_EQ(rec.events[1].annotations.at("uncorrected_value"), "0.01");
  // A correction of a window it did not fire on changes nothing.
  v1::WindowResult older = Ctr(5.0, 0);
  older.set_revision(1);
  alerts.Emit(older);
  EXPECT_EQ(rec.events.size(), 2u);
  // Late clicks lift the window over the line: resolved, saying why.
  corrected = Ctr(2.0, 1 * kMin);
  corrected.set_revision(2);
  alerts.Emit(corrected);
  ASSERT_EQ(rec.states(), "firing@1 firing@1 resolved@1 ");
  EXPECT_EQ(rec.events[2].annotations.at("resolved_by"),
            "late data corrected the window it fired on");
  EXPECT_TRUE(alerts.Firing().empty());
  EXPECT_EQ(AlertToJson(rec.events[1]).find("\"correction\":true") != std::string::npos, true);
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

TEST(AlertEncoding, ProtobufCarriesWhatTheJsonCarries) {
  AlertEvent a;
  a.rule = "gmv_drop";
  a.state = "firing";
  a.campaign_id = "c1";
  a.channel = "douyin";
  a.metric = "gmv";
  a.value = 12.5;
  a.threshold = 0.5;
  a.baseline = 25.0;
  a.window = "15m";
  a.window_end_ms = 1794326400000;
  a.severity = "page";
  a.active_since_ms = 1794326100000;
  a.correction = true;
  a.labels = {{"team", "growth"}};
  a.annotations = {{"summary", "GMV of c1 on douyin halved"}};
  // The JSON read back as the proto (same field names) equals the proto:
  // a field one of them lacks fails here.
  v1::Alert from_json;
  google::protobuf::util::JsonParseOptions strict;  // unknown JSON keys are errors
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(AlertToJson(a), &from_json, strict).ok())
      << AlertToJson(a);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(from_json, AlertToProto(a)))
      << from_json.DebugString() << " vs " << AlertToProto(a).DebugString();
}

}  // namespace
}  // namespace promowatch
