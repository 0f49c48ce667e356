#include "pipeline/live/alert_fanout.h"

#include <spdlog/spdlog.h>

#include "operators/encoding.h"

namespace promowatch {

AlertFanout::AlertFanout(const PipelineConfig& config, KafkaSink* sink, AlertsProbe* probe,
                         Clock clock)
    : topic_(config.kafka.alerts_topic),
      json_(config.kafka.results_json),
      sink_(sink),
      clock_(std::move(clock)) {
  AlertmanagerOptions am = config.alertmanager;
  if (am.generator_url.empty())
    am.generator_url = config.metrics.scheme() + "://" + config.metrics.address + "/metrics";
  for (const auto& url : am.urls) {
    notifiers_.push_back(std::make_unique<AlertmanagerNotifier>(url, am, probe, clock_));
  }
}

AlertFanout::~AlertFanout() = default;

void AlertFanout::Publish(const AlertEvent& a) {
  const std::string json = AlertToJson(a);
  if (a.state == kAlertDataIncomplete) {
    spdlog::debug("msg=\"alert not judged: data incomplete\" alert={}", json);
    return;
  }
  if (a.state == kAlertPending) {
    // Not a notification: the rule's `for` has not elapsed yet.
    spdlog::info("msg=\"alert pending\" alert={}", json);
    return;
  }
  if (a.state == kAlertFiring && a.correction) {
    spdlog::info("msg=\"alert corrected by late data\" alert={}", json);
  } else if (a.state == kAlertFiring) {
    spdlog::warn("msg=\"alert firing\" alert={}", json);
  } else {
    spdlog::info("msg=\"alert resolved\" alert={}", json);
  }
  Notify(a, clock_());
  sink_->Produce(topic_, a.campaign_id, json_ ? json : AlertToProto(a).SerializeAsString());
}

void AlertFanout::Notify(const AlertEvent& a, int64_t wall_ms) {
  for (auto& n : notifiers_) n->Notify(a, wall_ms);
}

void AlertFanout::Forget(const AlertEvent& a) {
  for (auto& n : notifiers_) n->Forget(a);
}

void AlertFanout::Stop(int64_t timeout_ms) {
  for (auto& n : notifiers_) n->Stop(timeout_ms);
}

}  // namespace promowatch
