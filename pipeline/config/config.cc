#include "pipeline/config/config.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <ctime>

#include "pipeline/config/parse.h"

namespace promowatch {

using config_internal::ParseAlertRules;
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
absl::StatusOr<PipelineConfig> ParseConfigOrThrow(std::string_view yaml,
                                                  std::string_view file_name);
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

namespace {
absl::StatusOr<PipelineConfig> ParseConfigOrThrow(std::string_view yaml,
                                                  std::string_view file_name) {
  PipelineConfig config;
  Reader r(file_name);
  auto parsed = ParseYaml(yaml, file_name);
  if (!parsed.ok()) return parsed.status();
  const YAML::Node root = *parsed;
  if (root.IsNull()) return config;  // an empty file: every default
  PW_RETURN_IF_ERROR(r.CheckKeys(root, "top level",
                                 {"watermark", "lateness", "windows", "cumulative", "state",
                                  "pipeline", "kafka", "metrics", "alerts", "profiles", "api"}));
  OperatorOptions& op = config.operators;
  if (auto w = root["watermark"]) {
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
    if (auto n = w["max_future_skew"])
      PW_RETURN_IF_ERROR(r.Duration(n, &config.max_future_skew_ms));
    if (auto n = w["max_out_of_orderness"]) {
      PW_RETURN_IF_ERROR(r.Duration(n, &op.max_out_of_orderness_ms));
    }
    if (auto n = w["idle_timeout"])
      PW_RETURN_IF_ERROR(r.Duration(n, &config.idle_partition_timeout_ms));
  }
  if (auto l = root["lateness"]) {
    PW_RETURN_IF_ERROR(r.CheckKeys(l, "lateness", {"policy", "allowed_lateness"}));
    if (auto n = l["policy"]) {
      const std::string p = n.IsScalar() ? n.Scalar() : "";
      if (p == "drop")
        op.late_policy = LatePolicy::kDrop;
      else if (p == "correct")
        op.late_policy = LatePolicy::kCorrect;
      else
        return r.Error(n, fmt::format("policy '{}' is not one of: drop, correct", p));
    }
    if (auto n = l["allowed_lateness"]) {
      PW_RETURN_IF_ERROR(r.Duration(n, &op.allowed_lateness_ms));
    }
  }
  if (auto w = root["windows"]) {
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
  }
  if (auto c = root["cumulative"]) {
    PW_RETURN_IF_ERROR(r.CheckKeys(c, "cumulative", {"enabled", "day_utc_offset"}));
    if (auto n = c["enabled"]) PW_RETURN_IF_ERROR(r.Bool(n, &op.cumulative));
    if (auto n = c["day_utc_offset"]) {
      auto off = ParseUtcOffset(n.IsScalar() ? n.Scalar() : "");
      if (!off.ok()) return r.Error(n, std::string(off.status().message()));
      op.day_utc_offset_ms = *off;
    }
  }
  if (auto s = root["state"]) {
    PW_RETURN_IF_ERROR(
        r.CheckKeys(s, "state",
                    {"dir", "checkpoint_every_records", "checkpoint_interval", "block_cache_mb",
                     "write_buffer_mb", "changelog_full_batch_mb"}));
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
    if (auto n = s["changelog_full_batch_mb"]) {
      int64_t mb = 0;
      PW_RETURN_IF_ERROR(r.Number<int64_t>(n, 1, &mb));
      config.changelog_snapshot_bytes = mb << 20;
    }
  }
  if (auto p = root["pipeline"]) {
    PW_RETURN_IF_ERROR(r.CheckKeys(p, "pipeline", {"batch_size"}));
    if (auto n = p["batch_size"]) PW_RETURN_IF_ERROR(r.Number<int>(n, 1, &config.batch_size));
  }
  if (auto k = root["kafka"]) {
    KafkaOptions& ko = config.kafka;
    PW_RETURN_IF_ERROR(
        r.CheckKeys(k, "kafka",
                    {"brokers", "group", "topics", "results_format", "value_framing", "properties",
                     "dead_letter_max_bytes", "max_record_bytes", "partials_interval",
                     "commit_offsets", "input_partitioner", "lag_group"}));
    if (auto n = k["lag_group"]) {
      ko.lag_group = n.Scalar();
      const std::string group = k["group"] ? k["group"].Scalar() : ko.group;
      if (ko.lag_group == group) {
        return r.Error(n,
                       "lag_group must differ from kafka.group: its members' own commits "
                       "during a rebalance would cost them their partitions (librdkafka "
                       "before 2.10); lag tools read the lag group instead");
      }
    }
    if (auto n = k["input_partitioner"]) {
      const std::string name = n.IsScalar() ? n.Scalar() : "";
      auto partitioner = ParseInputPartitioner(name);
      if (!partitioner) {
        return r.Error(n, fmt::format("input_partitioner '{}' is not one of: murmur2 (the Java "
                                      "client's default), consistent (librdkafka's default, "
                                      "CRC32: kcat, confluent-kafka)",
                                      name));
      }
      ko.input_partitioner = *partitioner;
    }
    if (auto n = k["commit_offsets"]) PW_RETURN_IF_ERROR(r.Bool(n, &ko.commit_offsets));
    if (auto n = k["partials_interval"])
      PW_RETURN_IF_ERROR(r.Duration(n, &ko.partials_interval_ms));
    if (auto n = k["value_framing"]) {
      const std::string f = n.IsScalar() ? n.Scalar() : "";
      auto framing = ParseValueFraming(f);
      if (!framing) {
        return r.Error(n,
                       fmt::format("value_framing '{}' is not one of: auto, plain, confluent", f));
      }
      ko.value_framing = *framing;
    }
    if (auto n = k["brokers"]) ko.brokers = n.Scalar();
    if (auto n = k["group"]) ko.group = n.Scalar();
    if (auto t = k["topics"]) {
      PW_RETURN_IF_ERROR(r.CheckKeys(t, "kafka.topics",
                                     {"inputs", "results", "dead_letter", "alerts", "user_tags",
                                      "changelog", "repartition", "partials"}));
      if (auto n = t["inputs"]) {
        if (!n.IsSequence() || n.size() == 0) return r.Error(n, "inputs must be a list of topics");
        ko.input_topics.clear();
        for (const auto& item : n) {
          std::string name;
          if (item.IsScalar()) {
            name = item.Scalar();
          } else if (item.IsMap()) {  // {name: app-clicks, type: click}
            PW_RETURN_IF_ERROR(r.CheckKeys(item, "kafka.topics.inputs", {"name", "type"}));
            if (!item["name"] || !item["name"].IsScalar()) {
              return r.Error(item, "an input needs a name: {name: app-clicks, type: click}");
            }
            name = item["name"].Scalar();
            if (auto tn = item["type"]) {
              const std::string type = tn.IsScalar() ? tn.Scalar() : "";
              auto v = ParseValueType(type);
              if (!v) {
                return r.Error(tn,
                               fmt::format("input type '{}' is not one of: click, order, spend, "
                                           "event (the Event envelope)",
                                           type));
              }
              ko.input_types[name] = *v;
            }
          } else {
            return r.Error(
                item, "an input is a topic name or {name: TOPIC, type: click|order|spend|event}");
          }
          if (name.empty()) return r.Error(item, "an input topic name is empty");
          if (std::find(ko.input_topics.begin(), ko.input_topics.end(), name) !=
              ko.input_topics.end()) {
            return r.Error(item, fmt::format("input topic '{}' is listed twice", name));
          }
          ko.input_topics.push_back(name);
        }
      }
      if (auto n = t["results"]) ko.results_topic = n.Scalar();
      if (auto n = t["dead_letter"]) ko.dead_letter_topic = n.Scalar();
      if (auto n = t["alerts"]) ko.alerts_topic = n.Scalar();
      if (auto n = t["user_tags"]) ko.user_tags_topic = n.Scalar();
      if (auto n = t["changelog"]) ko.changelog_topic = n.Scalar();
      if (auto n = t["repartition"]) ko.repartition_topic = n.Scalar();
      if (auto n = t["partials"]) ko.partials_topic = n.Scalar();
    }
    if (auto n = k["results_format"]) {
      const std::string f = n.Scalar();
      if (f != "protobuf" && f != "json") {
        return r.Error(n, fmt::format("results_format '{}' is not one of: protobuf, json", f));
      }
      ko.results_json = f == "json";
    }
    if (auto n = k["max_record_bytes"]) {
      PW_RETURN_IF_ERROR(r.Number<int64_t>(n, 16'384, &ko.max_record_bytes));
      if (ko.max_record_bytes > 100'000'000) {
        return r.Error(n, "max_record_bytes must be at most 100000000 (Kafka's own limit)");
      }
    }
    if (auto n = k["dead_letter_max_bytes"]) {
      PW_RETURN_IF_ERROR(r.Number<int64_t>(n, 1024, &ko.dead_letter_max_bytes));
      if (ko.dead_letter_max_bytes > 100'000'000) {
        return r.Error(n, "dead_letter_max_bytes must be at most 100000000 (Kafka's own limit)");
      }
    }
    if (auto n = k["properties"]) {
      if (!n.IsMap()) return r.Error(n, "properties must be a mapping of librdkafka properties");
      // (Every value may come from the environment: ${NAME}, for passwords.)
      for (const auto& kv : n) {
        const std::string key = kv.first.Scalar();
        PW_RETURN_IF_ERROR(r.Secret(kv.second, "kafka.properties." + key, &ko.properties[key]));
      }
    }
  }
  if (auto m = root["metrics"]) {
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
  }
  if (auto api = root["api"]) {
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
  }
  if (auto pr = root["profiles"]) {
    PW_RETURN_IF_ERROR(r.CheckKeys(pr, "profiles",
                                   {"enabled", "max_users_in_memory", "checkpoint_every_changed",
                                    "expire_after", "attribution_window", "tags"}));
    TagRules& t = config.tag_rules;
    if (auto n = pr["enabled"]) PW_RETURN_IF_ERROR(r.Bool(n, &config.profiles_enabled));
    config.operators.count_new_customers = config.profiles_enabled;
    if (auto n = pr["max_users_in_memory"]) {
      PW_RETURN_IF_ERROR(r.Number<int64_t>(n, 1000, &config.profiles_max_users_in_memory));
    }
    if (auto n = pr["checkpoint_every_changed"]) {
      PW_RETURN_IF_ERROR(r.Number<int64_t>(n, 1000, &config.profiles_checkpoint_every_changed));
    }
    if (auto n = pr["expire_after"]) PW_RETURN_IF_ERROR(r.Duration(n, &t.expire_after_ms));
    if (auto n = pr["attribution_window"])
      PW_RETURN_IF_ERROR(r.Duration(n, &t.attribution_window_ms));
    if (auto tags = pr["tags"]) {
      PW_RETURN_IF_ERROR(r.CheckKeys(
          tags, "profiles.tags",
          {"new_for", "active_days", "active_min_paid_orders", "active_min_aov", "dormant_after",
           "high_value_spend", "high_value_repeat_orders", "rfm", "tiers"}));
      auto yuan = [&](const YAML::Node& n, int64_t* cents) -> absl::Status {
        double v = 0;
        PW_RETURN_IF_ERROR(r.Number<double>(n, 0.0, &v));
        *cents = static_cast<int64_t>(v * 100 + 0.5);
        return absl::OkStatus();
      };
      if (auto n = tags["new_for"]) PW_RETURN_IF_ERROR(r.Duration(n, &t.new_for_ms));
      if (auto n = tags["active_days"]) {
        PW_RETURN_IF_ERROR(r.Number<int>(n, 1, &t.active_days));
        if (t.active_days > 365) return r.Error(n, "active_days is at most 365");
      }
      if (auto n = tags["active_min_paid_orders"])
        PW_RETURN_IF_ERROR(r.Number<int64_t>(n, 1, &t.active_min_paid_orders));
      if (auto n = tags["active_min_aov"]) PW_RETURN_IF_ERROR(yuan(n, &t.active_min_aov_cents));
      if (auto n = tags["dormant_after"]) PW_RETURN_IF_ERROR(r.Duration(n, &t.dormant_after_ms));
      if (auto n = tags["high_value_spend"]) PW_RETURN_IF_ERROR(yuan(n, &t.high_value_spend_cents));
      if (auto n = tags["high_value_repeat_orders"])
        PW_RETURN_IF_ERROR(r.Number<int64_t>(n, 1, &t.high_value_repeat_orders));
      if (auto rfm = tags["rfm"]) {
        PW_RETURN_IF_ERROR(
            r.CheckKeys(rfm, "profiles.tags.rfm", {"recency_days", "frequency", "monetary"}));
        const std::pair<const char*, std::vector<int64_t>*> lists[] = {
            {"recency_days", &t.rfm_recency_days},
            {"frequency", &t.rfm_frequency},
            {"monetary", &t.rfm_monetary_cents}};
        for (const auto& [key, dest] : lists) {
          auto n = rfm[key];
          if (!n) continue;
          if (!n.IsSequence() || n.size() != 4)
            return r.Error(n,
                           fmt::format("rfm.{} must be 4 ascending cut points (scores 1-5)", key));
          dest->clear();
          for (const auto& item : n) {
            int64_t v = 0;
            if (std::string_view(key) == "monetary")
              PW_RETURN_IF_ERROR(yuan(item, &v));
            else
              PW_RETURN_IF_ERROR(r.Number<int64_t>(item, 0, &v));
            if (!dest->empty() && v <= dest->back())
              return r.Error(item, fmt::format("rfm.{} cut points must ascend", key));
            dest->push_back(v);
          }
        }
      }
      if (auto tiers = tags["tiers"]) {
        PW_RETURN_IF_ERROR(
            r.CheckKeys(tiers, "profiles.tags.tiers", {"silver", "gold", "diamond"}));
        if (auto n = tiers["silver"]) PW_RETURN_IF_ERROR(yuan(n, &t.tier_silver_cents));
        if (auto n = tiers["gold"]) PW_RETURN_IF_ERROR(yuan(n, &t.tier_gold_cents));
        if (auto n = tiers["diamond"]) PW_RETURN_IF_ERROR(yuan(n, &t.tier_diamond_cents));
        if (!(t.tier_silver_cents < t.tier_gold_cents &&
              t.tier_gold_cents < t.tier_diamond_cents)) {
          return r.Error(tiers, "tiers must ascend: silver < gold < diamond");
        }
      }
    }
  }
  if (auto a = root["alerts"]) {
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
        const std::string dir(
            file_name.substr(0, file_name.find_last_of('/') == std::string_view::npos
                                    ? 0
                                    : file_name.find_last_of('/') + 1));
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
  }

  return config;
}
}  // namespace

absl::StatusOr<PipelineConfig> LoadConfig(const std::string& path) {
  auto text = ReadWholeFile(path, "config file", "--config");
  if (!text.ok()) return text.status();
  auto config = ParseConfig(*text, path);
  if (!config.ok() || config->alert_rules_file.empty()) return config;
  auto rules = ReadWholeFile(config->alert_rules_file, "rules file", "alerts.rules_file");
  if (!rules.ok()) return rules.status();
  PW_RETURN_IF_ERROR(ParseAlertRulesFile(*rules, config->alert_rules_file, &*config));
  return config;
}

}  // namespace promowatch
