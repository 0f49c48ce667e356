// The profiles section of a config file: user profiles and the thresholds
// of their tags (operators/user_profiles.h TagRules).

#include <algorithm>

#include "pipeline/config/parse.h"

namespace promowatch::config_internal {
namespace {

// What the old profiles.max_users_in_memory is taken to mean in bytes: a
// user held with a paid order's part (BENCHMARKS.md section 5).
constexpr int64_t kProfileBytesPerUser = 256;

// An amount in yuan, as cents.
absl::Status Yuan(const Reader& r, const YAML::Node& n, int64_t* cents) {
  double v = 0;
  PW_RETURN_IF_ERROR(r.Number<double>(n, 0.0, &v));
  *cents = static_cast<int64_t>(v * 100 + 0.5);
  return absl::OkStatus();
}

// profiles.tags.rfm: the cut points of the three scores.
absl::Status ParseRfm(const Reader& r, const YAML::Node& rfm, TagRules* t) {
  PW_RETURN_IF_ERROR(
      r.CheckKeys(rfm, "profiles.tags.rfm", {"recency_days", "frequency", "monetary"}));
  const std::pair<const char*, std::vector<int64_t>*> lists[] = {
      {"recency_days", &t->rfm_recency_days},
      {"frequency", &t->rfm_frequency},
      {"monetary", &t->rfm_monetary_cents}};
  for (const auto& [key, dest] : lists) {
    auto n = rfm[key];
    if (!n) continue;
    if (!n.IsSequence() || n.size() != 4)
      return r.Error(n, fmt::format("rfm.{} must be 4 ascending cut points (scores 1-5)", key));
    dest->clear();
    for (const auto& item : n) {
      int64_t v = 0;
      if (std::string_view(key) == "monetary")
        PW_RETURN_IF_ERROR(Yuan(r, item, &v));
      else
        PW_RETURN_IF_ERROR(r.Number<int64_t>(item, 0, &v));
      if (!dest->empty() && v <= dest->back())
        return r.Error(item, fmt::format("rfm.{} cut points must ascend", key));
      dest->push_back(v);
    }
  }
  return absl::OkStatus();
}

// profiles.tags: the thresholds of the tags (TagRules).
absl::Status ParseTagRules(const Reader& r, const YAML::Node& tags, TagRules* out) {
  TagRules& t = *out;
  PW_RETURN_IF_ERROR(r.CheckKeys(
      tags, "profiles.tags",
      {"new_for", "active_days", "active_min_paid_orders", "active_min_aov", "dormant_after",
       "high_value_spend", "high_value_repeat_orders", "rfm", "tiers"}));
  if (auto n = tags["new_for"]) PW_RETURN_IF_ERROR(r.Duration(n, &t.new_for_ms));
  if (auto n = tags["active_days"]) {
    PW_RETURN_IF_ERROR(r.Number<int>(n, 1, &t.active_days));
    if (t.active_days > 365) return r.Error(n, "active_days is at most 365");
  }
  if (auto n = tags["active_min_paid_orders"])
    PW_RETURN_IF_ERROR(r.Number<int64_t>(n, 1, &t.active_min_paid_orders));
  if (auto n = tags["active_min_aov"]) PW_RETURN_IF_ERROR(Yuan(r, n, &t.active_min_aov_cents));
  if (auto n = tags["dormant_after"]) PW_RETURN_IF_ERROR(r.Duration(n, &t.dormant_after_ms));
  if (auto n = tags["high_value_spend"]) PW_RETURN_IF_ERROR(Yuan(r, n, &t.high_value_spend_cents));
  if (auto n = tags["high_value_repeat_orders"])
    PW_RETURN_IF_ERROR(r.Number<int64_t>(n, 1, &t.high_value_repeat_orders));
  if (auto rfm = tags["rfm"]) PW_RETURN_IF_ERROR(ParseRfm(r, rfm, &t));
  if (auto tiers = tags["tiers"]) {
    PW_RETURN_IF_ERROR(r.CheckKeys(tiers, "profiles.tags.tiers", {"silver", "gold", "diamond"}));
    if (auto n = tiers["silver"]) PW_RETURN_IF_ERROR(Yuan(r, n, &t.tier_silver_cents));
    if (auto n = tiers["gold"]) PW_RETURN_IF_ERROR(Yuan(r, n, &t.tier_gold_cents));
    if (auto n = tiers["diamond"]) PW_RETURN_IF_ERROR(Yuan(r, n, &t.tier_diamond_cents));
    if (!(t.tier_silver_cents < t.tier_gold_cents && t.tier_gold_cents < t.tier_diamond_cents)) {
      return r.Error(tiers, "tiers must ascend: silver < gold < diamond");
    }
  }
  return absl::OkStatus();
}

}  // namespace

// profiles: user profiles and the thresholds of their tags.
absl::Status ParseProfilesSection(const Reader& r, const YAML::Node& pr, PipelineConfig* out) {
  PipelineConfig& config = *out;
  PW_RETURN_IF_ERROR(
      r.CheckKeys(pr, "profiles",
                  {"enabled", "memory_budget", "max_users_in_memory", "checkpoint_every_changed",
                   "expire_after", "attribution_window", "tags"}));
  TagRules& t = config.tag_rules;
  // (lateness is parsed before: how far behind the watermark an accepted
  // event may be - its allowed lateness and its minute pane.)
  t.reorder_horizon_ms = config.operators.effective_lateness_ms() + 60'000;
  if (auto n = pr["enabled"]) PW_RETURN_IF_ERROR(r.Bool(n, &config.profiles_enabled));
  config.operators.count_new_customers = config.profiles_enabled;
  if (pr["memory_budget"] && pr["max_users_in_memory"]) {
    return r.Error(pr["max_users_in_memory"],
                   "max_users_in_memory is replaced by memory_budget: keep only memory_budget");
  }
  if (auto n = pr["memory_budget"]) {
    PW_RETURN_IF_ERROR(r.Bytes(n, int64_t{64} << 10, &config.profiles_memory_budget));
  }
  if (auto n = pr["max_users_in_memory"]) {
    int64_t users = 0;
    PW_RETURN_IF_ERROR(r.Number<int64_t>(n, 1000, &users));
    config.profiles_memory_budget = users * kProfileBytesPerUser;
    config.warnings.push_back(fmt::format(
        "{}: profiles.max_users_in_memory is replaced by profiles.memory_budget (bytes); {} "
        "users taken as memory_budget: {}MiB ({} bytes a user)",
        r.Where(n), users, config.profiles_memory_budget >> 20, kProfileBytesPerUser));
  }
  if (auto n = pr["checkpoint_every_changed"]) {
    PW_RETURN_IF_ERROR(r.Number<int64_t>(n, 1000, &config.profiles_checkpoint_every_changed));
  }
  if (auto n = pr["expire_after"]) PW_RETURN_IF_ERROR(r.Duration(n, &t.expire_after_ms));
  if (auto n = pr["attribution_window"])
    PW_RETURN_IF_ERROR(r.Duration(n, &t.attribution_window_ms));
  if (auto tags = pr["tags"]) PW_RETURN_IF_ERROR(ParseTagRules(r, tags, &t));
  return absl::OkStatus();
}

// segments: campaign windows split by the user segment of each event
// (operators/segment.h): which sizes, and the tags' precedence.
absl::Status ParseSegmentsSection(const Reader& r, const YAML::Node& s, PipelineConfig* out) {
  PipelineConfig& config = *out;
  PW_RETURN_IF_ERROR(r.CheckKeys(s, "segments", {"enabled", "windows", "precedence"}));
  bool enabled = false;
  if (auto n = s["enabled"]) PW_RETURN_IF_ERROR(r.Bool(n, &enabled));
  if (enabled && !config.profiles_enabled) {
    return r.Error(s["enabled"],
                   "segments come from user tags: set profiles.enabled: true, or remove "
                   "segments.enabled");
  }
  OperatorOptions& op = config.operators;
  std::vector<int> minutes = {5};
  bool cumulative = true;
  if (auto n = s["windows"]) {
    if (!n.IsSequence() || n.size() == 0)
      return r.Error(n, "windows must be a list like [5m, cumulative]");
    minutes.clear();
    cumulative = false;
    for (const auto& item : n) {
      if (item.IsScalar() && item.Scalar() == kCumulativeWindow) {
        if (!op.cumulative) return r.Error(item, "cumulative is off (cumulative.enabled: false)");
        cumulative = true;
        continue;
      }
      int64_t ms = 0;
      PW_RETURN_IF_ERROR(r.Duration(item, &ms));
      const int m = static_cast<int>(ms / 60'000);
      if (ms % 60'000 != 0 || std::find(op.window_minutes.begin(), op.window_minutes.end(), m) ==
                                  op.window_minutes.end()) {
        return r.Error(item, fmt::format("{} is not one of windows.sizes", item.Scalar()));
      }
      minutes.push_back(m);
    }
  } else if (std::find(op.window_minutes.begin(), op.window_minutes.end(), 5) ==
             op.window_minutes.end()) {
    minutes.clear();  // the default's 5m is not computed: the cumulative day only
  }
  if (auto n = s["precedence"]) {
    if (!n.IsSequence() || n.size() == 0)
      return r.Error(n, "precedence must be a list like [high_value, active, dormant, new]");
    std::vector<Segment> order;
    for (const auto& item : n) {
      const auto seg = item.IsScalar() ? FromName(kSegmentNames, item.Scalar()) : std::nullopt;
      if (!seg || *seg == Segment::kOther || *seg == Segment::kUnknown) {
        return r.Error(item,
                       "a segment of the precedence is one of: high_value, active, "
                       "dormant, new (other is what none of them holds)");
      }
      if (std::find(order.begin(), order.end(), *seg) != order.end())
        return r.Error(item, fmt::format("{} is listed twice", item.Scalar()));
      order.push_back(*seg);
    }
    config.api.segment_precedence = order;
    config.tag_rules.segment_precedence = std::move(order);
  }
  if (!enabled) return absl::OkStatus();
  op.segment_window_minutes = std::move(minutes);
  op.segment_cumulative = cumulative;
  return absl::OkStatus();
}

}  // namespace promowatch::config_internal
