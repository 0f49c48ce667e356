#include "pipeline/config/config.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <ctime>

#include "pipeline/config/parse.h"
#include "pipeline/config/plan_file.h"

namespace promowatch {

using config_internal::ParseAlertsSection;
using config_internal::ParseKafkaSection;
using config_internal::ParseProfilesSection;
using config_internal::ParseSegmentsSection;
using config_internal::ParseYaml;
using config_internal::Reader;
using config_internal::ReadWholeFile;

absl::StatusOr<int64_t> ParseDuration(std::string_view text) {
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr == text.data() || value < 0) {
    return absl::InvalidArgumentError(
        fmt::format("'{}' is not a duration: write a number and a unit, like 5s", text));
  }
  std::string_view unit(ptr, text.data() + text.size() - ptr);
  // A bare 0 needs no unit (the docs write "0 = off").
  if (unit.empty() && value == 0) return 0;
  int64_t scale = 0;
  if (unit == "ms")
    scale = 1;
  else if (unit == "s")
    scale = 1000;
  else if (unit == "m")
    scale = kMinuteMs;
  else if (unit == "h")
    scale = 3'600'000;
  else if (unit == "d")
    scale = kDayMs;
  else {
    return absl::InvalidArgumentError(
        fmt::format("'{}': unknown unit '{}' (use ms, s, m, h or d)", text, unit));
  }
  // (Bounded well below what event times in milliseconds can add up to:
  // 9999999999999999d wrapped negative and made every record late.)
  constexpr int64_t kMaxDays = 3650;
  if (value > kMaxDays * kDayMs / scale) {
    return absl::InvalidArgumentError(
        fmt::format("'{}' must be at most {}d (ten years)", text, kMaxDays));
  }
  return value * scale;
}

absl::StatusOr<int64_t> ParseUtcOffset(std::string_view text) {
  if (text == "Z" || text == "UTC" || text == "+00:00") return 0;
  int hours = 0, minutes = 0;
  if (text.size() == 6 && (text[0] == '+' || text[0] == '-') && text[3] == ':') {
    auto h = std::from_chars(text.data() + 1, text.data() + 3, hours);
    auto m = std::from_chars(text.data() + 4, text.data() + 6, minutes);
    if (h.ec == std::errc() && m.ec == std::errc() && hours <= 14 && minutes < 60) {
      const int64_t ms = (int64_t{hours} * 60 + minutes) * 60'000;
      return text[0] == '-' ? -ms : ms;
    }
  }
  return absl::InvalidArgumentError(
      fmt::format("'{}' is not a UTC offset: write it like +08:00", text));
}

namespace {

// watermark: how far event time may lag, idle partitions, the future guard.
absl::Status ParseWatermarkSection(const Reader& r, const YAML::Node& w, PipelineConfig* out) {
  PipelineConfig& config = *out;
  OperatorOptions& op = config.operators;
  PW_RETURN_IF_ERROR(r.CheckKeys(
      w, "watermark",
      {"max_out_of_orderness", "idle_timeout", "max_future_skew", "forwarder_timeout"}));
  if (auto n = w["forwarder_timeout"]) {
    PW_RETURN_IF_ERROR(r.Duration(n, &config.forwarder_timeout_ms));
    if (config.forwarder_timeout_ms < 1'000)
      return r.Error(n,
                     "forwarder_timeout must be at least 1s (marks come every partials_interval, "
                     "and at least every second)");
  }
  if (auto n = w["max_future_skew"]) PW_RETURN_IF_ERROR(r.Duration(n, &config.max_future_skew_ms));
  if (auto n = w["max_out_of_orderness"]) {
    PW_RETURN_IF_ERROR(r.Duration(n, &op.max_out_of_orderness_ms));
  }
  if (auto n = w["idle_timeout"])
    PW_RETURN_IF_ERROR(r.Duration(n, &config.idle_partition_timeout_ms));

  return absl::OkStatus();
}

// lateness: what a record behind the watermark does.
absl::Status ParseLatenessSection(const Reader& r, const YAML::Node& l, PipelineConfig* out) {
  PipelineConfig& config = *out;
  OperatorOptions& op = config.operators;
  PW_RETURN_IF_ERROR(r.CheckKeys(l, "lateness", {"policy", "allowed_lateness"}));
  if (auto n = l["policy"])
    PW_RETURN_IF_ERROR(r.Enum(n, "policy", kLatePolicyNames, &op.late_policy));
  if (auto n = l["allowed_lateness"]) {
    PW_RETURN_IF_ERROR(r.Duration(n, &op.allowed_lateness_ms));
  }

  return absl::OkStatus();
}

// windows: the sizes computed beside the cumulative day.
absl::Status ParseWindowsSection(const Reader& r, const YAML::Node& w, PipelineConfig* out) {
  PipelineConfig& config = *out;
  OperatorOptions& op = config.operators;
  PW_RETURN_IF_ERROR(r.CheckKeys(w, "windows", {"sizes"}));
  if (auto n = w["sizes"]) {
    if (!n.IsSequence() || n.size() == 0) return r.Error(n, "sizes must be a list like [1m, 5m]");
    op.window_minutes.clear();
    for (const auto& item : n) {
      int64_t ms = 0;
      PW_RETURN_IF_ERROR(r.Duration(item, &ms));
      if (ms <= 0 || ms % 60'000 != 0 || ms > 24 * 3'600'000) {
        return r.Error(item, "a window size must be a whole number of minutes, 1m to 24h");
      }
      op.window_minutes.push_back(static_cast<int>(ms / 60'000));
    }
  }

  return absl::OkStatus();
}

// cumulative: the day so far and where a day starts.
absl::Status ParseCumulativeSection(const Reader& r, const YAML::Node& c, PipelineConfig* out) {
  PipelineConfig& config = *out;
  OperatorOptions& op = config.operators;
  PW_RETURN_IF_ERROR(r.CheckKeys(c, "cumulative", {"enabled", "day_utc_offset"}));
  if (auto n = c["enabled"]) PW_RETURN_IF_ERROR(r.Bool(n, &op.cumulative));
  if (auto n = c["day_utc_offset"]) {
    auto off = ParseUtcOffset(n.IsScalar() ? n.Scalar() : "");
    if (!off.ok()) return r.Error(n, std::string(off.status().message()));
    op.day_utc_offset_ms = *off;
  }

  return absl::OkStatus();
}

// state: where RocksDB keeps state and how often a checkpoint commits.
absl::Status ParseStateSection(const Reader& r, const YAML::Node& s, PipelineConfig* out) {
  PipelineConfig& config = *out;
  PW_RETURN_IF_ERROR(
      r.CheckKeys(s, "state",
                  {"dir", "checkpoint_every_records", "checkpoint_interval", "block_cache_mb",
                   "write_buffer_mb", "max_wal_mb", "changelog_full_batch_mb"}));
  if (auto n = s["dir"]) config.state_dir = n.Scalar();
  if (auto n = s["checkpoint_every_records"]) {
    PW_RETURN_IF_ERROR(r.Number<int64_t>(n, 1, &config.checkpoint_every_records));
  }
  if (auto n = s["checkpoint_interval"]) {
    PW_RETURN_IF_ERROR(r.Duration(n, &config.checkpoint_interval_ms));
  }
  if (auto n = s["block_cache_mb"]) {
    int64_t mb = 0;
    PW_RETURN_IF_ERROR(r.Number<int64_t>(n, 1, &mb));
    config.state.block_cache_bytes = static_cast<size_t>(mb) << 20;
  }
  if (auto n = s["write_buffer_mb"]) {
    int64_t mb = 0;
    PW_RETURN_IF_ERROR(r.Number<int64_t>(n, 1, &mb));
    config.state.write_buffer_bytes = static_cast<size_t>(mb) << 20;
  }
  if (auto n = s["max_wal_mb"]) {
    int64_t mb = 0;
    PW_RETURN_IF_ERROR(r.Number<int64_t>(n, 1, &mb));
    config.state.max_wal_bytes = static_cast<size_t>(mb) << 20;
  }
  if (auto n = s["changelog_full_batch_mb"]) {
    int64_t mb = 0;
    PW_RETURN_IF_ERROR(r.Number<int64_t>(n, 1, &mb));
    config.changelog_snapshot_bytes = mb << 20;
  }

  return absl::OkStatus();
}

// pipeline: batch size.
absl::Status ParsePipelineSection(const Reader& r, const YAML::Node& p, PipelineConfig* out) {
  PipelineConfig& config = *out;
  PW_RETURN_IF_ERROR(r.CheckKeys(p, "pipeline", {"batch_size"}));
  if (auto n = p["batch_size"]) PW_RETURN_IF_ERROR(r.Number<int>(n, 1, &config.batch_size));

  return absl::OkStatus();
}

// metrics: the metrics port and its series' caps.
absl::Status ParseMetricsSection(const Reader& r, const YAML::Node& m, PipelineConfig* out) {
  PipelineConfig& config = *out;
  PW_RETURN_IF_ERROR(r.CheckKeys(
      m, "metrics", {"address", "max_campaigns", "max_channels", "campaign_ttl", "tls"}));
  if (auto n = m["address"]) config.metrics.address = n.Scalar();
  if (auto t = m["tls"]) {
    PW_RETURN_IF_ERROR(r.CheckKeys(t, "metrics.tls", {"cert_file", "key_file"}));
    if (!t["cert_file"] || !t["key_file"]) {
      return r.Error(t, "metrics.tls needs cert_file and key_file (PEM; the key unencrypted)");
    }
    // Readable now (their contents are checked when the port opens).
    for (const char* key : {"cert_file", "key_file"}) {
      auto file = ReadWholeFile(t[key].Scalar(), std::string("metrics.tls.") + key,
                                std::string("metrics.tls.") + key);
      if (!file.ok()) return r.Error(t[key], std::string(file.status().message()));
    }
    config.metrics.tls_cert_file = t["cert_file"].Scalar();
    config.metrics.tls_key_file = t["key_file"].Scalar();
    config.api.redirect_scheme = "https";
  }
  if (auto n = m["max_campaigns"])
    PW_RETURN_IF_ERROR(r.Number<int>(n, 1, &config.metrics.max_campaigns));
  if (auto n = m["max_channels"])
    PW_RETURN_IF_ERROR(r.Number<int>(n, 1, &config.metrics.max_channels));
  if (auto n = m["campaign_ttl"])
    PW_RETURN_IF_ERROR(r.Duration(n, &config.metrics.campaign_ttl_ms));

  return absl::OkStatus();
}

// api: the query API and its token.
absl::Status ParseApiSection(const Reader& r, const YAML::Node& api, PipelineConfig* out) {
  PipelineConfig& config = *out;
  PW_RETURN_IF_ERROR(
      r.CheckKeys(api, "api", {"enabled", "token", "token_file", "advertised_address"}));
  if (auto n = api["advertised_address"]) config.api.advertised_address = n.Scalar();
  if (auto n = api["enabled"]) PW_RETURN_IF_ERROR(r.Bool(n, &config.api.enabled));
  if (api["token"] && api["token_file"]) {
    return r.Error(api["token_file"], "api.token and api.token_file: give one of them");
  }
  if (auto n = api["token"]) PW_RETURN_IF_ERROR(r.Secret(n, "api.token", &config.api.token));
  if (auto n = api["token_file"]) {
    // A mounted Secret: the file's first line.
    auto token = ReadWholeFile(n.Scalar(), "api.token_file", "api.token_file");
    if (!token.ok()) return r.Error(n, std::string(token.status().message()));
    config.api.token = token->substr(0, token->find_first_of("\r\n"));
  }
  if (config.api.enabled && config.api.token.size() < 16) {
    return r.Error(api,
                   "api.enabled needs api.token (or api.token_file), at least 16 characters "
                   "(clients send Authorization: Bearer <token>)");
  }

  return absl::OkStatus();
}

// plan: the campaign plan's file (read by LoadConfig: plan_file.h).
absl::Status ParsePlanSection(const Reader& r, const YAML::Node& p, PipelineConfig* out) {
  if (p.IsNull()) return absl::OkStatus();  // (a section of comments: no plan)
  PW_RETURN_IF_ERROR(r.CheckKeys(p, "plan", {"file"}));
  const YAML::Node f = p["file"];
  if (!f || !f.IsScalar() || f.Scalar().empty()) return r.Error(p, "plan.file must be a path");
  out->plan_file = f.Scalar();
  // Relative to the config file, as alerts.rules_file.
  if (out->plan_file[0] != '/') {
    const size_t slash = r.file().find_last_of('/');
    out->plan_file =
        (slash == std::string::npos ? "" : r.file().substr(0, slash + 1)) + out->plan_file;
  }
  return absl::OkStatus();
}

// The sections in the order they are read (alert rules check the windows,
// profiles decide whether results count new customers).
struct Section {
  const char* key;
  absl::Status (*parse)(const Reader& r, const YAML::Node& node, PipelineConfig* out);
};
constexpr Section kSections[] = {
    {"watermark", ParseWatermarkSection},
    {"lateness", ParseLatenessSection},
    {"windows", ParseWindowsSection},
    {"cumulative", ParseCumulativeSection},
    {"state", ParseStateSection},
    {"pipeline", ParsePipelineSection},
    {"kafka", ParseKafkaSection},
    {"metrics", ParseMetricsSection},
    {"api", ParseApiSection},
    {"profiles", ParseProfilesSection},
    {"segments", ParseSegmentsSection},  // (after windows, cumulative and profiles)
    {"alerts", ParseAlertsSection},
    {"plan", ParsePlanSection},
};

absl::StatusOr<PipelineConfig> ParseConfigOrThrow(std::string_view yaml,
                                                  std::string_view file_name) {
  PipelineConfig config;
  Reader r(file_name);
  auto parsed = ParseYaml(yaml, file_name);
  if (!parsed.ok()) return parsed.status();
  const YAML::Node root = *parsed;
  if (root.IsNull()) return config;  // an empty file: every default
  std::set<std::string> keys;
  for (const Section& s : kSections) keys.insert(s.key);
  PW_RETURN_IF_ERROR(r.CheckKeys(root, "top level", keys));
  for (const Section& s : kSections) {
    if (auto node = root[s.key]) PW_RETURN_IF_ERROR(s.parse(r, node, &config));
  }
  return config;
}

}  // namespace

absl::StatusOr<PipelineConfig> ParseConfig(std::string_view yaml, std::string_view file_name) {
  // (yaml-cpp throws on conversions the checks here did not foresee: they
  // become errors with the line, not a crash - tests/fuzz/config_fuzz.cc.)
  try {
    return ParseConfigOrThrow(yaml, file_name);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(fmt::format("{}:{}: {}", file_name, e.mark.line + 1, e.msg));
  }
}

absl::StatusOr<PipelineConfig> LoadConfig(const std::string& path) {
  auto text = ReadWholeFile(path, "config file", "--config");
  if (!text.ok()) return text.status();
  auto config = ParseConfig(*text, path);
  if (!config.ok()) return config;
  if (!config->alert_rules_file.empty()) {
    auto rules = ReadWholeFile(config->alert_rules_file, "rules file", "alerts.rules_file");
    if (!rules.ok()) return rules.status();
    PW_RETURN_IF_ERROR(ParseAlertRulesFile(*rules, config->alert_rules_file, &*config));
  }
  if (!config->plan_file.empty()) {  // (its rules after the rules file's)
    auto plan = LoadPlan(config->plan_file);
    if (!plan.ok()) return plan.status();
    PW_RETURN_IF_ERROR(ApplyPlan(std::move(*plan), &*config));
  }
  return config;
}

}  // namespace promowatch
