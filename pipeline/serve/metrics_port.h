#pragma once
// The metrics port: one HTTP server for what Prometheus scrapes (/metrics,
// from the registry every probe registers its series on) and for the
// orchestrator's checks (/healthz, /readyz), so that both ask one port.
// Other parts add their routes (the query API: /v1/).

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "pipeline/runtime/clock.h"
#include "pipeline/serve/http_server.h"
#include "pipeline/serve/prometheus_fwd.h"

namespace promowatch {

class MetricsPort {
 public:
  // Binds `address` (HOST:PORT), over TLS with `tls`. `clock`: the wall
  // clock of /healthz.
  static absl::StatusOr<std::unique_ptr<MetricsPort>> Start(const std::string& address,
                                                            Clock clock = SystemClock(),
                                                            const HttpTls& tls = {});
  ~MetricsPort();

  // Where probes register their series (before or while serving).
  prometheus::Registry& registry() { return *registry_; }
  HttpServer& http() { return *http_; }
  int64_t now_ms() const { return clock_(); }

  // /healthz (liveness): 503 once the pipeline thread has not called
  // Heartbeat for kStuckAfterMs. /readyz (readiness): 503 until
  // SetReady(true), e.g. while state is restored.
  static constexpr int64_t kStuckAfterMs = 60'000;
  void Heartbeat(int64_t wall_ms) { heartbeat_ms_.store(wall_ms); }
  void SetReady(bool ready, std::string reason);
  std::pair<bool, std::string> Health() const;

 private:
  MetricsPort() = default;

  Clock clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<HttpServer> http_;  // (last: its threads stop before the rest goes)
  std::atomic<int64_t> heartbeat_ms_{0};
  mutable std::mutex mu_;
  bool ready_ = false;
  std::string ready_reason_ = "starting: restoring state and joining the consumer group";
};

}  // namespace promowatch
