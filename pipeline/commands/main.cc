// promowatch: one binary, one subcommand per job. Each subcommand's file in
// pipeline/commands/ registers its flags and runs it (commands.h).

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "pipeline/commands/commands.h"

namespace {

// Logs are logfmt on stderr: ts=... level=... msg="..." key=value.
void SetUpLogging() {
  auto logger = spdlog::stderr_logger_mt("promowatch");
  logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
}

}  // namespace

int main(int argc, char** argv) {
  SetUpLogging();
  CLI::App app{
      "promowatch: live monitoring of e-commerce promotions (CTR, CVR, GMV windows, "
      "alerts)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "promowatch " PROMOWATCH_VERSION);
  // In the order --help lists them.
  const promowatch::Subcommand commands[] = {
      promowatch::AddReplayCommand(app), promowatch::AddBacktestCommand(app),
      promowatch::AddGenCommand(app),    promowatch::AddCheckConfigCommand(app),
      promowatch::AddRunCommand(app),    promowatch::AddMockKafkaCommand(app),
      promowatch::AddDemoCommand(app),   promowatch::AddReportCommand(app),
  };
  CLI11_PARSE(app, argc, argv);
  for (const promowatch::Subcommand& command : commands) {
    if (command.app->parsed()) return command.run();
  }
  return 0;
}
