// The plan file (plan.file): YAML, or the same as CSV (a spreadsheet's
// export), into operators/plan.h's Plan, every mistake named by file:line.

#include "pipeline/config/plan_file.h"

#include <fmt/format.h>

#include <charconv>
#include <ctime>
#include <sstream>

#include "pipeline/config/parse.h"

namespace promowatch {
namespace {

using config_internal::ParseYaml;
using config_internal::Reader;

absl::Status LineError(std::string_view file, int line, std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("{}:{}: {}", file, line, what));
}

// A day ("2026-11-11": midnight in the plan's zone; as an end, the
// following midnight: the day is in the period) or a time with its offset.
absl::StatusOr<int64_t> ParsePlanTime(std::string_view text, int64_t utc_offset_ms, bool end) {
  if (text.size() == 10 && text[4] == '-' && text[7] == '-') {
    int y = 0, m = 0, d = 0;
    const char* s = text.data();
    if (std::from_chars(s, s + 4, y).ec == std::errc() &&
        std::from_chars(s + 5, s + 7, m).ec == std::errc() &&
        std::from_chars(s + 8, s + 10, d).ec == std::errc() && m >= 1 && m <= 12 && d >= 1 &&
        d <= 31) {
      std::tm tm{};
      tm.tm_year = y - 1900;
      tm.tm_mon = m - 1;
      tm.tm_mday = d;
      return static_cast<int64_t>(timegm(&tm)) * 1000 - utc_offset_ms + (end ? 86'400'000 : 0);
    }
  }
  auto t = ParseTimestamp(text);
  if (!t.ok()) {
    return absl::InvalidArgumentError(fmt::format(
        "'{}' is neither a day (2026-11-11) nor a time (2026-11-11T20:00:00+08:00)", text));
  }
  return *t;
}

// A target's value: a number; shares and rates between 0 and 1.
absl::Status CheckTargetValue(const KpiField& kpi, double v, std::string_view file, int line) {
  if (!(v >= 0)) return LineError(file, line, fmt::format("target {} must be >= 0", kpi.name));
  const bool share = kpi.name == "new_customer_share" || kpi.name == "reactivation_rate" ||
                     kpi.name == "cvr" || kpi.name == "ctr";
  if (share && v > 1) {
    return LineError(file, line,
                     fmt::format("{} is a share: write 0.4 for 40% (got {})", kpi.name, v));
  }
  return absl::OkStatus();
}

absl::StatusOr<PlanTarget> MakeTarget(std::string_view kpi_name, std::string channel, double v,
                                      std::string_view file, int line) {
  const KpiField* kpi = FindKpi(kpi_name);
  if (kpi == nullptr) {
    std::string known;
    for (const KpiField& k : kKpis) known += (known.empty() ? "" : ", ") + std::string(k.name);
    return LineError(file, line, fmt::format("unknown target '{}' (known: {})", kpi_name, known));
  }
  if (channel.empty() ? !kpi->per_campaign : !kpi->per_channel) {
    return LineError(file, line,
                     fmt::format("{} is set {}", kpi->name,
                                 channel.empty() ? "per channel only" : "for a campaign only"));
  }
  PW_RETURN_IF_ERROR(CheckTargetValue(*kpi, v, file, line));
  return PlanTarget{kpi, std::move(channel), v, line};
}

// What every campaign must satisfy, whichever the format.
absl::Status CheckCampaign(const CampaignPlan& c, const Plan& plan, std::string_view file) {
  if (c.campaign.empty() || c.campaign == "*") {
    return LineError(file, c.line, "a campaign needs its campaign id (not empty, not \"*\")");
  }
  if (plan.Find(c.campaign) != nullptr) {
    return LineError(file, c.line,
                     fmt::format("campaign '{}' is planned twice (line {})", c.campaign,
                                 plan.Find(c.campaign)->line));
  }
  if (c.end_ms <= c.start_ms) {
    return LineError(file, c.line, fmt::format("campaign '{}' ends before it starts", c.campaign));
  }
  if (c.start_ms % 60'000 != 0 || c.end_ms % 60'000 != 0) {
    return LineError(file, c.line, "start and end must be whole minutes (windows end on minutes)");
  }
  const bool rate = c.Target("reactivation_rate", "") != nullptr;
  if (rate != (c.reactivation_within_ms > 0)) {
    return LineError(file, c.line,
                     rate ? "reactivation_rate needs reactivation_within (30d: paid within 30 days "
                            "of being reached)"
                          : "reactivation_within without a reactivation_rate target");
  }
  return absl::OkStatus();
}

absl::Status ParseJudge(const Reader& r, const YAML::Node& n, PlanJudging* j) {
  PW_RETURN_IF_ERROR(
      r.CheckKeys(n, "judge", {"below_target", "min_volume", "min_elapsed", "for", "severity"}));
  if (auto v = n["below_target"]) PW_RETURN_IF_ERROR(r.Number<double>(v, 0.0, &j->below_target));
  if (j->below_target >= 1) return r.Error(n["below_target"], "below_target must be under 1");
  if (auto v = n["min_volume"]) PW_RETURN_IF_ERROR(r.Number<int64_t>(v, 0, &j->min_volume));
  if (auto v = n["min_elapsed"]) PW_RETURN_IF_ERROR(r.Duration(v, &j->min_elapsed_ms));
  if (auto v = n["for"]) PW_RETURN_IF_ERROR(r.Duration(v, &j->for_ms));
  if (auto v = n["severity"]) {
    if (!v.IsScalar() || v.Scalar().empty()) return r.Error(v, "severity must be a name");
    j->severity = v.Scalar();
  }
  return absl::OkStatus();
}

absl::Status ParseYamlPlan(std::string_view text, const std::string& file, Plan* plan) {
  Reader r(file);
  auto parsed = ParseYaml(text, file);
  if (!parsed.ok()) return parsed.status();
  const YAML::Node root = *parsed;
  if (!root.IsMap() || !root["campaigns"]) {
    return LineError(file, 1, "a plan is a map with a 'campaigns' list (README, The plan)");
  }
  PW_RETURN_IF_ERROR(r.CheckKeys(root, "top level", {"campaigns", "judge"}));
  if (auto j = root["judge"]) PW_RETURN_IF_ERROR(ParseJudge(r, j, &plan->judging));
  if (!root["campaigns"].IsSequence())
    return r.Error(root["campaigns"], "campaigns must be a list");
  for (const YAML::Node& n : root["campaigns"]) {
    PW_RETURN_IF_ERROR(r.CheckKeys(
        n, "campaigns[]",
        {"campaign", "start", "end", "time_zone", "targets", "channels", "reactivation_within"}));
    CampaignPlan c;
    c.line = n.Mark().line + 1;
    for (const char* key : {"campaign", "start", "end"}) {
      if (!n[key] || !n[key].IsScalar()) {
        return r.Error(n, fmt::format("a planned campaign needs campaign, start and end ({} is "
                                      "missing)",
                                      key));
      }
    }
    c.campaign = n["campaign"].Scalar();
    if (auto tz = n["time_zone"]) {
      auto off = ParseUtcOffset(tz.IsScalar() ? tz.Scalar() : "");
      if (!off.ok()) return r.Error(tz, std::string(off.status().message()));
      c.utc_offset_ms = *off;
    }
    for (const bool end : {false, true}) {
      const YAML::Node t = n[end ? "end" : "start"];
      auto at = ParsePlanTime(t.Scalar(), c.utc_offset_ms, end);
      if (!at.ok()) return r.Error(t, std::string(at.status().message()));
      (end ? c.end_ms : c.start_ms) = *at;
    }
    if (auto w = n["reactivation_within"]) {
      PW_RETURN_IF_ERROR(r.Duration(w, &c.reactivation_within_ms));
    }
    const auto add_targets = [&](const YAML::Node& targets, const std::string& channel) {
      if (!targets.IsMap()) return r.Error(targets, "targets are a map like {gmv: 5000000}");
      for (const auto& kv : targets) {
        double v = 0;
        PW_RETURN_IF_ERROR(r.Number<double>(kv.second, -1e300, &v));
        auto t = MakeTarget(kv.first.Scalar(), channel, v, file, kv.first.Mark().line + 1);
        if (!t.ok()) return t.status();
        c.targets.push_back(std::move(*t));
      }
      return absl::OkStatus();
    };
    if (auto t = n["targets"]) PW_RETURN_IF_ERROR(add_targets(t, ""));
    if (auto ch = n["channels"]) {
      if (!ch.IsMap()) return r.Error(ch, "channels are a map like {douyin: {roi: 1.0}}");
      for (const auto& kv : ch) {
        const std::string channel = kv.first.Scalar();
        if (channel.empty() || channel == "*") return r.Error(kv.first, "a channel needs a name");
        PW_RETURN_IF_ERROR(add_targets(kv.second, channel));
      }
    }
    PW_RETURN_IF_ERROR(CheckCampaign(c, *plan, file));
    plan->campaigns.push_back(std::move(c));
  }
  return absl::OkStatus();
}

// One CSV line's cells (quotes: "a, b" is one cell; "" is a quote).
std::vector<std::string> CsvCells(std::string_view line) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char ch = line[i];
    if (quoted) {
      if (ch == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cells.back() += '"';
        ++i;
      } else if (ch == '"') {
        quoted = false;
      } else {
        cells.back() += ch;
      }
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == ',') {
      cells.emplace_back();
    } else if (ch != '\r') {
      cells.back() += ch;
    }
  }
  return cells;
}

constexpr const char* kCsvColumns[] = {"campaign", "start",   "end",    "time_zone",
                                       "kpi",      "channel", "target", "within"};

absl::Status ParseCsvPlan(std::string_view text, const std::string& file, Plan* plan) {
  std::istringstream in{std::string(text)};
  std::string line;
  int n = 0;
  std::vector<std::string> header;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::vector<std::string> cells = CsvCells(line);
    if (header.empty()) {
      header = cells;
      const std::vector<std::string> want(std::begin(kCsvColumns), std::end(kCsvColumns));
      if (header != want) {
        return LineError(file, n,
                         fmt::format("a plan CSV starts with the header {}", fmt::join(want, ",")));
      }
      continue;
    }
    if (cells.size() != header.size()) {
      return LineError(file, n,
                       fmt::format("{} cells, the header has {}", cells.size(), header.size()));
    }
    const std::string& campaign = cells[0];
    CampaignPlan* c = nullptr;
    for (CampaignPlan& p : plan->campaigns) {
      if (p.campaign == campaign) c = &p;
    }
    const bool first = c == nullptr;
    CampaignPlan fresh;
    if (first) {
      fresh.campaign = campaign;
      fresh.line = n;
      c = &fresh;
    }
    // A campaign's period: on its first row; on later rows empty or the same.
    int64_t offset = c->utc_offset_ms;
    if (!cells[3].empty()) {
      auto off = ParseUtcOffset(cells[3]);
      if (!off.ok()) return LineError(file, n, std::string(off.status().message()));
      offset = *off;
    }
    for (const bool end : {false, true}) {
      const std::string& cell = cells[end ? 2 : 1];
      if (cell.empty()) {
        if (first) return LineError(file, n, "a campaign's first row needs start and end");
        continue;
      }
      auto at = ParsePlanTime(cell, offset, end);
      if (!at.ok()) return LineError(file, n, std::string(at.status().message()));
      int64_t& slot = end ? c->end_ms : c->start_ms;
      if (!first && slot != *at) {
        return LineError(file, n,
                         fmt::format("campaign '{}' has another {} on line {}", campaign,
                                     end ? "end" : "start", c->line));
      }
      slot = *at;
    }
    c->utc_offset_ms = offset;
    double v = 0;
    auto [ptr, ec] = std::from_chars(cells[6].data(), cells[6].data() + cells[6].size(), v);
    if (ec != std::errc() || ptr != cells[6].data() + cells[6].size()) {
      return LineError(file, n, fmt::format("target '{}' is not a number", cells[6]));
    }
    auto t = MakeTarget(cells[4], cells[5], v, file, n);
    if (!t.ok()) return t.status();
    if (!cells[7].empty()) {
      auto within = ParseDuration(cells[7]);
      if (!within.ok()) return LineError(file, n, std::string(within.status().message()));
      c->reactivation_within_ms = *within;
    }
    c->targets.push_back(std::move(*t));
    if (first) plan->campaigns.push_back(std::move(fresh));
  }
  if (header.empty()) return LineError(file, 1, "an empty plan: write its header and rows");
  // Checked once whole (a later row may bring reactivation_within).
  Plan checked;
  checked.judging = plan->judging;
  for (CampaignPlan& c : plan->campaigns) {
    PW_RETURN_IF_ERROR(CheckCampaign(c, checked, file));
    checked.campaigns.push_back(std::move(c));
  }
  plan->campaigns = std::move(checked.campaigns);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Plan> ParsePlan(std::string_view text, const std::string& file) {
  Plan plan;
  plan.file = file;
  const bool csv = file.size() > 4 && file.compare(file.size() - 4, 4, ".csv") == 0;
  try {
    PW_RETURN_IF_ERROR(csv ? ParseCsvPlan(text, file, &plan) : ParseYamlPlan(text, file, &plan));
  } catch (const YAML::Exception& e) {  // (as ParseConfig)
    return absl::InvalidArgumentError(fmt::format("{}:{}: {}", file, e.mark.line + 1, e.msg));
  }
  if (plan.campaigns.empty()) return LineError(file, 1, "the plan has no campaign");
  return plan;
}

absl::StatusOr<Plan> LoadPlan(const std::string& path) {
  auto text = config_internal::ReadWholeFile(path, "plan file", "plan.file");
  if (!text.ok()) return text.status();
  return ParsePlan(*text, path);
}

absl::Status ApplyPlan(Plan plan, PipelineConfig* config) {
  if (plan.NeedsProfiles() && !config->profiles_enabled) {
    for (const CampaignPlan& c : plan.campaigns) {
      for (const PlanTarget& t : c.targets) {
        if (!t.kpi->profiles) continue;
        return LineError(plan.file, t.line,
                         fmt::format("target {} needs user profiles: set profiles.enabled: true "
                                     "in the config",
                                     t.kpi->name));
      }
    }
  }
  config->operators.periods.clear();
  config->tag_rules.cohorts.clear();
  for (const CampaignPlan& c : plan.campaigns) {
    config->operators.periods.push_back({c.campaign, c.start_ms, c.end_ms, c.tail_ms()});
    if (c.reactivation_within_ms > 0) {
      config->tag_rules.cohorts.push_back(
          {c.campaign, c.start_ms, c.end_ms, c.reactivation_within_ms});
    }
  }
  auto shared = std::make_shared<const Plan>(std::move(plan));
  for (AlertRule& rule : PlanRules(shared)) config->alert_rules.push_back(std::move(rule));
  config->plan = std::move(shared);
  return absl::OkStatus();
}

}  // namespace promowatch
