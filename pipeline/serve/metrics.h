#pragma once
// promowatch's /metrics (prometheus-cpp), as one probe object that the live
// runner updates per batch, per checkpoint and per emitted window; business
// code never touches the metrics library.
//
// Cardinality: campaign and channel label values are capped (the rest is
// folded into "other") so that a bad producer cannot explode the series, and
// the series of a campaign with no results for `campaign_ttl_ms` are
// removed. No user ids are ever labels.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "operators/alert_engine.h"
#include "operators/window_operator.h"
#include "pipeline/config/config.h"
#include "pipeline/io/notifier_probe.h"
#include "pipeline/runtime/clock.h"
#include "pipeline/runtime/engine.h"
#include "pipeline/serve/http_server.h"

namespace prometheus {
class Registry;

class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace promowatch {

class LiveMetrics final : public NotifierProbe {
 public:
  // `clock`: the wall clock of /healthz and of result latency.
  static absl::StatusOr<std::unique_ptr<LiveMetrics>> Start(const MetricsOptions& options,
                                                            Clock clock = SystemClock());
  int64_t now_ms() const { return clock_(); }
  ~LiveMetrics();

  // Per processed batch of one topic: the engine's counters before and after.
  void RecordBatch(const std::string& topic, const EngineCounters& before,
                   const EngineCounters& after);
  // Records just counted (after RecordBatch): their Kafka timestamps (ms;
  // the producer's clock, or the broker's for LogAppendTime topics).
  void RecordsVisible(std::span<const int64_t> kafka_timestamps_ms, int64_t wall_ms);
  // A result acknowledged by Kafka, `seconds` after it became due
  // (KafkaSink::OnResultPublished).
  void ResultPublished(double seconds);
  // Offsets a partition jumped over (records deleted by retention before
  // they were read, compacted away, or transaction markers).
  void OffsetsSkipped(const std::string& topic, int64_t n);
  // Records fetched again below the position already in state, dropped.
  void RecordsRefetched(const std::string& topic, int64_t n);
  void SetWatermark(int64_t watermark_ms, int64_t wall_ms);
  void SetLag(const std::string& topic, int32_t partition, int64_t lag);
  void CheckpointDone(double seconds, uint64_t bytes, uint64_t state_bytes, int64_t watermark_ms);
  // The watermark of the newest durable checkpoint (commits may finish
  // after CheckpointDone, in the background).
  void SetCheckpointWatermark(int64_t watermark_ms);
  void CheckpointFailed();
  // Every emitted window: campaign gauges and counters, result latency.
  void ResultEmitted(const v1::WindowResult& r, int64_t wall_ms);
  // Alerts currently firing, by rule and severity (every rule listed).
  void SetAlertsFiring(const std::vector<AlertEngine::FiringCount>& counts);
  // Alertmanager delivery (NotifierProbe; called from sender threads).
  void AlertsSent(const std::string& url, int n) override;
  void AlertsFailed(const std::string& url, int n) override;
  void AlertsDropped(const std::string& url, int n) override;
  void QueueLength(const std::string& url, int n) override;
  // A reload of the alert rules, and whether it was accepted.
  void RulesReloaded(bool ok);
  // The metrics port: /metrics and the probes are routed here by Start;
  // other parts add theirs (the query API: /v1/).
  HttpServer& http() { return *http_; }
  // The latest final windows of a campaign (every channel and size), copies.
  std::vector<v1::WindowResult> LatestWindows(const std::string& campaign_id) const;
  // Users per tag as last reported by SetUserTags ("new", "tier:gold", ...).
  std::map<std::string, int64_t> UserTagCounts() const;

  // Users kept, held in memory, and per tag / tier (profiles.enabled).
  void SetUserTags(int64_t users, size_t in_memory, const std::map<std::string, int64_t>& counts);
  // Whether alert rules are judged (inputs complete) or not.
  void SetDataComplete(bool complete);
  // Probes served next to /metrics. /healthz (liveness): 503 once the
  // pipeline thread has not called Heartbeat for kStuckAfterMs. /readyz
  // (readiness): 503 until SetReady(true), e.g. while state is restored.
  static constexpr int64_t kStuckAfterMs = 60'000;
  void Heartbeat(int64_t wall_ms);
  void SetReady(bool ready, std::string reason);
  std::pair<bool, std::string> Health() const;

  // Removes the series of campaigns idle for campaign_ttl_ms.
  void ExpireCampaigns(int64_t wall_ms);

 private:
  LiveMetrics() = default;
  struct Families;
  struct CampaignSeries;
  std::string CampaignLabel(const std::string& campaign);
  std::string ChannelLabel(const std::string& channel);

  MetricsOptions options_;
  Clock clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<HttpServer> http_;
  std::atomic<int64_t> heartbeat_ms_{0};
  mutable std::mutex probe_mu_;
  bool ready_ = false;
  std::string ready_reason_ = "starting: restoring state and joining the consumer group";
  mutable std::mutex api_mu_;  // latest windows and tag counts (read by HTTP threads)
  std::map<std::string, std::map<std::string, v1::WindowResult>>
      latest_;  // campaign -> channel|window
  std::map<std::string, int64_t> tag_counts_;
  std::unique_ptr<Families> f_;
  std::map<std::string, std::unique_ptr<CampaignSeries>> campaigns_;  // by campaign label
  std::map<std::string, bool> channels_;
};

// Forwards results to another sink and reports them to LiveMetrics.
class MeteredResultSink final : public WindowResultSink {
 public:
  MeteredResultSink(WindowResultSink* next, LiveMetrics* metrics)
      : next_(next), metrics_(metrics) {}
  void Emit(const v1::WindowResult& r) override;

 private:
  WindowResultSink* next_;
  LiveMetrics* metrics_;
};

}  // namespace promowatch
