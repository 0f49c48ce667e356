// The encoders of what operators emit (encoding.h), JSON and protobuf side
// by side, so that the two carry the same fields
// (tests/unit/alert_engine_test.cc holds alerts to it).

#include "operators/encoding.h"

#include <fmt/format.h>

#include <iterator>
#include <nlohmann/json.hpp>

#include "operators/counter_reflection.h"

namespace promowatch {

namespace {

// The counters and then the ratios in results (aggregate.h) that are (or
// are not) user profiles' own, each as "name":value, comma before each.
void AppendMetricsJson(const v1::WindowResult& r, bool profiles_only, std::string* out) {
  auto it = std::back_inserter(*out);
  const auto* reflection = r.GetReflection();
  const auto& counters = CounterDescriptors<v1::WindowResult>();
  for (size_t i = 0; i < counters.size(); ++i) {
    if (kCounterFields[i].profiles_only != profiles_only) continue;
    fmt::format_to(it, ",\"{}\":{}", kCounterFields[i].name, reflection->GetInt64(r, counters[i]));
  }
  const auto& ratios = RatioDescriptors<v1::WindowResult>();
  for (size_t i = 0; i < ratios.size(); ++i) {
    const RatioField& f = kRatioFields[i];
    if (!f.in_results || f.profiles_only != profiles_only) continue;
    if (reflection->HasField(r, ratios[i])) {
      fmt::format_to(it, ",\"{}\":{}", f.name, reflection->GetDouble(r, ratios[i]));
    } else {
      fmt::format_to(it, ",\"{}\":null", f.name);
    }
  }
}

}  // namespace

void AppendWindowResultJson(const v1::WindowResult& r, std::string* out) {
  fmt::format_to(std::back_inserter(*out),
                 "{{\"window\":\"{}\",\"window_start_ms\":{},\"window_end_ms\":{},"
                 "\"campaign_id\":{},\"channel\":{}",
                 r.window(), r.window_start_ms(), r.window_end_ms(),
                 nlohmann::json(r.campaign_id()).dump(), nlohmann::json(r.channel()).dump());
  if (!r.segment().empty())
    fmt::format_to(std::back_inserter(*out), ",\"segment\":\"{}\"", r.segment());
  AppendMetricsJson(r, /*profiles_only=*/false, out);
  fmt::format_to(std::back_inserter(*out), ",\"uv\":{},\"revision\":{}", r.uv(), r.revision());
  if (HasProfileCounters(r)) AppendMetricsJson(r, /*profiles_only=*/true, out);
  if (r.has_buyers()) {
    fmt::format_to(std::back_inserter(*out), ",\"buyers\":{}", r.buyers());
    if (r.has_new_buyer_share()) {
      fmt::format_to(std::back_inserter(*out), ",\"new_buyer_share\":{}", r.new_buyer_share());
    } else {
      out->append(",\"new_buyer_share\":null");
    }
  }
  out->push_back('}');
}

std::string WindowResultToJson(const v1::WindowResult& r) {
  std::string s;
  AppendWindowResultJson(r, &s);
  return s;
}

v1::Alert AlertToProto(const AlertEvent& a) {
  v1::Alert p;
  p.set_rule(a.rule);
  p.set_state(a.state);
  p.set_campaign_id(a.campaign_id);
  p.set_channel(a.channel);
  p.set_metric(a.metric);
  p.set_value(a.value);
  p.set_threshold(a.threshold);
  p.set_window(a.window);
  p.set_event_time_ms(a.window_end_ms);
  p.set_severity(a.severity);
  p.set_active_since_ms(a.active_since_ms);
  p.set_correction(a.correction);
  if (a.baseline) p.set_baseline(*a.baseline);
  if (a.projected) p.set_projected(*a.projected);
  p.set_time_left_ms(a.time_left_ms);
  p.mutable_labels()->insert(a.labels.begin(), a.labels.end());
  p.mutable_annotations()->insert(a.annotations.begin(), a.annotations.end());
  return p;
}

std::string AlertToJson(const AlertEvent& a) {
  // Invalid UTF-8 in a campaign id must not throw on the pipeline thread.
  return AlertJson(a).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

nlohmann::ordered_json AlertJson(const AlertEvent& a) {
  // ordered_json: keys in the contract's order (rule, state, ...), as consumers and logs read them.
  nlohmann::ordered_json j = {{"rule", a.rule},
                              {"state", a.state},
                              {"campaign_id", a.campaign_id},
                              {"channel", a.channel},
                              {"metric", a.metric},
                              {"value", a.value},
                              {"threshold", a.threshold},
                              {"window", a.window},
                              {"event_time_ms", a.window_end_ms},
                              {"severity", a.severity},
                              {"active_since_ms", a.active_since_ms}};
  if (a.correction) j["correction"] = true;
  if (a.baseline) j["baseline"] = *a.baseline;  // relative_drop's baseline, pacing's target
  if (a.projected) {                            // target rules (the plan)
    j["projected"] = *a.projected;
    j["time_left_ms"] = a.time_left_ms;
  }
  if (!a.labels.empty()) j["labels"] = a.labels;
  if (!a.annotations.empty()) j["annotations"] = a.annotations;
  return j;
}

std::string TagChangeToJson(const TagChange& c) {
  nlohmann::ordered_json j = {{"user_id", c.user_id}, {"tag", c.tag},
                              {"from", c.from},       {"to", c.to},
                              {"reason", c.reason},   {"event_time_ms", c.event_time_ms}};
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

v1::UserTagChange TagChangeToProto(const TagChange& c) {
  v1::UserTagChange p;
  p.set_user_id(c.user_id);
  p.set_tag(c.tag);
  p.set_from(c.from);
  p.set_to(c.to);
  p.set_reason(c.reason);
  p.set_event_time_ms(c.event_time_ms);
  return p;
}

}  // namespace promowatch
