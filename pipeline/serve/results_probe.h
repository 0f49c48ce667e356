#pragma once
// What the results measure: per campaign and channel, the counts of final
// 1m windows (counters) and the rates of the latest final windows (gauges);
// how late results are and how long Kafka takes to acknowledge them. It
// also keeps the latest windows of each campaign for the query API.
//
// Cardinality: campaign and channel label values are capped (the rest is
// folded into "other") so that a bad producer cannot explode the series, and
// the series of a campaign with no results for `campaign_ttl_ms` are
// removed. User segments (segments.enabled) add gauges per campaign only
// (channel "*"): at most 6 segments x the windows split per campaign. No
// user ids are ever labels.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "operators/plan_rules.h"
#include "operators/window_operator.h"
#include "pipeline/config/config.h"
#include "pipeline/runtime/clock.h"
#include "pipeline/serve/prometheus_fwd.h"

namespace promowatch {

class ResultsProbe {
 public:
  ResultsProbe(prometheus::Registry& registry, const MetricsOptions& options);
  ~ResultsProbe();

  // Every emitted window: campaign gauges and counters, result latency.
  void ResultEmitted(const v1::WindowResult& r, int64_t wall_ms);
  // A result acknowledged by Kafka, `seconds` after it became due
  // (KafkaSink::OnResultPublished).
  void ResultPublished(double seconds);
  // Removes the series of campaigns idle for campaign_ttl_ms.
  void ExpireCampaigns(int64_t wall_ms);
  // Removes the series of the campaigns `gone` says (their global task
  // moved to another instance, which exports them from now on).
  void ForgetCampaigns(const std::function<bool(const std::string& campaign)>& gone);
  // The latest final windows of a campaign (every channel and size), of
  // all users or (`segments`) of its user segments; copies; any thread.
  std::vector<v1::WindowResult> LatestWindows(const std::string& campaign_id,
                                              bool segments = false) const;

  // The campaign plan (plan.file; a reload replaces it): its campaigns'
  // period rows set promowatch_campaign_kpi{campaign,channel,kpi}, its
  // _target and _projected.
  void SetPlan(std::shared_ptr<const Plan> plan);
  // A planned campaign's targets against its latest period rows (`plan`
  // keeps what `kpis` point into); campaign nullptr: not planned. Any thread.
  struct CampaignKpiView {
    std::shared_ptr<const Plan> plan;
    const CampaignPlan* campaign = nullptr;
    std::vector<KpiValue> kpis;
  };
  CampaignKpiView Kpis(const std::string& campaign_id) const;

 private:
  struct Families;
  struct CampaignSeries;
  std::string CampaignLabel(const std::string& campaign);
  // A row of one user segment (segments.enabled): gauges per campaign.
  void SegmentEmitted(const v1::WindowResult& r, const std::string& campaign, CampaignSeries& s);
  // A period row of a planned campaign: its KPI gauges.
  void PeriodEmitted(const v1::WindowResult& r, const std::string& campaign, CampaignSeries& s);
  std::string ChannelLabel(const std::string& channel);

  MetricsOptions options_;
  std::unique_ptr<Families> f_;
  std::map<std::string, std::unique_ptr<CampaignSeries>> campaigns_;  // by campaign label
  std::map<std::string, bool> channels_;
  mutable std::mutex mu_;  // latest_ and plan_ (read by HTTP threads)
  std::shared_ptr<const Plan> plan_;
  std::map<std::string, std::map<std::string, v1::WindowResult>>
      latest_;  // campaign -> channel|window
};

// Forwards results to another sink and reports them to a ResultsProbe.
class MeteredResultSink final : public WindowResultSink {
 public:
  MeteredResultSink(WindowResultSink* next, ResultsProbe* probe, Clock clock)
      : next_(next), probe_(probe), clock_(std::move(clock)) {}
  void Emit(const v1::WindowResult& r) override;

 private:
  WindowResultSink* next_;
  ResultsProbe* probe_;
  Clock clock_;
};

}  // namespace promowatch
