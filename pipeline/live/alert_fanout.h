#pragma once
// Where an alert transition goes in the live job: the log (pending and
// corrections too), the alerts topic (JSON or protobuf, as the results),
// every Alertmanager, and the firing gauge. Alertmanager delivery runs on
// the notifiers' own threads: a slow Alertmanager never blocks the pipeline.

#include <cstdint>
#include <memory>
#include <vector>

#include "operators/alert_engine.h"
#include "pipeline/config/config.h"
#include "pipeline/io/alertmanager.h"
#include "pipeline/io/kafka.h"
#include "pipeline/runtime/clock.h"
#include "pipeline/serve/alerts_probe.h"

namespace promowatch {

class AlertFanout {
 public:
  // One notifier per alerts.alertmanager url; `sink` and `probe` must
  // outlive this.
  AlertFanout(const PipelineConfig& config, KafkaSink* sink, AlertsProbe* probe, Clock clock);
  ~AlertFanout();

  // A transition from the alert engine (its callback).
  void Publish(const AlertEvent& a);
  // To Alertmanager only: alerts that are not transitions of the rules
  // (data completeness; firing alerts sent again after a restart).
  void Notify(const AlertEvent& a, int64_t wall_ms);
  // Alertmanager stops hearing of `a` from here (AlertmanagerNotifier::Forget).
  void Forget(const AlertEvent& a);
  // What Alertmanager has not acknowledged yet gets up to `timeout_ms`.
  void Stop(int64_t timeout_ms);

 private:
  std::string topic_;
  bool json_;
  KafkaSink* sink_;
  Clock clock_;
  std::vector<std::unique_ptr<AlertmanagerNotifier>> notifiers_;
};

}  // namespace promowatch
