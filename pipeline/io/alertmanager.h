#pragma once
// Delivery of alerts to Prometheus Alertmanager (API v2, POST /api/v2/alerts).
//
// Alertmanager is state-based: it keeps the latest version of each alert,
// identified by its label set, and an alert that is not re-sent before its
// endsAt resolves by itself. So the notifier keeps the latest state of each
// alert (not a queue of messages): firing alerts are re-sent every
// `resend_interval` with endsAt = now + 4 x resend_interval, a resolved
// alert is sent once with endsAt = its resolution time and then forgotten.
// While Alertmanager is down nothing is lost but superseded states (a
// firing that resolved before it could be delivered arrives as resolved);
// the table is bounded by `max_alerts` and what does not fit is counted as
// dropped.
//
// The pipeline thread only calls Notify(), which takes a mutex for a map
// update: the network is touched by one sender thread per Alertmanager, so
// a slow or dead Alertmanager never blocks the pipeline.
//
// Several promowatch instances (or a restart that re-derives a transition)
// may send the same alert: the label set is identical (alertname, severity,
// campaign, channel and the rule's labels; never the instance), and
// Alertmanager merges alerts with equal labels into one, so it pages once.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "operators/alert_engine.h"
#include "pipeline/config/config.h"
#include "pipeline/io/notifier_probe.h"
#include "pipeline/runtime/clock.h"

namespace promowatch {

// The Alertmanager form of one alert: {"labels", "annotations", "startsAt",
// "endsAt", "generatorURL"}. Times are wall-clock RFC 3339 (UTC, ms).
// startsAt is when the condition began in event time, but never after
// `now_ms` (event time ahead of the clock: skew, a sped-up replay), and
// endsAt is after startsAt, or Alertmanager rejects the alert.
std::string AlertmanagerAlertJson(const AlertEvent& a, int64_t ends_at_ms,
                                  const std::string& generator_url, int64_t now_ms);
// The label set that identifies an alert in Alertmanager.
std::map<std::string, std::string> AlertmanagerLabels(const AlertEvent& a);
// "2026-11-11T00:00:00.000Z".
std::string Rfc3339Ms(int64_t ms);

// One Alertmanager: the latest state per alert and a sender thread.
class AlertmanagerNotifier {
 public:
  // `clock` is the wall clock of the sender's deadlines and endsAt.
  AlertmanagerNotifier(std::string url, const AlertmanagerOptions& options, NotifierProbe* probe,
                       Clock clock = SystemClock());
  ~AlertmanagerNotifier();  // Stop(0) if still running
  AlertmanagerNotifier(const AlertmanagerNotifier&) = delete;
  AlertmanagerNotifier& operator=(const AlertmanagerNotifier&) = delete;

  // A firing or resolved transition (pending is ignored). Never blocks on
  // the network. `wall_ms` is now; a resolution's endsAt is the earlier of
  // its event time and now.
  void Notify(const AlertEvent& a, int64_t wall_ms);
  // Stops re-sending a firing alert without resolving it: its scope is
  // judged by another instance now (its global task moved), which sends it.
  void Forget(const AlertEvent& a);
  // Delivers what is due, then stops the sender; waits at most `flush_ms`
  // for an Alertmanager that does not answer.
  void Stop(int64_t flush_ms);

  const std::string& url() const { return url_; }
  // Alerts held (firing or awaiting delivery).
  size_t held() const;

 private:
  struct Entry {
    AlertEvent alert;
    bool resolved = false;
    int64_t ends_at_ms = 0;  // resolved: when
    uint64_t version = 0;    // bumped by Notify; a send acknowledges a version
    uint64_t delivered = 0;  // version Alertmanager has
    std::chrono::steady_clock::time_point last_sent{};
  };
  void Loop();
  // POSTs `body`; true on 2xx. `retry` is false for answers that a retry
  // cannot fix (4xx other than 429).
  bool Post(const std::string& body, bool* retry);

  const std::string url_;
  const AlertmanagerOptions options_;
  NotifierProbe* probe_;
  Clock clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> alerts_;  // by label-set key
  bool stopping_ = false;
  bool unreachable_logged_ = false;  // sender thread only
  int64_t flush_deadline_ms_ = 0;
  std::thread sender_;
};

}  // namespace promowatch
