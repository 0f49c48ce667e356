#pragma once
// The campaign plan: each campaign's period and the targets of its
// planning sheet (plan.file; pipeline/config/plan_file.cc reads it).
//
// A plan gives the windows a "period" row per planned campaign (its
// running total from the period's start: window_operator.h), the profile
// step a reactivation cohort per campaign with a reactivation target
// (plan_cohort.h), and the alert judge one `target` rule per KPI
// (PlanRules): targets are written once, in the plan.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "operators/keys.h"

namespace promowatch {

// How a KPI meets its target.
enum class KpiGoal : uint8_t {
  kReach,    // a total to reach by the period's end (projected at the rate so far)
  kFloor,    // a rate to stay at or above (not projected)
  kCeiling,  // a total or rate to stay at or below (totals projected)
};

// The KPIs a plan may set, defined once: plan files, the target rules, the
// series promowatch_campaign_kpi{kpi}, /v1/campaigns/{id}/kpis and the
// report all loop over this table.
struct KpiField {
  std::string_view name;    // in plan files and the `kpi` label
  std::string_view metric;  // the alert metric it is on a period row (alert_metrics.cc)
  KpiGoal goal;
  bool total;         // a sum (projected to the period's end), not a rate
  bool per_campaign;  // may be set for a campaign (targets:)
  bool per_channel;   // may be set per channel (channels:)
  bool profiles;      // needs profiles.enabled
  std::string_view help;
};
inline constexpr KpiField kKpis[] = {
    {"gmv", "gmv", KpiGoal::kReach, true, true, true, false, "GMV over the period, yuan"},
    {"orders", "paid_orders", KpiGoal::kReach, true, true, true, false,
     "Paid orders over the period"},
    {"new_users", "new_users", KpiGoal::kReach, true, true, true, true,
     "Users first seen in the period (their first event is of the campaign)"},
    {"new_customer_share", "new_buyer_share", KpiGoal::kFloor, false, true, true, true,
     "First-time buyers / buyers over the period"},
    {"reactivation_rate", "reactivation_rate", KpiGoal::kFloor, false, true, false, true,
     "Of the users dormant at the period's start whom the campaign reached, the share "
     "who paid within `within` of being reached"},
    {"cvr", "cvr", KpiGoal::kFloor, false, true, true, false,
     "Paid orders / clicks over the period"},
    {"ctr", "ctr", KpiGoal::kFloor, false, true, true, false,
     "Clicks / impressions over the period"},
    {"roi", "roi", KpiGoal::kFloor, false, true, true, false, "GMV / spend over the period"},
    {"budget", "spend", KpiGoal::kCeiling, true, true, true, false,
     "Spend over the period, yuan (projected to the end)"},
    {"cac", "cac", KpiGoal::kCeiling, false, true, true, true,
     "Spend / first-time buyers over the period, yuan"},
};

inline const KpiField* FindKpi(std::string_view name) {
  for (const KpiField& k : kKpis) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

struct PlanTarget {
  const KpiField* kpi = nullptr;
  std::string channel;  // empty: the campaign's total (channel "*")
  double value = 0;
  int line = 0;  // in the plan file, for messages
};

struct CampaignPlan {
  std::string campaign;
  int64_t start_ms = 0;       // inclusive, on a minute
  int64_t end_ms = 0;         // exclusive, on a minute
  int64_t utc_offset_ms = 0;  // the plan's time zone: where its days start (report)
  // reactivation_rate: a reached user counts if they paid within this long
  // of being reached (0: no reactivation target).
  int64_t reactivation_within_ms = 0;
  std::vector<PlanTarget> targets;
  int line = 0;

  const PlanTarget* Target(std::string_view kpi, std::string_view channel) const {
    for (const PlanTarget& t : targets) {
      if (t.kpi->name == kpi && t.channel == channel) return &t;
    }
    return nullptr;
  }
  // How long after the end its period row still changes: repurchases of
  // the reactivation cohort count until `within` after the end.
  int64_t tail_ms() const { return reactivation_within_ms; }
};

// How the plan's target rules judge (plan file `judge:`).
struct PlanJudging {
  // A `reach` KPI breaches when projected below (1 - below_target) x target.
  double below_target = 0.1;
  // Rates are judged with at least this much of their denominator.
  int64_t min_volume = 100;
  // Nothing is judged in a period's first this long (no projection from
  // its first minutes, no rate on its first few events).
  int64_t min_elapsed_ms = 60 * 60'000;
  int64_t for_ms = 0;
  std::string severity = "warning";
};

struct Plan {
  std::string file;  // where it came from ("" with no plan)
  std::vector<CampaignPlan> campaigns;
  PlanJudging judging;

  bool empty() const { return campaigns.empty(); }
  const CampaignPlan* Find(std::string_view campaign) const {
    for (const CampaignPlan& c : campaigns) {
      if (c.campaign == campaign) return &c;
    }
    return nullptr;
  }
  bool NeedsProfiles() const {
    for (const CampaignPlan& c : campaigns) {
      for (const PlanTarget& t : c.targets) {
        if (t.kpi->profiles) return true;
      }
    }
    return false;
  }
};

// What a KPI is projected to be at the period's end given its value at
// `now_ms`: totals straight-line at the rate since the start, rates as
// they are. nullopt for a total in the period's first `min_elapsed_ms`.
std::optional<double> ProjectKpi(const KpiField& kpi, double actual, int64_t start_ms,
                                 int64_t now_ms, int64_t end_ms, int64_t min_elapsed_ms);

}  // namespace promowatch
