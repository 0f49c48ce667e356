// alerts.rules and rules files: the alert rule contract (README "Alerts").

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>

#include "operators/keys.h"
#include "operators/segment.h"
#include "pipeline/config/parse.h"

namespace promowatch {

using config_internal::Reader;

// "2026-11-12T00:00:00+08:00" (or Z) -> Unix ms.
absl::StatusOr<int64_t> ParseTimestamp(std::string_view text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  char tail[16] = {0};
  const std::string t(text);
  if (std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%15s", &y, &mo, &d, &h, &mi, &sec, tail) !=
          7 ||
      mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) {
    return absl::InvalidArgumentError(
        fmt::format("'{}' is not a time: write it like 2026-11-12T00:00:00+08:00", text));
  }
  auto offset = ParseUtcOffset(tail);
  if (!offset.ok()) return offset.status();
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return static_cast<int64_t>(timegm(&tm)) * 1000 - *offset;
}

namespace {

absl::Status ParseThresholdKeys(const Reader& r, const YAML::Node& n, AlertRule& rule) {
  if (!n["op"] || !n["threshold"]) return r.Error(n, "a threshold rule needs op and threshold");
  PW_RETURN_IF_ERROR(r.Enum(n["op"], "op", AlertRule::kOpNames, &rule.op));
  const std::string cmp = n["op"].Scalar();
  PW_RETURN_IF_ERROR(r.Number<double>(n["threshold"], -1e300, &rule.threshold));
  if (auto rt = n["resolve_threshold"]) {
    double v = 0;
    PW_RETURN_IF_ERROR(r.Number<double>(rt, -1e300, &v));
    const bool below = rule.op == AlertRule::Op::kLess || rule.op == AlertRule::Op::kLessEqual;
    if (below ? v < rule.threshold : v > rule.threshold) {
      return r.Error(rt,
                     fmt::format("resolve_threshold {} is on the firing side of threshold {}: "
                                 "for op '{}' it must be {} the threshold",
                                 v, rule.threshold, cmp, below ? "at or above" : "at or below"));
    }
    rule.resolve_threshold = v;
  }
  return absl::OkStatus();
}

absl::Status Fraction(const Reader& r, const YAML::Node& n, double* out) {
  PW_RETURN_IF_ERROR(r.Number<double>(n, 0.0, out));
  if (*out <= 0 || *out >= 1)
    return r.Error(n, fmt::format("{} must be a fraction between 0 and 1 (0.5 = 50%)", *out));
  return absl::OkStatus();
}

absl::Status ParseRelativeDropKeys(const Reader& r, const YAML::Node& n, AlertRule& rule) {
  if (!n["drop"])
    return r.Error(n, "a relative_drop rule needs drop (0.5 = fires at half the baseline)");
  PW_RETURN_IF_ERROR(Fraction(r, n["drop"], &rule.drop));
  if (auto d = n["resolve_drop"]) {
    double v = 0;
    PW_RETURN_IF_ERROR(Fraction(r, d, &v));
    if (v > rule.drop)
      return r.Error(
          d, fmt::format("resolve_drop {} must be at most drop {} (the value recovers past it)", v,
                         rule.drop));
    rule.resolve_drop = v;
  }
  if (n["against"].IsDefined() == n["median_of"].IsDefined()) {
    return r.Error(n,
                   "a relative_drop rule needs one baseline: against: 1h (the same window "
                   "that long ago) or median_of: 6 (the previous windows)");
  }
  if (auto a = n["against"]) {
    PW_RETURN_IF_ERROR(r.Duration(a, &rule.against_ms));
    if (rule.against_ms <= 0 || rule.against_ms % kMinuteMs != 0) {
      return r.Error(a, "against must be a whole number of minutes, like 1h or 1d");
    }
  }
  if (auto m = n["median_of"]) {
    PW_RETURN_IF_ERROR(r.Number<int>(m, 1, &rule.median_of));
    if (rule.median_of > 1440) return r.Error(m, "median_of is at most 1440 windows");
  }
  if (auto mb = n["min_baseline"])
    PW_RETURN_IF_ERROR(r.Number<double>(mb, 0.0, &rule.min_baseline));
  return absl::OkStatus();
}

absl::Status ParsePacingKeys(const Reader& r, const YAML::Node& n, AlertRule& rule) {
  if (!n["target"] || !n["deadline"]) return r.Error(n, "a pacing rule needs target and deadline");
  PW_RETURN_IF_ERROR(r.Number<double>(n["target"], 0.0, &rule.target));
  auto t = ParseTimestamp(n["deadline"].Scalar());
  if (!t.ok()) return r.Error(n["deadline"], std::string(t.status().message()));
  rule.deadline_ms = *t;
  if (auto b = n["below_target"]) PW_RETURN_IF_ERROR(Fraction(r, b, &rule.below_target));
  if (auto m = n["min_elapsed"]) PW_RETURN_IF_ERROR(r.Duration(m, &rule.min_elapsed_ms));
  return absl::OkStatus();
}

absl::Status ParseNoDataKeys(const Reader& r, const YAML::Node& n, const PipelineConfig& config,
                             AlertRule& rule) {
  if (!n["silence"]) return r.Error(n, "a no_data rule needs silence (like 5m)");
  PW_RETURN_IF_ERROR(r.Duration(n["silence"], &rule.silence_ms));
  if (rule.silence_ms <= 0) return r.Error(n["silence"], "silence must be positive");
  if (auto f = n["forget_after"]) PW_RETURN_IF_ERROR(r.Duration(f, &rule.forget_after_ms));
  if (rule.forget_after_ms <= rule.silence_ms) {
    return r.Error(n["forget_after"] ? n["forget_after"] : n["silence"],
                   "forget_after must be longer than silence");
  }
  if (auto t = n["topic"]) {
    rule.topic = t.Scalar();
    const auto& inputs = config.kafka.input_topics;
    if (std::find(inputs.begin(), inputs.end(), rule.topic) == inputs.end()) {
      return r.Error(t, fmt::format("topic '{}' is not an input topic ({})", rule.topic,
                                    fmt::join(inputs, ", ")));
    }
    if (n["scope"] || n["campaigns"])
      return r.Error(t, "a no_data rule on a topic has no scope or campaigns");
    rule.scope = AlertRule::Scope::kOverall;
  } else if (rule.scope == AlertRule::Scope::kOverall) {
    return r.Error(n["scope"],
                   "no_data judges campaign or campaign_channel scopes, or a whole "
                   "input topic (topic: orders)");
  }
  return absl::OkStatus();
}

// What every kind has: name, metric, window, scope, campaigns (the
// defaults of pacing and no_data first).
absl::Status ParseRuleTarget(const Reader& r, const YAML::Node& n, const PipelineConfig& config,
                             AlertRule& rule) {
  using Kind = AlertRule::Kind;
  if (!n["name"]) return r.Error(n, "a rule needs a name");
  rule.name = n["name"].Scalar();
  for (const auto& other : config.alert_rules) {
    if (other.name == rule.name)
      return r.Error(n["name"], fmt::format("rule name '{}' is used twice", rule.name));
  }
  // Defaults by kind: pacing is about cumulative GMV; no_data about any events.
  if (rule.kind == Kind::kPacing) {
    rule.metric = "gmv";
    rule.window = kCumulativeWindow;
    rule.scope = AlertRule::Scope::kCampaign;
  }
  if (rule.kind == Kind::kNoData) {
    rule.metric = "impressions";
    rule.window = WindowName(1);
    rule.scope = AlertRule::Scope::kCampaign;
  }
  if (auto m = n["metric"]) {
    rule.metric = m.Scalar();
  } else if (rule.kind == Kind::kThreshold || rule.kind == Kind::kRelativeDrop) {
    return r.Error(n, "a rule needs a metric");
  }
  const auto& names = AlertMetricNames();
  if (std::find(names.begin(), names.end(), rule.metric) == names.end()) {
    return r.Error(n["metric"], fmt::format("unknown metric '{}': one of {}", rule.metric,
                                            fmt::join(names, ", ")));
  }
  if (auto w = n["window"]) rule.window = w.Scalar();
  if (!IsComputedWindow(rule.window, config.operators.window_minutes)) {
    return r.Error(
        n["window"] ? n["window"] : n,
        fmt::format("window '{}' is not computed: add it to windows.sizes", rule.window));
  }
  if (rule.kind == Kind::kPacing && rule.window != kCumulativeWindow) {
    return r.Error(n["window"], "a pacing rule projects the cumulative window: window: cumulative");
  }
  if (rule.kind == Kind::kNoData && rule.window == kCumulativeWindow) {
    return r.Error(n["window"], "a no_data rule needs a window size like 1m, not cumulative");
  }
  if (auto sc = n["scope"]) {
    PW_RETURN_IF_ERROR(r.Enum(sc, "scope", AlertRule::kScopeNames, &rule.scope));
  }
  if (auto sg = n["segment"]) {
    // A segment's rows exist only where segments split the rule's window.
    const OperatorOptions& op = config.operators;
    const auto minutes = WindowMinutes(rule.window);
    const bool split = rule.window == kCumulativeWindow ? op.segment_cumulative
                                                        : minutes && op.SegmentWindow(*minutes);
    if (!op.segments()) {
      return r.Error(sg, "segment: needs segments.enabled: true (and profiles.enabled: true)");
    }
    if (rule.kind == Kind::kNoData || rule.kind == Kind::kPacing) {
      return r.Error(sg, "segment: is for threshold and relative_drop rules");
    }
    if (!split) {
      return r.Error(sg, fmt::format("window '{}' is not split by segment: add it to "
                                     "segments.windows",
                                     rule.window));
    }
    const auto seg = sg.IsScalar() ? FromName(kSegmentNames, sg.Scalar()) : std::nullopt;
    if (!seg) {
      return r.Error(sg,
                     "segment must be one of: high_value, active, dormant, new, other, "
                     "unknown");
    }
    rule.segment = sg.Scalar();
  }
  if (auto cs = n["campaigns"]) {
    if (!cs.IsSequence() || cs.size() == 0)
      return r.Error(cs, "campaigns must be a non-empty list of campaign ids");
    if (rule.scope == AlertRule::Scope::kOverall)
      return r.Error(cs, "campaigns needs scope campaign or campaign_channel");
    for (const auto& c : cs) rule.campaigns.insert(c.Scalar());
  }
  return absl::OkStatus();
}

// labels and annotations: names as Alertmanager takes them.
absl::Status ParseLabels(const Reader& r, const YAML::Node& n, AlertRule& rule) {
  for (const char* section : {"labels", "annotations"}) {
    auto m = n[section];
    if (!m) continue;
    if (!m.IsMap()) return r.Error(m, fmt::format("{} must be a map of names to strings", section));
    for (const auto& kv : m) {
      const std::string key = kv.first.Scalar();
      const bool valid = !key.empty() && !std::isdigit(static_cast<unsigned char>(key[0])) &&
                         std::all_of(key.begin(), key.end(), [](char c) {
                           return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                         });
      if (!valid) {
        return r.Error(kv.first, fmt::format("{} name '{}' must match [a-zA-Z_][a-zA-Z0-9_]* "
                                             "(Alertmanager's rule for label names)",
                                             section, key));
      }
      auto& dest = std::string_view(section) == "labels" ? rule.labels : rule.annotations;
      dest[kv.first.Scalar()] = kv.second.Scalar();
    }
  }
  return absl::OkStatus();
}

// How a rule fires and pages: overrides, min_volume, for, keep_firing_for,
// severity, labels, annotations.
absl::Status ParseRuleFiring(const Reader& r, const YAML::Node& n, AlertRule& rule) {
  using Kind = AlertRule::Kind;
  if (auto o = n["overrides"]) {
    if (rule.kind != Kind::kThreshold && rule.kind != Kind::kPacing) {
      return r.Error(
          o, "overrides set per-campaign thresholds (threshold rules) or targets (pacing rules)");
    }
    if (!o.IsMap())
      return r.Error(o, "overrides must map campaign ids to thresholds, like {c1: 0.02}");
    for (const auto& kv : o) {
      double v = 0;
      PW_RETURN_IF_ERROR(r.Number<double>(kv.second, -1e300, &v));
      rule.campaign_thresholds[kv.first.Scalar()] = v;
    }
  }
  if (auto mv = n["min_volume"]) PW_RETURN_IF_ERROR(r.Number<int64_t>(mv, 0, &rule.min_volume));
  if (auto f = n["for"]) PW_RETURN_IF_ERROR(r.Duration(f, &rule.for_ms));
  if (auto k = n["keep_firing_for"]) PW_RETURN_IF_ERROR(r.Duration(k, &rule.keep_firing_for_ms));
  if (auto sv = n["severity"]) rule.severity = sv.Scalar();
  return ParseLabels(r, n, rule);
}

}  // namespace

}  // namespace promowatch

namespace promowatch::config_internal {

absl::Status ParseAlertRules(const Reader& r, const YAML::Node& rules, PipelineConfig* out) {
  using Kind = AlertRule::Kind;
  PipelineConfig& config = *out;
  if (!rules.IsSequence()) return r.Error(rules, "rules must be a list");
  // Keys every kind takes, and each kind's own.
  const std::set<std::string> common = {
      "name",       "kind", "metric",          "window",   "scope",  "campaigns",   "segment",
      "min_volume", "for",  "keep_firing_for", "severity", "labels", "annotations", "overrides"};
  const std::map<Kind, std::set<std::string>> kind_keys = {
      {Kind::kThreshold, {"op", "threshold", "resolve_threshold"}},
      {Kind::kRelativeDrop, {"against", "median_of", "drop", "resolve_drop", "min_baseline"}},
      {Kind::kPacing, {"target", "deadline", "below_target", "min_elapsed"}},
      {Kind::kNoData, {"silence", "forget_after", "topic"}}};
  for (const auto& n : rules) {
    if (!n.IsMap()) return r.Error(n, "a rule is a mapping with name, kind, metric, ...");
    AlertRule rule;
    if (auto k = n["kind"])
      PW_RETURN_IF_ERROR(r.Enum(k, "kind", AlertRule::kKindNames, &rule.kind));
    std::set<std::string> allowed = common;
    allowed.insert(kind_keys.at(rule.kind).begin(), kind_keys.at(rule.kind).end());
    if (rule.kind == Kind::kTarget) {
      return r.Error(n["kind"],
                     "kind target is made from the plan (plan.file: a campaign's targets), "
                     "not written as a rule");
    }
    PW_RETURN_IF_ERROR(r.CheckKeys(
        n, fmt::format("alerts.rules[] of kind {}", NameOf(AlertRule::kKindNames, rule.kind)),
        allowed));
    PW_RETURN_IF_ERROR(ParseRuleTarget(r, n, config, rule));
    switch (rule.kind) {
      case Kind::kThreshold:
        PW_RETURN_IF_ERROR(ParseThresholdKeys(r, n, rule));
        break;
      case Kind::kRelativeDrop:
        PW_RETURN_IF_ERROR(ParseRelativeDropKeys(r, n, rule));
        break;
      case Kind::kPacing:
        PW_RETURN_IF_ERROR(ParsePacingKeys(r, n, rule));
        break;
      case Kind::kNoData:
        PW_RETURN_IF_ERROR(ParseNoDataKeys(r, n, config, rule));
        break;
      case Kind::kTarget:
        break;
    }
    PW_RETURN_IF_ERROR(ParseRuleFiring(r, n, rule));
    config.alert_rules.push_back(rule);
  }
  return absl::OkStatus();
}

}  // namespace promowatch::config_internal

namespace promowatch {

using config_internal::ParseAlertRules;
using config_internal::ParseYaml;
using config_internal::Reader;
using config_internal::ReadWholeFile;

namespace {
absl::Status ParseAlertRulesFileOrThrow(std::string_view yaml, std::string_view file_name,
                                        PipelineConfig* config);
}  // namespace

absl::Status ParseAlertRulesFile(std::string_view yaml, std::string_view file_name,
                                 PipelineConfig* config) {
  try {
    return ParseAlertRulesFileOrThrow(yaml, file_name, config);
  } catch (const YAML::Exception& e) {  // (as ParseConfig)
    return absl::InvalidArgumentError(fmt::format("{}:{}: {}", file_name, e.mark.line + 1, e.msg));
  }
}

namespace {
absl::Status ParseAlertRulesFileOrThrow(std::string_view yaml, std::string_view file_name,
                                        PipelineConfig* config) {
  Reader r(file_name);
  auto parsed = ParseYaml(yaml, file_name);
  if (!parsed.ok()) return parsed.status();
  const YAML::Node root = *parsed;
  if (!root.IsMap() || !root["rules"]) {
    return absl::InvalidArgumentError(fmt::format(
        "{}:1: a rules file is a map with a 'rules' list (see README, Alerts)", file_name));
  }
  PW_RETURN_IF_ERROR(r.CheckKeys(root, "top level", {"rules"}));
  config->alert_rules.clear();
  return ParseAlertRules(r, root["rules"], config);
}
}  // namespace

absl::Status LoadAlertRules(const std::string& path, PipelineConfig* config) {
  auto text = ReadWholeFile(path, "rules file", "--rules");
  if (!text.ok()) return text.status();
  PW_RETURN_IF_ERROR(ParseAlertRulesFile(*text, path, config));
  // The plan's rules stay: they are its targets, not the file's.
  for (AlertRule& rule : PlanRules(config->plan)) config->alert_rules.push_back(std::move(rule));
  return absl::OkStatus();
}

}  // namespace promowatch
