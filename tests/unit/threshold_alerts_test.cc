#include "operators/threshold_alerts.h"

#include <gtest/gtest.h>

namespace promowatch {
namespace {

v1::WindowResult Window(const std::string& channel, int64_t impressions, int64_t clicks, int64_t end) {
  v1::WindowResult r;
  r.set_window("1m");
  r.set_campaign_id("c1");
  r.set_channel(channel);
  r.set_impressions(impressions);
  r.set_clicks(clicks);
  if (impressions > 0) r.set_ctr(static_cast<double>(clicks) / static_cast<double>(impressions));
  r.set_window_end_ms(end);
  return r;
}

TEST(ThresholdAlerts, FiresOnceResolvesOnceAndRespectsMinVolume) {
  ThresholdRule rule;
  rule.name = "low_ctr";
  rule.window = "1m";
  rule.threshold = 0.015;
  rule.min_volume = 1000;
  std::vector<AlertEvent> events;
  ThresholdAlerts alerts({rule}, nullptr, [&](const AlertEvent& a) { events.push_back(a); });
  alerts.Emit(Window("douyin", 500, 1, 60'000));     // too little volume
  alerts.Emit(Window("douyin", 2000, 10, 120'000));  // 0.5%: fires
  alerts.Emit(Window("douyin", 2000, 12, 180'000));  // still low: no new event
  alerts.Emit(Window("*", 2000, 1, 180'000));        // rollup: not this rule's scope
  alerts.Emit(Window("douyin", 2000, 60, 240'000));  // 3%: resolves
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].state, "firing");
  EXPECT_EQ(events[0].window_end_ms, 120'000);
  EXPECT_DOUBLE_EQ(events[0].value, 0.005);
  EXPECT_EQ(events[1].state, "resolved");
  EXPECT_TRUE(alerts.Firing().empty());
  EXPECT_NE(AlertToJson(events[0]).find("\"rule\":\"low_ctr\",\"state\":\"firing\""), std::string::npos);
}

}  // namespace
}  // namespace promowatch
