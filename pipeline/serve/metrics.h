#pragma once
// promowatch's /metrics: one probe per part that measures something
// (Redpanda's probe habit), all on the registry of one metrics port.
// Business code never touches the metrics library: the live job calls the
// probes' typed methods; a new metric goes into the probe of the part that
// measures it (or a new probe here), named promowatch_<what>_<unit>.

#include <memory>

#include "absl/status/statusor.h"
#include "pipeline/config/config.h"
#include "pipeline/runtime/clock.h"
#include "pipeline/serve/alerts_probe.h"
#include "pipeline/serve/checkpoint_probe.h"
#include "pipeline/serve/ingest_probe.h"
#include "pipeline/serve/metrics_port.h"
#include "pipeline/serve/profiles_probe.h"
#include "pipeline/serve/results_probe.h"
#include "pipeline/serve/task_probe.h"

namespace promowatch {

struct LiveMetrics {
  // Binds options.address. `clock`: the wall clock of /healthz and of
  // result latency.
  static absl::StatusOr<std::unique_ptr<LiveMetrics>> Start(const MetricsOptions& options,
                                                            Clock clock = SystemClock());
  ~LiveMetrics();

  std::unique_ptr<MetricsPort> port;  // /metrics, /healthz, /readyz; other routes
  std::unique_ptr<IngestProbe> ingest;
  std::unique_ptr<CheckpointProbe> checkpoints;
  std::unique_ptr<ResultsProbe> results;
  std::unique_ptr<AlertsProbe> alerts;
  std::unique_ptr<ProfilesProbe> profiles;
  std::unique_ptr<TaskProbe> tasks;
};

}  // namespace promowatch
