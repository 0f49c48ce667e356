// promowatch gen: a seeded synthetic sale to a file.

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "pipeline/commands/commands.h"
#include "pipeline/commands/produce_sale.h"
#include "pipeline/commands/progress.h"
#include "pipeline/io/kafka.h"
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
  const auto start = std::chrono::steady_clock::now();
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
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
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
  const auto start = std::chrono::steady_clock::now();
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

}  // namespace promowatch
