#pragma once
// The plan file (plan.file in the config): each planned campaign's period
// and targets (operators/plan.h). YAML, or CSV with the header
// campaign,start,end,time_zone,kpi,channel,target,within (one target a
// row) for plans kept in a spreadsheet. README "The plan" has an example.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "operators/plan.h"
#include "pipeline/config/config.h"

namespace promowatch {

// `file` names the errors (file:line) and picks the format (.csv: CSV).
absl::StatusOr<Plan> ParsePlan(std::string_view text, const std::string& file);
absl::StatusOr<Plan> LoadPlan(const std::string& path);
// The plan into a config: its periods (windows), reactivation cohorts
// (profiles), target rules appended to alert_rules, config->plan. Fails,
// naming the plan's line, on a target that needs profiles when they are off.
absl::Status ApplyPlan(Plan plan, PipelineConfig* config);

}  // namespace promowatch
