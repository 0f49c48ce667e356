#include "pipeline/io/alertmanager.h"

#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>

namespace promowatch {
namespace {

constexpr int64_t kDouble11 = 1'794'355'200'000;  // 2026-11-11T00:00:00Z

AlertEvent Firing(const std::string& channel) {
  AlertEvent a;
  a.rule = "low_ctr";
  a.state = "firing";
  a.campaign_id = "c1";
  a.channel = channel;
  a.metric = "ctr";
  a.value = 0.004;
  a.threshold = 0.015;
  a.window = "5m";
  a.window_end_ms = kDouble11 + 600'000;
  a.active_since_ms = kDouble11 + 300'000;
  a.severity = "page";
  a.labels = {{"team", "growth"}, {"alertname", "not-this"}};
  a.annotations = {{"runbook_url", "https://runbooks/low_ctr"}};
  return a;
}

TEST(Alertmanager, Rfc3339Ms) {
  EXPECT_EQ(Rfc3339Ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(Rfc3339Ms(kDouble11 + 1'234), "2026-11-11T00:00:01.234Z");
  EXPECT_EQ(Rfc3339Ms(-1), "1969-12-31T23:59:59.999Z");
}

TEST(Alertmanager, LabelsIdentifyTheAlertAndAnnotationsCarryTheValue) {
  const AlertEvent a = Firing("douyin");
  const auto labels = AlertmanagerLabels(a);
  EXPECT_EQ(labels, (std::map<std::string, std::string>{{"alertname", "low_ctr"},
                                                        {"campaign", "c1"},
                                                        {"channel", "douyin"},
                                                        {"severity", "page"},
                                                        {"team", "growth"}}));
  AlertEvent overall = a;
  overall.campaign_id = "*";
  overall.channel = "*";
  EXPECT_EQ(AlertmanagerLabels(overall).count("campaign"), 0u);
  EXPECT_EQ(AlertmanagerLabels(overall).count("channel"), 0u);

  const auto j = nlohmann::json::parse(
      AlertmanagerAlertJson(a, kDouble11 + 900'000, "http://pw/metrics", kDouble11 + 700'000));
  EXPECT_EQ(j["startsAt"], "2026-11-11T00:05:00.000Z");
  EXPECT_EQ(j["endsAt"], "2026-11-11T00:15:00.000Z");
  EXPECT_EQ(j["generatorURL"], "http://pw/metrics");
  EXPECT_EQ(j["labels"]["alertname"], "low_ctr");
  EXPECT_EQ(j["annotations"]["runbook_url"], "https://runbooks/low_ctr");
  EXPECT_EQ(j["annotations"]["value"], "0.004");
  EXPECT_EQ(j["annotations"]["threshold"], "0.015");
  EXPECT_EQ(j["annotations"]["summary"],
            "low_ctr: ctr 0.004 (threshold 0.015) on c1/douyin, 5m window");

  // Event time ahead of the clock: startsAt is now, endsAt after it.
  const auto ahead = nlohmann::json::parse(
      AlertmanagerAlertJson(a, kDouble11 + 100'000, "http://pw/metrics", kDouble11 + 100'000));
  EXPECT_EQ(ahead["startsAt"], "2026-11-11T00:01:40.000Z");
  EXPECT_EQ(ahead["endsAt"], "2026-11-11T00:01:40.001Z");
}

struct CountingProbe final : NotifierProbe {
  void AlertsSent(const std::string&, int n) override {
    std::lock_guard l(mu);
    sent += n;
  }
  void AlertsFailed(const std::string&, int n) override {
    std::lock_guard l(mu);
    failed += n;
  }
  void AlertsDropped(const std::string&, int n) override {
    std::lock_guard l(mu);
    dropped += n;
  }
  void QueueLength(const std::string&, int n) override {
    std::lock_guard l(mu);
    queue = n;
  }
  std::mutex mu;
  int sent = 0, failed = 0, dropped = 0, queue = 0;
};

TEST(Alertmanager, UnreachableAlertmanagerKeepsABoundedTableAndCountsFailures) {
  AlertmanagerOptions options;
  options.max_alerts = 2;
  options.timeout_ms = 200;
  CountingProbe probe;
  // Port 1 on loopback: nothing listens, the connection is refused.
  AlertmanagerNotifier notifier("http://127.0.0.1:1", options, &probe);
  notifier.Notify(Firing("douyin"), kDouble11);
  notifier.Notify(Firing("jd"), kDouble11);
  notifier.Notify(Firing("tmall"), kDouble11);  // no room: dropped
  AlertEvent pending = Firing("kuaishou");
  pending.state = "pending";  // not a notification
  notifier.Notify(pending, kDouble11);
  AlertEvent resolved = Firing("douyin");
  resolved.state = "resolved";
  notifier.Notify(resolved, kDouble11 + 60'000);  // replaces douyin's state: no drop
  // Bounded: gives up on the dead Alertmanager. 2 s covers the first
  // attempt and the retry after the 500 ms backoff, so at least two alert
  // deliveries fail whether or not the sender's first post caught douyin
  // alone (it wakes on the first Notify).
  notifier.Stop(2'000);
  EXPECT_EQ(probe.dropped, 1);
  EXPECT_EQ(probe.sent, 0);
  EXPECT_GE(probe.failed, 2);
  EXPECT_EQ(notifier.held(), 2u);  // nothing delivered, nothing forgotten
}

}  // namespace
}  // namespace promowatch
