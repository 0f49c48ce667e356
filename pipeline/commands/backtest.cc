// promowatch backtest: last year's events through this year's rules. It is
// replay with a rules file (the same Engine and AlertEngine as live), with
// the window results discarded and every alert transition summarised per
// rule: how often it fired, for how long, and how often it flapped.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "operators/alert_engine.h"
#include "pipeline/commands/commands.h"
#include "pipeline/config/config.h"

namespace promowatch {
namespace {

struct RuleSummary {
  int64_t pending = 0;
  int64_t fired = 0;
  int64_t resolved = 0;
  int64_t refired = 0;    // fired again after resolving: flaps
  int64_t firing_ms = 0;  // event time spent firing (resolved instances)
  int64_t first_fired_ms = -1;
  std::set<std::tuple<std::string, std::string>> instances;  // campaign, channel that fired
};

std::string Minutes(int64_t ms) {
  return fmt::format("{:.1f}", static_cast<double>(ms) / 60'000.0);
}

struct Incident {
  std::string name;
  std::string campaign_id;  // empty: any
  std::string channel;      // empty: any
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  int64_t detected_ms = -1;
  std::string detected_by;
};

// JSON lines; a bad line fails with its number and what to write.
bool LoadIncidents(const std::string& path, std::vector<Incident>* out) {
  std::ifstream in(path);
  if (!in) {
    spdlog::error("msg=\"cannot read --incidents\" file={} hint=\"check the path\"", path);
    return false;
  }
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("start_ms") || !j.contains("end_ms") ||
        !j["start_ms"].is_number_integer() || !j["end_ms"].is_number_integer()) {
      spdlog::error(
          "msg=\"bad incident\" file={} line={} hint=\"one JSON object per line with integer "
          "start_ms and end_ms, optional name, campaign_id, channel\"",
          path, n);
      return false;
    }
    Incident i;
    i.name = j.value("name", fmt::format("incident-{}", n));
    i.campaign_id = j.value("campaign_id", "");
    i.channel = j.value("channel", "");
    i.start_ms = j["start_ms"].get<int64_t>();
    i.end_ms = j["end_ms"].get<int64_t>();
    out->push_back(i);
  }
  return true;
}

// What the rules did over the replay: per rule, and against the incidents.
class BacktestScore {
 public:
  BacktestScore(std::vector<Incident> incidents, int64_t grace_ms)
      : incidents_(std::move(incidents)), grace_ms_(grace_ms) {}

  void OnAlert(const AlertEvent& a) {
    if (a.correction) return;  // an update of a firing alert, not a new one
    RuleSummary& s = summary_[a.rule];
    const auto key = std::make_tuple(a.rule, a.campaign_id, a.channel);
    if (a.state == kAlertPending) {
      ++s.pending;
    } else if (a.state == kAlertFiring) {
      ++s.fired;
      if (ever_resolved_.count(key) > 0) ++s.refired;
      if (s.first_fired_ms < 0) s.first_fired_ms = a.window_end_ms;
      s.instances.emplace(a.campaign_id, a.channel);
      firing_since_[key] = a.window_end_ms;
      if (MatchIncidents(a))
        ++true_alerts_;
      else
        false_alerts_.push_back(a);
    } else if (a.state == kAlertResolved) {
      ++s.resolved;
      ever_resolved_.insert(key);
      if (auto it = firing_since_.find(key); it != firing_since_.end()) {
        s.firing_ms += a.window_end_ms - it->second;
        firing_since_.erase(it);
      }
    }
  }

  // A row per rule, also for those that never changed state.
  void PrintRules(const std::vector<AlertRule>& rules) {
    std::vector<std::string> live_only;
    for (const AlertRule& rule : rules) {
      summary_[rule.name];
      if (!rule.topic.empty()) live_only.push_back(rule.name);
    }
    std::printf("%-28s %7s %7s %9s %7s %7s %14s %s\n", "rule", "pending", "fired", "resolved",
                "flaps", "scopes", "firing_minutes", "still_firing");
    for (const auto& [rule, s] : summary_) {
      int64_t open = 0;
      for (const auto& [key, since] : firing_since_) {
        if (std::get<0>(key) == rule) ++open;
      }
      std::printf("%-28s %7lld %7lld %9lld %7lld %7zu %14s %lld\n", rule.c_str(),
                  static_cast<long long>(s.pending), static_cast<long long>(s.fired),
                  static_cast<long long>(s.resolved), static_cast<long long>(s.refired),
                  s.instances.size(), Minutes(s.firing_ms).c_str(), static_cast<long long>(open));
    }
    if (summary_.empty()) std::printf("(no rules)\n");
    for (const std::string& rule : live_only) {
      std::printf("%s: no_data on a topic is judged in wall time, in `run` only\n", rule.c_str());
    }
  }

  // Detection delay per incident, false alerts, precision and recall.
  void PrintIncidents() const {
    std::printf("\n%-24s %-10s %-14s %16s %12s %s\n", "incident", "campaign", "channel", "start_ms",
                "delay_min", "detected_by");
    int detected = 0;
    int64_t delay_sum = 0, delay_max = 0;
    for (const Incident& i : incidents_) {
      const bool found = i.detected_ms >= 0;
      std::printf("%-24s %-10s %-14s %16lld %12s %s\n", i.name.c_str(),
                  i.campaign_id.empty() ? kRollupKey.data() : i.campaign_id.c_str(),
                  i.channel.empty() ? kRollupKey.data() : i.channel.c_str(),
                  static_cast<long long>(i.start_ms),
                  found ? Minutes(i.detected_ms - i.start_ms).c_str() : "-",
                  found ? i.detected_by.c_str() : "MISSED");
      if (found) {
        ++detected;
        delay_sum += i.detected_ms - i.start_ms;
        delay_max = std::max(delay_max, i.detected_ms - i.start_ms);
      }
    }
    for (const AlertEvent& a : false_alerts_) {
      std::printf("false alert: %s on %s/%s at %lld (value %g, threshold %g)\n", a.rule.c_str(),
                  a.campaign_id.c_str(), a.channel.c_str(), static_cast<long long>(a.window_end_ms),
                  a.value, a.threshold);
    }
    const int64_t fired = true_alerts_ + static_cast<int64_t>(false_alerts_.size());
    std::printf(
        "incidents=%zu detected=%d recall=%.2f alerts_fired=%lld false_alerts=%zu "
        "precision=%.2f mean_delay_min=%s max_delay_min=%s\n",
        incidents_.size(), detected,
        incidents_.empty() ? 1.0
                           : static_cast<double>(detected) / static_cast<double>(incidents_.size()),
        static_cast<long long>(fired), false_alerts_.size(),
        fired == 0 ? 1.0 : static_cast<double>(true_alerts_) / static_cast<double>(fired),
        detected == 0 ? "-" : Minutes(delay_sum / detected).c_str(),
        detected == 0 ? "-" : Minutes(delay_max).c_str());
  }

 private:
  using Scope = std::tuple<std::string, std::string, std::string>;  // rule, campaign, channel

  // Whether a firing is within an incident (detecting it if it is the first).
  bool MatchIncidents(const AlertEvent& a) {
    bool matched = false;
    for (Incident& i : incidents_) {
      if ((!i.channel.empty() && i.channel != a.channel) ||
          (!i.campaign_id.empty() && i.campaign_id != a.campaign_id) ||
          a.window_end_ms < i.start_ms || a.window_end_ms > i.end_ms + grace_ms_) {
        continue;
      }
      matched = true;
      if (i.detected_ms < 0) {
        i.detected_ms = a.window_end_ms;
        i.detected_by = a.rule;
      }
    }
    return matched;
  }

  std::vector<Incident> incidents_;
  const int64_t grace_ms_;
  std::map<std::string, RuleSummary> summary_;
  std::map<Scope, int64_t> firing_since_;
  std::set<Scope> ever_resolved_;
  int64_t true_alerts_ = 0;
  std::vector<AlertEvent> false_alerts_;
};

}  // namespace

int RunBacktest(const BacktestArgs& args) {
  std::vector<Incident> incidents;
  if (!args.incidents.empty() && !LoadIncidents(args.incidents, &incidents)) return 2;
  BacktestScore score(std::move(incidents), args.grace_ms);
  ReplayArgs replay;
  replay.inputs = args.inputs;
  replay.input_types = args.input_types;
  replay.output = "/dev/null";       // windows are not the point here
  replay.dead_letter = "/dev/null";  // nor rejected records (replay reports them)
  replay.config = args.config;
  replay.format = args.format;
  replay.rules = args.rules;
  replay.alerts_output = args.output;
  replay.on_alert = [&](const AlertEvent& a) { score.OnAlert(a); };
  const int rc = RunReplay(replay);
  if (rc != 0) return rc;
  PipelineConfig config;
  if (LoadConfigForCommand(args.config, &config) && LoadAlertRules(args.rules, &config).ok()) {
    score.PrintRules(config.alert_rules);
  } else {
    score.PrintRules({});
  }
  if (!args.incidents.empty()) score.PrintIncidents();
  return 0;
}

Subcommand AddBacktestCommand(CLI::App& app) {
  struct Flags {
    BacktestArgs args;
    InputFlags input;
  };
  auto f = std::make_shared<Flags>();
  BacktestArgs& a = f->args;
  auto* cmd = app.add_subcommand(
      "backtest",
      "Replay events through alert rules and report which alerts would have fired, "
      "when, for how long and how often they flapped (a table per rule on stdout)");
  cmd->add_option("--rules", a.rules, "Alert rules file (top-level 'rules:')")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--input,-i", a.inputs, "Event files, as for replay (repeatable)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--output,-o", a.output,
                  "Every transition as a JSON line: rule, state, campaign_id, channel, metric, "
                  "value, threshold, window, event_time_ms, severity");
  cmd->add_option("--config,-c", a.config, "YAML config (windows, watermark, lateness)");
  cmd->add_option(
      "--incidents", a.incidents,
      "Known incidents to score the rules against, JSON lines {\"name\", \"campaign_id\", "
      "\"channel\", \"start_ms\", \"end_ms\"} (campaign and channel optional): detection "
      "delay per incident, precision and recall");
  cmd->add_option("--grace-minutes", a.grace_ms,
                  "A firing up to this long after an incident's end is still that incident's")
      ->transform([](std::string v) { return std::to_string(std::stoll(v) * kMinuteMs); })
      ->default_str("10");
  f->input.Add(cmd,
               "As for replay: event, click, order or spend, "
               "once or once per --input. Default: event");
  return {cmd, [f] {
            BacktestArgs args = f->args;
            args.format = f->input.Format();
            args.input_types = f->input.Types();
            return RunBacktest(args);
          }};
}

}  // namespace promowatch
