#pragma once
// The plan's targets as alert rules (plan.h): one `target` rule per KPI
// the plan sets, for campaign totals ("plan_<kpi>", scope campaign) and
// per channel ("plan_<kpi>_by_channel", scope campaign_channel), judged on
// the period rows against each campaign's own target. A target is written
// once, in the plan; a plan reload replaces these rules like a rules file.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "operators/alert_engine.h"
#include "operators/plan.h"

namespace promowatch {

// The rules of a plan, in kKpis' order (campaign rules, then channel ones).
std::vector<AlertRule> PlanRules(std::shared_ptr<const Plan> plan);

// A target rule's judgement of a period row.
struct TargetJudgement {
  bool judged = false;  // enough data (rates: min_volume; totals: min_elapsed)
  bool breach = false;
  double actual = 0;
  double line = 0;  // what breaches: below it (reach, floor) or above it (ceiling)
};
TargetJudgement JudgeTarget(const AlertRule& rule, const v1::WindowResult& r);

// Fills an alert of a target rule: target (baseline), projected, time left.
void DescribeTarget(const AlertRule& rule, const v1::WindowResult& r, AlertEvent* a);

// A target of a campaign against its latest period row: what /metrics
// (promowatch_campaign_kpi*), GET /v1/campaigns/{id}/kpis and the report
// show.
struct KpiValue {
  const PlanTarget* target = nullptr;
  std::optional<double> actual;         // unset: no period row yet
  std::optional<double> projected;      // at the period's end
  std::string_view status = "no data";  // met, short; within, over (ceilings); no data
  int64_t as_of_ms = 0;                 // the row's end
};
// `latest(channel)`: the campaign's latest period row of a channel ("*":
// the campaign's total), or nullptr.
std::vector<KpiValue> CampaignKpis(
    const CampaignPlan& c,
    const std::function<const v1::WindowResult*(const std::string& channel)>& latest);

// "3d4h", "2h15m", "12m", "0m": a time left, for people.
std::string FormatTimeLeft(int64_t ms);

}  // namespace promowatch
