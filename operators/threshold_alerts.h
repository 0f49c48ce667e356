#pragma once
// Simple threshold alerts on final windows, in event time (the alert-engine
// issue extends them: `for`, hysteresis, relative drops, pacing, delivery to
// Alertmanager). A rule fires when its metric, on a window of its size and
// scope, crosses the threshold with at least `min_volume` of the metric's
// denominator; it resolves on the first window of that key that does not.
// The same code serves replay and live, so both give the same alerts.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "operators/window_operator.h"

namespace promowatch {

struct ThresholdRule {
  std::string name;
  std::string metric = "ctr";  // ctr, cvr, roi, gmv, paid_orders, orders, impressions, clicks, uv
  std::string window = "5m";
  enum class Scope { kOverall, kCampaign, kCampaignChannel } scope = Scope::kCampaignChannel;
  enum class Op { kLess, kLessEqual, kGreater, kGreaterEqual } op = Op::kLess;
  double threshold = 0;
  int64_t min_volume = 0;  // of the denominator: impressions (ctr), clicks (cvr), spend (roi)
  std::string severity = "warning";
};

struct AlertEvent {
  std::string rule;
  std::string state;  // "firing" | "resolved"
  std::string campaign_id;
  std::string channel;
  std::string metric;
  double value = 0;
  double threshold = 0;
  std::string window;
  int64_t window_end_ms = 0;  // event time of the evaluation
  std::string severity;
};
std::string AlertToJson(const AlertEvent& a);

// Evaluates every rule on every emitted window and forwards the window.
class ThresholdAlerts final : public WindowResultSink {
 public:
  using AlertCallback = std::function<void(const AlertEvent&)>;
  ThresholdAlerts(std::vector<ThresholdRule> rules, WindowResultSink* next, AlertCallback on_alert);
  void Emit(const v1::WindowResult& r) override;
  // Firing alerts by rule name, for gauges and the demo view.
  std::map<std::string, int> FiringByRule() const;
  std::vector<AlertEvent> Firing() const;

 private:
  std::vector<ThresholdRule> rules_;
  WindowResultSink* next_;
  AlertCallback on_alert_;
  std::map<std::tuple<size_t, std::string, std::string>, AlertEvent> firing_;
};

// The value a rule looks at, and its denominator for min_volume; nullopt
// when the metric is undefined (ctr without impressions).
std::optional<double> MetricValue(const v1::WindowResult& r, const std::string& metric,
                                  int64_t* volume);

}  // namespace promowatch
