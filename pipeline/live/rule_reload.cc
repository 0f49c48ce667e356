#include "pipeline/live/rule_reload.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "operators/keys.h"

namespace promowatch {
namespace {

// Modification time of a file (0 when it cannot be read).
int64_t MtimeNs(const std::string& path) {
  std::error_code ec;
  const auto t = std::filesystem::last_write_time(path, ec);
  return ec ? 0 : static_cast<int64_t>(t.time_since_epoch().count());
}

}  // namespace

void RuleWatcher::Watch(std::string config_path, std::string rules_file, std::string plan_file,
                        std::vector<CampaignPeriod> periods) {
  config_path_ = std::move(config_path);
  rules_file_ = std::move(rules_file);
  plan_file_ = std::move(plan_file);
  periods_ = std::move(periods);
  mtime_ = Mtime();
}

int64_t RuleWatcher::Mtime() const {
  return MtimeNs(config_path_) ^ (rules_file_.empty() ? 0 : MtimeNs(rules_file_)) ^
         (plan_file_.empty() ? 0 : MtimeNs(plan_file_) * 3);
}

bool RuleWatcher::Changed() const { return watching() && Mtime() != mtime_; }

absl::StatusOr<RuleWatcher::Rules> RuleWatcher::Load(const std::vector<int>& window_minutes) {
  if (!watching()) {
    return absl::FailedPreconditionError(
        "nothing to reload: start with --config FILE to reload its alert rules");
  }
  mtime_ = Mtime();  // (a rejected file is not read again until it changes)
  auto loaded = LoadConfig(config_path_);
  if (!loaded.ok()) return loaded.status();
  for (const AlertRule& rule : loaded->alert_rules) {
    if (!IsComputedWindow(rule.window, window_minutes)) {
      return absl::FailedPreconditionError(
          fmt::format("rule '{}' needs window {}, which this process does not compute: "
                      "windows.sizes changes need a restart",
                      rule.name, rule.window));
    }
  }
  // The plan's targets reload; its periods are the windows' state.
  const auto& periods = loaded->operators.periods;
  const bool same = periods.size() == periods_.size() &&
                    std::equal(periods.begin(), periods.end(), periods_.begin(),
                               [](const CampaignPeriod& a, const CampaignPeriod& b) {
                                 return a.campaign == b.campaign && a.start_ms == b.start_ms &&
                                        a.end_ms == b.end_ms && a.tail_ms == b.tail_ms;
                               });
  if (!same) {
    return absl::FailedPreconditionError(
        "the plan's campaigns or periods changed: that needs a restart (targets reload)");
  }
  rules_file_ = loaded->alert_rules_file;
  plan_file_ = loaded->plan_file;
  mtime_ = Mtime();
  return Rules{std::move(loaded->alert_rules), loaded->alert_rules_file, loaded->plan};
}

bool RuleWatcher::Reload(const char* why, const std::vector<int>& window_minutes,
                         AlertsProbe* probe, const std::function<size_t(Rules&)>& apply) {
  if (!watching()) {
    spdlog::warn(
        "msg=\"nothing to reload\" reason={} hint=\"start with --config FILE to reload its alert "
        "rules\"",
        why);
    return false;
  }
  auto loaded = Load(window_minutes);
  if (!loaded.ok()) {
    probe->RulesReloaded(false);
    spdlog::error("msg=\"alert rules rejected, the running rules stay\" reason={} error=\"{}\"",
                  why, std::string(loaded.status().message()));
    return false;
  }
  const size_t rules = loaded->rules.size();
  const size_t firing = apply(*loaded);
  probe->RulesReloaded(true);
  spdlog::info("msg=\"alert rules reloaded\" reason={} rules={} firing={}", why, rules, firing);
  return true;
}

}  // namespace promowatch
