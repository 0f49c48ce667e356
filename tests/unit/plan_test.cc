// The plan file (pipeline/config/plan_file.h) and its target rules
// (operators/plan_rules.h).
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include "operators/plan_rules.h"
#include "pipeline/config/plan_file.h"
#include "pipeline/serve/results_probe.h"

namespace promowatch {
namespace {

constexpr char kYaml[] = R"(judge:
  min_elapsed: 1h
campaigns:
  - campaign: double11
    start: 2026-11-01
    end: 2026-11-11
    time_zone: "+08:00"
    targets: {gmv: 5000000, new_customer_share: 0.4, reactivation_rate: 0.25}
    reactivation_within: 30d
    channels:
      douyin: {roi: 1.0, budget: 200000}
)";
constexpr char kCsv[] =
    "campaign,start,end,time_zone,kpi,channel,target,within\n"
    "double11,2026-11-01,2026-11-11,+08:00,gmv,,5000000,\n"
    "double11,,,,new_customer_share,,0.4,\n"
    "double11,,,,reactivation_rate,,0.25,30d\n"
    "double11,,,,roi,douyin,1.0,\n"
    "double11,,,,budget,douyin,200000,\n";

constexpr int64_t kNov1 = 1793462400000;  // 2026-11-01T00:00:00+08:00

TEST(PlanFile, YamlAndCsvSayTheSame) {
  for (const auto& [text, file] : {std::pair{kYaml, "plan.yaml"}, std::pair{kCsv, "plan.csv"}}) {
    auto plan = ParsePlan(text, file);
    ASSERT_TRUE(plan.ok()) << plan.status();
    ASSERT_EQ(plan->campaigns.size(), 1u) << file;
    const CampaignPlan& c = plan->campaigns[0];
    EXPECT_EQ(c.start_ms, kNov1) << file;
    EXPECT_EQ(c.end_ms, kNov1 + 11 * 86'400'000LL) << file << ": an end day is in the period";
    EXPECT_EQ(c.reactivation_within_ms, 30 * 86'400'000LL) << file;
    ASSERT_EQ(c.targets.size(), 5u) << file;
    ASSERT_NE(c.Target("gmv", ""), nullptr);
    EXPECT_EQ(c.Target("gmv", "")->value, 5'000'000);
    ASSERT_NE(c.Target("roi", "douyin"), nullptr);
    EXPECT_EQ(c.Target("roi", "douyin")->value, 1.0);
  }
}

TEST(PlanFile, MistakesNameTheirLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"campaigns:\n  - campaign: a\n    start: 2026-11-01\n    end: 2026-11-02\n    targets: "
       "{gvm: 5}\n",
       "plan.yaml:5: unknown target 'gvm'"},
      {"campaigns:\n  - campaign: a\n    start: 2026-11-01\n    end: 2026-11-02\n    targets: "
       "{cvr: 8}\n",
       "plan.yaml:5: cvr is a share: write 0.4 for 40%"},
      {"campaigns:\n  - campaign: a\n    start: 2026-11-03\n    end: 2026-11-02\n",
       "plan.yaml:2: campaign 'a' ends before it starts"},
      {"campaigns:\n  - campaign: a\n    start: 2026-11-01\n    end: 2026-11-02\n    targets: "
       "{reactivation_rate: 0.2}\n",
       "plan.yaml:2: reactivation_rate needs reactivation_within"},
      {"campaigns:\n  - campaign: a\n    start: 2026-11-01\n    end: 2026-11-02\n  - campaign: "
       "a\n    start: 2026-11-01\n    end: 2026-11-02\n",
       "plan.yaml:5: campaign 'a' is planned twice (line 2)"},
      {"campaigns:\n  - campaign: a\n    start: tomorrow\n    end: 2026-11-02\n",
       "plan.yaml:3: 'tomorrow' is neither a day"},
      {"campaigns:\n  - campaign: a\n    start: 2026-11-01\n    end: 2026-11-02\n    channels: "
       "{douyin: {reactivation_rate: 0.2}}\n",
       "plan.yaml:5: reactivation_rate is set for a campaign only"},
      {"campaigns:\n  - campaign: a\n    start: 2026-11-01\n    end: 2026-11-02\n    colour: red\n",
       "plan.yaml:5: unknown key 'colour'"},
  };
  for (const auto& [text, want] : cases) {
    auto plan = ParsePlan(text, "plan.yaml");
    ASSERT_FALSE(plan.ok()) << text;
    EXPECT_EQ(std::string(plan.status().message()).rfind(want, 0), 0u)
        << "got: " << plan.status().message() << "\nwant: " << want;
  }
  const std::pair<const char*, const char*> csv[] = {
      {"campaign,start,end\n", "plan.csv:1: a plan CSV starts with the header"},
      {"campaign,start,end,time_zone,kpi,channel,target,within\na,2026-11-01,2026-11-02,,gmv,,"
       "lots,\n",
       "plan.csv:2: target 'lots' is not a number"},
      {"campaign,start,end,time_zone,kpi,channel,target,within\na,2026-11-01,2026-11-02,,gmv,,5,"
       "\na,2026-11-02,,,orders,,5,\n",
       "plan.csv:3: campaign 'a' has another start on line 2"},
  };
  for (const auto& [text, want] : csv) {
    auto plan = ParsePlan(text, "plan.csv");
    ASSERT_FALSE(plan.ok()) << text;
    EXPECT_EQ(std::string(plan.status().message()).rfind(want, 0), 0u)
        << "got: " << plan.status().message() << "\nwant: " << want;
  }
}

TEST(PlanFile, TargetsOfProfilesNeedProfiles) {
  auto plan = ParsePlan(kYaml, "plan.yaml");
  ASSERT_TRUE(plan.ok());
  PipelineConfig config;
  const absl::Status s = ApplyPlan(*plan, &config);
  EXPECT_EQ(s.message(),
            "plan.yaml:8: target new_customer_share needs user profiles: set profiles.enabled: "
            "true in the config");
  config.profiles_enabled = true;
  ASSERT_TRUE(ApplyPlan(*plan, &config).ok());
  ASSERT_EQ(config.operators.periods.size(), 1u);
  EXPECT_EQ(config.operators.periods[0].tail_ms, 30 * 86'400'000LL);
  ASSERT_EQ(config.tag_rules.cohorts.size(), 1u);
  std::vector<std::string> names;
  for (const AlertRule& r : config.alert_rules) names.push_back(r.name);
  EXPECT_EQ(names, (std::vector<std::string>{"plan_gmv", "plan_new_customer_share",
                                             "plan_reactivation_rate", "plan_roi_by_channel",
                                             "plan_budget_by_channel"}));
}

v1::WindowResult PeriodRow(std::string channel, int64_t end_ms, int64_t gmv_cents,
                           int64_t spend_cents) {
  v1::WindowResult r;
  r.set_window("period");
  r.set_campaign_id("double11");
  r.set_channel(std::move(channel));
  r.set_window_start_ms(kNov1);
  r.set_window_end_ms(end_ms);
  r.set_gmv_cents(gmv_cents);
  r.set_spend_cents(spend_cents);
  if (spend_cents > 0) r.set_roi(static_cast<double>(gmv_cents) / static_cast<double>(spend_cents));
  return r;
}

TEST(PlanRules, ReachProjectsToTheEndAndFloorsJudgeTheRate) {
  auto plan = ParsePlan(kYaml, "plan.yaml");
  ASSERT_TRUE(plan.ok());
  const std::vector<AlertRule> rules = PlanRules(std::make_shared<const Plan>(*plan));
  const AlertRule& gmv = rules[0];
  const int64_t day = 86'400'000;
  // Day 1 of 11: 400,000 yuan projects to 4.4M, under 90% of 5M.
  TargetJudgement j = JudgeTarget(gmv, PeriodRow("*", kNov1 + day, 40'000'000, 0));
  EXPECT_TRUE(j.judged && j.breach);
  EXPECT_DOUBLE_EQ(j.actual, 400'000);
  EXPECT_DOUBLE_EQ(j.line, 4'500'000);
  // 500,000 projects to 5.5M: on track.
  j = JudgeTarget(gmv, PeriodRow("*", kNov1 + day, 50'000'000, 0));
  EXPECT_TRUE(j.judged && !j.breach);
  // The first hour: not judged.
  EXPECT_FALSE(JudgeTarget(gmv, PeriodRow("*", kNov1 + 30 * 60'000, 0, 0)).judged);
  AlertEvent a;
  a.value = 400'000;
  DescribeTarget(gmv, PeriodRow("*", kNov1 + day, 40'000'000, 0), &a);
  EXPECT_EQ(a.baseline, 5'000'000);
  EXPECT_DOUBLE_EQ(*a.projected, 4'400'000);
  EXPECT_EQ(a.time_left_ms, 10 * day);
  EXPECT_EQ(FormatTimeLeft(a.time_left_ms), "10d0h");
  // ROI per channel, a floor: 0.8 with enough spend breaches; other channels are not judged.
  const AlertRule& roi = rules[3];
  ASSERT_EQ(roi.name, "plan_roi_by_channel");
  j = JudgeTarget(roi, PeriodRow("douyin", kNov1 + day, 80'000, 100'000));
  EXPECT_TRUE(j.judged && j.breach);
  EXPECT_FALSE(JudgeTarget(roi, PeriodRow("tmall", kNov1 + day, 80'000, 100'000)).judged);
}

}  // namespace
}  // namespace promowatch

namespace promowatch {
namespace {

// The plan's KPIs in /metrics and the API's view: from the latest period
// row of each key, targets without a row reported as "no data".
TEST(PlanKpis, PeriodRowsSetTheKpiSeries) {
  auto plan = ParsePlan(kYaml, "plan.yaml");
  ASSERT_TRUE(plan.ok());
  prometheus::Registry registry;
  ResultsProbe probe(registry, MetricsOptions{});
  probe.SetPlan(std::make_shared<const Plan>(*plan));
  const int64_t day = 86'400'000;
  probe.ResultEmitted(PeriodRow("*", kNov1 + day, 40'000'000, 0), 0);
  probe.ResultEmitted(PeriodRow("douyin", kNov1 + day, 80'000, 100'000), 0);
  std::map<std::string, double> kpi, target;
  for (const auto& f : registry.Collect()) {
    for (const auto& m : f.metric) {
      std::string labels;
      for (const auto& l : m.label) labels += l.name + "=" + l.value + ",";
      if (f.name == "promowatch_campaign_kpi") kpi[labels] = m.gauge.value;
      if (f.name == "promowatch_campaign_kpi_target") target[labels] = m.gauge.value;
    }
  }
  EXPECT_EQ(kpi["campaign=double11,channel=*,kpi=gmv,"], 400'000);
  EXPECT_EQ(target["campaign=double11,channel=*,kpi=gmv,"], 5'000'000);
  EXPECT_DOUBLE_EQ(kpi["campaign=double11,channel=douyin,kpi=roi,"], 0.8);
  EXPECT_EQ(target["campaign=double11,channel=douyin,kpi=budget,"], 200'000);
  const ResultsProbe::CampaignKpiView view = probe.Kpis("double11");
  ASSERT_NE(view.campaign, nullptr);
  ASSERT_EQ(view.kpis.size(), 5u);
  EXPECT_EQ(view.kpis[0].status, "short");  // gmv: 4.4M projected of 5M
  EXPECT_DOUBLE_EQ(*view.kpis[0].projected, 4'400'000);
  EXPECT_EQ(view.kpis[1].status, "no data");  // new_customer_share: the row has no buyers
  EXPECT_EQ(probe.Kpis("elsewhere").campaign, nullptr);
}

}  // namespace
}  // namespace promowatch
