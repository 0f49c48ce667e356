#include "pipeline/io/alertmanager.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace promowatch {
namespace {

constexpr size_t kMaxAlertsPerPost = 500;
constexpr auto kFirstBackoff = std::chrono::milliseconds(500);

std::string Key(const AlertEvent& a) {
  std::string k = a.rule;
  k.push_back('\0');
  k += a.campaign_id;
  k.push_back('\0');
  k += a.channel;
  return k;
}

std::string Number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

// "http://host:9093/prefix" -> ("http://host:9093", "/prefix").
std::pair<std::string, std::string> SplitUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (path == std::string::npos) return {url, ""};
  std::string prefix = url.substr(path);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  return {url.substr(0, path), prefix};
}

}  // namespace

std::string Rfc3339Ms(int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms - static_cast<int64_t>(secs) * 1000));
  return buf;
}

std::map<std::string, std::string> AlertmanagerLabels(const AlertEvent& a) {
  // The rule's own labels (team, ...) first; the identifying ones win.
  std::map<std::string, std::string> labels = a.labels;
  labels["alertname"] = a.rule;
  labels["severity"] = a.severity;
  // "*" is promowatch's rollup marker, not a campaign: scopes that do not
  // have the label do not carry it.
  if (!IsRollup(a.campaign_id))
    labels["campaign"] = a.campaign_id;
  else
    labels.erase("campaign");
  if (!IsRollup(a.channel))
    labels["channel"] = a.channel;
  else
    labels.erase("channel");
  return labels;
}

std::string AlertmanagerAlertJson(const AlertEvent& a, int64_t ends_at_ms,
                                  const std::string& generator_url, int64_t now_ms) {
  const int64_t starts_at_ms = std::min(a.active_since_ms, now_ms);
  ends_at_ms = std::max(ends_at_ms, starts_at_ms + 1);
  nlohmann::json annotations(a.annotations);
  // The judged value and its context, unless the rule words them itself.
  const std::pair<const char*, std::string> context[] = {{"value", Number(a.value)},
                                                         {"threshold", Number(a.threshold)},
                                                         {"metric", a.metric},
                                                         {"window", a.window}};
  for (const auto& [k, v] : context) {
    if (!annotations.contains(k)) annotations[k] = v;
  }
  if (a.baseline && !annotations.contains("baseline"))
    annotations["baseline"] = Number(*a.baseline);
  if (a.projected && !annotations.contains("projected")) {  // the plan's target rules
    annotations["projected"] = Number(*a.projected);
    annotations["time_left_ms"] = std::to_string(a.time_left_ms);
  }
  if (!annotations.contains("summary")) {
    annotations["summary"] = a.rule + ": " + a.metric + " " + Number(a.value) + " (threshold " +
                             Number(a.threshold) + ") on " + a.campaign_id + "/" + a.channel +
                             ", " + a.window + " window";
  }
  const nlohmann::json j = {{"labels", AlertmanagerLabels(a)},
                            {"annotations", annotations},
                            {"startsAt", Rfc3339Ms(starts_at_ms)},
                            {"endsAt", Rfc3339Ms(ends_at_ms)},
                            {"generatorURL", generator_url}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

AlertmanagerNotifier::AlertmanagerNotifier(std::string url, const AlertmanagerOptions& options,
                                           NotifierProbe* probe, Clock clock)
    : url_(std::move(url)), options_(options), probe_(probe), clock_(std::move(clock)) {
  sender_ = std::thread([this] { Loop(); });
}

AlertmanagerNotifier::~AlertmanagerNotifier() { Stop(0); }

size_t AlertmanagerNotifier::held() const {
  std::lock_guard lock(mu_);
  return alerts_.size();
}

void AlertmanagerNotifier::Forget(const AlertEvent& a) {
  std::lock_guard lock(mu_);
  alerts_.erase(Key(a));
}

void AlertmanagerNotifier::Notify(const AlertEvent& a, int64_t wall_ms) {
  if (a.state != kAlertFiring && a.state != kAlertResolved) return;
  const std::string key = Key(a);
  int dropped = 0;
  {
    std::lock_guard lock(mu_);
    auto it = alerts_.find(key);
    if (it == alerts_.end()) {
      if (alerts_.size() >= options_.max_alerts) {
        // Full: a delivered-or-not resolution is the least useful entry.
        auto victim = std::find_if(alerts_.begin(), alerts_.end(),
                                   [](const auto& kv) { return kv.second.resolved; });
        if (victim == alerts_.end()) {
          dropped = 1;
        } else {
          alerts_.erase(victim);
          dropped = 1;
        }
      }
      if (alerts_.size() < options_.max_alerts) it = alerts_.emplace(key, Entry{}).first;
    }
    if (it != alerts_.end()) {
      Entry& e = it->second;
      e.alert = a;
      e.resolved = a.state == kAlertResolved;
      if (e.resolved) {
        e.ends_at_ms = std::max(a.active_since_ms, std::min(a.window_end_ms, wall_ms));
      }
      ++e.version;
    }
  }
  if (dropped > 0 && probe_ != nullptr) probe_->AlertsDropped(url_, dropped);
  cv_.notify_one();
}

void AlertmanagerNotifier::Stop(int64_t flush_ms) {
  {
    std::lock_guard lock(mu_);
    if (!sender_.joinable()) return;
    stopping_ = true;
    flush_deadline_ms_ = clock_() + flush_ms;
  }
  cv_.notify_one();
  sender_.join();
}

bool AlertmanagerNotifier::Post(const std::string& body, bool* retry) {
  const auto [base, prefix] = SplitUrl(url_);
  httplib::Client client(base);
  const auto timeout = std::chrono::milliseconds(options_.timeout_ms);
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  auto res = client.Post(prefix + "/api/v2/alerts", body, "application/json");
  *retry = true;
  if (!res) {
    // Once per outage, not per retry.
    if (!unreachable_logged_) {
      spdlog::warn(
          "msg=\"alertmanager unreachable\" url={} error=\"{}\" what=\"alerts are kept and "
          "retried; check that Alertmanager runs at this URL\"",
          url_, httplib::to_string(res.error()));
      unreachable_logged_ = true;
    }
    return false;
  }
  unreachable_logged_ = false;
  if (res->status >= 200 && res->status < 300) return true;
  // 4xx: the alerts themselves are wrong, sending them again will not help.
  *retry = res->status >= 500 || res->status == 429;
  spdlog::warn("msg=\"alertmanager rejected alerts\" url={} status={} body=\"{}\" retry={}", url_,
               res->status, res->body.substr(0, 200), *retry);
  return false;
}

void AlertmanagerNotifier::Loop() {
  using Steady = std::chrono::steady_clock;
  const auto resend = std::chrono::milliseconds(options_.resend_interval_ms);
  auto backoff = std::chrono::duration_cast<Steady::duration>(kFirstBackoff);
  Steady::time_point retry_at{};
  bool failing = false;
  std::unique_lock lock(mu_);
  while (true) {
    const auto now = Steady::now();
    // Due: a state Alertmanager does not have yet, or a firing alert whose
    // endsAt needs pushing forward. Stopping sends only the former.
    std::vector<std::pair<std::string, uint64_t>> batch;
    Steady::time_point next_resend = Steady::time_point::max();
    for (const auto& [key, e] : alerts_) {
      const bool changed = e.delivered != e.version;
      const bool refresh = !e.resolved && !stopping_ && now - e.last_sent >= resend;
      if (changed || refresh) {
        if (batch.size() < kMaxAlertsPerPost) batch.emplace_back(key, e.version);
      } else if (!e.resolved) {
        next_resend = std::min(next_resend, e.last_sent + resend);
      }
    }
    if (stopping_ && (batch.empty() || clock_() >= flush_deadline_ms_)) break;
    if (batch.empty() || (failing && now < retry_at)) {
      Steady::time_point wake = failing && !batch.empty() ? retry_at : next_resend;
      if (stopping_) {
        wake = std::min(wake, now + std::chrono::milliseconds(
                                        std::max<int64_t>(0, flush_deadline_ms_ - clock_())));
      }
      if (wake == Steady::time_point::max()) {
        cv_.wait(lock);
      } else {
        cv_.wait_until(lock, wake);
      }
      continue;
    }
    const int64_t wall = clock_();
    const int64_t firing_ends = wall + 4 * options_.resend_interval_ms;
    std::string body = "[";
    for (const auto& [key, version] : batch) {
      const Entry& e = alerts_.at(key);
      if (body.size() > 1) body.push_back(',');
      body += AlertmanagerAlertJson(e.alert, e.resolved ? e.ends_at_ms : firing_ends,
                                    options_.generator_url, wall);
    }
    body.push_back(']');
    lock.unlock();
    bool retry = true;
    const bool ok = Post(body, &retry);
    lock.lock();
    const int n = static_cast<int>(batch.size());
    if (ok || !retry) {
      for (const auto& [key, version] : batch) {
        auto it = alerts_.find(key);
        if (it == alerts_.end()) continue;
        it->second.delivered = std::max(it->second.delivered, version);
        it->second.last_sent = Steady::now();
        // A resolution Alertmanager has (and nothing newer): forget it.
        if (it->second.resolved && it->second.delivered == it->second.version) alerts_.erase(it);
      }
      if (ok && failing) spdlog::info("msg=\"alertmanager reachable again\" url={}", url_);
      failing = false;
      backoff = std::chrono::duration_cast<Steady::duration>(kFirstBackoff);
    } else {
      failing = true;
      retry_at = Steady::now() + backoff;
      backoff = std::min<Steady::duration>(backoff * 2,
                                           std::max<Steady::duration>(resend / 2, kFirstBackoff));
    }
    const int held = static_cast<int>(alerts_.size());
    lock.unlock();
    if (probe_ != nullptr) {
      if (ok)
        probe_->AlertsSent(url_, n);
      else
        probe_->AlertsFailed(url_, n);
      probe_->QueueLength(url_, held);
    }
    lock.lock();
  }
}

}  // namespace promowatch
