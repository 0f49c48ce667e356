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

#include <google/protobuf/util/json_util.h>
#include <librdkafka/rdkafkacpp.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fmt/format.h>
#include <functional>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "pipeline/generator.h"

#include "pipeline/commands.h"
#include "pipeline/engine.h"
#include "pipeline/fault_injection.h"
#include "pipeline/kafka.h"
#include "pipeline/alertmanager.h"
#include "operators/alert_engine.h"
#include "operators/user_profiles.h"
#include "pipeline/metrics.h"
#include "pipeline/query_api.h"

namespace promowatch {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};
void OnSignal(int) { g_stop.store(true); }
void OnHangup(int) { g_reload.store(true); }

void InstallStopHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  struct sigaction hup {};
  hup.sa_handler = OnHangup;
  sigemptyset(&hup.sa_mask);
  sigaction(SIGHUP, &hup, nullptr);
  // A file-size limit reached (ulimit -f) fails the write with EFBIG, which
  // the state backend reports, instead of killing the process unannounced.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGXFSZ, &ignore, nullptr);
}

// Modification time of a file (0 when it cannot be read).
int64_t MtimeNs(const std::string& path) {
  std::error_code ec;
  const auto t = std::filesystem::last_write_time(path, ec);
  return ec ? 0 : static_cast<int64_t>(t.time_since_epoch().count());
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Drives one Engine from a KafkaSource into a KafkaSink, and checkpoints.
class LiveRunner final : public KafkaSource::Listener {
 public:
  // `tap` (optional) sees every result before it goes to Kafka (the demo view).
  LiveRunner(const PipelineConfig& config, KafkaSink* sink, LiveMetrics* metrics,
             WindowResultSink* tap = nullptr)
      : config_(config),
        sink_(sink),
        metrics_(metrics),
        tee_(tap, sink),
        metered_(tap != nullptr ? static_cast<WindowResultSink*>(&tee_) : sink, metrics),
        alerts_(config.alert_rules, &metered_, [this](const AlertEvent& a) { OnAlert(a); }),
        engine_(config, &alerts_, sink, sink) {
    engine_.Attach(&alerts_);  // alert instances are checkpointed with the windows
    if (config.profiles_enabled) {
      // Profiles and tags: checkpointed with the windows; every change goes
      // to the user-tags topic, keyed by user id (after a crash, changes
      // after the last checkpoint may be published again, like results).
      profiles_ = std::make_unique<UserProfileOperator>(config.tag_rules, [this](const TagChange& c) {
        if (config_.kafka.results_json) {
          sink_->Produce(config_.kafka.user_tags_topic, c.user_id, TagChangeToJson(c));
        } else {
          v1::UserTagChange p;
          p.set_user_id(c.user_id);
          p.set_tag(c.tag);
          p.set_from(c.from);
          p.set_to(c.to);
          p.set_reason(c.reason);
          p.set_event_time_ms(c.event_time_ms);
          sink_->Produce(config_.kafka.user_tags_topic, c.user_id, p.SerializeAsString());
        }
      }, static_cast<size_t>(config.profiles_max_users_in_memory),
         static_cast<size_t>(config.profiles_checkpoint_every_changed));
      engine_.AddOperator(profiles_.get());
    }
    metrics_->SetAlertsFiring(alerts_.FiringCounts());
    sink_->OnResultPublished([metrics](double seconds) { metrics->ResultPublished(seconds); });
    AlertmanagerOptions am = config.alertmanager;
    if (am.generator_url.empty()) am.generator_url = "http://" + config.metrics.address + "/metrics";
    for (const auto& url : am.urls) {
      notifiers_.push_back(std::make_unique<AlertmanagerNotifier>(url, am, metrics));
    }
  }

  ~LiveRunner() {
    // The HTTP threads stop using the API (and the state under it) first.
    if (api_) metrics_->SetApiHandler(nullptr);
  }

  const AlertEngine& alerts() const { return alerts_; }

  // The config file whose alert rules (inline or its alerts.rules_file) are
  // reloaded on SIGHUP or when either file changes.
  void WatchRules(const std::string& config_path) {
    rules_config_path_ = config_path;
    rules_mtime_ = RulesMtime();
  }
  const EngineCounters& counters() const { return engine_.counters(); }

  absl::Status Open(const std::string& state_dir) {
    auto backend = RocksStateBackend::Open(state_dir, engine_.StateTables(), config_.state);
    if (!backend.ok()) return backend.status();
    backend_ = std::move(*backend);
    SourcePosition position;
    if (auto s = engine_.Restore(backend_.get(), &position); !s.ok()) return s;
    if (config_.api.enabled) {
      api_ = std::make_unique<QueryApi>(config_.api, backend_.get(), metrics_);
      metrics_->SetApiHandler([api = api_.get()](const std::string& path, const std::string& auth) {
        return api->Handle(path, auth);
      });
      spdlog::info("msg=\"query api on\" url=http://{}/v1/", config_.metrics.address);
    }
    if (position.restored) {
      if (!position.fingerprint.empty() && position.fingerprint != Fingerprint()) {
        return absl::FailedPreconditionError(
            "the state in " + state_dir + " belongs to " + position.fingerprint +
            ", not " + Fingerprint() + ": use another --state-dir for another group");
      }
      next_offsets_ = position.offsets;
      metrics_->SetAlertsFiring(alerts_.FiringCounts());
      // Firing alerts outlive the process: Alertmanager gets them again
      // (same labels, same startsAt: one alert, no new page).
      for (const AlertEvent& a : alerts_.Firing()) {
        spdlog::info("msg=\"alert still firing after restart\" alert={}", AlertToJson(a));
        for (auto& n : notifiers_) n->Notify(a, NowMs());
      }
      spdlog::info("msg=\"restored checkpoint\" dir={} partitions={}", state_dir,
                   next_offsets_.size());
    }
    return absl::OkStatus();
  }

  int64_t OnAssigned(const AssignedPartition& p) override {
    const std::string name = PartitionName(p.topic, p.partition);
    const uint32_t slot = engine_.watermarks().Slot(name);
    engine_.watermarks().SetAssigned(slot, true, NowMs());
    assigned_.insert(name);
    metrics_->SetReady(true, "ok: consuming " + std::to_string(assigned_.size()) + " partitions");
    auto it = next_offsets_.find(name);
    return it == next_offsets_.end() ? -1 : it->second;
  }

  void OnRevoking(const std::vector<AssignedPartition>& partitions) override {
    // Records already fetched from these partitions are processed and
    // checkpointed before they are given up, so the next owner starts
    // exactly where this instance's state ends.
    // (After a state failure nothing can be saved: the next owner starts
    // from the last durable checkpoint.)
    if (!state_failed_) ProcessPending();
    if (auto s = state_failed_ ? absl::OkStatus() : Checkpoint(); !s.ok()) {
      spdlog::error("msg=\"checkpoint before revoke failed\" error=\"{}\"",
                    std::string(s.message()));
    }
    for (const auto& p : partitions) {
      assigned_.erase(PartitionName(p.topic, p.partition));
      engine_.watermarks().SetAssigned(engine_.watermarks().Slot(PartitionName(p.topic, p.partition)),
                                       false, NowMs());
    }
  }

  // `on_second` (optional) runs about once a second on this thread.
  int Run(KafkaSource* source, const std::function<void()>& on_second = nullptr) {
    source_ = source;
    auto last_checkpoint = std::chrono::steady_clock::now();
    auto last_report = last_checkpoint;
    auto last_metrics = last_checkpoint;
    int64_t since_checkpoint = 0;
    while (!g_stop.load()) {
      source->Poll(static_cast<size_t>(config_.batch_size), 100, &pending_);
      if (pending_.empty()) UpdateCompleteness();  // else in ProcessPending
      since_checkpoint += static_cast<int64_t>(pending_.size());
      read_here_ += static_cast<int64_t>(pending_.size());
      if (pending_.empty()) {
        sink_->SetResultsDueSince(std::chrono::steady_clock::now());
        engine_.Tick();  // a quiet stream still closes its windows (idle partitions)
      } else {
        ProcessPending();
        kill_point_.AfterRecords(read_here_);
      }
      sink_->Poll();
      const auto now = std::chrono::steady_clock::now();
      // A quiet stream (nothing read, watermark still) has nothing to save.
      const bool changed = since_checkpoint > 0 || engine_.watermark_ms() != checkpointed_watermark_;
      const auto interval = std::chrono::milliseconds(config_.checkpoint_interval_ms);
      if ((since_checkpoint >= config_.checkpoint_every_records || engine_.checkpoint_wanted() ||
           (changed && now - last_checkpoint >= interval)) &&
          engine_.ReadyForCheckpoint(since_checkpoint >= 2 * config_.checkpoint_every_records ||
                                     now - last_checkpoint >= 2 * interval)) {
        if (auto s = Checkpoint(/*wait=*/false); !s.ok()) {
          spdlog::error("msg=\"checkpoint failed{}\" error=\"{}\"", state_failed_ ? "" : ", will retry",
                        std::string(s.message()));
        } else {
          since_checkpoint = 0;
          checkpointed_watermark_ = engine_.watermark_ms();
        }
        last_checkpoint = now;
      }
      if (g_reload.exchange(false)) ReloadRules("SIGHUP");
      if (now - last_metrics >= std::chrono::seconds(1)) {
        metrics_->Heartbeat(NowMs());
        if (!rules_config_path_.empty() && RulesMtime() != rules_mtime_) ReloadRules("file changed");
        if (ever_assigned_) alerts_.CheckTopicSilence(engine_.watermarks().TopicSilence(NowMs()), NowMs());
        UpdateGauges();
        if (on_second) on_second();
        last_metrics = now;
      }
      if (now - last_report >= std::chrono::seconds(10)) {
        Report("progress");
        metrics_->ExpireCampaigns(NowMs());
        last_report = now;
      }
    }
    if (state_failed_) {
      spdlog::error("msg=\"state could not be written; stopping without a final checkpoint\" "
                    "hint=\"fix the state directory (space, permissions, disk) and restart: promowatch "
                    "resumes from the last durable checkpoint and reads the records after it again\"");
      metrics_->SetReady(false, "stopping: state could not be written");
      source->Close();
      Report("stopped");
      return 1;
    }
    spdlog::info("msg=\"stopping: final checkpoint\"");
    metrics_->SetReady(false, "stopping: final checkpoint");
    ProcessPending();
    absl::Status s = Checkpoint();
    source->Close();  // revokes: processes and checkpoints again, then leaves the group
    // What Alertmanager has not acknowledged yet gets a few seconds; firing
    // alerts are in the checkpoint and are sent again after a restart.
    for (auto& n : notifiers_) n->Stop(std::min<int64_t>(5'000, config_.alertmanager.timeout_ms));
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
    delivering_.clear();
    kafka_timestamps_ms_.clear();
    for (const auto& m : pending_) {
      const std::string& topic = m->topic_name();
      const std::string name = PartitionName(topic, m->partition());
      auto next = next_offsets_.find(name);
      if (next != next_offsets_.end() && m->offset() != next->second) {
        if (m->offset() < next->second) {
          // Already in state (a fetch from before a seek): counting it again
          // would break exactly-once, so it is dropped.
          metrics_->RecordsRefetched(topic, 1);
          continue;
        }
        const int64_t skipped = m->offset() - next->second;
        metrics_->OffsetsSkipped(topic, skipped);
        spdlog::warn("msg=\"offsets skipped\" partition={} from={} to={} count={} hint=\"Kafka no "
                     "longer holds them: retention deleted records before promowatch read them "
                     "(raise the topic's retention or fix the lag), or they were compacted away "
                     "or are transaction markers\"",
                     name, next->second, m->offset(), skipped);
      }
      auto slot = slots_.find(name);
      if (slot == slots_.end()) slot = slots_.emplace(name, engine_.watermarks().Slot(name)).first;
      RawRecord r;
      r.bytes = std::string_view(static_cast<const char*>(m->payload()), m->len());
      r.offset = m->offset();
      r.partition = slot->second;
      if (delivering_.empty() || delivering_.back() != slot->second) delivering_.push_back(slot->second);
      r.source_partition = m->partition();
      by_topic_[topic].push_back(r);
      next_offsets_[name] = m->offset() + 1;
      const RdKafka::MessageTimestamp ts = m->timestamp();
      if (ts.type != RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE) {
        kafka_timestamps_ms_.push_back(ts.timestamp);
      }
    }
    // Windows these records close are due from now: publish delay counts
    // this batch's processing too.
    sink_->SetResultsDueSince(std::chrono::steady_clock::now());
    UpdateCompleteness();  // before the windows these records close are judged
    for (auto& [topic, records] : by_topic_) {
      const EngineCounters before = engine_.counters();
      engine_.Process(records, topic, config_.kafka.InputFormatOf(topic));
      metrics_->RecordBatch(topic, before, engine_.counters());
    }
    metrics_->RecordsVisible(kafka_timestamps_ms_, NowMs());
    pending_.clear();
  }

  // `wait`: durable before returning (before a revoke or a stop); else the
  // commit runs in the background while the next batches are processed.
  absl::Status Checkpoint(bool wait = true) {
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
    if (auto s = engine_.Checkpoint(p, wait); !s.ok()) {
      // The state backend failed (disk full, I/O error): operators already
      // consider what they handed over saved, so no later checkpoint can be
      // trusted. Stop; a restart resumes from the last durable checkpoint.
      metrics_->CheckpointFailed();
      state_failed_ = true;
      g_stop.store(true);
      return s;
    }
    // Only the partitions this member owns: a commit for others (or before
    // the first assignment) is refused by the group coordinator.
    if (source_ != nullptr && !assigned_.empty()) {
      std::map<std::string, int64_t> owned;
      for (const auto& name : assigned_) {
        if (auto it = next_offsets_.find(name); it != next_offsets_.end()) owned.emplace(name, it->second);
      }
      source_->CommitForMonitoring(owned);
    }
    last_checkpoint_ms_ = std::chrono::duration<double, std::milli>(
                              std::chrono::steady_clock::now() - start).count();
    // The duration is the pause in processing; the watermark gauge follows
    // durable checkpoints only (UpdateGauges).
    metrics_->CheckpointDone(last_checkpoint_ms_ / 1000.0, engine_.last_checkpoint_bytes(),
                             backend_->ApproximateSizeBytes(), engine_.committed_watermark_ms());
    return absl::OkStatus();
  }

  // Whether windows emitted now have complete inputs (see
  // DataCompletenessOptions); judged before each batch. Changes are logged,
  // exported, and sent to Alertmanager as an info alert of their own.
  void UpdateCompleteness() {
    const DataCompletenessOptions& o = config_.completeness;
    std::string kind, detail;
    const int64_t wall = NowMs();
    if (assigned_.empty()) {
      kind = "unassigned";
      detail = "no input partition is assigned (a rebalance in progress, or more members than partitions)";
    }
    if (kind.empty() && o.max_lag_records > 0 && source_ != nullptr) {
      for (const auto& name : assigned_) {
        auto next = next_offsets_.find(name);
        if (next == next_offsets_.end()) continue;
        const size_t slash = name.rfind('/');
        const int64_t high = source_->HighWatermark(name.substr(0, slash), std::stoi(name.substr(slash + 1)));
        if (high - next->second > o.max_lag_records) {
          kind = "lagging";
          detail = fmt::format("{} is {} records behind (catching up; bound {})", name,
                               high - next->second, o.max_lag_records);
          break;
        }
      }
    }
    if (kind.empty() && o.max_partition_silence_ms > 0) {
      const auto [name, silent_ms] = engine_.watermarks().LongestSilence(wall, delivering_);
      if (silent_ms > o.max_partition_silence_ms && assigned_.count(name) != 0) {
        kind = "partition_silent";
        detail = fmt::format("{} delivered nothing for {} s (bound {} s)", name, silent_ms / 1000,
                             o.max_partition_silence_ms / 1000);
      }
    }
    if (!ever_assigned_) {
      // Joining the group at start-up: nothing to judge yet, nothing to say.
      if (assigned_.empty()) {
        alerts_.SetDataIncomplete("starting: no partition assigned yet");
        return;
      }
      ever_assigned_ = true;
      alerts_.SetDataIncomplete("");
    }
    if (kind == incomplete_kind_) return;
    AlertEvent a;
    a.rule = "promowatch_data_incomplete";
    a.campaign_id = "*";
    a.channel = "*";
    a.metric = "data_complete";
    a.window = "live";
    a.severity = "info";
    a.window_end_ms = wall;
    if (!kind.empty()) {
      spdlog::warn("msg=\"data incomplete: alert rules are not judged\" reason={} detail=\"{}\"", kind, detail);
      incomplete_since_ms_ = wall;
      a.state = "firing";
    } else {
      spdlog::info("msg=\"data complete again: alert rules are judged\" was={}", incomplete_kind_);
      a.state = "resolved";
    }
    a.active_since_ms = incomplete_since_ms_;
    a.annotations = {{"summary", kind.empty() ? "input data complete again" : "input data incomplete: " + detail},
                     {"reason", kind.empty() ? incomplete_kind_ : kind}};
    incomplete_kind_ = kind;
    alerts_.SetDataIncomplete(kind.empty() ? "" : kind + ": " + detail);
    metrics_->SetDataComplete(kind.empty());
    for (auto& n : notifiers_) n->Notify(a, wall);
  }

  int64_t RulesMtime() const {
    return MtimeNs(rules_config_path_) ^ (config_.alert_rules_file.empty() ? 0 : MtimeNs(config_.alert_rules_file));
  }

  // New rules without losing alert state; a file that does not load (or
  // needs a restart) is rejected and the running rules stay.
  void ReloadRules(const char* why) {
    rules_mtime_ = RulesMtime();
    if (rules_config_path_.empty()) {
      spdlog::warn("msg=\"nothing to reload\" reason={} hint=\"start with --config FILE to reload its alert rules\"", why);
      return;
    }
    auto loaded = LoadConfig(rules_config_path_);
    absl::Status status = loaded.status();
    if (loaded.ok()) {
      for (const AlertRule& rule : loaded->alert_rules) {
        const auto& sizes = config_.operators.window_minutes;
        if (rule.window != "cumulative" &&
            std::find(sizes.begin(), sizes.end(), std::atoi(rule.window.c_str())) == sizes.end()) {
          status = absl::FailedPreconditionError(
              fmt::format("rule '{}' needs window {}, which this process does not compute: "
                          "windows.sizes changes need a restart", rule.name, rule.window));
          break;
        }
      }
    }
    if (!status.ok()) {
      metrics_->RulesReloaded(false);
      spdlog::error("msg=\"alert rules rejected, the running rules stay\" reason={} error=\"{}\"", why,
                    std::string(status.message()));
      return;
    }
    std::vector<AlertRule> rules = loaded->alert_rules;
    config_.alert_rules = rules;
    config_.alert_rules_file = loaded->alert_rules_file;
    alerts_.ReplaceRules(std::move(rules), engine_.watermark_ms());
    metrics_->RulesReloaded(true);
    metrics_->SetAlertsFiring(alerts_.FiringCounts());
    spdlog::info("msg=\"alert rules reloaded\" reason={} rules={} firing={}", why,
                 config_.alert_rules.size(), alerts_.Firing().size());
  }

  void OnAlert(const AlertEvent& a) {
    const std::string json = AlertToJson(a);
    if (a.state == "data_incomplete") {
      spdlog::debug("msg=\"alert not judged: data incomplete\" alert={}", json);
      return;
    }
    if (a.state == "pending") {
      // Not a notification: the rule's `for` has not elapsed yet.
      spdlog::info("msg=\"alert pending\" alert={}", json);
      return;
    }
    if (a.state == "firing" && a.correction) {
      spdlog::info("msg=\"alert corrected by late data\" alert={}", json);
    } else if (a.state == "firing") {
      spdlog::warn("msg=\"alert firing\" alert={}", json);
    } else {
      spdlog::info("msg=\"alert resolved\" alert={}", json);
    }
    for (auto& n : notifiers_) n->Notify(a, NowMs());
    if (config_.kafka.results_json) {
      sink_->Produce(config_.kafka.alerts_topic, a.campaign_id, json);
    } else {
      v1::Alert p;
      p.set_rule(a.rule);
      p.set_state(a.state);
      p.set_campaign_id(a.campaign_id);
      p.set_channel(a.channel);
      p.set_metric(a.metric);
      p.set_value(a.value);
      p.set_threshold(a.threshold);
      p.set_window(a.window);
      p.set_event_time_ms(a.window_end_ms);
      p.set_severity(a.severity);
      sink_->Produce(config_.kafka.alerts_topic, a.campaign_id, p.SerializeAsString());
    }
    metrics_->SetAlertsFiring(alerts_.FiringCounts());
  }

  void UpdateGauges() {
    metrics_->SetWatermark(engine_.watermark_ms(), NowMs());
    metrics_->SetCheckpointWatermark(engine_.committed_watermark_ms());
    if (profiles_) metrics_->SetUserTags(profiles_->users(), profiles_->users_in_memory(), profiles_->tag_counts());
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
  struct Tee final : WindowResultSink {
    Tee(WindowResultSink* a, WindowResultSink* b) : first(a), second(b) {}
    void Emit(const v1::WindowResult& r) override {
      if (first != nullptr) first->Emit(r);
      second->Emit(r);
    }
    WindowResultSink* first;
    WindowResultSink* second;
  } tee_;
  MeteredResultSink metered_;
  AlertEngine alerts_;
  std::unique_ptr<RocksStateBackend> backend_;  // (before engine_: outlives its commit in flight)
  bool state_failed_ = false;  // a checkpoint could not be written: stop
  Engine engine_;
  KafkaSource* source_ = nullptr;
  std::vector<std::unique_ptr<AlertmanagerNotifier>> notifiers_;
  std::unique_ptr<UserProfileOperator> profiles_;
  std::unique_ptr<QueryApi> api_;
  std::string rules_config_path_;
  std::string incomplete_kind_;  // empty: complete
  bool ever_assigned_ = false;
  int64_t incomplete_since_ms_ = 0;
  int64_t rules_mtime_ = 0;
  std::vector<std::unique_ptr<RdKafka::Message>> pending_;
  std::map<std::string, std::vector<RawRecord>> by_topic_;
  std::map<std::string, uint32_t> slots_;
  std::vector<uint32_t> delivering_;  // partitions with records in the batch at hand
  std::vector<int64_t> kafka_timestamps_ms_;  // of the batch at hand (freshness)
  std::map<std::string, int64_t> next_offsets_;
  std::set<std::string> assigned_;  // partitions this member owns now
  int64_t checkpointed_watermark_ = kNoWatermark;
  double last_checkpoint_ms_ = 0;
  KillPoint kill_point_ = KillPoint::FromEnv();
  int64_t read_here_ = 0;
};


// Produces a generated sale to Kafka as producers following the contract
// do: each payload bare (or, with `envelope`, as an Event) to the input topic
// of its type, keyed by user id; garbage to the click topic. `pace` is
// called before each record and may sleep; returns false to stop.
int64_t ProduceSale(SaleGenerator& gen, KafkaSink& sink, const KafkaOptions& topics,
                    WireFormat format, bool envelope,
                    const std::function<bool(int64_t n)>& pace) {
  // The topic of each type: the first input of that type, else the first
  // envelope topic (which takes anything), else the first input.
  auto topic_of = [&](ValueType type) -> const std::string& {
    for (const auto& t : topics.input_topics) {
      if (topics.InputFormatOf(t).type == type) return t;
    }
    for (const auto& t : topics.input_topics) {
      if (topics.InputFormatOf(t).type == ValueType::kEvent) return t;
    }
    return topics.input_topics[0];
  };
  const std::string& click_topic = topic_of(ValueType::kClick);
  const std::string& order_topic = topic_of(ValueType::kOrder);
  const std::string& spend_topic = topic_of(ValueType::kSpend);
  std::string record, value;
  v1::Event event;
  int64_t n = 0;
  google::protobuf::util::JsonPrintOptions json;
  json.preserve_proto_field_names = true;
  while (pace(n) && gen.Next(&record)) {
    const std::string* topic = &click_topic;
    std::string_view key;
    const google::protobuf::Message* message = nullptr;
    if (event.ParseFromString(record) && event.payload_case() != v1::Event::PAYLOAD_NOT_SET) {
      if (event.has_click()) key = event.click().user_id(), message = &event.click();
      if (event.has_order()) topic = &order_topic, key = event.order().user_id(), message = &event.order();
      if (event.has_spend()) topic = &spend_topic, message = &event.spend();
      const ValueType topic_type = topics.InputFormatOf(*topic).type;
      if (envelope || topic_type == ValueType::kEvent) message = &event;
    }
    if (message == nullptr) {
      value = record;  // a malformed record, as generated
    } else if (format == WireFormat::kJson) {
      value.clear();
      (void)google::protobuf::util::MessageToJsonString(*message, &value, json);
    } else {
      message->SerializeToString(&value);
    }
    sink.Produce(*topic, key, value);
    if ((++n & 0xff) == 0) sink.Poll();
  }
  return n;
}

// The demo's terminal view: top campaigns by GMV since midnight, CTR and CVR
// of their latest minute, firing alerts, throughput.
class DemoView final : public WindowResultSink {
 public:
  void Emit(const v1::WindowResult& r) override {
    if (r.channel() != "*" || r.campaign_id() == "*") {
      if (r.campaign_id() == "*" && r.channel() == "*" && r.window() == "cumulative") total_ = r;
      return;
    }
    if (r.window() == "cumulative") cumulative_[r.campaign_id()] = r;
    if (r.window() == "1m") minute_[r.campaign_id()] = r;
  }
  void Draw(const AlertEngine& alerts, const EngineCounters& c, double events_per_s,
            int64_t produced, bool tty) {
    std::vector<const v1::WindowResult*> top;
    for (const auto& [id, r] : cumulative_) top.push_back(&r);
    std::sort(top.begin(), top.end(), [](auto* a, auto* b) { return a->gmv_cents() > b->gmv_cents(); });
    std::string out = tty ? "\x1b[H\x1b[2J" : "";
    out += fmt::format("promowatch demo  produced={} consumed={} accepted={} rejected={} "
                       "duplicates={} late={}  {:.0f} events/s  (Ctrl-C stops)\n\n",
                       produced, c.read, c.accepted, c.rejected_total(), c.duplicates, c.late,
                       events_per_s);
    out += fmt::format("{:<10} {:>14} {:>8} {:>8} {:>9}\n", "campaign", "GMV since 0:00", "CTR 1m",
                       "CVR 1m", "UV");
    for (size_t i = 0; i < top.size() && i < 10; ++i) {
      const auto& cum = *top[i];
      auto m = minute_.find(cum.campaign_id());
      auto pct = [](bool has, double v) { return has ? fmt::format("{:.2f}%", v * 100) : std::string("-"); };
      out += fmt::format("{:<10} {:>14.2f} {:>8} {:>8} {:>9}\n", cum.campaign_id(),
                         static_cast<double>(cum.gmv_cents()) / 100.0,
                         m == minute_.end() ? "-" : pct(m->second.has_ctr(), m->second.ctr()),
                         m == minute_.end() ? "-" : pct(m->second.has_cvr(), m->second.cvr()),
                         cum.uv());
    }
    out += fmt::format("{:<10} {:>14.2f}\n\nfiring alerts:\n", "all",
                       static_cast<double>(total_.gmv_cents()) / 100.0);
    const auto firing = alerts.Firing();
    if (firing.empty()) out += "  (none)\n";
    for (const auto& a : firing) {
      out += fmt::format("  [{}] {} {}/{}: {} {} = {:.4f} (threshold {:.4f})\n", a.severity,
                         a.rule, a.campaign_id, a.channel, a.window, a.metric, a.value,
                         a.threshold);
    }
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
  }

 private:
  std::map<std::string, v1::WindowResult> cumulative_, minute_;
  v1::WindowResult total_;
};

}  // namespace

int RunLive(const LiveArgs& args) {
  PipelineConfig config;
  if (!LoadConfigForCommand(args.config, &config)) return 2;
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
  (*sink)->FetchOutputMetadata();
  if (!args.metrics_address.empty()) config.metrics.address = args.metrics_address;
  auto metrics = LiveMetrics::Start(config.metrics);
  if (!metrics.ok()) {
    spdlog::error("msg=\"cannot serve metrics\" error=\"{}\"",
                  std::string(metrics.status().message()));
    return 2;
  }
  LiveRunner runner(config, sink->get(), metrics->get());
  runner.WatchRules(args.config);
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
  topics.push_back(defaults.user_tags_topic);
  topics.insert(topics.end(), args.extra_topics.begin(), args.extra_topics.end());
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

namespace promowatch {

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
  auto cluster = MockKafkaCluster::Start(1, 4, {"clickstream", "orders", "spend",
                                                "promowatch-metrics", "promowatch-dlq",
                                                "promowatch-alerts"});
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
    spdlog::error("msg=\"cannot start the demo\" error=\"{}\"",
                  std::string(!metrics.ok() ? metrics.status().message()
                                            : "kafka client setup failed"));
    return 2;
  }
  (*results_sink)->FetchOutputMetadata();

  // The generator: a sale in (sped-up) real time, with the CTR of douyin
  // collapsing after --anomaly-after seconds for 3 minutes of event time.
  const int64_t start_ms = NowMs();
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
             static_cast<double>(gen.clock_ms() - start_ms) > static_cast<double>(NowMs() - start_ms) * args.speed) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      return !producer_stop.load();
    });
    (*producer_sink)->Flush(5'000).IgnoreError();
  });

  DemoView view;
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
  auto source = KafkaSource::Create(config.kafka, &runner);
  if (!source.ok()) {
    stop_all();
    return 2;
  }
  const bool tty = isatty(STDOUT_FILENO) != 0;
  const auto begin = std::chrono::steady_clock::now();
  int64_t last_read = 0;
  auto last = begin;
  std::printf("promowatch demo: embedded Kafka at %s, /metrics at http://%s/metrics\n",
              config.kafka.brokers.c_str(), config.metrics.address.c_str());
  const int rc = runner.Run(source->get(), [&] {
    const auto now = std::chrono::steady_clock::now();
    const double secs = std::chrono::duration<double>(now - last).count();
    const int64_t read = runner.counters().read;
    view.Draw(runner.alerts(), runner.counters(), secs > 0 ? static_cast<double>(read - last_read) / secs : 0,
              produced.load(), tty);
    last_read = read;
    last = now;
    if (args.duration_s > 0 && std::chrono::duration<double>(now - begin).count() >= args.duration_s) {
      g_stop.store(true);
    }
  });
  stop_all();
  return rc;
}

int RunGenToKafka(const GenArgs& args) {
  InstallStopHandlers();
  KafkaOptions k;
  k.brokers = args.brokers;
  auto sink = KafkaSink::Create(k);
  if (!sink.ok()) {
    spdlog::error("msg=\"cannot create the producer\" error=\"{}\"", std::string(sink.status().message()));
    return 2;
  }
  SaleGenerator gen(args.options, WireFormat::kBinary);
  const auto start = std::chrono::steady_clock::now();
  const int64_t n = ProduceSale(gen, **sink, k, args.format, args.envelope, [&](int64_t i) {
    if (args.rate_limit > 0) {
      const auto due = start + std::chrono::duration<double>(static_cast<double>(i) / args.rate_limit);
      std::this_thread::sleep_until(std::chrono::time_point_cast<std::chrono::steady_clock::duration>(due));
    }
    return !g_stop.load();
  });
  auto flushed = (*sink)->Flush(30'000);
  spdlog::info("msg=\"gen finished\" records={} brokers={} format={} values={} failed_deliveries={}",
               n, args.brokers, args.format == WireFormat::kJson ? "json" : "binary",
               args.envelope ? "envelope" : "bare", (*sink)->failed_deliveries());
  return flushed.ok() && (*sink)->failed_deliveries() == 0 ? 0 : 1;
}

}  // namespace promowatch
