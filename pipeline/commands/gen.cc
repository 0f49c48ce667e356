// promowatch gen: a seeded synthetic sale to a file.

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "pipeline/commands/commands.h"
#include "pipeline/commands/produce_sale.h"
#include "pipeline/commands/progress.h"
#include "pipeline/io/kafka.h"
#include "pipeline/runtime/clock.h"
#include "pipeline/runtime/signals.h"

namespace promowatch {

namespace {

int RunGenSplit(const GenArgs& args) {
  std::error_code ec;
  std::filesystem::create_directories(args.split_dir, ec);
  SaleGenerator gen(args.options, args.format);
  std::string record;
  v1::Event event;
  int64_t n = 0;
  const char* ext = args.format == WireFormat::kJson ? "json" : "bin";
  while (gen.Next(&record)) {
    const char* kind = "bad";
    bool ok = args.format == WireFormat::kJson
                  ? google::protobuf::util::JsonStringToMessage(record, &event).ok()
                  : event.ParseFromString(record);
    if (ok && event.has_click()) kind = "click";
    if (ok && event.has_order()) kind = "order";
    if (ok && event.has_spend()) kind = "spend";
    const std::string path = fmt::format("{}/{:09d}.{}.{}", args.split_dir, n++, kind, ext);
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr || std::fwrite(record.data(), 1, record.size(), f) != record.size()) {
      spdlog::error("msg=\"cannot write\" file={}", path);
      if (f != nullptr) std::fclose(f);
      return 1;
    }
    std::fclose(f);
  }
  spdlog::info("msg=\"gen finished\" records={} dir={}", n, args.split_dir);
  return 0;
}

}  // namespace

int RunGen(const GenArgs& args) {
  if (!args.split_dir.empty()) return RunGenSplit(args);
  std::FILE* out = args.output == "-" ? stdout : std::fopen(args.output.c_str(), "wb");
  if (out == nullptr) {
    spdlog::error("msg=\"cannot write output\" file={} hint=\"check the directory exists\"",
                  args.output);
    return 1;
  }
  SaleGenerator gen(args.options, args.format);
  ProgressBar progress("gen", args.options.records);
  std::string record;
  std::string buf;
  int64_t n = 0;
  const auto start = MonotonicNow();
  while (gen.Next(&record)) {
    if (args.format == WireFormat::kJson) {
      buf.append(record);
      buf.push_back('\n');
    } else {
      uint64_t len = record.size();
      while (len >= 0x80) {
        buf.push_back(static_cast<char>((len & 0x7f) | 0x80));
        len >>= 7;
      }
      buf.push_back(static_cast<char>(len));
      buf.append(record);
    }
    if (buf.size() > (size_t{1} << 20)) {
      std::fwrite(buf.data(), 1, buf.size(), out);
      buf.clear();
    }
    if ((++n & 0xfff) == 0) progress.Update(n, n);
  }
  std::fwrite(buf.data(), 1, buf.size(), out);
  progress.Finish(n);
  const bool ok = std::fflush(out) == 0 && !std::ferror(out);
  if (out != stdout) std::fclose(out);
  if (!ok) {
    spdlog::error("msg=\"write failed\" file={} hint=\"is the disk full?\"", args.output);
    return 1;
  }
  const double secs = std::chrono::duration<double>(MonotonicNow() - start).count();
  spdlog::info(
      "msg=\"gen finished\" records={} format={} seed={} last_event_time_ms={} "
      "elapsed_s={:.3f} output={}",
      n, args.format == WireFormat::kJson ? "json" : "binary", args.options.seed, gen.clock_ms(),
      secs, args.output);
  return 0;
}

int RunGenToKafka(const GenArgs& args) {
  InstallStopHandlers();
  KafkaOptions k;
  k.brokers = args.brokers;
  k.properties["partitioner"] = args.partitioner;
  auto sink = KafkaSink::Create(k);
  if (!sink.ok()) {
    spdlog::error("msg=\"cannot create the producer\" error=\"{}\"",
                  std::string(sink.status().message()));
    return 2;
  }
  SaleGenerator gen(args.options, WireFormat::kBinary);
  const auto start = MonotonicNow();
  const int64_t n = ProduceSale(gen, **sink, k, args.format, args.envelope, [&](int64_t i) {
    if (args.rate_limit > 0) {
      const auto due =
          start + std::chrono::duration<double>(static_cast<double>(i) / args.rate_limit);
      std::this_thread::sleep_until(
          std::chrono::time_point_cast<std::chrono::steady_clock::duration>(due));
    }
    return !StopRequested();
  });
  auto flushed = (*sink)->Flush(30'000);
  spdlog::info(
      "msg=\"gen finished\" records={} brokers={} format={} values={} failed_deliveries={}", n,
      args.brokers, args.format == WireFormat::kJson ? "json" : "binary",
      args.envelope ? "envelope" : "bare", (*sink)->failed_deliveries());
  return flushed.ok() && (*sink)->failed_deliveries() == 0 ? 0 : 1;
}

namespace {

// --anomaly KIND:CHANNEL:START_MS:END_MS[:FACTOR].
std::optional<GeneratorOptions::Anomaly> ParseAnomaly(const std::string& spec) {
  GeneratorOptions::Anomaly a;
  char kind[16] = {0}, channel[64] = {0};
  long long start = 0, end = 0;
  double factor = 0.1;
  const int n = std::sscanf(spec.c_str(), "%15[^:]:%63[^:]:%lld:%lld:%lf", kind, channel, &start,
                            &end, &factor);
  a.kind = kind;
  if (n < 4 || (a.kind != "ctr" && a.kind != "orders") || end <= start || factor < 0) {
    return std::nullopt;
  }
  a.channel = channel;
  a.start_ms = start;
  a.end_ms = end;
  a.factor = factor;
  return a;
}

// The generator's own knobs (GeneratorOptions).
void AddGeneratorOptions(CLI::App* cmd, GeneratorOptions& o) {
  cmd->add_option("--records,-n", o.records, "Records to write")->capture_default_str();
  cmd->add_option("--seed", o.seed, "Random seed")->capture_default_str();
  cmd->add_option("--rate", o.events_per_second,
                  "Events per second of event time before the midnight peak")
      ->capture_default_str();
  cmd->add_option("--peak-factor", o.peak_factor, "Traffic multiple at midnight UTC+8")
      ->capture_default_str();
  cmd->add_option("--campaigns", o.campaigns, "Number of campaigns (Zipf-skewed)")
      ->capture_default_str();
  cmd->add_option("--campaign-zipf", o.campaign_zipf,
                  "Zipf exponent of the campaigns' shares of sessions (0: uniform)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 10.0));
  cmd->add_option("--hot-campaign-share", o.hot_campaign_share,
                  "Share of sessions for campaign c0, the rest split evenly (0: Zipf)")
      ->check(CLI::Range(0.0, 0.99));
  cmd->add_option("--users", o.users, "Number of distinct users")->capture_default_str();
  cmd->add_option("--start-ms", o.start_ms, "Event time of the first event (UTC ms)")
      ->capture_default_str();
  cmd->add_option("--duplicate-rate", o.duplicate_rate, "Share of records re-sent")
      ->capture_default_str();
  cmd->add_option("--malformed-rate", o.malformed_rate, "Share of malformed records")
      ->capture_default_str();
  cmd->add_option("--late-rate", o.late_rate, "Share of events arriving minutes late")
      ->capture_default_str();
  cmd->add_option("--disorder-rate", o.disorder_rate,
                  "Share of events arriving out of order (within a few seconds)")
      ->capture_default_str();
  cmd->add_flag("!--no-spend", o.spend, "Do not write spend events");
}

}  // namespace

Subcommand AddGenCommand(CLI::App& app) {
  struct Flags {
    GenArgs args;
    std::string format = "binary";
    std::vector<std::string> anomalies;
  };
  auto f = std::make_shared<Flags>();
  GenArgs& a = f->args;
  auto* cmd = app.add_subcommand("gen",
                                 "Write a seeded synthetic sale (Double 11 midnight peak, "
                                 "duplicates, out-of-order, late and malformed records)");
  auto* output = cmd->add_option("--output,-o", a.output, "File to write ('-' for stdout)");
  cmd->add_option("--split", a.split_dir,
                  "Write every record to a file of its own in this "
                  "directory, named N.KIND.json|bin (for kcat -P -t TOPIC FILE...)")
      ->excludes(output);
  cmd->add_option("--format", f->format,
                  "json (one proto3 JSON object per line) or binary "
                  "(length-delimited protobuf)")
      ->check(CLI::IsMember(Names(kWireFormatNames)))
      ->capture_default_str();
  AddGeneratorOptions(cmd, a.options);
  cmd->add_option("--brokers", a.brokers,
                  "Produce to Kafka at these bootstrap servers, as "
                  "producers following the contract do: bare ClickEvent values to clickstream, "
                  "OrderEvent to orders, SpendEvent to spend, keyed by user id (--format: binary "
                  "or json)")
      ->excludes(output);
  cmd->add_flag("--envelope", a.envelope,
                "With --brokers: send Event envelopes instead of "
                "bare typed values");
  cmd->add_option("--partitioner", a.partitioner,
                  "With --brokers: where keys land, as librdkafka names it: murmur2_random (the "
                  "Java client's) or consistent_random (CRC32: librdkafka's default, kcat's)")
      ->check(CLI::IsMember({"murmur2_random", "consistent_random"}))
      ->capture_default_str();
  cmd->add_option("--rate-limit", a.rate_limit,
                  "With --brokers: records per second of wall "
                  "time (0: as fast as possible)")
      ->capture_default_str();
  cmd->add_option("--anomaly-channel", a.options.anomaly_channel,
                  "Channel whose CTR collapses between --anomaly-start-ms and --anomaly-end-ms");
  cmd->add_option("--anomaly-start-ms", a.options.anomaly_start_ms,
                  "Start of the anomaly (event time)");
  cmd->add_option("--anomaly-end-ms", a.options.anomaly_end_ms, "End of the anomaly (event time)");
  cmd->add_option("--anomaly", f->anomalies,
                  "KIND:CHANNEL:START_MS:END_MS[:FACTOR], repeatable: kind ctr multiplies the "
                  "channel's CTR, orders its orders per cart (GMV falls), by FACTOR (default 0.1)");
  cmd->add_option("--id-prefix", a.options.id_prefix,
                  "Prefix of event and order ids (several generators feeding the same topics)");
  return {cmd, [f] {
            GenArgs args = f->args;
            if (args.output.empty() && args.split_dir.empty() && args.brokers.empty()) {
              spdlog::error("msg=\"gen needs --output FILE, --split DIR or --brokers ADDR\"");
              return 2;
            }
            args.format = *FromName(kWireFormatNames, f->format);
            for (const std::string& spec : f->anomalies) {
              auto anomaly = ParseAnomaly(spec);
              if (!anomaly) {
                spdlog::error(
                    "msg=\"bad --anomaly\" value=\"{}\" hint=\"write "
                    "KIND:CHANNEL:START_MS:END_MS[:FACTOR] with KIND ctr or orders, like "
                    "ctr:douyin:1794326400000:1794327300000\"",
                    spec);
                return 2;
              }
              args.options.anomalies.push_back(*anomaly);
            }
            if (!args.brokers.empty()) return RunGenToKafka(args);
            return RunGen(args);
          }};
}

}  // namespace promowatch
