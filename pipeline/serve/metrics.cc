#include "pipeline/serve/metrics.h"

namespace promowatch {

absl::StatusOr<std::unique_ptr<LiveMetrics>> LiveMetrics::Start(const MetricsOptions& options,
                                                                Clock clock) {
  auto port = MetricsPort::Start(options.address, std::move(clock),
                                 HttpTls{options.tls_cert_file, options.tls_key_file});
  if (!port.ok()) return port.status();
  auto m = std::make_unique<LiveMetrics>();
  m->port = std::move(*port);
  auto& registry = m->port->registry();
  m->ingest = std::make_unique<IngestProbe>(registry);
  m->checkpoints = std::make_unique<CheckpointProbe>(registry);
  m->results = std::make_unique<ResultsProbe>(registry, options);
  m->alerts = std::make_unique<AlertsProbe>(registry);
  m->profiles = std::make_unique<ProfilesProbe>(registry);
  m->tasks = std::make_unique<TaskProbe>(registry);
  return m;
}

LiveMetrics::~LiveMetrics() {
  port.reset();  // the HTTP threads (query API: results and profiles) stop first
}

}  // namespace promowatch
