// promowatch backtest: last year's events through this year's rules. It is
// replay with a rules file (the same Engine and AlertEngine as live), with
// the window results discarded and every alert transition summarised per
// rule: how often it fired, for how long, and how often it flapped.

#include <spdlog/spdlog.h>

#include <cstdio>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "operators/alert_engine.h"
#include "pipeline/commands.h"

namespace promowatch {
namespace {

struct RuleSummary {
  int64_t pending = 0;
  int64_t fired = 0;
  int64_t resolved = 0;
  int64_t refired = 0;        // fired again after resolving: flaps
  int64_t firing_ms = 0;      // event time spent firing (resolved instances)
  int64_t first_fired_ms = -1;
  std::set<std::tuple<std::string, std::string>> instances;  // campaign, channel that fired
};

std::string Minutes(int64_t ms) { return fmt::format("{:.1f}", static_cast<double>(ms) / 60'000.0); }

}  // namespace

int RunBacktest(const BacktestArgs& args) {
  std::map<std::string, RuleSummary> summary;
  std::map<std::tuple<std::string, std::string, std::string>, int64_t> firing_since;
  std::set<std::tuple<std::string, std::string, std::string>> ever_resolved;
  ReplayArgs replay;
  replay.inputs = args.inputs;
  replay.output = "/dev/null";       // windows are not the point here
  replay.dead_letter = "/dev/null";  // nor rejected records (replay reports them)
  replay.config = args.config;
  replay.format = args.format;
  replay.rules = args.rules;
  replay.alerts_output = args.output;
  replay.on_alert = [&](const AlertEvent& a) {
    RuleSummary& s = summary[a.rule];
    const auto key = std::make_tuple(a.rule, a.campaign_id, a.channel);
    if (a.state == "pending") {
      ++s.pending;
    } else if (a.state == "firing") {
      ++s.fired;
      if (ever_resolved.count(key) > 0) ++s.refired;
      if (s.first_fired_ms < 0) s.first_fired_ms = a.window_end_ms;
      s.instances.emplace(a.campaign_id, a.channel);
      firing_since[key] = a.window_end_ms;
    } else if (a.state == "resolved") {
      ++s.resolved;
      ever_resolved.insert(key);
      if (auto it = firing_since.find(key); it != firing_since.end()) {
        s.firing_ms += a.window_end_ms - it->second;
        firing_since.erase(it);
      }
    }
  };
  const int rc = RunReplay(replay);
  if (rc != 0) return rc;

  std::printf("%-28s %7s %7s %9s %7s %7s %14s %s\n", "rule", "pending", "fired", "resolved",
              "flaps", "scopes", "firing_minutes", "still_firing");
  for (const auto& [rule, s] : summary) {
    int64_t open = 0;
    for (const auto& [key, since] : firing_since) {
      if (std::get<0>(key) == rule) ++open;
    }
    std::printf("%-28s %7lld %7lld %9lld %7lld %7zu %14s %lld\n", rule.c_str(),
                static_cast<long long>(s.pending), static_cast<long long>(s.fired),
                static_cast<long long>(s.resolved), static_cast<long long>(s.refired),
                s.instances.size(), Minutes(s.firing_ms).c_str(), static_cast<long long>(open));
  }
  if (summary.empty()) std::printf("(no rule changed state)\n");
  return 0;
}

}  // namespace promowatch
