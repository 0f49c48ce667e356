#include "pipeline/config/config.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

namespace promowatch {
namespace {

TEST(Config, EmptyFileMeansDefaults) {
  auto c = ParseConfig("", "x.yaml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->operators.max_out_of_orderness_ms, 5'000);
  EXPECT_EQ(c->operators.window_minutes, (std::vector<int>{1, 5}));
  EXPECT_EQ(c->operators.day_utc_offset_ms, 8 * 3'600'000);
}

TEST(Config, ReadsEveryKey) {
  auto c = ParseConfig(R"(
watermark:
  max_out_of_orderness: 2s
lateness:
  policy: correct
  allowed_lateness: 1m
windows:
  sizes: [1m, 5m, 15m, 60m]
cumulative:
  enabled: true
  day_utc_offset: "-05:30"
state:
  dir: /tmp/x
  checkpoint_every_records: 500
  checkpoint_interval: 250ms
  block_cache_mb: 8
  max_wal_mb: 64
pipeline:
  batch_size: 128
)",
                       "x.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->operators.max_out_of_orderness_ms, 2'000);
  EXPECT_EQ(c->operators.late_policy, LatePolicy::kCorrect);
  EXPECT_EQ(c->operators.allowed_lateness_ms, 60'000);
  EXPECT_EQ(c->operators.window_minutes, (std::vector<int>{1, 5, 15, 60}));
  EXPECT_EQ(c->operators.day_utc_offset_ms, -(5 * 60 + 30) * 60'000);
  EXPECT_EQ(c->state_dir, "/tmp/x");
  EXPECT_EQ(c->checkpoint_every_records, 500);
  EXPECT_EQ(c->checkpoint_interval_ms, 250);
  EXPECT_EQ(c->state.block_cache_bytes, size_t{8} << 20);
  EXPECT_EQ(c->state.max_wal_bytes, size_t{64} << 20);
  EXPECT_EQ(c->batch_size, 128);
}

void ExpectError(const std::string& yaml, const std::string& needle) {
  auto c = ParseConfig(yaml, "bad.yaml");
  ASSERT_FALSE(c.ok()) << yaml;
  EXPECT_NE(std::string(c.status().message()).find(needle), std::string::npos)
      << c.status().message();
}

TEST(Config, ErrorsNameTheFileAndLine) {
  ExpectError("watermark:\n  max_out_of_orderness: 5s\n  max_out_of_ordernes: 5s\n",
              "bad.yaml:3: unknown key 'max_out_of_ordernes' in 'watermark'");
  ExpectError("lateness:\n  policy: maybe\n", "bad.yaml:2: policy 'maybe'");
  ExpectError("watermark:\n  max_out_of_orderness: 5 seconds\n", "bad.yaml:2:");
  ExpectError("windows:\n  sizes: [1m, 90s]\n", "bad.yaml:2: a window size must be");
  ExpectError("pipeline:\n  batch_size: 0\n", "bad.yaml:2: must be at least 1");
  ExpectError("cumulative:\n  day_utc_offset: Asia/Shanghai\n", "bad.yaml:2:");
  ExpectError("state: [\n", "bad.yaml:");
  ExpectError("kafka:\n  brokers: x\n  partitions: 3\n",
              "bad.yaml:3: unknown key 'partitions' in 'kafka'");
  ExpectError("kafka:\n  results_format: avro\n", "bad.yaml:2: results_format 'avro'");
}

TEST(Config, KafkaMetricsAndAlertRules) {
  auto c = ParseConfig(R"(
kafka:
  brokers: b:9092
  group: g
  results_format: json
  properties:
    security.protocol: SASL_SSL
metrics:
  max_campaigns: 3
alerts:
  rules:
    - name: low_ctr_douyin
      kind: threshold
      metric: ctr
      window: 5m
      scope: campaign_channel
      op: "<"
      threshold: 0.015
      min_volume: 1000
      severity: page
      for: 2m
      keep_firing_for: 3m
      resolve_threshold: 0.02
      campaigns: [c1, c2]
      labels: {team: growth}
      annotations:
        summary: "CTR of {{campaign}} on {{channel}} is {{value}}"
)",
                       "x.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->kafka.brokers, "b:9092");
  EXPECT_TRUE(c->kafka.results_json);
  EXPECT_EQ(c->kafka.properties.at("security.protocol"), "SASL_SSL");
  EXPECT_EQ(c->metrics.max_campaigns, 3);
  ASSERT_EQ(c->alert_rules.size(), 1u);
  EXPECT_EQ(c->alert_rules[0].min_volume, 1000);
  EXPECT_EQ(c->alert_rules[0].op, AlertRule::Op::kLess);
  EXPECT_EQ(c->alert_rules[0].for_ms, 120'000);
  EXPECT_EQ(c->alert_rules[0].keep_firing_for_ms, 180'000);
  EXPECT_EQ(c->alert_rules[0].resolve_threshold, 0.02);
  EXPECT_EQ(c->alert_rules[0].campaigns, (std::set<std::string>{"c1", "c2"}));
  EXPECT_EQ(c->alert_rules[0].labels.at("team"), "growth");
  EXPECT_EQ(c->alert_rules[0].annotations.at("summary"),
            "CTR of {{campaign}} on {{channel}} is {{value}}");
  ExpectError(
      "alerts:\n  rules:\n    - name: x\n      metric: ctr\n      op: \"<\"\n      threshold: 1\n  "
      "    window: 15m\n",
      "bad.yaml:7: window '15m' is not computed");
  ExpectError(
      "alerts:\n  rules:\n    - name: x\n      metric: ctr\n      op: \"=\"\n      threshold: 1\n",
      "bad.yaml:5: op '='");
  ExpectError(
      "alerts:\n  rules:\n    - name: x\n      metric: ctr\n      op: \"<\"\n      threshold: 1\n  "
      "    for: 2 minutes\n",
      "bad.yaml:7:");
  ExpectError(
      "alerts:\n  rules:\n    - name: x\n      metric: ctr\n      op: \"<\"\n      threshold: "
      "0.02\n"
      "      resolve_threshold: 0.01\n",
      "bad.yaml:7: resolve_threshold 0.01 is on the firing side of threshold 0.02");
  ExpectError(
      "alerts:\n  rules:\n    - name: x\n      metric: ctr\n      op: \"<\"\n      threshold: 1\n"
      "    - name: x\n      metric: cvr\n      op: \"<\"\n      threshold: 1\n",
      "bad.yaml:7: rule name 'x' is used twice");
  ExpectError(
      "alerts:\n  rules:\n    - name: x\n      kind: pacing\n      target: 1\n      deadline: "
      "2026-11-12T00:00:00+08:00\n      op: \"<\"\n",
      "bad.yaml:7: unknown key 'op' in 'alerts.rules[] of kind pacing'");
  ExpectError("alerts:\n  rules:\n    - name: x\n      kind: spike\n",
              "bad.yaml:4: kind 'spike' is not one of");
  ExpectError(
      "alerts:\n  rules:\n    - name: x\n      kind: relative_drop\n      metric: gmv\n      drop: "
      "0.5\n",
      "bad.yaml:3: a relative_drop rule needs one baseline");
  ExpectError(
      "alerts:\n  rules:\n    - name: x\n      kind: relative_drop\n      metric: gmv\n      drop: "
      "50\n      against: 1h\n",
      "bad.yaml:6: 50 must be a fraction");
  ExpectError(
      "alerts:\n  rules:\n    - name: x\n      kind: pacing\n      target: 1\n      deadline: "
      "tomorrow\n",
      "bad.yaml:6: 'tomorrow' is not a time");
  ExpectError(
      "alerts:\n  rules:\n    - name: x\n      kind: no_data\n      silence: 10m\n      "
      "forget_after: 5m\n",
      "bad.yaml:6: forget_after must be longer than silence");
  ExpectError(
      "alerts:\n  rules:\n    - name: x\n      kind: no_data\n      silence: 10m\n      topic: "
      "order\n",
      "bad.yaml:6: topic 'order' is not an input topic (clickstream, orders, spend)");
  ExpectError(
      "alerts:\n  rules:\n    - name: x\n      metric: ctr\n      op: \"<\"\n      threshold: 1\n  "
      "    labels: [a]\n",
      "bad.yaml:7: labels must be a map");
}

TEST(Config, AlertmanagerDeliveryAndRulesFile) {
  auto c = ParseConfig(R"(
alerts:
  rules_file: rules/sale.yaml
  alertmanager:
    urls: ["http://am-1:9093", "https://am-2:9093/alertmanager"]
    resend_interval: 30s
    timeout: 2s
    max_alerts: 50
    generator_url: http://grafana/d/war-room
)",
                       "/etc/promowatch/promowatch.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->alertmanager.urls,
            (std::vector<std::string>{"http://am-1:9093", "https://am-2:9093/alertmanager"}));
  EXPECT_EQ(c->alertmanager.resend_interval_ms, 30'000);
  EXPECT_EQ(c->alertmanager.timeout_ms, 2'000);
  EXPECT_EQ(c->alertmanager.max_alerts, 50u);
  EXPECT_EQ(c->alertmanager.generator_url, "http://grafana/d/war-room");
  // Relative to the config file: a config and its rules move together.
  EXPECT_EQ(c->alert_rules_file, "/etc/promowatch/rules/sale.yaml");
  ExpectError("alerts:\n  alertmanager:\n    urls: [am:9093]\n",
              "bad.yaml:3: 'am:9093' is not an http:// or https:// URL");
  ExpectError("alerts:\n  alertmanager:\n    resend: 1m\n", "bad.yaml:3: unknown key 'resend'");
  ExpectError("alerts:\n  rules: []\n  rules_file: r.yaml\n",
              "bad.yaml:3: use either alerts.rules or alerts.rules_file");
}

TEST(Config, RuleKindsAndOverrides) {
  auto c = ParseConfig(R"(
alerts:
  rules:
    - name: gmv_drop
      kind: relative_drop
      metric: gmv
      window: 5m
      against: 1h
      drop: 0.5
      resolve_drop: 0.3
      min_baseline: 1000
    - name: paid_median
      kind: relative_drop
      metric: paid_orders
      window: 1m
      median_of: 6
      drop: 0.4
    - name: pacing
      kind: pacing
      target: 5000000
      deadline: 2026-11-12T00:00:00+08:00
      below_target: 0.3
      overrides: {c1: 8000000}
    - name: silent
      kind: no_data
      silence: 5m
    - name: low_ctr
      metric: ctr
      op: "<"
      threshold: 0.015
      overrides: {c_douyin_launch: 0.02}
)",
                       "x.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->alert_rules.size(), 5u);
  const auto& drop = c->alert_rules[0];
  EXPECT_EQ(drop.kind, AlertRule::Kind::kRelativeDrop);
  EXPECT_EQ(drop.against_ms, 3'600'000);
  EXPECT_EQ(drop.resolve_drop, 0.3);
  EXPECT_EQ(drop.min_baseline, 1000);
  EXPECT_EQ(c->alert_rules[1].median_of, 6);
  const auto& pacing = c->alert_rules[2];
  EXPECT_EQ(pacing.kind, AlertRule::Kind::kPacing);
  EXPECT_EQ(pacing.window, "cumulative");
  EXPECT_EQ(pacing.metric, "gmv");
  EXPECT_EQ(pacing.deadline_ms, 1'794'412'800'000);  // 2026-11-11T16:00Z
  EXPECT_EQ(pacing.ThresholdFor("c1"), 8'000'000);
  EXPECT_EQ(pacing.ThresholdFor("c2"), 5'000'000);
  EXPECT_EQ(c->alert_rules[3].kind, AlertRule::Kind::kNoData);
  EXPECT_EQ(c->alert_rules[3].silence_ms, 300'000);
  EXPECT_EQ(c->alert_rules[3].scope, AlertRule::Scope::kCampaign);
  EXPECT_EQ(c->alert_rules[4].ThresholdFor("c_douyin_launch"), 0.02);
  EXPECT_EQ(*ParseTimestamp("2026-11-11T00:00:00Z"), 1'794'355'200'000);
}

TEST(Config, ProfilesAndTagThresholds) {
  auto c = ParseConfig(
      "profiles:\n  enabled: true\n  tags:\n    dormant_after: 60d\n    active_min_aov: 99.5\n"
      "    tiers: {silver: 500, gold: 3000, diamond: 10000}\n",
      "x.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->profiles_enabled);
  EXPECT_TRUE(c->operators.count_new_customers);
  EXPECT_EQ(c->tag_rules.dormant_after_ms, 60LL * 86'400'000);
  EXPECT_EQ(c->tag_rules.active_min_aov_cents, 9'950);
  EXPECT_EQ(c->tag_rules.tier_silver_cents, 50'000);
  ExpectError("profiles:\n  tags:\n    tiers: {silver: 5000, gold: 3000, diamond: 10000}\n",
              "bad.yaml:3: tiers must ascend");
  ExpectError("profiles:\n  tags:\n    rfm:\n      frequency: [1, 2, 3]\n",
              "bad.yaml:4: rfm.frequency must be 4");
  ExpectError("profiles:\n  tags:\n    dormant: 90d\n", "bad.yaml:3: unknown key 'dormant'");
  ExpectError("api:\n  enabled: true\n  token: short\n", "bad.yaml:2: api.enabled needs api.token");
  auto api = ParseConfig("api:\n  enabled: true\n  token: 0123456789abcdef\n", "x.yaml");
  ASSERT_TRUE(api.ok()) << api.status();
  EXPECT_TRUE(api->api.enabled);
}

TEST(Config, SegmentsNeedProfilesAndComputedWindows) {
  auto c = ParseConfig("profiles:\n  enabled: true\nsegments:\n  enabled: true\n", "x.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->operators.segment_window_minutes, std::vector<int>{5});
  EXPECT_TRUE(c->operators.segment_cumulative);
  auto d = ParseConfig(
      "windows:\n  sizes: [1m, 15m]\nprofiles:\n  enabled: true\nsegments:\n  enabled: true\n"
      "  windows: [15m]\n  precedence: [dormant, new]\n",
      "x.yaml");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->operators.segment_window_minutes, std::vector<int>{15});
  EXPECT_FALSE(d->operators.segment_cumulative);
  EXPECT_EQ(d->tag_rules.segment_precedence,
            (std::vector<Segment>{Segment::kDormant, Segment::kNew}));
  auto off = ParseConfig("profiles:\n  enabled: true\n", "x.yaml");
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->operators.segments());
  ExpectError("segments:\n  enabled: true\n", "bad.yaml:2: segments come from user tags");
  ExpectError("profiles:\n  enabled: true\nsegments:\n  enabled: true\n  windows: [15m]\n",
              "bad.yaml:5: 15m is not one of windows.sizes");
  ExpectError(
      "cumulative:\n  enabled: false\nprofiles:\n  enabled: true\nsegments:\n  enabled: true\n"
      "  windows: [cumulative]\n",
      "bad.yaml:7: cumulative is off");
  ExpectError("profiles:\n  enabled: true\nsegments:\n  precedence: [new, vip]\n",
              "bad.yaml:4: a segment of the precedence is one of");
  ExpectError("profiles:\n  enabled: true\nsegments:\n  precedence: [new, new]\n",
              "bad.yaml:4: new is listed twice");
}

TEST(Config, ASegmentRuleNeedsItsWindowSplitBySegment) {
  const std::string on = "profiles:\n  enabled: true\nsegments:\n  enabled: true\n";
  const std::string rule =
      "alerts:\n  rules:\n    - name: dormant_cvr\n      metric: cvr\n      op: \"<\"\n"
      "      threshold: 0.02\n      min_volume: 200\n";
  auto c = ParseConfig(on + rule + "      window: 5m\n      segment: dormant\n", "x.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->alert_rules.at(0).segment, "dormant");
  ExpectError(rule + "      window: 5m\n      segment: dormant\n",
              "bad.yaml:9: segment: needs segments.enabled: true");
  ExpectError(on + rule + "      window: 1m\n      segment: dormant\n",
              "bad.yaml:13: window '1m' is not split by segment: add it to segments.windows");
  ExpectError(on + rule + "      window: 5m\n      segment: vip\n",
              "bad.yaml:13: segment must be one of");
}

// What a hostile or careless config did before it was bounded.
TEST(Config, NumbersAndDurationsAreBounded) {
  EXPECT_FALSE(ParseDuration("9999999999999999d").ok());
  EXPECT_EQ(*ParseDuration("3650d"), 3650LL * 86'400'000);
  EXPECT_FALSE(ParseDuration("3651d").ok());
  ExpectError("watermark:\n  max_out_of_orderness: 9999999999999999d\n",
              "bad.yaml:2: '9999999999999999d' must be at most 3650d");
  ExpectError(
      "alerts:\n  rules:\n    - name: r\n      metric: ctr\n      op: \"<\"\n"
      "      threshold: 0.1\n      for: 9999999999999999d\n",
      "bad.yaml:7: '9999999999999999d' must be at most 3650d");
  ExpectError(
      "alerts:\n  rules:\n    - name: r\n      metric: ctr\n      op: \"<\"\n"
      "      threshold: .nan\n",
      "bad.yaml:6: must be a finite number, got '.nan'");
  ExpectError(
      "alerts:\n  rules:\n    - name: r\n      metric: ctr\n      op: \"<\"\n"
      "      threshold: .inf\n",
      "bad.yaml:6: must be a finite number");
}

TEST(Config, DuplicateKeysAreRejected) {
  ExpectError("watermark:\n  max_out_of_orderness: 5s\n  max_out_of_orderness: 1h\n",
              "bad.yaml:3: duplicate key 'max_out_of_orderness' (first at line 2)");
  ExpectError("kafka:\n  properties:\n    acks: all\n    acks: \"1\"\n",
              "bad.yaml:4: duplicate key 'acks'");
  ExpectError("api:\n  enabled: false\napi:\n  enabled: true\n", "bad.yaml:3: duplicate key 'api'");
}

TEST(Config, ComplexKeysAreErrorsNotCrashes) {
  // Found by config_fuzz: yaml-cpp threw out of a key conversion.
  ExpectError("state:\n? [a, b]\n: 1\n", "bad.yaml:2: a key must be a plain name");
  PipelineConfig c;
  const absl::Status s = ParseAlertRulesFile("rules:\n  - ? {x: 1}\n    : y\n", "r.yaml", &c);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(std::string(s.message()).rfind("r.yaml:", 0), 0u) << s.message();
}

TEST(Config, SecretsComeFromTheEnvironmentOrAFile) {
  ::setenv("PW_TEST_SASL_PASSWORD", "s3cr3t-from-env", 1);
  ::setenv("PW_TEST_API_TOKEN", "0123456789abcdef-env", 1);
  auto c = ParseConfig(
      "kafka:\n  properties:\n    sasl.password: ${PW_TEST_SASL_PASSWORD}\n"
      "api:\n  enabled: true\n  token: ${PW_TEST_API_TOKEN}\n",
      "x.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->kafka.properties.at("sasl.password"), "s3cr3t-from-env");
  EXPECT_EQ(c->api.token, "0123456789abcdef-env");
  ExpectError("kafka:\n  properties:\n    sasl.password: ${PW_TEST_NOT_SET}\n",
              "bad.yaml:3: kafka.properties.sasl.password is ${PW_TEST_NOT_SET}, but the "
              "environment variable PW_TEST_NOT_SET is not set");

  const std::string file = ::testing::TempDir() + "/api-token";
  {
    std::ofstream out(file);
    out << "0123456789abcdef-file\n";
  }
  auto f = ParseConfig("api:\n  enabled: true\n  token_file: " + file + "\n", "x.yaml");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->api.token, "0123456789abcdef-file");
  ExpectError("api:\n  token: abc\n  token_file: /x\n", "bad.yaml:3: api.token and api.token_file");
  ExpectError("api:\n  enabled: true\n  token_file: /nonexistent/token\n",
              "bad.yaml:3: cannot read api.token_file /nonexistent/token");
}

TEST(Config, MetricsTlsNeedsBothFilesReadable) {
  auto plain = ParseConfig("metrics:\n  address: 127.0.0.1:9464\n", "x.yaml");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->metrics.scheme(), "http");
  EXPECT_EQ(plain->api.redirect_scheme, "http");
  const std::string file = ::testing::TempDir() + "/promowatch-tls.pem";
  { std::ofstream(file) << "-----BEGIN CERTIFICATE-----\n"; }
  auto tls = ParseConfig(
      "metrics:\n  tls:\n    cert_file: " + file + "\n    key_file: " + file + "\n", "x.yaml");
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_EQ(tls->metrics.tls_cert_file, file);
  EXPECT_EQ(tls->metrics.scheme(), "https");
  EXPECT_EQ(tls->api.redirect_scheme, "https");  // redirects to other instances
  ExpectError("metrics:\n  tls:\n    cert_file: " + file + "\n",
              "bad.yaml:3: metrics.tls needs cert_file and key_file");
  ExpectError("metrics:\n  tls:\n    cert_file: " + file + "\n    key_file: /nonexistent/key\n",
              "bad.yaml:4: cannot read metrics.tls.key_file /nonexistent/key");
}

TEST(Config, Durations) {
  EXPECT_EQ(*ParseDuration("500ms"), 500);
  EXPECT_EQ(*ParseDuration("2h"), 7'200'000);
  EXPECT_FALSE(ParseDuration("5").ok());
  EXPECT_FALSE(ParseDuration("-5s").ok());
  EXPECT_EQ(*ParseUtcOffset("+08:00"), 28'800'000);
  EXPECT_EQ(*ParseUtcOffset("Z"), 0);
}

}  // namespace
}  // namespace promowatch

namespace promowatch {
namespace {

// The sample config documents every key with its default: it must parse and
// equal the built-in defaults.
TEST(Config, SampleConfigIsValidAndStatesTheDefaults) {
  auto c = LoadConfig(std::string(PROMOWATCH_SOURCE_DIR) + "/deploy/promowatch.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  PipelineConfig d;
  EXPECT_EQ(c->operators.max_out_of_orderness_ms, d.operators.max_out_of_orderness_ms);
  EXPECT_EQ(c->operators.allowed_lateness_ms, d.operators.allowed_lateness_ms);
  EXPECT_EQ(c->operators.late_policy, d.operators.late_policy);
  EXPECT_EQ(c->operators.window_minutes, d.operators.window_minutes);
  EXPECT_EQ(c->operators.cumulative, d.operators.cumulative);
  EXPECT_EQ(c->operators.day_utc_offset_ms, d.operators.day_utc_offset_ms);
  EXPECT_EQ(c->checkpoint_every_records, d.checkpoint_every_records);
  EXPECT_EQ(c->checkpoint_interval_ms, d.checkpoint_interval_ms);
  EXPECT_EQ(c->state.block_cache_bytes, d.state.block_cache_bytes);
  EXPECT_EQ(c->state.write_buffer_bytes, d.state.write_buffer_bytes);
  EXPECT_EQ(c->batch_size, d.batch_size);
  EXPECT_EQ(c->idle_partition_timeout_ms, d.idle_partition_timeout_ms);
  EXPECT_EQ(c->alertmanager.urls, d.alertmanager.urls);
  EXPECT_EQ(c->alertmanager.resend_interval_ms, d.alertmanager.resend_interval_ms);
  EXPECT_EQ(c->alertmanager.timeout_ms, d.alertmanager.timeout_ms);
  EXPECT_EQ(c->alertmanager.max_alerts, d.alertmanager.max_alerts);
  EXPECT_EQ(c->completeness.max_partition_silence_ms, d.completeness.max_partition_silence_ms);
  EXPECT_EQ(c->completeness.max_lag_records, d.completeness.max_lag_records);
  EXPECT_EQ(c->profiles_enabled, d.profiles_enabled);
  EXPECT_EQ(c->tag_rules.new_for_ms, d.tag_rules.new_for_ms);
  EXPECT_EQ(c->tag_rules.active_min_aov_cents, d.tag_rules.active_min_aov_cents);
  EXPECT_EQ(c->tag_rules.dormant_after_ms, d.tag_rules.dormant_after_ms);
  EXPECT_EQ(c->tag_rules.high_value_spend_cents, d.tag_rules.high_value_spend_cents);
  EXPECT_EQ(c->tag_rules.rfm_monetary_cents, d.tag_rules.rfm_monetary_cents);
  EXPECT_EQ(c->tag_rules.tier_diamond_cents, d.tag_rules.tier_diamond_cents);
  EXPECT_EQ(c->tag_rules.expire_after_ms, d.tag_rules.expire_after_ms);
  EXPECT_EQ(c->max_future_skew_ms, d.max_future_skew_ms);
  EXPECT_EQ(c->kafka.value_framing, d.kafka.value_framing);
  EXPECT_EQ(c->kafka.input_topics, d.kafka.input_topics);
  EXPECT_EQ(c->kafka.input_partitioner, d.kafka.input_partitioner);
  EXPECT_EQ(c->kafka.commit_offsets, d.kafka.commit_offsets);
  EXPECT_EQ(c->kafka.LagGroup(), d.kafka.LagGroup());
  EXPECT_EQ(c->forwarder_timeout_ms, d.forwarder_timeout_ms);
}

// Issue 29's small findings: a bare 0 is a duration ("0 = off"), and a
// YAML alias bomb fails fast with a message instead of burning CPU.
TEST(Config, BareZeroDurationAndAliasBombs) {
  auto c = ParseConfig("watermark:\n  idle_timeout: 0\n  max_future_skew: 0\n", "x.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->idle_partition_timeout_ms, 0);
  EXPECT_EQ(c->max_future_skew_ms, 0);
  EXPECT_FALSE(ParseConfig("watermark:\n  idle_timeout: 5\n", "x.yaml").ok())
      << "a number other than 0 still needs its unit";
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    bomb += fmt::format("a{}: &a{} [", i, i);
    for (int j = 0; j < 10; ++j) bomb += fmt::format("{}*a{}", j == 0 ? "" : ", ", i - 1);
    bomb += "]\n";
  }
  auto b = ParseConfig(bomb, "bomb.yaml");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("alias"), std::string::npos) << b.status();
  EXPECT_NE(b.status().message().find("bomb.yaml:"), std::string::npos) << b.status();
}

TEST(Config, InputPartitionerLagGroupAndForwarderTimeout) {
  auto c = ParseConfig(R"(
watermark:
  forwarder_timeout: 90s
kafka:
  group: shop
  input_partitioner: consistent
)",
                       "x.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->kafka.input_partitioner, InputPartitioner::kConsistent);
  EXPECT_EQ(c->kafka.LagGroup(), "shop-lag");
  EXPECT_EQ(c->forwarder_timeout_ms, 90'000);
  EXPECT_EQ(PipelineConfig().kafka.input_partitioner, InputPartitioner::kMurmur2);
  auto bad = ParseConfig("kafka:\n  input_partitioner: crc32\n", "x.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("x.yaml:2"), std::string::npos) << bad.status();
  EXPECT_NE(bad.status().message().find("consistent"), std::string::npos) << bad.status();
  auto same = ParseConfig("kafka:\n  group: shop\n  lag_group: shop\n", "x.yaml");
  ASSERT_FALSE(same.ok());
  EXPECT_NE(same.status().message().find("lag_group must differ"), std::string::npos)
      << same.status();
  EXPECT_FALSE(ParseConfig("watermark:\n  forwarder_timeout: 10ms\n", "x.yaml").ok());
}

TEST(Config, TypedInputTopicsFramingAndSkew) {
  auto c = ParseConfig(R"(
watermark:
  max_future_skew: 2m
kafka:
  value_framing: confluent
  topics:
    inputs: [clickstream, {name: app-clicks, type: click}, {name: legacy, type: event}, other]
)",
                       "x.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->max_future_skew_ms, 120'000);
  EXPECT_EQ(c->kafka.value_framing, ValueFraming::kConfluent);
  EXPECT_EQ(c->kafka.input_topics,
            (std::vector<std::string>{"clickstream", "app-clicks", "legacy", "other"}));
  EXPECT_EQ(c->kafka.InputFormatOf("clickstream").type, ValueType::kClick);
  EXPECT_EQ(c->kafka.InputFormatOf("app-clicks").type, ValueType::kClick);
  EXPECT_EQ(c->kafka.InputFormatOf("legacy").type, ValueType::kEvent);
  EXPECT_EQ(c->kafka.InputFormatOf("other").type, ValueType::kEvent);
  EXPECT_EQ(c->kafka.InputFormatOf("orders").framing, ValueFraming::kConfluent);

  auto bad_type =
      ParseConfig("kafka:\n  topics:\n    inputs:\n      - {name: a, type: clicks}\n", "t.yaml");
  ASSERT_FALSE(bad_type.ok());
  EXPECT_NE(bad_type.status().message().find("t.yaml:4"), std::string::npos) << bad_type.status();
  EXPECT_NE(bad_type.status().message().find("event, click, order, spend"), std::string::npos);
  auto twice =
      ParseConfig("kafka:\n  topics:\n    inputs: [a, {name: a, type: click}]\n", "t.yaml");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("listed twice"), std::string::npos) << twice.status();
  auto no_name = ParseConfig("kafka:\n  topics:\n    inputs: [{type: click}]\n", "t.yaml");
  ASSERT_FALSE(no_name.ok());
  auto framing = ParseConfig("kafka:\n  value_framing: avro\n", "t.yaml");
  ASSERT_FALSE(framing.ok());
  EXPECT_NE(framing.status().message().find("t.yaml:2"), std::string::npos) << framing.status();
}

}  // namespace
}  // namespace promowatch
