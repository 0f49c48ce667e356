// promowatch demo: the embedded cluster, a generated sale with an anomaly,
// the live job and a terminal view, in one process.

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
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
// of their latest minute, firing alerts, throughput.
class DemoView final : public WindowResultSink {
 public:
  explicit DemoView(std::string status_url) : status_url_(std::move(status_url)) {}
  void Emit(const v1::WindowResult& r) override {
    if (r.channel() != "*" || r.campaign_id() == "*") {
      if (r.campaign_id() == "*" && r.channel() == "*" && r.window() == "cumulative") total_ = r;
      return;
    }
    if (r.window() == "cumulative") cumulative_[r.campaign_id()] = r;
    if (r.window() == "1m") minute_[r.campaign_id()] = r;
  }
  void Draw(const std::vector<AlertEvent>& firing, const EngineCounters& c, double events_per_s,
            int64_t produced, bool tty) {
    std::vector<const v1::WindowResult*> top;
    for (const auto& [id, r] : cumulative_) top.push_back(&r);
    std::sort(top.begin(), top.end(),
              [](auto* a, auto* b) { return a->gmv_cents() > b->gmv_cents(); });
    std::string out = tty ? "\x1b[H\x1b[2J" : "";
    out += fmt::format(
        "promowatch demo  produced={} consumed={} accepted={} rejected={} "
        "duplicates={} late={}  {:.0f} events/s  (Ctrl-C stops)\n"
        "status page: {}\n\n",
        produced, c.read, c.accepted, c.rejected_total(), c.duplicates, c.late, events_per_s,
        status_url_);
    out += fmt::format("{:<10} {:>14} {:>8} {:>8} {:>9}\n", "campaign", "GMV since 0:00", "CTR 1m",
                       "CVR 1m", "UV");
    for (size_t i = 0; i < top.size() && i < 10; ++i) {
      const auto& cum = *top[i];
      auto m = minute_.find(cum.campaign_id());
      auto pct = [](bool has, double v) {
        return has ? fmt::format("{:.2f}%", v * 100) : std::string("-");
      };
      out += fmt::format("{:<10} {:>14.2f} {:>8} {:>8} {:>9}\n", cum.campaign_id(),
                         static_cast<double>(cum.gmv_cents()) / 100.0,
                         m == minute_.end() ? "-" : pct(m->second.has_ctr(), m->second.ctr()),
                         m == minute_.end() ? "-" : pct(m->second.has_cvr(), m->second.cvr()),
                         cum.uv());
    }
    out += fmt::format("{:<10} {:>14.2f}\n\nfiring alerts:\n", "all",
                       static_cast<double>(total_.gmv_cents()) / 100.0);
    if (firing.empty()) out += "  (none)\n";
    for (const auto& a : firing) {
      out += fmt::format("  [{}] {} {}/{}: {} {} = {:.4f} (threshold {:.4f})\n", a.severity, a.rule,
                         a.campaign_id, a.channel, a.window, a.metric, a.value, a.threshold);
    }
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
  }

 private:
  std::string status_url_;
  std::map<std::string, v1::WindowResult> cumulative_, minute_;
  v1::WindowResult total_;
};

}  // namespace

int RunDemo(const DemoArgs& args) {
  PipelineConfig config;
  if (!LoadConfigForCommand(args.config, &config)) return 2;
  if (config.alert_rules.empty()) {
    AlertRule rule;  // the planning sheet's "Douyin CTR >= 1.5%"
    rule.name = "low_ctr";
    rule.metric = "ctr";
    rule.window = "1m";
    rule.scope = AlertRule::Scope::kCampaignChannel;
    rule.op = AlertRule::Op::kLess;
    rule.threshold = 0.015;
    rule.min_volume = 500;
    config.alert_rules.push_back(rule);
  }
  config.metrics.address = args.metrics_address;
  config.checkpoint_interval_ms = 2'000;
  config.idle_partition_timeout_ms = 2'000;
  // The demo's sale runs --speed times faster than the wall clock: its event
  // times are ahead of it by design, so the clock-skew guard is off.
  config.max_future_skew_ms = 0;
  char tmpl[] = "/tmp/promowatch-demo-state-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return 1;
  config.state_dir = tmpl;
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{config.state_dir};

  InstallStopHandlers();
  auto cluster = MockKafkaCluster::Start(1, 4,
                                         {"clickstream", "orders", "spend", "promowatch-metrics",
                                          "promowatch-dlq", "promowatch-alerts",
                                          "promowatch-changelog", "promowatch-repartition",
                                          "promowatch-partials"});
  if (!cluster.ok()) {
    spdlog::error("msg=\"cannot start the embedded cluster\" error=\"{}\"",
                  std::string(cluster.status().message()));
    return 1;
  }
  config.kafka.brokers = (*cluster)->bootstrap_servers();
  config.kafka.group = "promowatch-demo";
  config.kafka.results_json = true;
  config.kafka.properties["session.timeout.ms"] = "6000";
  auto results_sink = KafkaSink::Create(config.kafka);
  auto producer_sink = KafkaSink::Create(config.kafka);
  auto metrics = LiveMetrics::Start(config.metrics);
  if (!results_sink.ok() || !producer_sink.ok() || !metrics.ok()) {
    spdlog::error(
        "msg=\"cannot start the demo\" error=\"{}\"",
        std::string(!metrics.ok() ? metrics.status().message() : "kafka client setup failed"));
    return 2;
  }
  (*results_sink)->FetchOutputMetadata();

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

  DemoView view(config.metrics.scheme() + "://" + config.metrics.address + "/");
  LiveRunner runner(config, results_sink->get(), metrics->get(), &view);
  auto stop_all = [&] {
    producer_stop.store(true);
    if (producer.joinable()) producer.join();
  };
  if (auto st = runner.Open(config.state_dir); !st.ok()) {
    stop_all();
    spdlog::error("msg=\"cannot open state\" error=\"{}\"", std::string(st.message()));
    return 1;
  }
  auto source = KafkaSource::Create(config.kafka, runner.listener());
  if (!source.ok()) {
    stop_all();
    return 2;
  }
  const bool tty = isatty(STDOUT_FILENO) != 0;
  const auto begin = std::chrono::steady_clock::now();
  int64_t last_read = 0;
  auto last = begin;
  std::printf(
      "promowatch demo: embedded Kafka at %s, /metrics at %s://%s/metrics\n"
      "status page (open in a browser): %s://%s/\n",
      config.kafka.brokers.c_str(), config.metrics.scheme().c_str(),
      config.metrics.address.c_str(), config.metrics.scheme().c_str(),
      config.metrics.address.c_str());
  const int rc = runner.Run(source->get(), [&] {
    const auto now = std::chrono::steady_clock::now();
    const double secs = std::chrono::duration<double>(now - last).count();
    const int64_t read = runner.counters().read;
    view.Draw(runner.FiringAlerts(), runner.counters(),
              secs > 0 ? static_cast<double>(read - last_read) / secs : 0, produced.load(), tty);
    last_read = read;
    last = now;
    if (args.duration_s > 0 &&
        std::chrono::duration<double>(now - begin).count() >= args.duration_s) {
      RequestStop();
    }
  });
  stop_all();
  return rc;
}

}  // namespace promowatch
