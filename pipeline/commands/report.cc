// promowatch report: the daily sheet of a plan's campaigns and their KPIs
// against target, from the results and alerts replay wrote (JSON lines),
// as CSV (sqlite's .import reads it) and Markdown.

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "operators/alert_engine.h"
#include "operators/encoding.h"
#include "operators/plan_rules.h"
#include "operators/time_util.h"
#include "pipeline/commands/commands.h"
#include "pipeline/config/plan_file.h"
#include "pipeline/io/topic_reader.h"

namespace promowatch {
namespace {

struct ReportArgs {
  std::string plan;
  std::string results;
  std::string alerts;
  std::string brokers;  // else files
  std::string results_topic = "promowatch-metrics";
  std::string alerts_topic = "promowatch-alerts";
  std::string output_dir;
};

// "2026-11-11" of a time, in a zone `offset_ms` ahead of UTC.
std::string Date(int64_t t, int64_t offset_ms) {
  const std::time_t s = static_cast<std::time_t>(FloorDiv(t + offset_ms, 1000));
  std::tm tm{};
  gmtime_r(&s, &tm);
  return fmt::format("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}
std::string Hhmm(int64_t t, int64_t offset_ms) {
  const int64_t minute = FloorDiv(t + offset_ms, 60'000) % (24 * 60);
  return fmt::format("{:02}:{:02}", minute / 60, minute % 60);
}

std::string Csv(const std::string& cell) {
  if (cell.find_first_of(",\"\n") == std::string::npos) return cell;
  std::string quoted = "\"";
  for (char c : cell) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}
std::string Money(int64_t cents) { return fmt::format("{:.2f}", static_cast<double>(cents) / 100); }

struct Day {
  int64_t orders = 0, gmv_cents = 0, spend_cents = 0;
  std::vector<std::string> notes;
};
using DayKey = std::tuple<std::string, std::string, std::string>;  // date, campaign, channel

// A value of the results or alerts topic as the JSON replay writes: JSON
// as it is, protobuf (WindowResult or Alert) through the same encoders.
nlohmann::json FromTopic(std::string_view value, bool alerts) {
  if (!value.empty() && value.front() == '{') return nlohmann::json::parse(value, nullptr, false);
  std::string json;
  if (alerts) {
    v1::Alert a;
    if (!a.ParseFromArray(value.data(), static_cast<int>(value.size()))) return {};
    google::protobuf::util::JsonPrintOptions o;
    o.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(a, &json, o);
  } else {
    v1::WindowResult r;
    if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) return {};
    AppendWindowResultJson(r, &json);
  }
  return nlohmann::json::parse(json, nullptr, false);
}

bool ReadLines(const std::string& path, const std::function<void(const nlohmann::json&)>& take) {
  std::ifstream in(path);
  if (!in) {
    spdlog::error("msg=\"cannot read\" file={} hint=\"give replay's --output / --alerts-output\"",
                  path);
    return false;
  }
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      spdlog::error("msg=\"not a JSON object\" file={} line={}", path, n);
      return false;
    }
    take(j);
  }
  return true;
}

// From Kafka (`brokers`: the topic to its end) or a file of JSON lines.
bool ReadFrom(const ReportArgs& args, bool alerts,
              const std::function<void(const nlohmann::json&)>& take) {
  if (args.brokers.empty()) {
    const std::string& path = alerts ? args.alerts : args.results;
    return path.empty() || ReadLines(path, take);
  }
  KafkaOptions kafka;
  kafka.brokers = args.brokers;
  const std::string& topic = alerts ? args.alerts_topic : args.results_topic;
  int64_t undecodable = 0;
  auto read = ReadTopicToEnd(kafka, topic, 60'000, [&](std::string_view value) {
    const nlohmann::json j = FromTopic(value, alerts);
    if (j.is_object()) {
      take(j);
    } else {
      ++undecodable;
    }
  });
  if (!read.ok()) {
    spdlog::error("msg=\"cannot read the topic\" topic={} error=\"{}\"", topic,
                  std::string(read.status().message()));
    return false;
  }
  spdlog::info("msg=\"topic read\" topic={} records={} undecodable={}", topic, *read, undecodable);
  return true;
}

using Periods = std::map<std::pair<std::string, std::string>, nlohmann::json>;

// daily.csv and daily.md: a row per day, campaign and channel.
void WriteDailySheet(const std::string& dir, const std::map<DayKey, Day>& days) {
  std::ofstream csv(dir + "/daily.csv"), md(dir + "/daily.md");
  csv << "date,campaign,channel,orders,gmv,aov,cost,roi,notes\n";
  md << "| date | campaign | channel | orders | GMV | AOV | cost | ROI | notes |\n"
     << "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n";
  for (const auto& [key, d] : days) {
    const auto& [date, campaign, channel] = key;
    const std::string aov = d.orders > 0 ? Money(d.gmv_cents / d.orders) : "";
    const std::string roi = d.spend_cents > 0
                                ? fmt::format("{:.4f}", static_cast<double>(d.gmv_cents) /
                                                            static_cast<double>(d.spend_cents))
                                : "";
    std::string notes;
    for (const std::string& n : d.notes) notes += (notes.empty() ? "" : "; ") + n;
    csv << fmt::format("{},{},{},{},{},{},{},{},{}\n", date, Csv(campaign), Csv(channel), d.orders,
                       Money(d.gmv_cents), aov, Money(d.spend_cents), roi, Csv(notes));
    md << fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", date, campaign, channel,
                      d.orders, Money(d.gmv_cents), aov, Money(d.spend_cents), roi, notes);
  }
}

// kpis.csv and kpis.md: each target against the latest period row of its key.
void WriteKpis(const std::string& dir, const Plan& plan, const Periods& periods) {
  std::ofstream kcsv(dir + "/kpis.csv"), kmd(dir + "/kpis.md");
  kcsv << "campaign,channel,kpi,target,actual,projected,status,as_of\n";
  kmd << "| campaign | channel | KPI | target | actual | projected | status | as of |\n"
      << "| --- | --- | --- | ---: | ---: | ---: | --- | --- |\n";
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  for (const CampaignPlan& c : plan.campaigns) {
    std::map<std::string, v1::WindowResult> rows;
    for (const auto& [key, j] : periods) {
      if (key.first != c.campaign) continue;
      (void)google::protobuf::util::JsonStringToMessage(j.dump(), &rows[key.second], options);
    }
    const auto latest = [&](const std::string& channel) -> const v1::WindowResult* {
      auto it = rows.find(channel);
      return it == rows.end() ? nullptr : &it->second;
    };
    for (const KpiValue& k : CampaignKpis(c, latest)) {
      const std::string channel = k.target->channel.empty() ? "*" : k.target->channel;
      const auto number = [](std::optional<double> v) {
        return v ? fmt::format("{:.6g}", *v) : std::string();
      };
      const std::string as_of = k.as_of_ms == 0
                                    ? ""
                                    : fmt::format("{} {}", Date(k.as_of_ms - 1, c.utc_offset_ms),
                                                  Hhmm(k.as_of_ms, c.utc_offset_ms));
      kcsv << fmt::format("{},{},{},{:.6g},{},{},{},{}\n", Csv(c.campaign), Csv(channel),
                          k.target->kpi->name, k.target->value, number(k.actual),
                          number(k.projected), k.status, as_of);
      kmd << fmt::format("| {} | {} | {} | {:.6g} | {} | {} | {} | {} |\n", c.campaign, channel,
                         k.target->kpi->name, k.target->value, number(k.actual),
                         number(k.projected), k.status, as_of);
    }
  }
}

int RunReport(const ReportArgs& args) {
  auto plan = LoadPlan(args.plan);
  if (!plan.ok()) {
    spdlog::error("msg=\"bad plan\" error=\"{}\"", std::string(plan.status().message()));
    return 2;
  }
  // The latest revision of every 1m row of a planned campaign in its period,
  // and the latest period row per key.
  std::map<std::tuple<std::string, std::string, int64_t>, std::pair<int32_t, nlohmann::json>>
      minutes;
  Periods periods;
  const bool read = ReadFrom(args, false, [&](const nlohmann::json& j) {
    if (j.contains("segment")) return;
    const std::string campaign = j.value("campaign_id", "");
    const CampaignPlan* c = plan->Find(campaign);
    if (c == nullptr) return;
    const std::string window = j.value("window", "");
    const std::string channel = j.value("channel", "");
    const int64_t start = j.value("window_start_ms", int64_t{0});
    const int32_t revision = j.value("revision", 0);
    if (window == "1m" && start >= c->start_ms && start < c->end_ms) {
      auto& slot = minutes[{campaign, channel, start}];
      if (slot.second.is_null() || revision >= slot.first) slot = {revision, j};
    } else if (window == kPeriodWindow) {
      nlohmann::json& latest = periods[{campaign, channel}];
      const auto end = j.value("window_end_ms", int64_t{0});
      if (latest.is_null() || end > latest.value("window_end_ms", int64_t{0}) ||
          (end == latest.value("window_end_ms", int64_t{0}) &&
           revision >= latest.value("revision", 0))) {
        latest = j;
      }
    }
  });
  if (!read) return 1;
  std::map<DayKey, Day> days;
  for (const auto& [key, row] : minutes) {
    const auto& [campaign, channel, start] = key;
    Day& d = days[{Date(start, plan->Find(campaign)->utc_offset_ms), campaign, channel}];
    d.orders += row.second.value("paid_orders", int64_t{0});
    d.gmv_cents += row.second.value("gmv_cents", int64_t{0});
    d.spend_cents += row.second.value("spend_cents", int64_t{0});
  }
  for (auto it = days.begin(); it != days.end();) {  // a sheet of orders and cost
    it = it->second.orders == 0 && it->second.spend_cents == 0 ? days.erase(it) : std::next(it);
  }
  if (!ReadFrom(args, true, [&](const nlohmann::json& j) {
        if (j.value("state", "") != kAlertFiring) return;
        const CampaignPlan* c = plan->Find(j.value("campaign_id", ""));
        if (c == nullptr) return;
        const int64_t t = j.value("event_time_ms", int64_t{0});
        days[{Date(t, c->utc_offset_ms), c->campaign, j.value("channel", "")}].notes.push_back(
            j.value("rule", "") + " " + Hhmm(t, c->utc_offset_ms));
      })) {
    return 1;
  }
  std::filesystem::create_directories(args.output_dir);
  WriteDailySheet(args.output_dir, days);
  WriteKpis(args.output_dir, *plan, periods);
  spdlog::info("msg=\"report written\" dir={} daily_rows={} targets={}", args.output_dir,
               days.size(), [&] {
                 size_t n = 0;
                 for (const CampaignPlan& c : plan->campaigns) n += c.targets.size();
                 return n;
               }());
  return 0;
}

}  // namespace

Subcommand AddReportCommand(CLI::App& app) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "report",
      "Write a plan's daily sheet (date, campaign, channel, orders, GMV, AOV, cost, ROI, the "
      "alerts fired as notes) and its KPIs against target, as CSV and Markdown, from replay's "
      "results and alerts");
  cmd->add_option("--plan", args->plan, "The plan file (YAML or .csv), as plan.file")
      ->required()
      ->check(CLI::ExistingFile);
  auto* results =
      cmd->add_option("--results", args->results, "Window results, JSON lines (replay --output)")
          ->check(CLI::ExistingFile);
  cmd->add_option("--alerts", args->alerts, "Alert transitions, JSON lines (--alerts-output)")
      ->check(CLI::ExistingFile);
  auto* brokers = cmd->add_option("--brokers", args->brokers,
                                  "Read the live job's results and alerts topics from Kafka "
                                  "(to their end) instead of files")
                      ->excludes(results);
  results->excludes(brokers);
  cmd->add_option("--results-topic", args->results_topic, "With --brokers (kafka.topics.results)")
      ->capture_default_str();
  cmd->add_option("--alerts-topic", args->alerts_topic, "With --brokers (kafka.topics.alerts)")
      ->capture_default_str();
  cmd->callback([args] {
    if (args->brokers.empty() && args->results.empty())
      throw CLI::ValidationError("--results", "give --results FILE or --brokers HOST:PORT");
  });
  cmd->add_option("--output-dir", args->output_dir,
                  "Where daily.csv, daily.md, kpis.csv and kpis.md go")
      ->required();
  return {cmd, [args] { return RunReport(*args); }};
}

}  // namespace promowatch
