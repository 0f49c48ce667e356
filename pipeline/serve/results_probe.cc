#include "pipeline/serve/results_probe.h"

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <limits>

#include "operators/counter_reflection.h"

namespace promowatch {
namespace {

// The campaign counters are kCounterFields summed over final 1m windows,
// amounts in currency units (yuan); the window gauges are kRatioFields in
// results, and GMV, of the latest final window.
std::string CampaignCounterName(const CounterField& f) {
  return fmt::format("promowatch_campaign_{}_total", f.metric);
}
std::string CampaignCounterHelp(const CounterField& f) {
  return fmt::format("{}{}, final 1m windows", f.help, f.cents ? " in currency units (yuan)" : "");
}

// What a segment's row says per campaign beside its ratios: who came, who
// paid, what they paid.
struct SegmentGauge {
  const char* name;
  const char* help;
};
constexpr SegmentGauge kSegmentGauges[] = {
    {"promowatch_segment_window_uv", "Distinct users of the segment in the latest final window"},
    {"promowatch_segment_window_clicks",
     "Clicks of the segment's users in the latest final window"},
    {"promowatch_segment_window_paid_orders",
     "Paid orders of the segment's users in the latest final window"},
    {"promowatch_segment_window_gmv",
     "GMV in currency units (yuan) of the segment's users in the latest final window"},
    {"promowatch_segment_window_buyers",
     "Distinct paying users of the segment in the latest final window"},
};
double SegmentGaugeValue(size_t i, const v1::WindowResult& r) {
  switch (i) {
    case 0:
      return static_cast<double>(r.uv());
    case 1:
      return static_cast<double>(r.clicks());
    case 2:
      return static_cast<double>(r.paid_orders());
    case 3:
      return Yuan(r.gmv_cents());
    default:
      return static_cast<double>(r.buyers());
  }
}

}  // namespace

struct ResultsProbe::Families {
  prometheus::Histogram* result_latency;
  prometheus::Histogram* result_publish;
  std::array<prometheus::Family<prometheus::Counter>*, std::size(kCounterFields)> counters;
  std::array<prometheus::Family<prometheus::Gauge>*, std::size(kRatioFields)> ratios{};
  prometheus::Family<prometheus::Gauge>* gmv;
  // The rows of user segments (segments.enabled), per campaign (channel "*").
  std::array<prometheus::Family<prometheus::Gauge>*, std::size(kRatioFields)> segment_ratios{};
  std::array<prometheus::Family<prometheus::Gauge>*, std::size(kSegmentGauges)> segment_counts{};
  // The plan's KPIs: actual, target, projected to the period's end.
  std::array<prometheus::Family<prometheus::Gauge>*, 3> kpi{};
};

// Every series of one campaign label, so that they can be removed together.
struct ResultsProbe::CampaignSeries {
  int64_t last_seen_wall_ms = 0;
  std::vector<std::pair<prometheus::Family<prometheus::Counter>*, prometheus::Counter*>> counters;
  std::vector<std::pair<prometheus::Family<prometheus::Gauge>*, prometheus::Gauge*>> gauges;
  std::map<std::string, prometheus::Counter*> counter_by_key;
  std::map<std::string, prometheus::Gauge*> gauge_by_key;
};

ResultsProbe::ResultsProbe(prometheus::Registry& r, const MetricsOptions& options)
    : options_(options), f_(std::make_unique<Families>()) {
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  using prometheus::BuildHistogram;
  f_->result_latency = &BuildHistogram()
                            .Name("promowatch_result_latency_seconds")
                            .Help("Wall clock at emission minus the end of the window (event time)")
                            .Register(r)
                            .Add({}, prometheus::Histogram::BucketBoundaries{
                                         0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300});
  f_->result_publish =
      &BuildHistogram()
           .Name("promowatch_result_publish_seconds")
           .Help(
               "From the source tasks' watermarks passing a window's end (the last of them, "
               "as the partials it read say) to the delivery report of the window's result "
               "(Kafka's acknowledgement as seen by promowatch)")
           .Register(r)
           .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                            0.5, 1, 2.5, 5});
  for (size_t i = 0; i < std::size(kCounterFields); ++i) {
    f_->counters[i] = &BuildCounter()
                           .Name(CampaignCounterName(kCounterFields[i]))
                           .Help(CampaignCounterHelp(kCounterFields[i]))
                           .Register(r);
  }
  for (size_t i = 0; i < std::size(kRatioFields); ++i) {
    const RatioField& f = kRatioFields[i];
    if (!f.in_results) continue;
    f_->ratios[i] =
        &BuildGauge()
             .Name(fmt::format("promowatch_window_{}_ratio", f.name))
             .Help(fmt::format("{} of the latest final window (NaN when undefined)", f.help))
             .Register(r);
  }
  for (size_t i = 0; i < std::size(kRatioFields); ++i) {
    const RatioField& f = kRatioFields[i];
    if (!f.in_results) continue;
    f_->segment_ratios[i] =
        &BuildGauge()
             .Name(fmt::format("promowatch_segment_window_{}_ratio", f.name))
             .Help(fmt::format("{} of the segment's users in the latest final window (NaN when "
                               "undefined)",
                               f.help))
             .Register(r);
  }
  for (size_t i = 0; i < std::size(kSegmentGauges); ++i) {
    f_->segment_counts[i] =
        &BuildGauge().Name(kSegmentGauges[i].name).Help(kSegmentGauges[i].help).Register(r);
  }
  constexpr std::pair<const char*, const char*> kKpiFamilies[] = {
      {"promowatch_campaign_kpi",
       "A planned campaign's KPI over its period so far (plan.file; amounts in yuan)"},
      {"promowatch_campaign_kpi_target", "The plan's target of the KPI"},
      {"promowatch_campaign_kpi_projected",
       "The KPI projected to the period's end (totals at the rate so far; rates as they are)"}};
  for (size_t i = 0; i < f_->kpi.size(); ++i) {
    f_->kpi[i] = &BuildGauge().Name(kKpiFamilies[i].first).Help(kKpiFamilies[i].second).Register(r);
  }
  f_->gmv = &BuildGauge()
                 .Name("promowatch_window_gmv")
                 .Help("GMV in currency units (yuan) of the latest final window")
                 .Register(r);
}

ResultsProbe::~ResultsProbe() = default;

void ResultsProbe::ResultPublished(double seconds) { f_->result_publish->Observe(seconds); }

std::vector<v1::WindowResult> ResultsProbe::LatestWindows(const std::string& campaign_id,
                                                          bool segments) const {
  std::lock_guard lock(mu_);
  std::vector<v1::WindowResult> out;
  auto it = latest_.find(campaign_id);
  if (it == latest_.end()) return out;
  for (const auto& [key, r] : it->second) {
    if (r.segment().empty() != segments) out.push_back(r);
  }
  return out;
}

std::string ResultsProbe::CampaignLabel(const std::string& campaign) {
  if (campaigns_.count(campaign) != 0 || IsRollup(campaign)) return campaign;
  if (static_cast<int>(campaigns_.size()) >= options_.max_campaigns) return "other";
  return campaign;
}

std::string ResultsProbe::ChannelLabel(const std::string& channel) {
  if (channels_.count(channel) != 0 || IsRollup(channel)) return channel;
  if (static_cast<int>(channels_.size()) >= options_.max_channels) return "other";
  channels_[channel] = true;
  return channel;
}

void ResultsProbe::SegmentEmitted(const v1::WindowResult& r, const std::string& campaign,
                                  CampaignSeries& s) {
  if (campaign == "other") return;
  {
    std::lock_guard lock(mu_);
    latest_[r.campaign_id()][r.channel() + "|" + r.window() + "|" + r.segment()] = r;
  }
  // Series per campaign, not per channel: segments x windows per campaign
  // is bounded; channels' segments are in the results and the query API.
  if (!IsRollup(r.channel())) return;
  auto gauge = [&](prometheus::Family<prometheus::Gauge>* fam, double v) {
    const std::string key = fam->GetName() + "|" + r.segment() + "|" + r.window();
    auto it = s.gauge_by_key.find(key);
    if (it == s.gauge_by_key.end()) {
      auto* g = &fam->Add({{"campaign", campaign},
                           {"channel", r.channel()},
                           {"segment", r.segment()},
                           {"window", r.window()}});
      it = s.gauge_by_key.emplace(key, g).first;
      s.gauges.emplace_back(fam, g);
    }
    it->second->Set(v);
  };
  const auto& ratios = RatioDescriptors<v1::WindowResult>();
  const auto* reflection = r.GetReflection();
  for (size_t i = 0; i < ratios.size(); ++i) {
    if (f_->segment_ratios[i] == nullptr) continue;
    gauge(f_->segment_ratios[i], reflection->HasField(r, ratios[i])
                                     ? reflection->GetDouble(r, ratios[i])
                                     : std::numeric_limits<double>::quiet_NaN());
  }
  for (size_t i = 0; i < std::size(kSegmentGauges); ++i) {
    gauge(f_->segment_counts[i], SegmentGaugeValue(i, r));
  }
}

void ResultsProbe::SetPlan(std::shared_ptr<const Plan> plan) {
  std::lock_guard lock(mu_);
  plan_ = std::move(plan);
}

ResultsProbe::CampaignKpiView ResultsProbe::Kpis(const std::string& campaign_id) const {
  std::lock_guard lock(mu_);
  CampaignKpiView view;
  view.plan = plan_;
  if (plan_ == nullptr || (view.campaign = plan_->Find(campaign_id)) == nullptr) return view;
  auto rows = latest_.find(campaign_id);
  view.kpis =
      CampaignKpis(*view.campaign, [&](const std::string& channel) -> const v1::WindowResult* {
        if (rows == latest_.end()) return nullptr;
        auto it = rows->second.find(channel + "|" + std::string(kPeriodWindow));
        return it == rows->second.end() ? nullptr : &it->second;
      });
  return view;
}

void ResultsProbe::PeriodEmitted(const v1::WindowResult& r, const std::string& campaign,
                                 CampaignSeries& s) {
  const CampaignKpiView view = Kpis(r.campaign_id());
  if (view.campaign == nullptr || campaign == "other") return;
  for (const KpiValue& k : view.kpis) {
    const std::string channel = k.target->channel.empty() ? "*" : k.target->channel;
    if (channel != r.channel()) continue;
    const double values[3] = {k.actual.value_or(std::numeric_limits<double>::quiet_NaN()),
                              k.target->value,
                              k.projected.value_or(std::numeric_limits<double>::quiet_NaN())};
    for (size_t i = 0; i < f_->kpi.size(); ++i) {
      const std::string key =
          f_->kpi[i]->GetName() + "|" + channel + "|" + std::string(k.target->kpi->name);
      auto it = s.gauge_by_key.find(key);
      if (it == s.gauge_by_key.end()) {
        auto* g = &f_->kpi[i]->Add({{"campaign", campaign},
                                    {"channel", channel},
                                    {"kpi", std::string(k.target->kpi->name)}});
        it = s.gauge_by_key.emplace(key, g).first;
        s.gauges.emplace_back(f_->kpi[i], g);
      }
      it->second->Set(values[i]);
    }
  }
}

void ResultsProbe::ResultEmitted(const v1::WindowResult& r, int64_t wall_ms) {
  const std::string campaign = CampaignLabel(r.campaign_id());
  const std::string channel = ChannelLabel(r.channel());
  auto& series = campaigns_[campaign];
  if (!series) series = std::make_unique<CampaignSeries>();
  CampaignSeries& s = *series;
  s.last_seen_wall_ms = wall_ms;
  if (!r.segment().empty()) return SegmentEmitted(r, campaign, s);
  f_->result_latency->Observe(static_cast<double>(wall_ms - r.window_end_ms()) / 1000.0);
  if (campaign != "other") {
    // For the query API (bounded like the series: capped campaigns, expired with them).
    std::lock_guard lock(mu_);
    latest_[r.campaign_id()][r.channel() + "|" + r.window()] = r;
  }
  if (r.window() == kPeriodWindow && r.revision() >= 0) PeriodEmitted(r, campaign, s);

  auto gauge = [&](prometheus::Family<prometheus::Gauge>* fam, double v) {
    const std::string key = fam->GetName() + "|" + channel + "|" + r.window();
    auto it = s.gauge_by_key.find(key);
    if (it == s.gauge_by_key.end()) {
      auto* g = &fam->Add({{"campaign", campaign}, {"channel", channel}, {"window", r.window()}});
      it = s.gauge_by_key.emplace(key, g).first;
      s.gauges.emplace_back(fam, g);
    }
    it->second->Set(v);
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (campaign != "other" && channel != "other") {  // folded series would mix windows
    const auto& ratios = RatioDescriptors<v1::WindowResult>();
    const auto* reflection = r.GetReflection();
    const bool profiles = HasProfileCounters(r);
    for (size_t i = 0; i < ratios.size(); ++i) {
      // A ratio of user profiles' counters is there only with profiles on.
      if (f_->ratios[i] == nullptr || (kRatioFields[i].profiles_only && !profiles)) continue;
      gauge(f_->ratios[i],
            reflection->HasField(r, ratios[i]) ? reflection->GetDouble(r, ratios[i]) : nan);
    }
    gauge(f_->gmv, Yuan(r.gmv_cents()));
  }
  if (r.window() != "1m" || r.revision() != 0) return;  // counters: each event once
  const auto& fields = CounterDescriptors<v1::WindowResult>();
  const auto* reflection = r.GetReflection();
  for (size_t i = 0; i < fields.size(); ++i) {
    const CounterField& def = kCounterFields[i];
    if (def.profiles_only && !reflection->HasField(r, fields[i])) continue;
    prometheus::Family<prometheus::Counter>* fam = f_->counters[i];
    const std::string key = fam->GetName() + "|" + channel;
    auto it = s.counter_by_key.find(key);
    if (it == s.counter_by_key.end()) {
      auto* c = &fam->Add({{"campaign", campaign}, {"channel", channel}});
      it = s.counter_by_key.emplace(key, c).first;
      s.counters.emplace_back(fam, c);
    }
    const int64_t v = reflection->GetInt64(r, fields[i]);
    if (v > 0) it->second->Increment(def.cents ? Yuan(v) : static_cast<double>(v));
  }
}

void ResultsProbe::ExpireCampaigns(int64_t wall_ms) {
  ForgetCampaigns([&](const std::string& campaign) {
    return wall_ms - campaigns_.at(campaign)->last_seen_wall_ms >= options_.campaign_ttl_ms;
  });
}

void ResultsProbe::ForgetCampaigns(const std::function<bool(const std::string&)>& gone) {
  for (auto it = campaigns_.begin(); it != campaigns_.end();) {
    if (!gone(it->first)) {
      ++it;
      continue;
    }
    for (auto& [fam, c] : it->second->counters) fam->Remove(c);
    for (auto& [fam, g] : it->second->gauges) fam->Remove(g);
    {
      std::lock_guard lock(mu_);
      latest_.erase(it->first);
    }
    it = campaigns_.erase(it);
  }
}

void MeteredResultSink::Emit(const v1::WindowResult& r) {
  next_->Emit(r);
  probe_->ResultEmitted(r, clock_());
}

}  // namespace promowatch
