#include "pipeline/serve/results_probe.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <set>
#include <string>

namespace promowatch {
namespace {

v1::WindowResult Row(const std::string& campaign, const std::string& channel,
                     const std::string& segment, const std::string& window) {
  v1::WindowResult r;
  r.set_window(window);
  r.set_window_start_ms(0);
  r.set_window_end_ms(300'000);
  r.set_campaign_id(campaign);
  r.set_channel(channel);
  r.set_segment(segment);
  r.set_clicks(100);
  r.set_paid_orders(5);
  r.set_cvr(0.05);
  r.set_uv(40);
  return r;
}

// The series of one family: their label sets, flattened.
std::set<std::string> Series(prometheus::Registry& registry, const std::string& family) {
  std::set<std::string> out;
  for (const auto& f : registry.Collect()) {
    if (f.name != family) continue;
    for (const auto& m : f.metric) {
      std::string labels;
      for (const auto& l : m.label) labels += l.name + "=" + l.value + ",";
      out.insert(labels);
    }
  }
  return out;
}

// Many campaigns x every segment x both split windows: the segment series
// stay under the campaign cap, per campaign only, and go with the campaign.
TEST(ResultsProbe, SegmentSeriesAreCappedPerCampaignAndExpireWithIt) {
  prometheus::Registry registry;
  MetricsOptions options;
  options.max_campaigns = 5;
  options.campaign_ttl_ms = 60'000;
  ResultsProbe probe(registry, options);
  const char* segments[] = {"high_value", "active", "dormant", "new", "other", "unknown"};
  for (int c = 0; c < 300; ++c) {
    const std::string campaign = "c" + std::to_string(c);
    probe.ResultEmitted(Row(campaign, "*", "", "5m"), 1'000);  // the campaign's own row
    for (const char* s : segments) {
      for (const char* w : {"5m", "cumulative"}) {
        probe.ResultEmitted(Row(campaign, "*", s, w), 1'000);
        probe.ResultEmitted(Row(campaign, "douyin", s, w), 1'000);  // per channel: not a series
      }
    }
  }
  const auto cvr = Series(registry, "promowatch_segment_window_cvr_ratio");
  EXPECT_EQ(cvr.size(), 5u * 6 * 2) << "5 campaigns x 6 segments x 2 windows";
  std::set<std::string> campaigns;
  for (const std::string& s : cvr) {
    EXPECT_NE(s.find("channel=*,"), std::string::npos) << s;
    EXPECT_EQ(s.find("campaign=other"), std::string::npos)
        << "folded campaigns have no segment series";
    campaigns.insert(s.substr(0, s.find(',')));
  }
  EXPECT_EQ(campaigns.size(), 5u);
  EXPECT_EQ(Series(registry, "promowatch_segment_window_uv").size(), 5u * 6 * 2);
  EXPECT_EQ(probe.LatestWindows("c0", /*segments=*/true).size(), 6u * 2 * 2);
  EXPECT_EQ(probe.LatestWindows("c0").size(), 1u) << "the rows of all users apart";
  probe.ExpireCampaigns(1'000 + 60'000);
  EXPECT_TRUE(Series(registry, "promowatch_segment_window_cvr_ratio").empty());
  EXPECT_TRUE(probe.LatestWindows("c0", true).empty());
}

}  // namespace
}  // namespace promowatch
