// promowatch: one binary, one subcommand per job. Each subcommand is a thin
// function in pipeline/commands.h over the same runtime.

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "pipeline/commands/commands.h"
#include "pipeline/config/config.h"

namespace {

// Logs are logfmt on stderr: ts=... level=... msg="..." key=value.
void SetUpLogging() {
  auto logger = spdlog::stderr_logger_mt("promowatch");
  logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
}

std::optional<promowatch::WireFormat> ParseFormat(const std::string& s) {
  if (s == "json") return promowatch::WireFormat::kJson;
  if (s == "binary") return promowatch::WireFormat::kBinary;
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  SetUpLogging();
  CLI::App app{
      "promowatch: live monitoring of e-commerce promotions (CTR, CVR, GMV windows, "
      "alerts)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "promowatch " PROMOWATCH_VERSION);

  promowatch::ReplayArgs replay;
  std::string replay_format = "auto";
  std::string replay_ooo;
  auto* rp = app.add_subcommand(
      "replay", "Run the operators over event files and write every final window as JSON lines");
  rp->add_option("--input,-i", replay.inputs,
                 "Event file: JSON lines or length-delimited binary "
                 "promowatch.v1.Event (repeatable; read in order as one stream)")
      ->required()
      ->check(CLI::ExistingFile);
  rp->add_option("--output,-o", replay.output, "Window results, one JSON object per line")
      ->required();
  rp->add_option("--dead-letter", replay.dead_letter,
                 "Rejected records with reason and original bytes (JSON lines). "
                 "Default: OUTPUT.dead-letter.jsonl");
  rp->add_option("--late-output", replay.late_output,
                 "Records too late to count (JSON lines). Default: the dead-letter file");
  rp->add_option("--config,-c", replay.config, "YAML config (see deploy/promowatch.yaml)");
  rp->add_option("--state-dir", replay.state_dir,
                 "RocksDB state directory; kept, and resumed from if it holds a checkpoint of "
                 "the same inputs. Default: a temporary directory");
  rp->add_option("--format", replay_format, "Input format: auto, json or binary")
      ->check(CLI::IsMember({"auto", "json", "binary"}))
      ->capture_default_str();
  std::vector<std::string> replay_types;
  rp->add_option("--input-type", replay_types,
                 "What the input's lines or records are: event (Event envelopes), or bare click, "
                 "order or spend messages. Once for every input, or once per --input in order. "
                 "Default: event")
      ->check(CLI::IsMember({"event", "click", "order", "spend"}));
  rp->add_option("--max-out-of-orderness", replay_ooo,
                 "Watermark delay behind the newest event, like 5s (overrides the config)");
  rp->add_option(
        "--rules", replay.rules,
        "Alert rules file (top-level 'rules:', as alerts.rules); replaces the config's rules")
      ->check(CLI::ExistingFile);
  rp->add_option("--alerts-output", replay.alerts_output,
                 "Alert transitions (pending, firing, resolved), one JSON object per line");
  rp->add_option("--tasks", replay.tasks,
                 "Split the windows into this many tasks by user (as Kafka partitions a topic "
                 "keyed by user id) and merge them, as the scale-out does; the results are the "
                 "same as with one task")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  std::string replay_partitioner;
  rp->add_option("--input-partitioner", replay_partitioner,
                 "With --tasks: the partitioner that decides a user's task, as "
                 "kafka.input_partitioner (murmur2 or consistent); the results are the same "
                 "either way. Default: the config's (murmur2)")
      ->check(CLI::IsMember({"murmur2", "consistent"}));
  rp->add_option("--tags-output", replay.tags_output,
                 "User tag changes (new, active, dormant, high_value, rfm, tier), one JSON object "
                 "per line {user_id, tag, from, to, reason, event_time_ms}; turns profiles on");

  promowatch::BacktestArgs backtest;
  std::string backtest_format = "auto";
  auto* bt = app.add_subcommand(
      "backtest",
      "Replay events through alert rules and report which alerts would have fired, "
      "when, for how long and how often they flapped (a table per rule on stdout)");
  bt->add_option("--rules", backtest.rules, "Alert rules file (top-level 'rules:')")
      ->required()
      ->check(CLI::ExistingFile);
  bt->add_option("--input,-i", backtest.inputs, "Event files, as for replay (repeatable)")
      ->required()
      ->check(CLI::ExistingFile);
  bt->add_option("--output,-o", backtest.output,
                 "Every transition as a JSON line: rule, state, campaign_id, channel, metric, "
                 "value, threshold, window, event_time_ms, severity");
  bt->add_option("--config,-c", backtest.config, "YAML config (windows, watermark, lateness)");
  bt->add_option(
      "--incidents", backtest.incidents,
      "Known incidents to score the rules against, JSON lines {\"name\", \"campaign_id\", "
      "\"channel\", \"start_ms\", \"end_ms\"} (campaign and channel optional): detection "
      "delay per incident, precision and recall");
  bt->add_option("--grace-minutes", backtest.grace_ms,
                 "A firing up to this long after an incident's end is still that incident's")
      ->transform([](std::string v) { return std::to_string(std::stoll(v) * 60'000); })
      ->default_str("10");
  bt->add_option("--format", backtest_format, "Input format: auto, json or binary")
      ->check(CLI::IsMember({"auto", "json", "binary"}))
      ->capture_default_str();
  std::vector<std::string> backtest_types;
  bt->add_option("--input-type", backtest_types,
                 "As for replay: event, click, order or spend, "
                 "once or once per --input. Default: event")
      ->check(CLI::IsMember({"event", "click", "order", "spend"}));

  promowatch::GenArgs gen;
  std::string gen_format = "binary";
  auto* gp = app.add_subcommand("gen",
                                "Write a seeded synthetic sale (Double 11 midnight peak, "
                                "duplicates, out-of-order, late and malformed records)");
  auto* gen_out = gp->add_option("--output,-o", gen.output, "File to write ('-' for stdout)");
  gp->add_option("--split", gen.split_dir,
                 "Write every record to a file of its own in this "
                 "directory, named N.KIND.json|bin (for kcat -P -t TOPIC FILE...)")
      ->excludes(gen_out);
  gp->add_option("--format", gen_format,
                 "json (one proto3 JSON object per line) or binary "
                 "(length-delimited protobuf)")
      ->check(CLI::IsMember({"json", "binary"}))
      ->capture_default_str();
  gp->add_option("--records,-n", gen.options.records, "Records to write")->capture_default_str();
  gp->add_option("--seed", gen.options.seed, "Random seed")->capture_default_str();
  gp->add_option("--rate", gen.options.events_per_second,
                 "Events per second of event time before the midnight peak")
      ->capture_default_str();
  gp->add_option("--peak-factor", gen.options.peak_factor, "Traffic multiple at midnight UTC+8")
      ->capture_default_str();
  gp->add_option("--campaigns", gen.options.campaigns, "Number of campaigns (Zipf-skewed)")
      ->capture_default_str();
  gp->add_option("--campaign-zipf", gen.options.campaign_zipf,
                 "Zipf exponent of the campaigns' shares of sessions (0: uniform)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 10.0));
  gp->add_option("--hot-campaign-share", gen.options.hot_campaign_share,
                 "Share of sessions for campaign c0, the rest split evenly (0: Zipf)")
      ->check(CLI::Range(0.0, 0.99));
  gp->add_option("--users", gen.options.users, "Number of distinct users")->capture_default_str();
  gp->add_option("--start-ms", gen.options.start_ms, "Event time of the first event (UTC ms)")
      ->capture_default_str();
  gp->add_option("--duplicate-rate", gen.options.duplicate_rate, "Share of records re-sent")
      ->capture_default_str();
  gp->add_option("--malformed-rate", gen.options.malformed_rate, "Share of malformed records")
      ->capture_default_str();
  gp->add_option("--late-rate", gen.options.late_rate, "Share of events arriving minutes late")
      ->capture_default_str();
  gp->add_option("--disorder-rate", gen.options.disorder_rate,
                 "Share of events arriving out of order (within a few seconds)")
      ->capture_default_str();
  gp->add_flag("!--no-spend", gen.options.spend, "Do not write spend events");
  gp->add_option("--brokers", gen.brokers,
                 "Produce to Kafka at these bootstrap servers, as "
                 "producers following the contract do: bare ClickEvent values to clickstream, "
                 "OrderEvent to orders, SpendEvent to spend, keyed by user id (--format: binary "
                 "or json)")
      ->excludes(gen_out);
  gp->add_flag("--envelope", gen.envelope,
               "With --brokers: send Event envelopes instead of "
               "bare typed values");
  gp->add_option("--partitioner", gen.partitioner,
                 "With --brokers: where keys land, as librdkafka names it: murmur2_random (the "
                 "Java client's) or consistent_random (CRC32: librdkafka's default, kcat's)")
      ->check(CLI::IsMember({"murmur2_random", "consistent_random"}))
      ->capture_default_str();
  gp->add_option("--rate-limit", gen.rate_limit,
                 "With --brokers: records per second of wall "
                 "time (0: as fast as possible)")
      ->capture_default_str();
  gp->add_option("--anomaly-channel", gen.options.anomaly_channel,
                 "Channel whose CTR collapses between --anomaly-start-ms and --anomaly-end-ms");
  gp->add_option("--anomaly-start-ms", gen.options.anomaly_start_ms,
                 "Start of the anomaly (event time)");
  gp->add_option("--anomaly-end-ms", gen.options.anomaly_end_ms, "End of the anomaly (event time)");
  std::vector<std::string> gen_anomalies;
  gp->add_option("--anomaly", gen_anomalies,
                 "KIND:CHANNEL:START_MS:END_MS[:FACTOR], repeatable: kind ctr multiplies the "
                 "channel's CTR, orders its orders per cart (GMV falls), by FACTOR (default 0.1)");
  gp->add_option("--id-prefix", gen.options.id_prefix,
                 "Prefix of event and order ids (several generators feeding the same topics)");

  std::string check_config;
  auto* cc =
      app.add_subcommand("check-config",
                         "Load a config file (and its alerts.rules_file) as `run` would and report "
                         "the first error with its file and line; exit 0 when valid");
  cc->add_option("--config,-c", check_config, "YAML config to check")->required();

  promowatch::LiveArgs live;
  auto* run = app.add_subcommand(
      "run",
      "The live pipeline: consume clickstream/orders/spend from Kafka, publish final "
      "windows to promowatch-metrics, rejected records to promowatch-dlq");
  run->add_option("--config,-c", live.config, "YAML config (see deploy/promowatch.yaml)");
  run->add_option("--brokers", live.brokers, "Kafka bootstrap servers (overrides kafka.brokers)");
  run->add_option("--group", live.group, "Consumer group (overrides kafka.group)");
  run->add_option("--state-dir", live.state_dir,
                  "RocksDB directory for state and offsets (overrides state.dir; required)");
  run->add_option("--metrics-address", live.metrics_address,
                  "HOST:PORT serving /metrics (overrides metrics.address; default 127.0.0.1:9464)");
  run->add_option("--results-format", live.results_format,
                  "protobuf (default) or json on the results topic")
      ->check(CLI::IsMember({"protobuf", "json"}));

  promowatch::MockKafkaArgs mock;
  auto* mk = app.add_subcommand(
      "mock-kafka",
      "An embedded Kafka cluster (librdkafka's mock brokers) on 127.0.0.1 with "
      "promowatch's topics; prints its bootstrap address, runs until SIGINT/SIGTERM. "
      "It keeps the newest 5 MiB of each partition (librdkafka's limit) and deletes "
      "older records, as retention would");
  mk->add_option("--brokers", mock.brokers, "Number of brokers")
      ->capture_default_str()
      ->check(CLI::Range(1, 9));
  mk->add_flag("--control", mock.control,
               "Read fault commands on stdin, one per line, each answered on stdout: down "
               "BROKER, up BROKER, rtt BROKER MS, errors API COUNT CODE (e.g. errors Fetch 5 "
               "NOT_LEADER_FOR_PARTITION), leader TOPIC PARTITION BROKER");
  mk->add_option("--topic", mock.extra_topics,
                 "Create this topic too (repeatable), e.g. an "
                 "input of type event");
  mk->add_option("--partitions", mock.partitions, "Partitions per topic")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));

  promowatch::DemoArgs demo;
  auto* dp = app.add_subcommand(
      "demo",
      "The embedded default: an in-process Kafka cluster, a generated sale with an "
      "injected anomaly (douyin's CTR collapses), the live pipeline, /metrics and a "
      "live view in the terminal");
  dp->add_option("--duration", demo.duration_s, "Stop after this many seconds (0: on Ctrl-C)")
      ->capture_default_str();
  dp->add_option("--rate", demo.rate, "Generated events per second of wall time")
      ->capture_default_str();
  dp->add_option("--speed", demo.speed,
                 "Event time runs this many times faster than wall time "
                 "(windows close sooner)")
      ->capture_default_str();
  dp->add_option("--anomaly-after", demo.anomaly_after_s,
                 "Wall seconds until the injected anomaly (douyin's CTR collapses)")
      ->capture_default_str();
  dp->add_option("--metrics-address", demo.metrics_address, "HOST:PORT serving /metrics")
      ->capture_default_str();
  dp->add_option("--config,-c", demo.config, "YAML config (alert rules etc.)");
  dp->add_option("--instances", demo.instances,
                 "Pipelines in one consumer group over the embedded cluster, as `run` instances "
                 "would be (each with its own state, /metrics and status page on the next "
                 "port); the view sums the group")
      ->check(CLI::Range(1, 4))
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  if (dp->parsed()) return promowatch::RunDemo(demo);

  if (run->parsed()) return promowatch::RunLive(live);
  if (cc->parsed()) {
    auto loaded = promowatch::LoadConfig(check_config);
    if (!loaded.ok()) {
      spdlog::error("msg=\"bad config\" error=\"{}\"", std::string(loaded.status().message()));
      return 2;
    }
    std::printf("%s: valid (%zu alert rules%s%s)\n", check_config.c_str(),
                loaded->alert_rules.size(), loaded->alert_rules_file.empty() ? "" : " from ",
                loaded->alert_rules_file.c_str());
    return 0;
  }
  if (mk->parsed()) return promowatch::RunMockKafka(mock);

  if (rp->parsed()) {
    replay.format = ParseFormat(replay_format);
    for (const auto& t : replay_types) replay.input_types.push_back(*promowatch::ParseValueType(t));
    if (!replay_partitioner.empty())
      replay.input_partitioner = promowatch::ParseInputPartitioner(replay_partitioner);
    if (!replay_ooo.empty()) {
      auto d = promowatch::ParseDuration(replay_ooo);
      if (!d.ok()) {
        spdlog::error("msg=\"bad --max-out-of-orderness\" error=\"{}\"",
                      std::string(d.status().message()));
        return 2;
      }
      replay.max_out_of_orderness_ms = *d;
    }
    return promowatch::RunReplay(replay);
  }
  if (bt->parsed()) {
    backtest.format = ParseFormat(backtest_format);
    for (const auto& t : backtest_types)
      backtest.input_types.push_back(*promowatch::ParseValueType(t));
    return promowatch::RunBacktest(backtest);
  }
  if (gp->parsed()) {
    if (gen.output.empty() && gen.split_dir.empty() && gen.brokers.empty()) {
      spdlog::error("msg=\"gen needs --output FILE, --split DIR or --brokers ADDR\"");
      return 2;
    }
    gen.format = *ParseFormat(gen_format);
    for (const std::string& spec : gen_anomalies) {
      promowatch::GeneratorOptions::Anomaly a;
      char kind[16] = {0}, channel[64] = {0};
      long long start = 0, end = 0;
      double factor = 0.1;
      const int n = std::sscanf(spec.c_str(), "%15[^:]:%63[^:]:%lld:%lld:%lf", kind, channel,
                                &start, &end, &factor);
      a.kind = kind;
      if (n < 4 || (a.kind != "ctr" && a.kind != "orders") || end <= start || factor < 0) {
        spdlog::error(
            "msg=\"bad --anomaly\" value=\"{}\" hint=\"write KIND:CHANNEL:START_MS:END_MS[:FACTOR] "
            "with KIND ctr or orders, like ctr:douyin:1794326400000:1794327300000\"",
            spec);
        return 2;
      }
      a.channel = channel;
      a.start_ms = start;
      a.end_ms = end;
      a.factor = factor;
      gen.options.anomalies.push_back(a);
    }
    if (!gen.brokers.empty()) return promowatch::RunGenToKafka(gen);
    return promowatch::RunGen(gen);
  }
  return 0;
}
