// The alerts section of a config file (the rules themselves: alert_rules.cc).

#include "pipeline/config/parse.h"

namespace promowatch::config_internal {

// alerts: the rules (inline or a file), Alertmanager, data completeness.
absl::Status ParseAlertsSection(const Reader& r, const YAML::Node& a, PipelineConfig* out) {
  PipelineConfig& config = *out;
  PW_RETURN_IF_ERROR(
      r.CheckKeys(a, "alerts", {"rules", "rules_file", "alertmanager", "data_incomplete_when"}));
  if (auto d = a["data_incomplete_when"]) {
    PW_RETURN_IF_ERROR(r.CheckKeys(d, "alerts.data_incomplete_when",
                                   {"partition_silent_for", "lag_records_above"}));
    if (auto n = d["partition_silent_for"]) {
      PW_RETURN_IF_ERROR(r.Duration(n, &config.completeness.max_partition_silence_ms));
    }
    if (auto n = d["lag_records_above"]) {
      PW_RETURN_IF_ERROR(r.Number<int64_t>(n, 0, &config.completeness.max_lag_records));
    }
  }
  if (auto rules = a["rules"]) PW_RETURN_IF_ERROR(ParseAlertRules(r, rules, &config));
  if (auto f = a["rules_file"]) {
    if (a["rules"]) return r.Error(f, "use either alerts.rules or alerts.rules_file, not both");
    if (!f.IsScalar() || f.Scalar().empty()) return r.Error(f, "rules_file must be a path");
    config.alert_rules_file = f.Scalar();
    // Relative to the config file, so that a config and its rules move together.
    if (config.alert_rules_file[0] != '/') {
      const size_t slash = r.file().find_last_of('/');
      const std::string dir = slash == std::string::npos ? "" : r.file().substr(0, slash + 1);
      config.alert_rules_file = dir + config.alert_rules_file;
    }
  }
  if (auto am = a["alertmanager"]) {
    AlertmanagerOptions& o = config.alertmanager;
    PW_RETURN_IF_ERROR(
        r.CheckKeys(am, "alerts.alertmanager",
                    {"urls", "resend_interval", "timeout", "max_alerts", "generator_url"}));
    if (auto u = am["urls"]) {
      if (!u.IsSequence()) {
        return r.Error(u, "urls must be a list like [\"http://127.0.0.1:9093\"]");
      }
      for (const auto& item : u) {
        const std::string url = item.IsScalar() ? item.Scalar() : "";
        if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
          return r.Error(
              item, fmt::format("'{}' is not an http:// or https:// URL of Alertmanager", url));
        }
        o.urls.push_back(url);
      }
    }
    if (auto n = am["resend_interval"]) {
      PW_RETURN_IF_ERROR(r.Duration(n, &o.resend_interval_ms));
      if (o.resend_interval_ms < 100) return r.Error(n, "resend_interval must be at least 100ms");
    }
    if (auto n = am["timeout"]) {
      PW_RETURN_IF_ERROR(r.Duration(n, &o.timeout_ms));
      if (o.timeout_ms < 1) return r.Error(n, "timeout must be positive");
    }
    if (auto n = am["max_alerts"]) {
      int64_t v = 0;
      PW_RETURN_IF_ERROR(r.Number<int64_t>(n, 1, &v));
      o.max_alerts = static_cast<size_t>(v);
    }
    if (auto n = am["generator_url"]) o.generator_url = n.Scalar();
  }

  return absl::OkStatus();
}

}  // namespace promowatch::config_internal
