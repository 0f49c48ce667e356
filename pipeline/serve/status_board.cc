#include "pipeline/serve/status_board.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "operators/encoding.h"
#include "operators/event_record.h"
#include "operators/keys.h"

namespace promowatch {
namespace {

using nlohmann::json;

// Null for "not known" (no watermark yet, no rate to divide by).
json Ms(int64_t ms) { return ms == kNoWatermark || ms <= 0 ? json(nullptr) : json(ms); }
json DelaySeconds(int64_t now_ms, int64_t ms) {
  return ms == kNoWatermark || ms <= 0 ? json(nullptr)
                                       : json(static_cast<double>(now_ms - ms) / 1000.0);
}
json HeldBy(const std::vector<StatusSample::Task::Forwarder>& forwarders) {
  json out = json::array();
  for (const auto& f : forwarders) {
    out.push_back({{"task", f.task},
                   {"mark_ms", f.idle ? json(nullptr) : Ms(f.mark_ms)},
                   {"idle", f.idle},
                   {"silent_s", static_cast<double>(f.silent_ms) / 1000.0},
                   {"vanished", f.vanished},
                   {"doubted", f.doubted}});
  }
  return out;
}
json Finite(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
// To `digits` decimals (and the shortest JSON number for it).
double Round(double v, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(v * scale) / scale;
}

json PlacementJson(const std::map<std::string, StatusSample::Placement>& placement) {
  json out = json::object();
  for (const auto& [topic, p] : placement) {
    json match = json::object();
    for (const auto& [name, share] : p.match) match[name] = Round(share, 4);
    out[topic] = {{"records_checked", p.checked}, {"match", match}};
  }
  return out;
}
std::string Annotation(const AlertEvent& a, const char* key) {
  auto it = a.annotations.find(key);
  return it == a.annotations.end() ? std::string() : it->second;
}

}  // namespace

StatusBoard::StatusBoard(Options options, int64_t started_ms)
    : options_(std::move(options)), started_ms_(started_ms) {}

void StatusBoard::Sample(StatusSample sample) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = sample.wall_ms;
  std::map<std::string, int64_t> lag_by_topic;
  std::map<std::string, Positions> kept;
  for (const auto& p : sample.partitions) {
    const std::string name = p.Format();
    Positions& pos = kept[name];
    if (auto it = positions_.find(name); it != positions_.end()) pos = std::move(it->second);
    pos.seen.emplace_back(now, p.next_offset, p.end_offset);
    while (pos.seen.size() > 2 && std::get<0>(pos.seen[1]) <= now - kRateWindowMs) {
      pos.seen.pop_front();
    }
    int64_t& lag = lag_by_topic[p.topic];  // (a topic with nothing read yet: 0)
    if (p.next_offset >= 0 && p.end_offset >= 0)
      lag += std::max<int64_t>(0, p.end_offset - p.next_offset);
  }
  positions_ = std::move(kept);  // (partitions given up leave)
  if (lag_history_.empty() || now - lag_history_.back().first >= kLagStepMs) {
    lag_history_.emplace_back(now, std::move(lag_by_topic));
  }
  while (!lag_history_.empty() && lag_history_.front().first < now - kLagHistoryMs) {
    lag_history_.pop_front();
  }
  sample_ = std::move(sample);
}

void StatusBoard::CheckpointTaken(int64_t sequence, int64_t wall_ms, double pause_ms,
                                  uint64_t bytes, uint64_t state_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  checkpoints_.push_back({sequence, wall_ms, pause_ms, -1, bytes, state_bytes, "committing"});
  while (checkpoints_.size() > kCheckpoints) checkpoints_.pop_front();
}

void StatusBoard::CheckpointCommitted(int64_t sequence, double commit_ms, bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& c : checkpoints_) {
    if (c.sequence == sequence) {
      c.commit_ms = commit_ms;
      c.outcome = ok ? "ok" : "failed: the commit did not complete (see the log)";
    }
  }
}

void StatusBoard::CheckpointFailed(int64_t wall_ms, const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  checkpoints_.push_back({0, wall_ms, 0, -1, 0, 0, "failed: " + why});
  while (checkpoints_.size() > kCheckpoints) checkpoints_.pop_front();
}

void StatusBoard::Rebalance(int64_t wall_ms, const std::string& what, int partitions,
                            double pause_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  ++rebalance_count_;
  rebalances_.push_back({wall_ms, what, partitions, pause_ms});
  while (rebalances_.size() > kRebalances) rebalances_.pop_front();
}

void StatusBoard::DeadLetter(int64_t wall_ms, const std::string& reason, const std::string& topic,
                             int32_t partition, int64_t offset) {
  std::lock_guard<std::mutex> lock(mu_);
  ++dead_letter_count_;
  dead_letters_.push_back({wall_ms, reason, topic, partition, offset});
  while (dead_letters_.size() > kDeadLetters) dead_letters_.pop_front();
}

void StatusBoard::SegmentPublished(const v1::WindowResult& r) {
  std::lock_guard<std::mutex> lock(mu_);
  Campaign::Segment& s = campaigns_[r.campaign_id()].segments[r.segment()];
  if (r.window() == "cumulative") {
    if (r.window_start_ms() >= s.day_start_ms) {
      s.day_start_ms = r.window_start_ms();
      s.gmv_cents = r.gmv_cents();
    }
    return;
  }
  // The smallest size split, then the newest window of it.
  const int minutes = WindowMinutes(r.window()).value_or(0);
  const int held =
      s.latest.window().empty() ? INT32_MAX : WindowMinutes(s.latest.window()).value_or(0);
  if (minutes < held || (minutes == held && r.window_end_ms() >= s.latest.window_end_ms()))
    s.latest = r;
}

void StatusBoard::SetPlan(std::shared_ptr<const Plan> plan) {
  std::lock_guard<std::mutex> lock(mu_);
  plan_ = std::move(plan);
}

void StatusBoard::ResultPublished(const v1::WindowResult& r) {
  if (r.window() == kPeriodWindow && r.segment().empty() && r.revision() >= 0) {
    std::lock_guard<std::mutex> lock(mu_);
    if (plan_ == nullptr || plan_->Find(r.campaign_id()) == nullptr) return;
    v1::WindowResult& latest = periods_[r.campaign_id()][r.channel()];
    if (r.window_end_ms() >= latest.window_end_ms()) latest = r;
    return;
  }
  if (!IsRollup(r.channel()) || IsRollup(r.campaign_id())) return;
  if (!r.segment().empty()) return SegmentPublished(r);
  const bool cumulative = r.window() == "cumulative";
  if (!cumulative && r.window() != "1m") return;
  std::lock_guard<std::mutex> lock(mu_);
  Campaign& c = campaigns_[r.campaign_id()];
  if (cumulative) {
    // (Rows of a day come minute by minute; a new day starts from 0.)
    if (r.window_start_ms() >= c.day_start_ms) {
      c.day_start_ms = r.window_start_ms();
      c.gmv_cents = r.gmv_cents();
    }
    return;
  }
  if (r.window_start_ms() >= c.minute.window_start_ms()) c.minute = r;
  c.gmv_by_minute[r.window_start_ms()] = r.gmv_cents();
  while (c.gmv_by_minute.size() > kSparkMinutes) c.gmv_by_minute.erase(c.gmv_by_minute.begin());
}

// "instance": the group, this member, its tasks, rebalances.
json StatusBoard::InstanceJson() const {
  const StatusSample& s = sample_;
  const int64_t restore_remaining = options_.tasks ? options_.tasks->restore_remaining() : 0;
  json rebalances = json::array();
  for (const auto& r : rebalances_) {
    rebalances.push_back({{"wall_ms", r.wall_ms},
                          {"what", r.what},
                          {"partitions", r.partitions},
                          {"pause_ms", Round(r.pause_ms, 1)}});
  }
  return {
      {"group", options_.group},
      {"address", options_.address},
      {"members", s.members},
      {"tasks_total", s.tasks},
      {"tasks_here", s.tasks_here},
      {"global_tasks_here", s.global_here},
      {"restore_remaining_records", restore_remaining},
      {"restoring", restore_remaining > 0},
      {"rebalances", rebalance_count_},
      {"last_rebalance", rebalances.empty() ? json(nullptr) : rebalances.back()},
      {"recent_rebalances", rebalances},
  };
}

// "input": lag, rates and time to catch up per partition.
json StatusBoard::InputJson() const {
  const StatusSample& s = sample_;
  // Input: lag, rates and time to catch up per partition.
  json partitions = json::array();
  double total_rate = 0;
  for (const auto& p : s.partitions) {
    const std::string name = p.Format();
    const int64_t lag = p.next_offset >= 0 && p.end_offset >= 0
                            ? std::max<int64_t>(0, p.end_offset - p.next_offset)
                            : -1;
    double read_rate = NAN, arrival_rate = NAN;
    bool stalled = false;
    if (auto it = positions_.find(name); it != positions_.end() && it->second.seen.size() >= 2) {
      const auto& [t0, next0, end0] = it->second.seen.front();
      const auto& [t1, next1, end1] = it->second.seen.back();
      const double dt = static_cast<double>(t1 - t0) / 1000.0;
      if (dt > 0 && next0 >= 0 && next1 >= 0) read_rate = static_cast<double>(next1 - next0) / dt;
      if (dt > 0 && end0 >= 0 && end1 >= 0) arrival_rate = static_cast<double>(end1 - end0) / dt;
      // Records waiting and none read for half the rate window.
      stalled = lag > 0 && next1 == next0 && t1 - t0 >= kRateWindowMs / 2;
    }
    if (std::isfinite(read_rate)) total_rate += read_rate;
    json lag_seconds = lag == 0 ? json(0.0) : json(nullptr);
    json catch_up = lag == 0 ? json(0.0) : json(nullptr);
    if (lag > 0 && std::isfinite(arrival_rate) && arrival_rate > 0)
      lag_seconds = Round(static_cast<double>(lag) / arrival_rate, 2);
    if (lag > 0 && std::isfinite(read_rate) && std::isfinite(arrival_rate) &&
        read_rate > arrival_rate) {
      catch_up = Round(static_cast<double>(lag) / (read_rate - arrival_rate), 1);
    }
    partitions.push_back({{"topic", p.topic},
                          {"partition", p.partition},
                          {"task", p.partition},
                          {"next_offset", p.next_offset},
                          {"end_offset", p.end_offset},
                          {"lag_records", lag < 0 ? json(nullptr) : json(lag)},
                          {"lag_seconds", lag_seconds},
                          {"records_per_s", Finite(Round(read_rate, 1))},
                          {"arriving_per_s", Finite(Round(arrival_rate, 1))},
                          {"catch_up_seconds", catch_up},
                          {"idle", p.idle},
                          {"stalled", stalled}});
  }
  json history = json::array();
  for (const auto& [t, by_topic] : lag_history_) {
    int64_t sum = 0;
    for (const auto& [topic, lag] : by_topic) sum += lag;
    history.push_back({{"wall_ms", t}, {"total", sum}, {"by_topic", by_topic}});
  }
  return {{"records_read", s.read},
          {"accepted", s.accepted},
          {"duplicates", s.duplicates},
          {"late", s.late},
          {"records_per_s", Round(total_rate, 1)},
          {"input_partitioner", s.input_partitioner},
          {"placement", PlacementJson(s.placement)},
          {"partitions", partitions},
          {"lag_history", history},
          {"lag_history_step_s", kLagStepMs / 1000}};
}

// "event_time": watermarks, of the instance and of each task.
json StatusBoard::EventTimeJson() const {
  const StatusSample& s = sample_;
  json tasks = json::array();
  for (const auto& t : s.task_list) {
    tasks.push_back({{"task", t.task},
                     {"watermark_ms", Ms(t.watermark_ms)},
                     {"delay_s", DelaySeconds(s.wall_ms, t.watermark_ms)},
                     {"global_here", t.global_here},
                     {"global_watermark_ms", t.global_here ? Ms(t.global_watermark_ms) : json()},
                     {"incomplete", t.incomplete},
                     {"held_by", HeldBy(t.held_by)}});
  }
  return {{"watermark_ms", Ms(s.watermark_ms)},
          {"watermark_delay_s", DelaySeconds(s.wall_ms, s.watermark_ms)},
          {"global_watermark_ms", Ms(s.global_watermark_ms)},
          {"global_watermark_delay_s", DelaySeconds(s.wall_ms, s.global_watermark_ms)},
          {"complete", s.incomplete_reason.empty()},
          {"incomplete_reason", s.incomplete_reason},
          {"tasks", tasks}};
}

// "checkpoints": the recent ones, and the changelog appended.
json StatusBoard::CheckpointsJson() const {
  const StatusSample& s = sample_;
  json recent = json::array();
  for (auto it = checkpoints_.rbegin(); it != checkpoints_.rend(); ++it) {
    recent.push_back(
        {{"sequence", it->sequence},
         {"wall_ms", it->wall_ms},
         {"pause_ms", Round(it->pause_ms, 2)},
         {"commit_ms", it->commit_ms < 0 ? json(nullptr) : json(Round(it->commit_ms, 2))},
         {"bytes", it->bytes},
         {"state_bytes", it->state_bytes},
         {"outcome", it->outcome}});
  }
  return {{"recent", recent},
          {"changelog",
           {{"records_appended", options_.tasks ? options_.tasks->changelog_records() : 0},
            {"bytes_appended", options_.tasks ? options_.tasks->changelog_bytes() : 0},
            {"partials_sent", s.partials_sent},
            {"partials_rejected", s.partials_rejected}}}};
}

// "alerts": what fires and is pending here, as the alerts output writes an
// alert, with the links on-call follows.
json StatusBoard::AlertsJson() const {
  json alerts = json::array();
  for (const auto& a : sample_.alerts) {
    std::string dashboard = Annotation(a, "dashboard_url");
    if (dashboard.empty()) dashboard = options_.dashboard_url;
    json alert = AlertJson(a);
    alert["value"] = Finite(a.value);
    alert["threshold"] = Finite(a.threshold);
    alert["summary"] = Annotation(a, "summary");
    alert["runbook_url"] = Annotation(a, "runbook_url");
    alert["dashboard_url"] = dashboard;
    alerts.push_back(std::move(alert));
  }
  return alerts;
}

// "plan": each planned campaign's targets against its latest period rows.
json StatusBoard::PlanJson() const {
  json out = json::array();
  if (plan_ == nullptr) return out;
  for (const CampaignPlan& c : plan_->campaigns) {
    const auto rows = periods_.find(c.campaign);
    json kpis = json::array();
    for (const KpiValue& k :
         CampaignKpis(c, [&](const std::string& channel) -> const v1::WindowResult* {
           if (rows == periods_.end()) return nullptr;
           auto it = rows->second.find(channel);
           return it == rows->second.end() ? nullptr : &it->second;
         })) {
      kpis.push_back({{"kpi", k.target->kpi->name},
                      {"channel", k.target->channel.empty() ? "*" : k.target->channel},
                      {"target", k.target->value},
                      {"actual", k.actual ? json(*k.actual) : json()},
                      {"projected", k.projected ? json(*k.projected) : json()},
                      {"status", k.status}});
    }
    out.push_back({{"campaign", c.campaign},
                   {"period_start_ms", Ms(c.start_ms)},
                   {"period_end_ms", Ms(c.end_ms)},
                   {"kpis", kpis}});
  }
  return out;
}

// A campaign's "segments": one row per user segment seen.
json StatusBoard::SegmentsJson(const Campaign& c) {
  json out = json::array();
  for (const auto& [name, s] : c.segments) {
    const v1::WindowResult& w = s.latest;
    const bool has = !w.window().empty();
    out.push_back({{"segment", name},
                   {"gmv_cents", s.gmv_cents},
                   {"window", has ? json(w.window()) : json()},
                   {"window_end_ms", has ? Ms(w.window_end_ms()) : json()},
                   {"uv", w.uv()},
                   {"clicks", w.clicks()},
                   {"paid_orders", w.paid_orders()},
                   {"cvr", has && w.has_cvr() ? json(w.cvr()) : json()}});
  }
  return out;
}

// "campaigns": the ten leading by GMV since midnight.
json StatusBoard::CampaignsJson() const {
  std::vector<std::pair<std::string, const Campaign*>> top;
  for (const auto& [id, c] : campaigns_) top.emplace_back(id, &c);
  std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) {
    return a.second->gmv_cents != b.second->gmv_cents ? a.second->gmv_cents > b.second->gmv_cents
                                                      : a.first < b.first;
  });
  json campaigns = json::array();
  for (size_t i = 0; i < top.size() && i < 10; ++i) {
    const Campaign& c = *top[i].second;
    json spark = json::array();
    for (const auto& [start, gmv] : c.gmv_by_minute) spark.push_back(gmv);
    const bool has_minute = !c.minute.window().empty();
    campaigns.push_back({{"campaign", top[i].first},
                         {"gmv_cents", c.gmv_cents},
                         {"day_start_ms", Ms(c.day_start_ms)},
                         {"minute_start_ms", has_minute ? Ms(c.minute.window_start_ms()) : json()},
                         {"ctr", has_minute && c.minute.has_ctr() ? json(c.minute.ctr()) : json()},
                         {"cvr", has_minute && c.minute.has_cvr() ? json(c.minute.cvr()) : json()},
                         {"impressions", c.minute.impressions()},
                         {"clicks", c.minute.clicks()},
                         {"paid_orders", c.minute.paid_orders()},
                         {"gmv_cents_by_minute", spark},
                         {"segments", SegmentsJson(c)}});
  }
  return campaigns;
}

// "rejections": counts by reason and the latest dead letters' positions.
json StatusBoard::RejectionsJson() const {
  const StatusSample& s = sample_;
  json by_reason = json::array();
  int64_t rejected_total = 0;
  for (const auto& [key, n] : s.rejected) {
    by_reason.push_back({{"topic", key.first}, {"reason", key.second}, {"count", n}});
    rejected_total += n;
  }
  json letters = json::array();
  for (auto it = dead_letters_.rbegin(); it != dead_letters_.rend(); ++it) {
    letters.push_back({{"wall_ms", it->wall_ms},
                       {"reason", it->reason},
                       {"topic", it->topic},
                       {"partition", it->partition},
                       {"offset", it->offset}});
  }
  return {{"total", rejected_total},
          {"by_reason", by_reason},
          {"dead_letters_total", dead_letter_count_},
          {"recent_dead_letters", letters}};
}

std::string StatusBoard::Json(int64_t now_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  json out;
  out["version"] = options_.version;
  out["now_ms"] = now_ms;
  out["sampled_ms"] = Ms(sample_.wall_ms);
  out["started_ms"] = started_ms_;
  out["uptime_s"] = static_cast<double>(now_ms - started_ms_) / 1000.0;
  out["instance"] = InstanceJson();
  out["input"] = InputJson();
  out["event_time"] = EventTimeJson();
  out["checkpoints"] = CheckpointsJson();
  out["alerts"] = AlertsJson();
  out["campaigns"] = CampaignsJson();
  out["plan"] = PlanJson();
  out["rejections"] = RejectionsJson();
  // (A campaign id that is not UTF-8 must not throw on an HTTP thread.)
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace promowatch
