#pragma once
// Reloading the alert rules while running: on SIGHUP, or when the config
// file (or its alerts.rules_file) changes. A file that does not load, or
// asks for what needs a restart (a window size this process does not
// compute), is rejected whole and the running rules stay.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/config/config.h"
#include "pipeline/serve/alerts_probe.h"

namespace promowatch {

class RuleWatcher {
 public:
  struct Rules {
    std::vector<AlertRule> rules;
    std::string rules_file;            // where they came from (alerts.rules_file), if not inline
    std::shared_ptr<const Plan> plan;  // the plan's new targets (its rules are in `rules`)
  };

  // Watches nothing until Watch.
  RuleWatcher() = default;
  // `config_path`: the config whose rules (inline or its alerts.rules_file,
  // `rules_file`) are reloaded.
  // `plan_file` and `periods`: the plan's (its targets reload; a change of
  // its campaigns' periods is rejected: a restart).
  void Watch(std::string config_path, std::string rules_file, std::string plan_file = "",
             std::vector<CampaignPeriod> periods = {});
  bool watching() const { return !config_path_.empty(); }
  // Whether either file changed since Watch or the last Load.
  bool Changed() const;
  // Reads the rules again; `window_minutes` are the window sizes this
  // process computes.
  absl::StatusOr<Rules> Load(const std::vector<int>& window_minutes);
  // A reload asked for (`why`: SIGHUP, a changed file): Load, then `apply`
  // the rules, which returns how many alerts fire under them; logged and
  // told to `probe` either way. False: nothing watched, or the rules did
  // not load and the running ones stay.
  bool Reload(const char* why, const std::vector<int>& window_minutes, AlertsProbe* probe,
              const std::function<size_t(Rules&)>& apply);

 private:
  int64_t Mtime() const;

  std::string config_path_;
  std::string rules_file_;
  std::string plan_file_;
  std::vector<CampaignPeriod> periods_;
  int64_t mtime_ = 0;
};

}  // namespace promowatch
