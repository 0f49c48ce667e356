#include "pipeline/serve/metrics_port.h"

#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <sstream>

namespace promowatch {

absl::StatusOr<std::unique_ptr<MetricsPort>> MetricsPort::Start(const std::string& address,
                                                                Clock clock, const HttpTls& tls) {
  std::unique_ptr<MetricsPort> port(new MetricsPort());
  port->clock_ = std::move(clock);
  port->registry_ = std::make_shared<prometheus::Registry>();
  prometheus::BuildGauge()
      .Name("promowatch_build_info")
      .Help("promowatch version; always 1")
      .Register(*port->registry_)
      .Add({{"version", PROMOWATCH_VERSION}})
      .Set(1);
  auto http = HttpServer::Start(address, {}, tls);
  if (!http.ok()) return http.status();
  port->http_ = std::move(*http);
  MetricsPort* self = port.get();
  port->http_->Route("/metrics", [self](const HttpServer::Request&) {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, self->registry_->Collect());
    return HttpServer::Reply{200, out.str(), "text/plain; version=0.0.4; charset=utf-8", ""};
  });
  port->http_->Route("/healthz", [self](const HttpServer::Request&) {
    const auto [ok, why] = self->Health();
    return HttpServer::Reply{ok ? 200 : 503, why + "\n", "text/plain", ""};
  });
  port->http_->Route("/readyz", [self](const HttpServer::Request&) {
    std::lock_guard lock(self->mu_);
    return HttpServer::Reply{self->ready_ ? 200 : 503, self->ready_reason_ + "\n", "text/plain",
                             ""};
  });
  return port;
}

MetricsPort::~MetricsPort() {
  http_.reset();  // its threads read the registry and the probe state: they stop first
}

void MetricsPort::SetReady(bool ready, std::string reason) {
  std::lock_guard lock(mu_);
  ready_ = ready;
  ready_reason_ = std::move(reason);
}

std::pair<bool, std::string> MetricsPort::Health() const {
  const int64_t beat = heartbeat_ms_.load();
  const int64_t now = clock_();
  if (beat == 0) return {true, "starting"};
  if (now - beat > kStuckAfterMs) {
    return {false, "the pipeline thread has not come round for " +
                       std::to_string((now - beat) / 1000) + " s"};
  }
  return {true, "ok"};
}

}  // namespace promowatch
