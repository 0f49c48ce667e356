#include "operators/plan_rules.h"

#include <algorithm>
#include <string>

#include "operators/time_util.h"

namespace promowatch {

std::optional<double> ProjectKpi(const KpiField& kpi, double actual, int64_t start_ms,
                                 int64_t now_ms, int64_t end_ms, int64_t min_elapsed_ms) {
  if (!kpi.total || now_ms >= end_ms) return actual;
  const int64_t elapsed = now_ms - start_ms;
  if (elapsed <= 0 || elapsed < min_elapsed_ms) return std::nullopt;
  // Straight-line: the rate since the start, to the end.
  return actual + actual / static_cast<double>(elapsed) * static_cast<double>(end_ms - now_ms);
}

std::vector<AlertRule> PlanRules(std::shared_ptr<const Plan> plan) {
  std::vector<AlertRule> rules;
  if (plan == nullptr) return rules;
  for (const bool per_channel : {false, true}) {
    for (const KpiField& kpi : kKpis) {
      AlertRule rule;
      for (const CampaignPlan& c : plan->campaigns) {
        for (const PlanTarget& t : c.targets) {
          if (t.kpi == &kpi && t.channel.empty() != per_channel) rule.campaigns.insert(c.campaign);
        }
      }
      if (rule.campaigns.empty()) continue;
      rule.name = "plan_" + std::string(kpi.name) + (per_channel ? "_by_channel" : "");
      rule.kind = AlertRule::Kind::kTarget;
      rule.metric = std::string(kpi.metric);
      rule.window = std::string(kPeriodWindow);
      rule.scope = per_channel ? AlertRule::Scope::kCampaignChannel : AlertRule::Scope::kCampaign;
      rule.op = kpi.goal == KpiGoal::kCeiling ? AlertRule::Op::kGreater : AlertRule::Op::kLess;
      rule.min_volume = kpi.total ? 0 : plan->judging.min_volume;
      rule.for_ms = plan->judging.for_ms;
      rule.severity = plan->judging.severity;
      rule.below_target = kpi.goal == KpiGoal::kReach ? plan->judging.below_target : 0;
      rule.min_elapsed_ms = plan->judging.min_elapsed_ms;
      rule.plan = plan;
      rule.kpi = &kpi;
      rule.labels["kpi"] = std::string(kpi.name);
      rule.annotations["summary"] =
          "{{campaign}} " + std::string(kpi.name) + (per_channel ? " on {{channel}}" : "") +
          " is {{value}} against a target of {{target}}" +
          (kpi.total ? ", projected {{projected}} at the period's end" : "") +
          " ({{time_left}} left)";
      rules.push_back(std::move(rule));
    }
  }
  return rules;
}

namespace {
// What breaches: below it (reach, floor) or above it (ceiling); a total to
// reach is allowed `below_target` short of its target.
double TargetLine(const AlertRule& rule, const PlanTarget& t) {
  return rule.kpi->goal == KpiGoal::kReach ? (1 - rule.below_target) * t.value : t.value;
}

const PlanTarget* TargetOf(const AlertRule& rule, const CampaignPlan& c,
                           const v1::WindowResult& r) {
  return c.Target(rule.kpi->name, IsRollup(r.channel()) ? std::string_view() : r.channel());
}
}  // namespace

TargetJudgement JudgeTarget(const AlertRule& rule, const v1::WindowResult& r) {
  TargetJudgement j;
  if (rule.plan == nullptr || rule.kpi == nullptr) return j;
  const CampaignPlan* c = rule.plan->Find(r.campaign_id());
  if (c == nullptr) return j;
  const PlanTarget* t = TargetOf(rule, *c, r);
  if (t == nullptr) return j;
  // Nothing from a period's first minutes: a rate on a handful of events
  // (ROI before the first order) is noise, and totals do not project yet.
  if (r.window_end_ms() - c->start_ms < rule.min_elapsed_ms) return j;
  int64_t volume = 0;
  const std::optional<double> v = MetricValue(r, rule.metric, &volume);
  if (!v) return j;
  j.actual = *v;
  const KpiField& kpi = *rule.kpi;
  if (kpi.total) {
    const auto projected =
        ProjectKpi(kpi, *v, c->start_ms, r.window_end_ms(), c->end_ms, rule.min_elapsed_ms);
    if (!projected) return j;
    j.judged = true;
    j.line = TargetLine(rule, *t);
    j.breach = kpi.goal == KpiGoal::kReach ? *projected < j.line : *projected > j.line;
    return j;
  }
  if (volume < rule.min_volume) return j;
  j.judged = true;
  j.line = TargetLine(rule, *t);
  j.breach = kpi.goal == KpiGoal::kCeiling ? *v > t->value : *v < t->value;
  return j;
}

void DescribeTarget(const AlertRule& rule, const v1::WindowResult& r, AlertEvent* a) {
  if (rule.plan == nullptr || rule.kpi == nullptr) return;
  const CampaignPlan* c = rule.plan->Find(r.campaign_id());
  if (c == nullptr) return;
  const PlanTarget* t = TargetOf(rule, *c, r);
  if (t == nullptr) return;
  a->baseline = t->value;
  a->threshold = TargetLine(rule, *t);
  a->time_left_ms = std::max<int64_t>(0, c->end_ms - r.window_end_ms());
  a->projected = ProjectKpi(*rule.kpi, a->value, c->start_ms, r.window_end_ms(), c->end_ms,
                            rule.min_elapsed_ms);
  if (!a->projected) a->projected = a->value;
}

std::vector<KpiValue> CampaignKpis(
    const CampaignPlan& c,
    const std::function<const v1::WindowResult*(const std::string& channel)>& latest) {
  std::vector<KpiValue> out;
  for (const PlanTarget& t : c.targets) {
    KpiValue& k = out.emplace_back();
    k.target = &t;
    const v1::WindowResult* r = latest(t.channel.empty() ? std::string(kRollupKey) : t.channel);
    if (r == nullptr) continue;
    k.as_of_ms = r->window_end_ms();
    int64_t volume = 0;
    k.actual = MetricValue(*r, std::string(t.kpi->metric), &volume);
    if (!k.actual) continue;
    k.projected = ProjectKpi(*t.kpi, *k.actual, c.start_ms, r->window_end_ms(), c.end_ms, 0);
    const bool ceiling = t.kpi->goal == KpiGoal::kCeiling;
    const bool ok = ceiling ? *k.projected <= t.value : *k.projected >= t.value;
    k.status = ceiling ? (ok ? "within" : "over") : (ok ? "met" : "short");
  }
  return out;
}

std::string FormatTimeLeft(int64_t ms) {
  const int64_t minutes = std::max<int64_t>(0, ms) / kMinuteMs;
  const int64_t days = minutes / (24 * 60), hours = minutes / 60 % 24, mins = minutes % 60;
  if (days > 0) return std::to_string(days) + "d" + std::to_string(hours) + "h";
  if (hours > 0) return std::to_string(hours) + "h" + std::to_string(mins) + "m";
  return std::to_string(mins) + "m";
}

}  // namespace promowatch
