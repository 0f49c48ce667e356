// promowatch run / mock-kafka: the operators on live Kafka streams.
//
// Exactly-once effect on state: offsets are not committed by librdkafka;
// every checkpoint writes the operators' dirty state, the watermarks and the
// next offset of every partition in one RocksDB WriteBatch, after the results
// produced so far are acknowledged by Kafka. On start (and on every
// assignment) each partition is sought to the offset stored with the state.
// After a crash, records after the last checkpoint are read again and
// their effect on state is redone exactly once; results emitted after that
// checkpoint may be published a second time (at-least-once output): consumers
// upsert on (window, window_start_ms, campaign_id, channel).

#include <librdkafka/rdkafkacpp.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <thread>

#include "pipeline/commands.h"
#include "pipeline/engine.h"
#include "pipeline/fault_injection.h"
#include "pipeline/kafka.h"
#include "pipeline/metrics.h"

namespace promowatch {
namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

void InstallStopHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Drives one Engine from a KafkaSource into a KafkaSink, and checkpoints.
class LiveRunner final : public KafkaSource::Listener {
 public:
  LiveRunner(const PipelineConfig& config, KafkaSink* sink, LiveMetrics* metrics)
      : config_(config),
        sink_(sink),
        metrics_(metrics),
        metered_(sink, metrics),
        engine_(config, &metered_, sink, sink) {}

  absl::Status Open(const std::string& state_dir) {
    auto backend = RocksStateBackend::Open(state_dir, engine_.StateTables(), config_.state);
    if (!backend.ok()) return backend.status();
    backend_ = std::move(*backend);
    SourcePosition position;
    if (auto s = engine_.Restore(backend_.get(), &position); !s.ok()) return s;
    if (position.restored) {
      if (!position.fingerprint.empty() && position.fingerprint != Fingerprint()) {
        return absl::FailedPreconditionError(
            "the state in " + state_dir + " belongs to " + position.fingerprint +
            ", not " + Fingerprint() + ": use another --state-dir for another group");
      }
      next_offsets_ = position.offsets;
      spdlog::info("msg=\"restored checkpoint\" dir={} partitions={}", state_dir,
                   next_offsets_.size());
    }
    return absl::OkStatus();
  }

  int64_t OnAssigned(const AssignedPartition& p) override {
    const std::string name = PartitionName(p.topic, p.partition);
    const uint32_t slot = engine_.watermarks().Slot(name);
    engine_.watermarks().SetAssigned(slot, true, NowMs());
    auto it = next_offsets_.find(name);
    return it == next_offsets_.end() ? -1 : it->second;
  }

  void OnRevoking(const std::vector<AssignedPartition>& partitions) override {
    // Records already fetched from these partitions are processed and
    // checkpointed before they are given up, so the next owner starts
    // exactly where this instance's state ends.
    ProcessPending();
    if (auto s = Checkpoint(); !s.ok()) {
      spdlog::error("msg=\"checkpoint before revoke failed\" error=\"{}\"",
                    std::string(s.message()));
    }
    for (const auto& p : partitions) {
      engine_.watermarks().SetAssigned(engine_.watermarks().Slot(PartitionName(p.topic, p.partition)),
                                       false, NowMs());
    }
  }

  int Run(KafkaSource* source) {
    source_ = source;
    auto last_checkpoint = std::chrono::steady_clock::now();
    auto last_report = last_checkpoint;
    auto last_metrics = last_checkpoint;
    int64_t since_checkpoint = 0;
    while (!g_stop.load()) {
      source->Poll(static_cast<size_t>(config_.batch_size), 100, &pending_);
      since_checkpoint += static_cast<int64_t>(pending_.size());
      read_here_ += static_cast<int64_t>(pending_.size());
      if (pending_.empty()) {
        engine_.Tick();  // a quiet stream still closes its windows (idle partitions)
      } else {
        ProcessPending();
        kill_point_.AfterRecords(read_here_);
      }
      sink_->Poll();
      const auto now = std::chrono::steady_clock::now();
      if (since_checkpoint >= config_.checkpoint_every_records ||
          now - last_checkpoint >= std::chrono::milliseconds(config_.checkpoint_interval_ms)) {
        if (auto s = Checkpoint(); !s.ok()) {
          spdlog::error("msg=\"checkpoint failed, will retry\" error=\"{}\"",
                        std::string(s.message()));
        } else {
          since_checkpoint = 0;
        }
        last_checkpoint = now;
      }
      if (now - last_metrics >= std::chrono::seconds(1)) {
        UpdateGauges();
        last_metrics = now;
      }
      if (now - last_report >= std::chrono::seconds(10)) {
        Report("progress");
        metrics_->ExpireCampaigns(NowMs());
        last_report = now;
      }
    }
    spdlog::info("msg=\"stopping: final checkpoint\"");
    ProcessPending();
    absl::Status s = Checkpoint();
    source->Close();  // revokes: processes and checkpoints again, then leaves the group
    Report("stopped");
    return s.ok() ? 0 : 1;
  }

 private:
  std::string Fingerprint() const { return "kafka group " + config_.kafka.group; }

  void ProcessPending() {
    if (pending_.empty()) return;
    // One Engine batch per topic (the source name goes to dead letters);
    // order within each partition is kept.
    by_topic_.clear();
    for (const auto& m : pending_) {
      const std::string& topic = m->topic_name();
      const std::string name = PartitionName(topic, m->partition());
      auto slot = slots_.find(name);
      if (slot == slots_.end()) slot = slots_.emplace(name, engine_.watermarks().Slot(name)).first;
      RawRecord r;
      r.bytes = std::string_view(static_cast<const char*>(m->payload()), m->len());
      r.offset = m->offset();
      r.partition = slot->second;
      r.source_partition = m->partition();
      by_topic_[topic].push_back(r);
      next_offsets_[name] = m->offset() + 1;
    }
    for (auto& [topic, records] : by_topic_) {
      const EngineCounters before = engine_.counters();
      engine_.Process(records, topic, std::nullopt);
      metrics_->RecordBatch(topic, before, engine_.counters());
    }
    pending_.clear();
  }

  absl::Status Checkpoint() {
    const auto start = std::chrono::steady_clock::now();
    // Results emitted so far must be in Kafka before the state that says
    // they were emitted.
    if (auto s = sink_->Flush(30'000); !s.ok()) {
      metrics_->CheckpointFailed();
      return s;
    }
    kill_point_.BeforeCheckpointCommit();
    SourcePosition p;
    p.fingerprint = Fingerprint();
    p.offsets = next_offsets_;
    if (auto s = engine_.Checkpoint(p); !s.ok()) {
      metrics_->CheckpointFailed();
      return s;
    }
    if (source_ != nullptr) source_->CommitForMonitoring(next_offsets_);
    last_checkpoint_ms_ = std::chrono::duration<double, std::milli>(
                              std::chrono::steady_clock::now() - start).count();
    metrics_->CheckpointDone(last_checkpoint_ms_ / 1000.0, engine_.last_checkpoint_bytes(),
                             backend_->ApproximateSizeBytes());
    return absl::OkStatus();
  }

  void UpdateGauges() {
    metrics_->SetWatermark(engine_.watermark_ms(), NowMs());
    if (source_ == nullptr) return;
    for (const auto& [name, next] : next_offsets_) {
      const size_t slash = name.rfind('/');
      const std::string topic = name.substr(0, slash);
      const int32_t partition = std::stoi(name.substr(slash + 1));
      const int64_t high = source_->HighWatermark(topic, partition);
      if (high >= 0) metrics_->SetLag(topic, partition, std::max<int64_t>(0, high - next));
    }
  }

  void Report(const char* what) {
    const auto& c = engine_.counters();
    spdlog::info("msg=\"{}\" read={} accepted={} rejected={} duplicates={} late={} watermark_ms={} "
                 "idle_partitions={} produced={} failed_deliveries={} checkpoints={} "
                 "last_checkpoint_ms={:.1f}",
                 what, c.read, c.accepted, c.rejected_total(), c.duplicates, c.late,
                 engine_.watermark_ms(), engine_.watermarks().idle_partitions(), sink_->produced(),
                 sink_->failed_deliveries(), c.checkpoints, last_checkpoint_ms_);
  }

  PipelineConfig config_;
  KafkaSink* sink_;
  LiveMetrics* metrics_;
  MeteredResultSink metered_;
  Engine engine_;
  std::unique_ptr<RocksStateBackend> backend_;
  KafkaSource* source_ = nullptr;
  std::vector<std::unique_ptr<RdKafka::Message>> pending_;
  std::map<std::string, std::vector<RawRecord>> by_topic_;
  std::map<std::string, uint32_t> slots_;
  std::map<std::string, int64_t> next_offsets_;
  double last_checkpoint_ms_ = 0;
  KillPoint kill_point_ = KillPoint::FromEnv();
  int64_t read_here_ = 0;
};

}  // namespace

int RunLive(const LiveArgs& args) {
  PipelineConfig config;
  if (!args.config.empty()) {
    auto loaded = LoadConfig(args.config);
    if (!loaded.ok()) {
      spdlog::error("msg=\"bad config\" error=\"{}\"", std::string(loaded.status().message()));
      return 2;
    }
    config = *loaded;
  }
  if (!args.brokers.empty()) config.kafka.brokers = args.brokers;
  if (!args.group.empty()) config.kafka.group = args.group;
  if (!args.state_dir.empty()) config.state_dir = args.state_dir;
  if (!args.results_format.empty()) config.kafka.results_json = args.results_format == "json";
  if (config.state_dir.empty()) {
    spdlog::error("msg=\"no state directory\" hint=\"pass --state-dir DIR (or state.dir in the "
                  "config): the live pipeline keeps its state and offsets there\"");
    return 2;
  }
  InstallStopHandlers();
  auto sink = KafkaSink::Create(config.kafka);
  if (!sink.ok()) {
    spdlog::error("msg=\"cannot create the producer\" error=\"{}\"",
                  std::string(sink.status().message()));
    return 2;
  }
  if (!args.metrics_address.empty()) config.metrics.address = args.metrics_address;
  auto metrics = LiveMetrics::Start(config.metrics);
  if (!metrics.ok()) {
    spdlog::error("msg=\"cannot serve metrics\" error=\"{}\"",
                  std::string(metrics.status().message()));
    return 2;
  }
  LiveRunner runner(config, sink->get(), metrics->get());
  if (auto s = runner.Open(config.state_dir); !s.ok()) {
    spdlog::error("msg=\"cannot open state\" error=\"{}\"", std::string(s.message()));
    return 1;
  }
  auto source = KafkaSource::Create(config.kafka, &runner);
  if (!source.ok()) {
    spdlog::error("msg=\"cannot create the consumer\" error=\"{}\"",
                  std::string(source.status().message()));
    return 2;
  }
  spdlog::info("msg=\"running\" brokers={} group={} state_dir={} results={} metrics=http://{}/metrics",
               config.kafka.brokers, config.kafka.group, config.state_dir,
               config.kafka.results_json ? "json" : "protobuf", config.metrics.address);
  return runner.Run(source->get());
}

int RunMockKafka(const MockKafkaArgs& args) {
  // Block the stop signals in every thread (librdkafka's included) and wait
  // for them here.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  KafkaOptions defaults;
  std::vector<std::string> topics = defaults.input_topics;
  topics.push_back(defaults.results_topic);
  topics.push_back(defaults.dead_letter_topic);
  topics.push_back(defaults.alerts_topic);
  auto cluster = MockKafkaCluster::Start(args.brokers, args.partitions, topics);
  if (!cluster.ok()) {
    spdlog::error("msg=\"cannot start the mock cluster\" error=\"{}\"",
                  std::string(cluster.status().message()));
    return 1;
  }
  std::printf("%s\n", (*cluster)->bootstrap_servers().c_str());
  std::fflush(stdout);
  spdlog::info("msg=\"mock kafka running\" bootstrap={} brokers={} partitions={} topics={}",
               (*cluster)->bootstrap_servers(), args.brokers, args.partitions, topics.size());
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("msg=\"mock kafka stopping\" signal={}", sig);
  return 0;
}

}  // namespace promowatch
