// What commands share: --config, the input flags of replay and backtest;
// and check-config, which is only a config loaded.

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "pipeline/commands/commands.h"
#include "pipeline/config/config.h"

namespace promowatch {

bool LoadConfigForCommand(const std::string& path, PipelineConfig* config) {
  if (path.empty()) return true;
  auto loaded = LoadConfig(path);
  if (!loaded.ok()) {
    spdlog::error("msg=\"bad config\" error=\"{}\"", std::string(loaded.status().message()));
    return false;
  }
  *config = *loaded;
  for (const std::string& w : config->warnings) spdlog::warn("msg=\"config\" warning=\"{}\"", w);
  return true;
}

void InputFlags::Add(CLI::App* cmd, const char* types_help) {
  std::vector<std::string> formats = {"auto"};
  for (const std::string& f : Names(kWireFormatNames)) formats.push_back(f);
  cmd->add_option("--format", format, "Input format: auto, json or binary")
      ->check(CLI::IsMember(formats))
      ->capture_default_str();
  cmd->add_option("--input-type", types, types_help)->check(CLI::IsMember(Names(kValueTypeNames)));
}

std::optional<WireFormat> InputFlags::Format() const { return FromName(kWireFormatNames, format); }

std::vector<ValueType> InputFlags::Types() const {
  std::vector<ValueType> out;
  for (const std::string& t : types) out.push_back(*ParseValueType(t));
  return out;
}

Subcommand AddCheckConfigCommand(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto* cmd =
      app.add_subcommand("check-config",
                         "Load a config file (and its alerts.rules_file) as `run` would and report "
                         "the first error with its file and line; exit 0 when valid");
  cmd->add_option("--config,-c", *path, "YAML config to check")->required();
  return {
      cmd, [path] {
        auto loaded = LoadConfig(*path);
        if (!loaded.ok()) {
          spdlog::error("msg=\"bad config\" error=\"{}\"", std::string(loaded.status().message()));
          return 2;
        }
        for (const std::string& w : loaded->warnings)
          spdlog::warn("msg=\"config\" warning=\"{}\"", w);
        std::printf("%s: valid (%zu alert rules%s%s)\n", path->c_str(), loaded->alert_rules.size(),
                    loaded->alert_rules_file.empty() ? "" : " from ",
                    loaded->alert_rules_file.c_str());
        return 0;
      }};
}

}  // namespace promowatch
