#pragma once
// The live job: a KafkaSource (consumer group) -> Engine -> KafkaSink, with
// checkpoints that carry the input offsets (exactly-once effect on state),
// rebalances (revoke = process what was fetched, checkpoint, let go), data
// completeness for the alert rules, rule reload (SIGHUP or a changed file),
// alert fan-out to the alerts topic, the log and Alertmanager, and the
// gauges of serve/metrics.h. `run` and `demo` drive it.

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "operators/alert_engine.h"
#include "pipeline/config/config.h"
#include "pipeline/io/kafka.h"
#include "pipeline/runtime/clock.h"
#include "pipeline/runtime/engine.h"
#include "pipeline/serve/metrics.h"

namespace promowatch {

class LiveRunner {
 public:
  // `tap` (optional) sees every result before it goes to Kafka (the demo
  // view). `sink` and `metrics` must outlive the runner.
  LiveRunner(const PipelineConfig& config, KafkaSink* sink, LiveMetrics* metrics,
             WindowResultSink* tap = nullptr, Clock clock = SystemClock());
  ~LiveRunner();

  // The config file whose alert rules (inline or its alerts.rules_file) are
  // reloaded on SIGHUP or when either file changes.
  void WatchRules(const std::string& config_path);
  // Opens (and restores) the state in `state_dir`.
  absl::Status Open(const std::string& state_dir);
  // Consumes until a stop is requested (runtime/signals.h); `on_second`
  // (optional) runs about once a second on this thread. Returns the exit code.
  int Run(KafkaSource* source, const std::function<void()>& on_second = nullptr);

  // The alerts firing in the global tasks this instance runs.
  std::vector<AlertEvent> FiringAlerts() const;
  const EngineCounters& counters() const;
  // Hears of assignments and revocations: pass to KafkaSource::Create.
  KafkaSource::Listener* listener();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace promowatch
