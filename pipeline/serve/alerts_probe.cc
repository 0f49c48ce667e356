#include "pipeline/serve/alerts_probe.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace promowatch {

AlertsProbe::AlertsProbe(prometheus::Registry& r) {
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  firing_ = &BuildGauge()
                 .Name("promowatch_alerts_firing")
                 .Help("Alerts currently firing, by rule and severity")
                 .Register(r);
  sent_ = &BuildCounter()
               .Name("promowatch_notifications_sent_total")
               .Help("Alerts delivered to Alertmanager (firing, re-sent, resolved)")
               .Register(r);
  failed_ = &BuildCounter()
                 .Name("promowatch_notifications_failed_total")
                 .Help(
                     "Alerts in POSTs Alertmanager did not accept (kept and retried unless it "
                     "answered 4xx)")
                 .Register(r);
  dropped_ = &BuildCounter()
                  .Name("promowatch_notifications_dropped_total")
                  .Help("Alert states not kept because alerts.alertmanager.max_alerts was reached")
                  .Register(r);
  queue_ = &BuildGauge()
                .Name("promowatch_notifications_queue_length")
                .Help("Alerts held for an Alertmanager (firing, or awaiting delivery)")
                .Register(r);
  reloads_ = &BuildCounter()
                  .Name("promowatch_rule_reloads_total")
                  .Help("Reloads of the alert rules (SIGHUP or file change), by outcome")
                  .Register(r);
  reload_ok_ = &BuildGauge()
                    .Name("promowatch_rules_last_reload_successful")
                    .Help("1 if the last reload of the alert rules succeeded (or none happened)")
                    .Register(r)
                    .Add({});
  reload_ok_->Set(1);
  data_complete_ = &BuildGauge()
                        .Name("promowatch_data_complete")
                        .Help(
                            "1 while window inputs are complete; 0 while alert rules are not "
                            "judged (a partition silent or lagging past its bound, none assigned)")
                        .Register(r)
                        .Add({});
  data_complete_->Set(1);
}

void AlertsProbe::SetAlertsFiring(const std::vector<AlertEngine::FiringCount>& counts) {
  std::set<std::pair<std::string, std::string>> now;
  for (const auto& c : counts) {
    firing_->Add({{"rule", c.rule}, {"severity", c.severity}}).Set(c.firing);
    now.emplace(c.rule, c.severity);
  }
  // A rule removed or re-labelled by a reload loses its old series.
  for (const auto& [rule, severity] : firing_series_) {
    if (now.count({rule, severity}) == 0) {
      firing_->Remove(&firing_->Add({{"rule", rule}, {"severity", severity}}));
    }
  }
  firing_series_ = std::move(now);
}

void AlertsProbe::SetAlertFiring(const std::string& rule, const std::string& severity, int firing) {
  firing_->Add({{"rule", rule}, {"severity", severity}}).Set(firing);
  firing_series_.emplace(rule, severity);
}

void AlertsProbe::AlertsSent(const std::string& url, int n) {
  sent_->Add({{"alertmanager", url}}).Increment(n);
}
void AlertsProbe::AlertsFailed(const std::string& url, int n) {
  failed_->Add({{"alertmanager", url}}).Increment(n);
}
void AlertsProbe::AlertsDropped(const std::string& url, int n) {
  dropped_->Add({{"alertmanager", url}}).Increment(n);
}
void AlertsProbe::QueueLength(const std::string& url, int n) {
  queue_->Add({{"alertmanager", url}}).Set(n);
}

void AlertsProbe::RulesReloaded(bool ok) {
  reloads_->Add({{"outcome", ok ? "success" : "failure"}}).Increment();
  reload_ok_->Set(ok ? 1 : 0);
}

void AlertsProbe::SetDataComplete(bool complete) { data_complete_->Set(complete ? 1 : 0); }

}  // namespace promowatch
