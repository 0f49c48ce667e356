// promowatch demo: the embedded cluster, a generated sale with an anomaly,
// the live job and a terminal view, in one process.

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
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

namespace promowatch {
namespace {

// The demo's terminal view: top campaigns by GMV since midnight, CTR and CVR
// of their latest minute, firing alerts, throughput - of the whole group:
// each window is published by one instance (its campaign's global task),
// so the results of all of them, and their counters summed, are the group's.
class DemoView final : public WindowResultSink {
 public:
  explicit DemoView(std::vector<std::string> status_urls) : status_urls_(std::move(status_urls)) {
    reports_.resize(status_urls_.size());
  }
  // From each instance's thread, about once a second.
  void Report(size_t instance, const EngineCounters& c, std::vector<AlertEvent> firing) {
    std::lock_guard lock(mu_);
    reports_[instance] = {c, std::move(firing)};
  }
  void Emit(const v1::WindowResult& r) override {
    std::lock_guard lock(mu_);
    if (!r.segment().empty()) return;  // the view is of all users
    if (!IsRollup(r.channel()) || IsRollup(r.campaign_id())) {
      if (IsRollup(r.campaign_id()) && IsRollup(r.channel()) && r.window() == kCumulativeWindow)
        total_ = r;
      return;
    }
    if (r.window() == "cumulative") cumulative_[r.campaign_id()] = r;
    if (r.window() == "1m") minute_[r.campaign_id()] = r;
  }
  void Draw(double seconds, int64_t produced, bool tty) {
    std::lock_guard lock(mu_);
    EngineCounters c;
    std::vector<AlertEvent> firing;
    for (const auto& [counters, alerts] : reports_) {
      c.read += counters.read;
      c.accepted += counters.accepted;
      c.duplicates += counters.duplicates;
      c.late += counters.late;
      for (size_t r = 0; r < c.rejected.size(); ++r) c.rejected[r] += counters.rejected[r];
      firing.insert(firing.end(), alerts.begin(), alerts.end());
    }
    const double events_per_s =
        seconds > 0 ? static_cast<double>(c.read - last_read_) / seconds : 0;
    last_read_ = c.read;
    std::vector<const v1::WindowResult*> top;
    for (const auto& [id, r] : cumulative_) top.push_back(&r);
    std::sort(top.begin(), top.end(),
              [](auto* a, auto* b) { return a->gmv_cents() > b->gmv_cents(); });
    std::string out = tty ? "\x1b[H\x1b[2J" : "";
    out += fmt::format(
        "promowatch demo  produced={} consumed={} accepted={} rejected={} "
        "duplicates={} late={}  {:.0f} events/s  (Ctrl-C stops)\n"
        "status page{}: {}\n\n",
        produced, c.read, c.accepted, c.rejected_total(), c.duplicates, c.late, events_per_s,
        status_urls_.size() > 1 ? fmt::format("s ({} instances)", status_urls_.size()) : "",
        fmt::join(status_urls_, "  "));
    out += fmt::format("{:<10} {:>14} {:>8} {:>8} {:>9}\n", "campaign", "GMV since 0:00", "CTR 1m",
                       "CVR 1m", "UV");
    for (size_t i = 0; i < top.size() && i < 10; ++i) {
      const auto& cum = *top[i];
      auto m = minute_.find(cum.campaign_id());
      auto pct = [](bool has, double v) {
        return has ? fmt::format("{:.2f}%", v * 100) : std::string("-");
      };
      out += fmt::format(
          "{:<10} {:>14.2f} {:>8} {:>8} {:>9}\n", cum.campaign_id(), Yuan(cum.gmv_cents()),
          m == minute_.end() ? "-" : pct(m->second.has_ctr(), m->second.ctr()),
          m == minute_.end() ? "-" : pct(m->second.has_cvr(), m->second.cvr()), cum.uv());
    }
    out += fmt::format("{:<10} {:>14.2f}\n\nfiring alerts:\n", "all", Yuan(total_.gmv_cents()));
    if (firing.empty()) out += "  (none)\n";
    for (const auto& a : firing) {
      out += fmt::format("  [{}] {} {}/{}: {} {} = {:.4f} (threshold {:.4f})\n", a.severity, a.rule,
                         a.campaign_id, a.channel, a.window, a.metric, a.value, a.threshold);
    }
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
  }

 private:
  std::mutex mu_;
  std::vector<std::string> status_urls_;
  std::vector<std::pair<EngineCounters, std::vector<AlertEvent>>> reports_;
  int64_t last_read_ = 0;
  std::map<std::string, v1::WindowResult> cumulative_, minute_;
  v1::WindowResult total_;
};

// HOST:PORT with the port moved on by `by`.
std::string NextPort(const std::string& address, int by) {
  const size_t colon = address.rfind(':');
  if (by == 0 || colon == std::string::npos) return address;
  return address.substr(0, colon + 1) + std::to_string(std::atoi(address.c_str() + colon + 1) + by);
}

// One pipeline of the group: what `promowatch run` holds.
struct Instance {
  PipelineConfig config;
  std::unique_ptr<KafkaSink> sink;
  std::unique_ptr<LiveMetrics> metrics;
  std::unique_ptr<LiveRunner> runner;
  std::unique_ptr<KafkaSource> source;
  std::string state_dir;
  int rc = 0;
};

// The demo's own settings over the config: a rule if there is none (the
// plan's target rules aside), quick checkpoints and idleness, no
// clock-skew guard.
void ApplyDemoDefaults(PipelineConfig* config) {
  if (std::all_of(config->alert_rules.begin(), config->alert_rules.end(),
                  [](const AlertRule& r) { return r.kind == AlertRule::Kind::kTarget; })) {
    AlertRule rule;  // the planning sheet's "Douyin CTR >= 1.5%"
    rule.name = "low_ctr";
    rule.metric = "ctr";
    rule.window = "1m";
    rule.scope = AlertRule::Scope::kCampaignChannel;
    rule.op = AlertRule::Op::kLess;
    rule.threshold = 0.015;
    rule.min_volume = 500;
    config->alert_rules.push_back(rule);
  }
  config->checkpoint_interval_ms = 2'000;
  config->idle_partition_timeout_ms = 2'000;
  // The demo's sale runs --speed times faster than the wall clock: its event
  // times are ahead of it by design, so the clock-skew guard is off.
  config->max_future_skew_ms = 0;
}

// Instance `i` of the group: its own state directory under `state_root`,
// its own port (the base address's + i), its sink and metrics.
absl::StatusOr<std::unique_ptr<Instance>> StartInstance(const PipelineConfig& config,
                                                        const std::string& base_address,
                                                        const std::string& state_root, int i) {
  auto in = std::make_unique<Instance>();
  in->config = config;
  in->config.metrics.address = NextPort(base_address, i);
  in->state_dir = fmt::format("{}/instance-{}", state_root, i);
  in->config.state_dir = in->state_dir;
  auto sink = KafkaSink::Create(in->config.kafka);
  if (!sink.ok()) return sink.status();
  auto metrics = LiveMetrics::Start(in->config.metrics);
  if (!metrics.ok()) return metrics.status();
  in->sink = std::move(*sink);
  in->metrics = std::move(*metrics);
  in->sink->FetchOutputMetadata();
  return in;
}

// Runs every instance (instance 0 on this thread) until a stop: instance 0
// draws the view (and stops the demo after --duration); every instance
// reports its counters and firing alerts to it.
void RunGroup(std::vector<std::unique_ptr<Instance>>& group, DemoView& view, const DemoArgs& args,
              const std::atomic<int64_t>& produced) {
  const bool tty = isatty(STDOUT_FILENO) != 0;
  const auto begin = MonotonicNow();
  auto last = begin;
  auto run = [&](size_t i) {
    Instance& in = *group[i];
    in.rc = in.runner->Run(in.source.get(), [&, i] {
      view.Report(i, in.runner->counters(), in.runner->FiringAlerts());
      if (i != 0) return;
      const auto now = MonotonicNow();
      view.Draw(std::chrono::duration<double>(now - last).count(), produced.load(), tty);
      last = now;
      if (args.duration_s > 0 &&
          std::chrono::duration<double>(now - begin).count() >= args.duration_s) {
        RequestStop();
      }
    });
  };
  std::vector<std::thread> others;
  for (size_t i = 1; i < group.size(); ++i) others.emplace_back(run, i);
  run(0);
  for (auto& t : others) t.join();
}

}  // namespace

int RunDemo(const DemoArgs& args) {
  PipelineConfig config;
  if (!LoadConfigForCommand(args.config, &config)) return 2;
  ApplyDemoDefaults(&config);
  char tmpl[] = "/tmp/promowatch-demo-state-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return 1;
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{tmpl};

  InstallStopHandlers();
  auto cluster =
      MockKafkaCluster::Start(1, 4,
                              {"clickstream", "orders", "spend", "promowatch-metrics",
                               "promowatch-dlq", "promowatch-alerts", "promowatch-changelog",
                               "promowatch-repartition", "promowatch-partials"});
  if (!cluster.ok()) {
    spdlog::error("msg=\"cannot start the embedded cluster\" error=\"{}\"",
                  std::string(cluster.status().message()));
    return 1;
  }
  config.kafka.brokers = (*cluster)->bootstrap_servers();
  config.kafka.group = "promowatch-demo";
  config.kafka.results_json = true;
  config.kafka.properties["session.timeout.ms"] = "6000";
  auto producer_sink = KafkaSink::Create(config.kafka);
  if (!producer_sink.ok()) {
    spdlog::error("msg=\"cannot start the demo\" error=\"{}\"",
                  std::string(producer_sink.status().message()));
    return 2;
  }
  // The group: each instance as a `run` would be, its own state and port.
  std::vector<std::unique_ptr<Instance>> group;
  std::vector<std::string> status_urls;
  for (int i = 0; i < args.instances; ++i) {
    auto in = StartInstance(config, args.metrics_address, tmpl, i);
    if (!in.ok()) {
      spdlog::error("msg=\"cannot start the demo\" instance={} error=\"{}\"", i,
                    std::string(in.status().message()));
      return 2;
    }
    const PipelineConfig& c = (*in)->config;
    status_urls.push_back(c.metrics.scheme() + "://" + c.metrics.address + "/");
    group.push_back(std::move(*in));
  }

  // The generator: a sale in (sped-up) real time, with the CTR of douyin
  // collapsing after --anomaly-after seconds for 3 minutes of event time.
  const int64_t start_ms = SystemNowMs();
  GeneratorOptions g;
  g.records = INT64_MAX;
  g.start_ms = start_ms;
  g.events_per_second = args.rate / args.speed;  // per second of event time
  g.peak_factor = 1;
  g.anomaly_channel = "douyin";
  g.anomaly_start_ms = start_ms + static_cast<int64_t>(args.anomaly_after_s * 1000 * args.speed);
  g.anomaly_end_ms = g.anomaly_start_ms + 3 * 60'000;
  std::atomic<int64_t> produced{0};
  std::atomic<bool> producer_stop{false};
  std::thread producer([&] {
    SaleGenerator gen(g, WireFormat::kBinary);
    ProduceSale(gen, **producer_sink, config.kafka, WireFormat::kBinary, /*envelope=*/false,
                [&](int64_t n) {
                  produced.store(n);
                  // Event time may run ahead of wall time by `speed`, no further.
                  while (!producer_stop.load() &&
                         static_cast<double>(gen.clock_ms() - start_ms) >
                             static_cast<double>(SystemNowMs() - start_ms) * args.speed) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                  }
                  return !producer_stop.load();
                });
    (*producer_sink)->Flush(5'000).IgnoreError();
  });

  DemoView view(status_urls);
  auto stop_all = [&] {
    producer_stop.store(true);
    if (producer.joinable()) producer.join();
  };
  for (auto& in : group) {
    in->runner = std::make_unique<LiveRunner>(in->config, in->sink.get(), in->metrics.get(), &view);
    if (auto st = in->runner->Open(in->state_dir); !st.ok()) {
      stop_all();
      spdlog::error("msg=\"cannot open state\" error=\"{}\"", std::string(st.message()));
      return 1;
    }
    auto source = KafkaSource::Create(in->config.kafka, in->runner->listener());
    if (!source.ok()) {
      stop_all();
      return 2;
    }
    in->source = std::move(*source);
  }
  std::printf("promowatch demo: embedded Kafka at %s, %d instance%s in group %s\n",
              config.kafka.brokers.c_str(), args.instances, args.instances > 1 ? "s" : "",
              config.kafka.group.c_str());
  for (size_t i = 0; i < group.size(); ++i) {
    const PipelineConfig& c = group[i]->config;
    std::printf("instance %zu: /metrics at %s://%s/metrics, status page (open in a browser): %s\n",
                i, c.metrics.scheme().c_str(), c.metrics.address.c_str(), status_urls[i].c_str());
  }
  std::fflush(stdout);
  RunGroup(group, view, args, produced);
  int rc = 0;
  for (const auto& in : group) rc = std::max(rc, in->rc);
  stop_all();
  return rc;
}

Subcommand AddDemoCommand(CLI::App& app) {
  auto args = std::make_shared<DemoArgs>();
  auto* cmd = app.add_subcommand(
      "demo",
      "The embedded default: an in-process Kafka cluster, a generated sale with an "
      "injected anomaly (douyin's CTR collapses), the live pipeline, /metrics and a "
      "live view in the terminal");
  cmd->add_option("--duration", args->duration_s, "Stop after this many seconds (0: on Ctrl-C)")
      ->capture_default_str();
  cmd->add_option("--rate", args->rate, "Generated events per second of wall time")
      ->capture_default_str();
  cmd->add_option("--speed", args->speed,
                  "Event time runs this many times faster than wall time "
                  "(windows close sooner)")
      ->capture_default_str();
  cmd->add_option("--anomaly-after", args->anomaly_after_s,
                  "Wall seconds until the injected anomaly (douyin's CTR collapses)")
      ->capture_default_str();
  cmd->add_option("--metrics-address", args->metrics_address, "HOST:PORT serving /metrics")
      ->capture_default_str();
  cmd->add_option("--config,-c", args->config, "YAML config (alert rules etc.)");
  cmd->add_option("--instances", args->instances,
                  "Pipelines in one consumer group over the embedded cluster, as `run` instances "
                  "would be (each with its own state, /metrics and status page on the next "
                  "port); the view sums the group")
      ->check(CLI::Range(1, 4))
      ->capture_default_str();
  return {cmd, [args] { return RunDemo(*args); }};
}

}  // namespace promowatch
