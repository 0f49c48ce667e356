#pragma once
// What operators emit, encoded for the outputs: window results, alert
// transitions and tag changes, each as JSON and as protobuf. The protobuf
// form of a result is the WindowResult the windows build; the JSON forms
// carry the same fields, named the same way.

#include <nlohmann/json.hpp>
#include <string>

#include "operators/alert_engine.h"
#include "operators/user_profiles.h"
#include "promowatch/v1/results.pb.h"

namespace promowatch {

// One result as replay's JSON object (no newline): window, bounds,
// campaign_id, channel, the counters (kCounterFields) and ratios
// (kRatioFields, null without a denominator), uv, revision; with profiles
// on, then their own counters and ratios.
std::string WindowResultToJson(const v1::WindowResult& r);
void AppendWindowResultJson(const v1::WindowResult& r, std::string* out);

// One JSON object: the backtest/alerts-topic contract (rule, state,
// campaign_id, channel, metric, value, threshold, window, event_time_ms,
// severity, active_since_ms, labels, annotations).
std::string AlertToJson(const AlertEvent& a);
// The same as a JSON object (the status page's alerts add their links to it).
nlohmann::ordered_json AlertJson(const AlertEvent& a);
// The same as promowatch.v1.Alert (alerts topic with results_format
// protobuf): field for field what the JSON carries.
v1::Alert AlertToProto(const AlertEvent& a);

// {"user_id", "tag", "from", "to", "reason", "event_time_ms"}.
std::string TagChangeToJson(const TagChange& c);
// The same as promowatch.v1.UserTagChange (user-tags topic, protobuf).
v1::UserTagChange TagChangeToProto(const TagChange& c);

}  // namespace promowatch
