#include "operators/threshold_alerts.h"

#include <cstdio>

namespace promowatch {

std::optional<double> MetricValue(const v1::WindowResult& r, const std::string& metric,
                                  int64_t* volume) {
  if (metric == "ctr") {
    *volume = r.impressions();
    return r.has_ctr() ? std::optional<double>(r.ctr()) : std::nullopt;
  }
  if (metric == "cvr") {
    *volume = r.clicks();
    return r.has_cvr() ? std::optional<double>(r.cvr()) : std::nullopt;
  }
  if (metric == "roi") {
    *volume = r.spend_cents();
    return r.has_roi() ? std::optional<double>(r.roi()) : std::nullopt;
  }
  *volume = INT64_MAX;  // counts have no denominator
  if (metric == "gmv") return static_cast<double>(r.gmv_cents()) / 100.0;
  if (metric == "paid_orders") return static_cast<double>(r.paid_orders());
  if (metric == "orders") return static_cast<double>(r.orders());
  if (metric == "impressions") return static_cast<double>(r.impressions());
  if (metric == "clicks") return static_cast<double>(r.clicks());
  if (metric == "uv") return static_cast<double>(r.uv());
  return std::nullopt;
}

ThresholdAlerts::ThresholdAlerts(std::vector<ThresholdRule> rules, WindowResultSink* next,
                                 AlertCallback on_alert)
    : rules_(std::move(rules)), next_(next), on_alert_(std::move(on_alert)) {}

void ThresholdAlerts::Emit(const v1::WindowResult& r) {
  if (next_ != nullptr) next_->Emit(r);
  const bool overall = r.campaign_id() == "*";
  const bool campaign_rollup = !overall && r.channel() == "*";
  for (size_t i = 0; i < rules_.size(); ++i) {
    const ThresholdRule& rule = rules_[i];
    if (r.window() != rule.window) continue;
    using S = ThresholdRule::Scope;
    if ((rule.scope == S::kOverall) != overall) continue;
    if (rule.scope == S::kCampaign && !campaign_rollup) continue;
    if (rule.scope == S::kCampaignChannel && (overall || campaign_rollup)) continue;
    int64_t volume = 0;
    const std::optional<double> v = MetricValue(r, rule.metric, &volume);
    bool breach = false;
    if (v && volume >= rule.min_volume) {
      switch (rule.op) {
        case ThresholdRule::Op::kLess: breach = *v < rule.threshold; break;
        case ThresholdRule::Op::kLessEqual: breach = *v <= rule.threshold; break;
        case ThresholdRule::Op::kGreater: breach = *v > rule.threshold; break;
        case ThresholdRule::Op::kGreaterEqual: breach = *v >= rule.threshold; break;
      }
    }
    const auto key = std::make_tuple(i, r.campaign_id(), r.channel());
    auto it = firing_.find(key);
    AlertEvent a{rule.name, breach ? "firing" : "resolved", r.campaign_id(), r.channel(),
                 rule.metric, v.value_or(0), rule.threshold, rule.window, r.window_end_ms(),
                 rule.severity};
    if (breach && it == firing_.end()) {
      firing_.emplace(key, a);
      on_alert_(a);
    } else if (!breach && it != firing_.end() && (v || volume < rule.min_volume)) {
      firing_.erase(it);
      on_alert_(a);
    } else if (breach) {
      it->second.value = a.value;
      it->second.window_end_ms = a.window_end_ms;
    }
  }
}

std::map<std::string, int> ThresholdAlerts::FiringByRule() const {
  std::map<std::string, int> out;
  for (const auto& r : rules_) out[r.name] = 0;
  for (const auto& [key, a] : firing_) ++out[a.rule];
  return out;
}

std::vector<AlertEvent> ThresholdAlerts::Firing() const {
  std::vector<AlertEvent> out;
  for (const auto& [key, a] : firing_) out.push_back(a);
  return out;
}

std::string AlertToJson(const AlertEvent& a) {
  // Names and ids are validated short strings; escape quotes and backslashes.
  auto esc = [](const std::string& s) {
    std::string o;
    for (char c : s) {
      if (c == '"' || c == '\\') o.push_back('\\');
      if (static_cast<unsigned char>(c) >= 0x20) o.push_back(c);
    }
    return o;
  };
  char num[64];
  std::string j = "{\"rule\":\"" + esc(a.rule) + "\",\"state\":\"" + a.state +
                  "\",\"campaign_id\":\"" + esc(a.campaign_id) + "\",\"channel\":\"" +
                  esc(a.channel) + "\",\"metric\":\"" + a.metric + "\",\"value\":";
  std::snprintf(num, sizeof(num), "%.17g", a.value);
  j += num;
  j += ",\"threshold\":";
  std::snprintf(num, sizeof(num), "%.17g", a.threshold);
  j += num;
  j += ",\"window\":\"" + a.window + "\",\"event_time_ms\":" + std::to_string(a.window_end_ms) +
       ",\"severity\":\"" + esc(a.severity) + "\"}";
  return j;
}

}  // namespace promowatch
