#include "pipeline/serve/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <sstream>

namespace promowatch {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

const std::vector<double> kRecordVisibleBuckets = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                   1,    2.5,   5,    10,  30,   60};

struct LiveMetrics::Families {
  prometheus::Family<prometheus::Counter>* records;
  prometheus::Family<prometheus::Counter>* rejected;
  prometheus::Family<prometheus::Counter>* offsets_skipped;
  prometheus::Family<prometheus::Counter>* refetched;
  prometheus::Family<prometheus::Gauge>* lag;
  prometheus::Gauge* watermark_delay;
  prometheus::Gauge* watermark;
  prometheus::Histogram* result_latency;
  prometheus::Histogram* result_publish;
  prometheus::Histogram* record_visible;
  prometheus::Histogram* checkpoint_duration;
  prometheus::Gauge* checkpoint_bytes;
  prometheus::Gauge* checkpoint_watermark;
  prometheus::Counter* checkpoint_failures;
  prometheus::Gauge* state_bytes;
  prometheus::Family<prometheus::Counter>* c_impressions;
  prometheus::Family<prometheus::Counter>* c_clicks;
  prometheus::Family<prometheus::Counter>* c_orders;
  prometheus::Family<prometheus::Counter>* c_paid;
  prometheus::Family<prometheus::Counter>* c_gmv;
  prometheus::Family<prometheus::Counter>* c_refunds;
  prometheus::Family<prometheus::Counter>* c_spend;
  prometheus::Family<prometheus::Counter>* c_new_customers;
  prometheus::Family<prometheus::Gauge>* g_ctr;
  prometheus::Family<prometheus::Gauge>* g_cvr;
  prometheus::Family<prometheus::Gauge>* g_gmv;
  prometheus::Family<prometheus::Gauge>* alerts_firing;
  prometheus::Family<prometheus::Counter>* notifications_sent;
  prometheus::Family<prometheus::Counter>* notifications_failed;
  prometheus::Family<prometheus::Counter>* notifications_dropped;
  prometheus::Family<prometheus::Gauge>* notifications_queue;
  prometheus::Family<prometheus::Counter>* rule_reloads;
  prometheus::Gauge* rules_reload_ok;
  prometheus::Gauge* data_complete;
  prometheus::Family<prometheus::Gauge>* users_by_tag;
  prometheus::Family<prometheus::Gauge>* users_by_tier;
  prometheus::Gauge* users;
  prometheus::Gauge* users_in_memory;
  std::set<std::pair<std::string, std::string>> firing_series;  // (rule, severity)
};

// Every series of one campaign label, so that they can be removed together.
struct LiveMetrics::CampaignSeries {
  int64_t last_seen_wall_ms = 0;
  std::vector<std::pair<prometheus::Family<prometheus::Counter>*, prometheus::Counter*>> counters;
  std::vector<std::pair<prometheus::Family<prometheus::Gauge>*, prometheus::Gauge*>> gauges;
  std::map<std::string, prometheus::Counter*> counter_by_key;
  std::map<std::string, prometheus::Gauge*> gauge_by_key;
};

absl::StatusOr<std::unique_ptr<LiveMetrics>> LiveMetrics::Start(const MetricsOptions& options,
                                                                Clock clock) {
  std::unique_ptr<LiveMetrics> m(new LiveMetrics());
  m->clock_ = std::move(clock);
  m->options_ = options;
  m->registry_ = std::make_shared<prometheus::Registry>();
  auto& r = *m->registry_;
  m->f_ = std::make_unique<Families>();
  Families& f = *m->f_;
  f.records = &BuildCounter()
                   .Name("promowatch_records_total")
                   .Help("Input records by topic and outcome (accepted, duplicate, late, rejected)")
                   .Register(r);
  f.rejected =
      &BuildCounter()
           .Name("promowatch_records_rejected_total")
           .Help("Rejected input records by topic and reason (kept in the dead-letter topic)")
           .Register(r);
  f.offsets_skipped =
      &BuildCounter()
           .Name("promowatch_offsets_skipped_total")
           .Help(
               "Offsets a partition jumped over between the position in state and the next "
               "record Kafka returned (retention deleted unread records, compaction, "
               "transaction markers)")
           .Register(r);
  f.refetched = &BuildCounter()
                     .Name("promowatch_records_refetched_total")
                     .Help(
                         "Records fetched again below the position already in state; dropped, not "
                         "counted twice")
                     .Register(r);
  f.lag = &BuildGauge()
               .Name("promowatch_consumer_lag_records")
               .Help("Records between the partition's end and the next offset to process")
               .Register(r);
  f.watermark_delay = &BuildGauge()
                           .Name("promowatch_watermark_delay_seconds")
                           .Help("Wall clock minus the event-time watermark")
                           .Register(r)
                           .Add({});
  f.watermark = &BuildGauge()
                     .Name("promowatch_watermark_timestamp_seconds")
                     .Help("The event-time watermark, as a Unix time")
                     .Register(r)
                     .Add({});
  f.result_latency = &BuildHistogram()
                          .Name("promowatch_result_latency_seconds")
                          .Help("Wall clock at emission minus the end of the window (event time)")
                          .Register(r)
                          .Add({}, prometheus::Histogram::BucketBoundaries{
                                       0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300});
  f.result_publish = &BuildHistogram()
                          .Name("promowatch_result_publish_seconds")
                          .Help(
                              "From the batch (or idle tick) that moved the watermark past a "
                              "window's end to the delivery report of the window's result (Kafka's "
                              "acknowledgement as seen by promowatch)")
                          .Register(r)
                          .Add({}, prometheus::Histogram::BucketBoundaries{
                                       0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
  f.record_visible = &BuildHistogram()
                          .Name("promowatch_record_visible_seconds")
                          .Help(
                              "From a record's Kafka timestamp to its count in "
                              "promowatch_records_total (arrival to effect in /metrics)")
                          .Register(r)
                          .Add({}, kRecordVisibleBuckets);
  f.checkpoint_duration = &BuildHistogram()
                               .Name("promowatch_checkpoint_duration_seconds")
                               .Help("Time to flush results and commit one checkpoint")
                               .Register(r)
                               .Add({}, prometheus::Histogram::BucketBoundaries{
                                            0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30});
  f.checkpoint_bytes = &BuildGauge()
                            .Name("promowatch_checkpoint_size_bytes")
                            .Help("Bytes written by the last checkpoint")
                            .Register(r)
                            .Add({});
  f.checkpoint_watermark = &BuildGauge()
                                .Name("promowatch_checkpoint_watermark_timestamp_seconds")
                                .Help(
                                    "The watermark stored by the last checkpoint; equal to "
                                    "promowatch_watermark_timestamp_seconds when all processed "
                                    "input is checkpointed")
                                .Register(r)
                                .Add({});
  f.checkpoint_failures = &BuildCounter()
                               .Name("promowatch_checkpoint_failures_total")
                               .Help("Checkpoints that failed (retried at the next interval)")
                               .Register(r)
                               .Add({});
  f.state_bytes = &BuildGauge()
                       .Name("promowatch_state_size_bytes")
                       .Help("RocksDB live data and memtables of the operator state")
                       .Register(r)
                       .Add({});
  BuildGauge()
      .Name("promowatch_build_info")
      .Help("promowatch version; always 1")
      .Register(r)
      .Add({{"version", "0.1.0"}})
      .Set(1);
  f.c_impressions = &BuildCounter()
                         .Name("promowatch_campaign_impressions_total")
                         .Help("Impressions in final 1m windows")
                         .Register(r);
  f.c_clicks = &BuildCounter()
                    .Name("promowatch_campaign_clicks_total")
                    .Help("Clicks in final 1m windows")
                    .Register(r);
  f.c_orders = &BuildCounter()
                    .Name("promowatch_campaign_orders_total")
                    .Help("Orders created, in final 1m windows")
                    .Register(r);
  f.c_paid = &BuildCounter()
                  .Name("promowatch_campaign_paid_orders_total")
                  .Help("Paid orders in final 1m windows")
                  .Register(r);
  f.c_gmv = &BuildCounter()
                 .Name("promowatch_campaign_gmv_total")
                 .Help("Sum of paid order amounts in currency units (yuan), final 1m windows")
                 .Register(r);
  f.c_spend =
      &BuildCounter()
           .Name("promowatch_campaign_spend_total")
           .Help("Marketing spend in currency units (yuan), final 1m windows (ROI = gmv / spend)")
           .Register(r);
  f.c_new_customers =
      &BuildCounter()
           .Name("promowatch_campaign_new_customer_orders_total")
           .Help(
               "Paid orders from users with no earlier paid order, final 1m windows "
               "(profiles.enabled)")
           .Register(r);
  f.c_refunds = &BuildCounter()
                     .Name("promowatch_campaign_refunds_total")
                     .Help("Sum of refunded amounts in currency units (yuan), final 1m windows")
                     .Register(r);
  f.g_ctr = &BuildGauge()
                 .Name("promowatch_window_ctr_ratio")
                 .Help("Clicks / impressions of the latest final window (NaN without impressions)")
                 .Register(r);
  f.g_cvr = &BuildGauge()
                 .Name("promowatch_window_cvr_ratio")
                 .Help("Paid orders / clicks of the latest final window (NaN without clicks)")
                 .Register(r);
  f.g_gmv = &BuildGauge()
                 .Name("promowatch_window_gmv")
                 .Help("GMV in currency units (yuan) of the latest final window")
                 .Register(r);
  f.alerts_firing = &BuildGauge()
                         .Name("promowatch_alerts_firing")
                         .Help("Alerts currently firing, by rule and severity")
                         .Register(r);
  f.notifications_sent = &BuildCounter()
                              .Name("promowatch_notifications_sent_total")
                              .Help("Alerts delivered to Alertmanager (firing, re-sent, resolved)")
                              .Register(r);
  f.notifications_failed = &BuildCounter()
                                .Name("promowatch_notifications_failed_total")
                                .Help(
                                    "Alerts in POSTs Alertmanager did not accept (kept and retried "
                                    "unless it answered 4xx)")
                                .Register(r);
  f.notifications_dropped = &BuildCounter()
                                 .Name("promowatch_notifications_dropped_total")
                                 .Help(
                                     "Alert states not kept because alerts.alertmanager.max_alerts "
                                     "was reached")
                                 .Register(r);
  f.notifications_queue =
      &BuildGauge()
           .Name("promowatch_notifications_queue_length")
           .Help("Alerts held for an Alertmanager (firing, or awaiting delivery)")
           .Register(r);
  f.rule_reloads = &BuildCounter()
                        .Name("promowatch_rule_reloads_total")
                        .Help("Reloads of the alert rules (SIGHUP or file change), by outcome")
                        .Register(r);
  f.rules_reload_ok =
      &BuildGauge()
           .Name("promowatch_rules_last_reload_successful")
           .Help("1 if the last reload of the alert rules succeeded (or none happened)")
           .Register(r)
           .Add({});
  f.rules_reload_ok->Set(1);
  f.data_complete = &BuildGauge()
                         .Name("promowatch_data_complete")
                         .Help(
                             "1 while window inputs are complete; 0 while alert rules are not "
                             "judged (a partition silent or lagging past its bound, none assigned)")
                         .Register(r)
                         .Add({});
  f.data_complete->Set(1);
  f.users_by_tag = &BuildGauge()
                        .Name("promowatch_users_tagged")
                        .Help(
                            "Users carrying a segment tag (new, active, dormant, high_value); "
                            "counts only, never ids")
                        .Register(r);
  f.users_by_tier = &BuildGauge()
                         .Name("promowatch_users_by_tier")
                         .Help("Users per member tier (silver, gold, diamond) by 365-day spend")
                         .Register(r);
  f.users = &BuildGauge()
                 .Name("promowatch_user_profiles")
                 .Help("User profiles kept, in memory and in RocksDB (profiles.enabled)")
                 .Register(r)
                 .Add({});
  f.users_in_memory =
      &BuildGauge()
           .Name("promowatch_user_profiles_in_memory")
           .Help("User profiles held in memory (bounded by profiles.max_users_in_memory)")
           .Register(r)
           .Add({});
  // One port for /metrics and the probes: the orchestrator's liveness and
  // readiness checks ask the port Prometheus scrapes.
  auto http = HttpServer::Start(options.address);
  if (!http.ok()) return http.status();
  m->http_ = std::move(*http);
  LiveMetrics* self = m.get();
  m->http_->Route("/metrics", [self](const HttpServer::Request&) {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, self->registry_->Collect());
    return HttpServer::Reply{200, out.str(), "text/plain; version=0.0.4; charset=utf-8"};
  });
  m->http_->Route("/healthz", [self](const HttpServer::Request&) {
    const auto [ok, why] = self->Health();
    return HttpServer::Reply{ok ? 200 : 503, why + "\n", "text/plain"};
  });
  m->http_->Route("/readyz", [self](const HttpServer::Request&) {
    std::lock_guard lock(self->probe_mu_);
    return HttpServer::Reply{self->ready_ ? 200 : 503, self->ready_reason_ + "\n", "text/plain"};
  });
  return m;
}

LiveMetrics::~LiveMetrics() {
  http_.reset();  // its threads read the registry: they stop first
}

void LiveMetrics::Heartbeat(int64_t wall_ms) { heartbeat_ms_.store(wall_ms); }

void LiveMetrics::SetReady(bool ready, std::string reason) {
  std::lock_guard lock(probe_mu_);
  ready_ = ready;
  ready_reason_ = std::move(reason);
}

std::pair<bool, std::string> LiveMetrics::Health() const {
  const int64_t beat = heartbeat_ms_.load();
  const int64_t now = clock_();
  if (beat == 0) return {true, "starting"};
  if (now - beat > kStuckAfterMs) {
    return {false, "the pipeline thread has not come round for " +
                       std::to_string((now - beat) / 1000) + " s"};
  }
  return {true, "ok"};
}

void LiveMetrics::RecordBatch(const std::string& topic, const EngineCounters& before,
                              const EngineCounters& after) {
  auto add = [&](const char* outcome, int64_t n) {
    if (n > 0)
      f_->records->Add({{"topic", topic}, {"outcome", outcome}}).Increment(static_cast<double>(n));
  };
  add("accepted", after.accepted - before.accepted);
  add("duplicate", after.duplicates - before.duplicates);
  add("late", after.late - before.late);
  add("rejected", after.rejected_total() - before.rejected_total());
  for (int r = 1; r < kRejectReasonCount; ++r) {
    const int64_t n = after.rejected[r] - before.rejected[r];
    if (n > 0) {
      f_->rejected
          ->Add({{"topic", topic},
                 {"reason", std::string(RejectReasonName(static_cast<v1::RejectReason>(r)))}})
          .Increment(static_cast<double>(n));
    }
  }
}

void LiveMetrics::RecordsVisible(std::span<const int64_t> kafka_timestamps_ms, int64_t wall_ms) {
  // One histogram update per batch, not per record.
  std::vector<double> increments(kRecordVisibleBuckets.size() + 1, 0.0);
  double sum = 0;
  for (const int64_t t : kafka_timestamps_ms) {
    const double seconds = static_cast<double>(std::max<int64_t>(wall_ms - t, 0)) / 1000.0;
    sum += seconds;
    const size_t bucket = static_cast<size_t>(
        std::lower_bound(kRecordVisibleBuckets.begin(), kRecordVisibleBuckets.end(), seconds) -
        kRecordVisibleBuckets.begin());
    increments[bucket] += 1;
  }
  if (!kafka_timestamps_ms.empty()) f_->record_visible->ObserveMultiple(increments, sum);
}

void LiveMetrics::ResultPublished(double seconds) { f_->result_publish->Observe(seconds); }

void LiveMetrics::OffsetsSkipped(const std::string& topic, int64_t n) {
  f_->offsets_skipped->Add({{"topic", topic}}).Increment(static_cast<double>(n));
}

void LiveMetrics::RecordsRefetched(const std::string& topic, int64_t n) {
  f_->refetched->Add({{"topic", topic}}).Increment(static_cast<double>(n));
}

void LiveMetrics::SetWatermark(int64_t watermark_ms, int64_t wall_ms) {
  if (watermark_ms == kNoWatermark) return;
  f_->watermark->Set(static_cast<double>(watermark_ms) / 1000.0);
  f_->watermark_delay->Set(static_cast<double>(wall_ms - watermark_ms) / 1000.0);
}

void LiveMetrics::SetLag(const std::string& topic, int32_t partition, int64_t lag) {
  f_->lag->Add({{"topic", topic}, {"partition", std::to_string(partition)}})
      .Set(static_cast<double>(lag));
}

void LiveMetrics::CheckpointDone(double seconds, uint64_t bytes, uint64_t state_bytes,
                                 int64_t watermark_ms) {
  f_->checkpoint_duration->Observe(seconds);
  if (watermark_ms > 0) f_->checkpoint_watermark->Set(static_cast<double>(watermark_ms) / 1000.0);
  f_->checkpoint_bytes->Set(static_cast<double>(bytes));
  f_->state_bytes->Set(static_cast<double>(state_bytes));
}

void LiveMetrics::SetCheckpointWatermark(int64_t watermark_ms) {
  if (watermark_ms > 0) f_->checkpoint_watermark->Set(static_cast<double>(watermark_ms) / 1000.0);
}

void LiveMetrics::SetAlertsFiring(const std::vector<AlertEngine::FiringCount>& counts) {
  std::set<std::pair<std::string, std::string>> now;
  for (const auto& c : counts) {
    f_->alerts_firing->Add({{"rule", c.rule}, {"severity", c.severity}}).Set(c.firing);
    now.emplace(c.rule, c.severity);
  }
  // A rule removed or re-labelled by a reload loses its old series.
  for (const auto& [rule, severity] : f_->firing_series) {
    if (now.count({rule, severity}) == 0) {
      f_->alerts_firing->Remove(&f_->alerts_firing->Add({{"rule", rule}, {"severity", severity}}));
    }
  }
  f_->firing_series = std::move(now);
}

void LiveMetrics::AlertsSent(const std::string& url, int n) {
  f_->notifications_sent->Add({{"alertmanager", url}}).Increment(n);
}
void LiveMetrics::AlertsFailed(const std::string& url, int n) {
  f_->notifications_failed->Add({{"alertmanager", url}}).Increment(n);
}
void LiveMetrics::AlertsDropped(const std::string& url, int n) {
  f_->notifications_dropped->Add({{"alertmanager", url}}).Increment(n);
}
void LiveMetrics::QueueLength(const std::string& url, int n) {
  f_->notifications_queue->Add({{"alertmanager", url}}).Set(n);
}
std::vector<v1::WindowResult> LiveMetrics::LatestWindows(const std::string& campaign_id) const {
  std::lock_guard lock(api_mu_);
  std::vector<v1::WindowResult> out;
  auto it = latest_.find(campaign_id);
  if (it == latest_.end()) return out;
  for (const auto& [key, r] : it->second) out.push_back(r);
  return out;
}

std::map<std::string, int64_t> LiveMetrics::UserTagCounts() const {
  std::lock_guard lock(api_mu_);
  return tag_counts_;
}

void LiveMetrics::SetUserTags(int64_t users, size_t in_memory,
                              const std::map<std::string, int64_t>& counts) {
  {
    std::lock_guard lock(api_mu_);
    tag_counts_ = counts;
  }
  f_->users->Set(static_cast<double>(users));
  f_->users_in_memory->Set(static_cast<double>(in_memory));
  for (const char* tag : {"new", "active", "dormant", "high_value"}) {
    auto it = counts.find(tag);
    f_->users_by_tag->Add({{"tag", tag}})
        .Set(it == counts.end() ? 0 : static_cast<double>(it->second));
  }
  for (const char* tier : {"silver", "gold", "diamond"}) {
    auto it = counts.find(std::string("tier:") + tier);
    f_->users_by_tier->Add({{"tier", tier}})
        .Set(it == counts.end() ? 0 : static_cast<double>(it->second));
  }
}

void LiveMetrics::SetDataComplete(bool complete) { f_->data_complete->Set(complete ? 1 : 0); }

void LiveMetrics::RulesReloaded(bool ok) {
  f_->rule_reloads->Add({{"outcome", ok ? "success" : "failure"}}).Increment();
  f_->rules_reload_ok->Set(ok ? 1 : 0);
}

void LiveMetrics::CheckpointFailed() { f_->checkpoint_failures->Increment(); }

std::string LiveMetrics::CampaignLabel(const std::string& campaign) {
  if (campaigns_.count(campaign) != 0 || campaign == "*") return campaign;
  if (static_cast<int>(campaigns_.size()) >= options_.max_campaigns) return "other";
  return campaign;
}

std::string LiveMetrics::ChannelLabel(const std::string& channel) {
  if (channels_.count(channel) != 0 || channel == "*") return channel;
  if (static_cast<int>(channels_.size()) >= options_.max_channels) return "other";
  channels_[channel] = true;
  return channel;
}

void LiveMetrics::ResultEmitted(const v1::WindowResult& r, int64_t wall_ms) {
  const std::string campaign = CampaignLabel(r.campaign_id());
  const std::string channel = ChannelLabel(r.channel());
  auto& series = campaigns_[campaign];
  if (!series) series = std::make_unique<CampaignSeries>();
  CampaignSeries& s = *series;
  s.last_seen_wall_ms = wall_ms;
  f_->result_latency->Observe(static_cast<double>(wall_ms - r.window_end_ms()) / 1000.0);
  if (campaign != "other") {
    // For the query API (bounded like the series: capped campaigns, expired with them).
    std::lock_guard lock(api_mu_);
    latest_[r.campaign_id()][r.channel() + "|" + r.window()] = r;
  }

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
    gauge(f_->g_ctr, r.has_ctr() ? r.ctr() : nan);
    gauge(f_->g_cvr, r.has_cvr() ? r.cvr() : nan);
    gauge(f_->g_gmv, static_cast<double>(r.gmv_cents()) / 100.0);
  }
  if (r.window() != "1m" || r.revision() != 0) return;  // counters: each event once
  auto counter = [&](prometheus::Family<prometheus::Counter>* fam, double v) {
    const std::string key = fam->GetName() + "|" + channel;
    auto it = s.counter_by_key.find(key);
    if (it == s.counter_by_key.end()) {
      auto* c = &fam->Add({{"campaign", campaign}, {"channel", channel}});
      it = s.counter_by_key.emplace(key, c).first;
      s.counters.emplace_back(fam, c);
    }
    if (v > 0) it->second->Increment(v);
  };
  counter(f_->c_impressions, static_cast<double>(r.impressions()));
  counter(f_->c_clicks, static_cast<double>(r.clicks()));
  counter(f_->c_orders, static_cast<double>(r.orders()));
  counter(f_->c_paid, static_cast<double>(r.paid_orders()));
  counter(f_->c_gmv, static_cast<double>(r.gmv_cents()) / 100.0);
  counter(f_->c_refunds, static_cast<double>(r.refund_cents()) / 100.0);
  counter(f_->c_spend, static_cast<double>(r.spend_cents()) / 100.0);
  if (r.has_new_customer_orders())
    counter(f_->c_new_customers, static_cast<double>(r.new_customer_orders()));
}

void LiveMetrics::ExpireCampaigns(int64_t wall_ms) {
  for (auto it = campaigns_.begin(); it != campaigns_.end();) {
    if (wall_ms - it->second->last_seen_wall_ms < options_.campaign_ttl_ms) {
      ++it;
      continue;
    }
    for (auto& [fam, c] : it->second->counters) fam->Remove(c);
    for (auto& [fam, g] : it->second->gauges) fam->Remove(g);
    {
      std::lock_guard lock(api_mu_);
      latest_.erase(it->first);
    }
    it = campaigns_.erase(it);
  }
}

void MeteredResultSink::Emit(const v1::WindowResult& r) {
  next_->Emit(r);
  metrics_->ResultEmitted(r, metrics_->now_ms());
}

}  // namespace promowatch
