// The whole topology of a job in one process (pipeline/runtime/topology.h),
// driven by tests/unit/topology_driver.h: windows, the alert judge and user
// profiles together, across restarts.

#include "pipeline/runtime/topology.h"

#include <gtest/gtest.h>

#include "operators/encoding.h"
#include "pipeline/generator/generator.h"
#include "unit/topology_driver.h"

namespace promowatch {
namespace {

// A sale whose douyin CTR collapses for ten minutes.
std::vector<std::string> Sale() {
  GeneratorOptions g;
  g.records = 60'000;
  g.events_per_second = 150;
  g.campaigns = 2;
  g.anomaly_channel = "douyin";
  g.anomaly_start_ms = g.start_ms + 5 * kMinuteMs;
  g.anomaly_end_ms = g.start_ms + 15 * kMinuteMs;
  SaleGenerator gen(g, WireFormat::kBinary);
  std::vector<std::string> out;
  std::string rec;
  while (gen.Next(&rec)) out.push_back(rec);
  return out;
}

PipelineConfig Config() {
  PipelineConfig config;
  config.profiles_enabled = true;
  config.operators.count_new_customers = true;
  AlertRule low_ctr;
  low_ctr.name = "low_ctr";
  low_ctr.metric = "ctr";
  low_ctr.window = "1m";
  low_ctr.threshold = 0.015;
  low_ctr.min_volume = 200;
  config.alert_rules.push_back(low_ctr);
  return config;
}

struct Outputs {
  std::vector<std::string> results, alerts, tags;
};

Outputs RunSale(const std::vector<std::string>& sale, size_t batch, size_t restart_every) {
  testing::TopologyTestDriver driver(Config());
  driver.Pipe(sale, batch,
              InputFormat{ValueType::kEvent, ValueFraming::kAuto, std::nullopt, "input"},
              [&](size_t batches) {
                if (restart_every != 0 && batches % restart_every == 0) driver.Restart();
              });
  driver.EndOfInput();
  Outputs out;
  for (const auto& r : driver.results()) out.results.push_back(WindowResultToJson(r));
  for (const auto& a : driver.alerts()) out.alerts.push_back(AlertToJson(a));
  for (const auto& c : driver.tag_changes()) out.tags.push_back(TagChangeToJson(c));
  return out;
}

TEST(Topology, WindowsAlertsAndTagsDoNotDependOnBatchingOrRestarts) {
  const auto sale = Sale();
  const Outputs whole = RunSale(sale, 4096, 0);
  ASSERT_GT(whole.results.size(), 100u);
  ASSERT_FALSE(whole.alerts.empty()) << "the CTR collapse fires low_ctr";
  ASSERT_GT(whole.tags.size(), 1000u);
  EXPECT_NE(whole.alerts.front().find("douyin"), std::string::npos) << whole.alerts.front();
  const Outputs restarted = RunSale(sale, 1000, 7);
  EXPECT_EQ(whole.results, restarted.results);
  EXPECT_EQ(whole.alerts, restarted.alerts);
  EXPECT_EQ(whole.tags, restarted.tags);
  const Outputs small = RunSale(sale, 97, 0);
  EXPECT_EQ(whole.results, small.results);
  EXPECT_EQ(whole.alerts, small.alerts);
}

TEST(Topology, ProfilesAnnotateTheWindows) {
  testing::TopologyTestDriver driver(Config());
  driver.Pipe(Sale());
  driver.EndOfInput();
  ASSERT_NE(driver.profiles(), nullptr);
  EXPECT_GT(driver.profiles()->users(), 1000);
  int64_t new_customer_orders = 0, paid = 0;
  for (const auto& r : driver.Find("1m", "*", "*")) {
    ASSERT_TRUE(r.has_new_customer_orders()) << "results carry profiles' counters";
    new_customer_orders += r.new_customer_orders();
    paid += r.paid_orders();
  }
  EXPECT_GT(new_customer_orders, 0);
  EXPECT_LE(new_customer_orders, paid);
}

}  // namespace
}  // namespace promowatch
