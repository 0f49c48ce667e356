#pragma once
// The subcommands of the promowatch binary, each a thin function over the
// runtime. Each command's file registers its flags (Add*Command), which fill
// its struct below; main.cc only lists the commands.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/decode/decode.h"
#include "pipeline/decode/partitioner.h"
#include "pipeline/generator/generator.h"

namespace CLI {
class App;
}  // namespace CLI

namespace promowatch {

struct PipelineConfig;
struct AlertEvent;

// A subcommand registered on the command line with its flags; `run` runs it
// once the command line has been parsed and names it.
struct Subcommand {
  CLI::App* app;
  std::function<int()> run;
};
Subcommand AddReplayCommand(CLI::App& app);
Subcommand AddBacktestCommand(CLI::App& app);
Subcommand AddGenCommand(CLI::App& app);
Subcommand AddCheckConfigCommand(CLI::App& app);
Subcommand AddRunCommand(CLI::App& app);
Subcommand AddMockKafkaCommand(CLI::App& app);
Subcommand AddDemoCommand(CLI::App& app);
Subcommand AddReportCommand(CLI::App& app);

// Flags that replay and backtest share: --format (auto, json, binary) and
// --input-type (event, click, order, spend), parsed after the command line.
struct InputFlags {
  std::string format = "auto";
  std::vector<std::string> types;
  void Add(CLI::App* cmd, const char* types_help);
  std::optional<WireFormat> Format() const;  // unset: auto
  std::vector<ValueType> Types() const;
};
// Loads `path` into *config (defaults when empty); logs the error with the
// file and line at fault and returns false when the file is bad.
bool LoadConfigForCommand(const std::string& path, PipelineConfig* config);

struct ReplayArgs {
  std::vector<std::string> inputs;
  std::string output;
  std::string dead_letter;  // empty: rejected records are counted only... and logged
  std::string late_output;  // empty: late records go to dead_letter
  std::string config;
  std::string state_dir;             // empty: a temporary directory, removed at the end
  std::optional<WireFormat> format;  // unset: detected per file
  // Per input, what its values are (--input-type); missing: Event envelopes.
  std::vector<ValueType> input_types;
  std::optional<int64_t> max_out_of_orderness_ms;
  std::string rules;          // a rules file replacing alerts.rules
  std::string alerts_output;  // alert transitions as JSON lines (empty: log only)
  std::string tags_output;    // user tag changes as JSON lines (turns profiles on)
  // Windows split into this many tasks by user and merged (EngineOptions::tasks).
  int tasks = 1;
  // Which task a user belongs to (kafka.input_partitioner; unset: the config's).
  std::optional<InputPartitioner> input_partitioner;
  // Sees every alert transition (backtest's summary).
  std::function<void(const AlertEvent&)> on_alert;
};
int RunReplay(const ReplayArgs& args);

// Replays events through alert rules and reports what would have fired.
struct BacktestArgs {
  std::vector<std::string> inputs;
  std::string rules;
  std::string output;  // transitions as JSON lines (optional)
  std::string config;
  std::optional<WireFormat> format;
  std::vector<ValueType> input_types;
  // Known incidents (JSON lines: name, campaign_id, channel, start_ms,
  // end_ms) to score the rules against: detection delay, precision, recall.
  std::string incidents;
  int64_t grace_ms = 10 * 60'000;  // a firing this long after an incident's end still counts
};
int RunBacktest(const BacktestArgs& args);

struct LiveArgs {
  std::string config;
  std::string brokers;
  std::string group;
  std::string state_dir;
  std::string results_format;   // protobuf | json; empty: from the config
  std::string metrics_address;  // empty: from the config
};
int RunLive(const LiveArgs& args);

struct MockKafkaArgs {
  int brokers = 1;
  int partitions = 4;
  // Topics created besides promowatch's own (inputs of other names).
  std::vector<std::string> extra_topics;
  // Fault commands on stdin, one per line, each answered on stdout with
  // "ok COMMAND" or "error COMMAND: why" (MockKafkaCluster::Apply).
  bool control = false;
};
int RunMockKafka(const MockKafkaArgs& args);

struct DemoArgs {
  std::string config;           // optional; alert rules default to the demo's
  double duration_s = 0;        // 0: until Ctrl-C
  double rate = 3'000;          // events per second of wall time
  double speed = 10;            // event time runs this many times faster than wall time
  double anomaly_after_s = 30;  // wall seconds until douyin's CTR collapses
  std::string metrics_address = "127.0.0.1:9464";
  // Pipelines in one consumer group (instance i serves /metrics on the
  // port of metrics_address + i).
  int instances = 1;
};
int RunDemo(const DemoArgs& args);

struct GenArgs {
  std::string output;
  // Instead of one file: every record in a file of its own in this directory,
  // named NNNNNNNNN.KIND.{json,bin} (KIND: click, order, spend, bad), for
  // `kcat -P -t TOPIC FILE...`, which sends each file as one message.
  std::string split_dir;
  // Produce to Kafka instead of a file: clicks to clickstream, orders to
  // orders, spend to spend, keyed by user; at most `rate_limit` records per
  // second of wall time (0: unlimited).
  std::string brokers;
  double rate_limit = 0;
  // With brokers: Event envelopes instead of bare typed values.
  bool envelope = false;
  // With brokers: the librdkafka partitioner (default murmur2_random, the
  // Java client's; consistent_random is librdkafka's and kcat's own).
  std::string partitioner = "murmur2_random";
  WireFormat format = WireFormat::kBinary;
  GeneratorOptions options;
};
int RunGen(const GenArgs& args);
int RunGenToKafka(const GenArgs& args);

}  // namespace promowatch
