#pragma once
// What alerting measures: alerts firing by rule and severity, delivery to
// each Alertmanager (NotifierProbe: called from the notifiers' threads),
// rule reloads, and whether inputs are complete enough to judge rules.

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "operators/alert_engine.h"
#include "pipeline/io/notifier_probe.h"
#include "pipeline/serve/prometheus_fwd.h"

namespace promowatch {

class AlertsProbe final : public NotifierProbe {
 public:
  explicit AlertsProbe(prometheus::Registry& registry);

  // Alerts currently firing, by rule and severity (every rule listed).
  void SetAlertsFiring(const std::vector<AlertEngine::FiringCount>& counts);
  // One rule's gauge (after a transition of one of its alerts).
  void SetAlertFiring(const std::string& rule, const std::string& severity, int firing);
  void AlertsSent(const std::string& url, int n) override;
  void AlertsFailed(const std::string& url, int n) override;
  void AlertsDropped(const std::string& url, int n) override;
  void QueueLength(const std::string& url, int n) override;
  // A reload of the alert rules, and whether it was accepted.
  void RulesReloaded(bool ok);
  // Whether alert rules are judged (inputs complete) or not.
  void SetDataComplete(bool complete);

 private:
  prometheus::Family<prometheus::Gauge>* firing_;
  prometheus::Family<prometheus::Counter>* sent_;
  prometheus::Family<prometheus::Counter>* failed_;
  prometheus::Family<prometheus::Counter>* dropped_;
  prometheus::Family<prometheus::Gauge>* queue_;
  prometheus::Family<prometheus::Counter>* reloads_;
  prometheus::Gauge* reload_ok_;
  prometheus::Gauge* data_complete_;
  std::set<std::pair<std::string, std::string>> firing_series_;  // (rule, severity)
};

}  // namespace promowatch
