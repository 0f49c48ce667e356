// promowatch run: the live job on a Kafka cluster (live/live_runner.h).

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "pipeline/commands/commands.h"
#include "pipeline/commands/produce_sale.h"
#include "pipeline/config/config.h"
#include "pipeline/generator/generator.h"
#include "pipeline/io/kafka.h"
#include "pipeline/live/live_runner.h"
#include "pipeline/runtime/clock.h"
#include "pipeline/runtime/signals.h"
#include "pipeline/serve/metrics.h"
#include "pipeline/state/rocksdb_state.h"

namespace promowatch {

int RunLive(const LiveArgs& args) {
  PipelineConfig config;
  if (!LoadConfigForCommand(args.config, &config)) return 2;
  if (!args.brokers.empty()) config.kafka.brokers = args.brokers;
  if (!args.group.empty()) config.kafka.group = args.group;
  if (!args.state_dir.empty()) config.state_dir = args.state_dir;
  if (!args.results_format.empty()) config.kafka.results_json = args.results_format == "json";
  if (config.state_dir.empty()) {
    spdlog::error(
        "msg=\"no state directory\" hint=\"pass --state-dir DIR (or state.dir in the "
        "config): the live pipeline keeps its state and offsets there\"");
    return 2;
  }
  InstallStopHandlers();
  // What does not need Kafka is checked first: an unreachable broker made
  // these errors wait for the metadata timeouts.
  if (auto s = RocksStateBackend::CheckUsable(config.state_dir); !s.ok()) {
    spdlog::error("msg=\"cannot open state\" error=\"{}\"", std::string(s.message()));
    return 1;
  }
  if (!args.metrics_address.empty()) config.metrics.address = args.metrics_address;
  auto metrics = LiveMetrics::Start(config.metrics);
  if (!metrics.ok()) {
    spdlog::error("msg=\"cannot serve metrics\" error=\"{}\"",
                  std::string(metrics.status().message()));
    return 2;
  }
  auto sink = KafkaSink::Create(config.kafka);
  if (!sink.ok()) {
    spdlog::error("msg=\"cannot create the producer\" error=\"{}\"",
                  std::string(sink.status().message()));
    return 2;
  }
  (*sink)->FetchOutputMetadata();
  LiveRunner runner(config, sink->get(), metrics->get());
  runner.WatchRules(args.config);
  if (auto s = runner.Open(config.state_dir); !s.ok()) {
    spdlog::error("msg=\"cannot open state\" error=\"{}\"", std::string(s.message()));
    return 1;
  }
  auto source = KafkaSource::Create(config.kafka, runner.listener());
  if (!source.ok()) {
    spdlog::error("msg=\"cannot create the consumer\" error=\"{}\"",
                  std::string(source.status().message()));
    return 2;
  }
  spdlog::info(
      "msg=\"running\" brokers={} group={} state_dir={} results={} metrics={}://{}/metrics",
      config.kafka.brokers, config.kafka.group, config.state_dir,
      config.kafka.results_json ? "json" : "protobuf", config.metrics.scheme(),
      config.metrics.address);
  return runner.Run(source->get());
}

Subcommand AddRunCommand(CLI::App& app) {
  auto args = std::make_shared<LiveArgs>();
  auto* cmd = app.add_subcommand(
      "run",
      "The live pipeline: consume clickstream/orders/spend from Kafka, publish final "
      "windows to promowatch-metrics, rejected records to promowatch-dlq");
  cmd->add_option("--config,-c", args->config, "YAML config (see deploy/promowatch.yaml)");
  cmd->add_option("--brokers", args->brokers, "Kafka bootstrap servers (overrides kafka.brokers)");
  cmd->add_option("--group", args->group, "Consumer group (overrides kafka.group)");
  cmd->add_option("--state-dir", args->state_dir,
                  "RocksDB directory for state and offsets (overrides state.dir; required)");
  cmd->add_option("--metrics-address", args->metrics_address,
                  "HOST:PORT serving /metrics (overrides metrics.address; default 127.0.0.1:9464)");
  cmd->add_option("--results-format", args->results_format,
                  "protobuf (default) or json on the results topic")
      ->check(CLI::IsMember(Names(kResultsFormatNames)));
  return {cmd, [args] { return RunLive(*args); }};
}

}  // namespace promowatch
