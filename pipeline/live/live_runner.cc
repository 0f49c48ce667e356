// The live job: the operators on live Kafka streams (LiveRunner).
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

#include "pipeline/live/live_runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <set>

#include "operators/alert_engine.h"
#include "operators/encoding.h"
#include "operators/user_profiles.h"
#include "pipeline/io/kafka.h"
#include "pipeline/live/alert_fanout.h"
#include "pipeline/live/completeness.h"
#include "pipeline/live/input_health.h"
#include "pipeline/live/global_stage.h"
#include "pipeline/live/polled_router.h"
#include "pipeline/live/rule_reload.h"
#include "pipeline/live/task_owner.h"
#include "pipeline/live/task_profiles.h"
#include "pipeline/runtime/checkpoint_schedule.h"
#include "pipeline/runtime/engine.h"
#include "pipeline/runtime/fault_injection.h"
#include "pipeline/runtime/partitioner.h"
#include "pipeline/runtime/signals.h"
#include "pipeline/runtime/task_state.h"
#include "pipeline/runtime/topic_partition.h"
#include "pipeline/serve/metrics.h"
#include "pipeline/serve/query_api.h"

namespace promowatch {
namespace {

// /v1/ while the query API is off (or gone: the runner is stopping).
HttpServer::Reply ApiOff(const HttpServer::Request&) {
  return {404, "{\"error\":\"the query API is off: set api.enabled and api.token\"}",
          "application/json", ""};
}

}  // namespace

class LiveRunner::Impl final : public KafkaSource::Listener {
 public:
  // `tap` (optional) sees every result before it goes to Kafka (the demo view).
  Impl(const PipelineConfig& config, KafkaSink* sink, LiveMetrics* metrics, WindowResultSink* tap,
       Clock clock)
      : clock_(clock),
        config_(config),
        sink_(sink),
        metrics_(metrics),
        tee_(tap, sink),
        metered_(tap != nullptr ? static_cast<WindowResultSink*>(&tee_) : sink,
                 metrics->results.get(), clock),
        fanout_(config, sink, metrics->alerts.get(), clock),
        completeness_(
            config.completeness,
            [this](const std::string& reason) {
              if (global_) global_->SetDataIncomplete(reason);
            },
            metrics->alerts.get(),
            [this](const AlertEvent& a, int64_t wall_ms) { fanout_.Notify(a, wall_ms); }),
        input_health_(config.kafka.partials_topic, metrics->ingest.get()) {
    sink_->OnResultPublished(
        [probe = metrics->results.get()](double seconds) { probe->ResultPublished(seconds); });
  }

  ~Impl() {
    // The HTTP threads stop using the API (and the state under it) first.
    if (api_) metrics_->port->http().Route("/v1/", ApiOff);
  }

  std::vector<AlertEvent> FiringAlerts() const {
    return global_ ? global_->Firing() : std::vector<AlertEvent>();
  }

  // The config file whose alert rules (inline or its alerts.rules_file) are
  // reloaded on SIGHUP or when either file changes.
  void WatchRules(const std::string& config_path) {
    rules_.Watch(config_path, config_.alert_rules_file);
  }
  const EngineCounters& counters() const { return engine_->counters(); }

  // The engine runs one task per input partition (task_owner.h): how many
  // is known once the inputs' partition counts are.
  absl::Status CreateEngine() {
    auto owner = TaskOwner::Open(config_.kafka, config_.changelog_snapshot_bytes,
                                 metrics_->tasks.get());
    if (!owner.ok()) return owner.status();
    tasks_ = std::move(*owner);
    EngineOptions options = EngineOptions::From(config_);
    options.tasks = tasks_->tasks();
    options.task_per_partition = true;
    engine_ = std::make_unique<Engine>(options, &metered_, sink_, sink_, clock_);
    router_ = std::make_unique<PolledRouter>(config_.kafka.partials_topic, engine_.get(),
                                             metrics_->ingest.get());
    // Each task's windows go through the partials topic to the global task
    // of their campaign, which merges, judges the alerts and publishes;
    // global task g is part of task g's state.
    GlobalStage::Callbacks on;
    on.on_alert = [this](const AlertEvent& a) { OnAlert(a); };
    on.still_firing = [this](const AlertEvent& a) {
      spdlog::info("msg=\"alert still firing\" alert={}", AlertToJson(a));
      fanout_.Notify(a, clock_());
    };
    on.moved_away = [this](const AlertEvent& a) { fanout_.Forget(a); };
    on.task_moved_away = [this](int task) {
      metrics_->results->ForgetCampaigns(
          [&](const std::string& c) { return global_->OwnerOf(c) == task; });
    };
    global_ = std::make_unique<GlobalStage>(config_, options.tasks, sink_, &metered_, std::move(on),
                                            AdvertisedAddress(config_));
    engine_->SetTaskResults([g = global_.get()](int task) { return g->SourceSink(task); });
    engine_->AttachTaskState(global_.get());
    UpdateTaskStateGauges();
    if (config_.profiles_enabled) {
      // (Changes are at-least-once: after a crash the records after the
      // last checkpoint are read again, possibly in another interleaving of
      // a task's partitions; the state, read by the query API, is exact.)
      profiles_ = std::make_unique<TaskProfiles>(
          config_, options.tasks, [this](const TagChange& c) { PublishTagChange(c); });
      engine_->SetTaskEnricher(profiles_->Factory());
    }
    engine_->SetForwarder(sink_);
    repartitioned_upto_.assign(static_cast<size_t>(tasks_->tasks()), {});
    spdlog::info("msg=\"tasks\" tasks={} changelog={}", tasks_->tasks(),
                 config_.kafka.changelog_topic);
    return absl::OkStatus();
  }

  absl::Status Open(const std::string& state_dir) {
    if (auto s = CreateEngine(); !s.ok()) return s;
    auto backend = RocksStateBackend::Open(state_dir, engine_->StateTables(), config_.state);
    if (!backend.ok()) return backend.status();
    backend_ = std::move(*backend);
    SourcePosition position;
    if (auto s = engine_->Restore(backend_.get(), &position); !s.ok()) return s;
    if (config_.api.enabled) {
      api_ = std::make_unique<QueryApi>(
          config_.api, backend_.get(), metrics_->results.get(),
          config_.profiles_enabled ? metrics_->profiles.get() : nullptr,
          [tasks = tasks_->tasks()](const std::string& user) {
            return TaskKeyPrefix(KafkaPartitionOf(user, tasks)) + user;  // (its task's)
          },
          [g = global_.get()](bool user, const std::string& id) {
            return g->Locate(user ? KafkaPartitionOf(id, g->tasks()) : g->OwnerOf(id));
          });
      metrics_->port->http().Route("/v1/", [api = api_.get()](const HttpServer::Request& r) {
        return api->Handle(r.path, r.authorization);
      });
      spdlog::info("msg=\"query api on\" url=http://{}/v1/", config_.metrics.address);
    } else {
      metrics_->port->http().Route("/v1/", ApiOff);
    }
    if (position.restored) {
      if (!position.fingerprint.empty() && position.fingerprint != Fingerprint()) {
        return absl::FailedPreconditionError("the state in " + state_dir + " belongs to " +
                                             position.fingerprint + ", not " + Fingerprint() +
                                             ": use another --state-dir for another group");
      }
      // (Firing alerts outlive the process: Alertmanager gets them again
      // when their global task is assigned - GlobalStage::Callbacks.)
      spdlog::info(
          "msg=\"restored checkpoint\" dir={} hint=\"each task's state and offsets load when "
          "its partitions are assigned\"",
          state_dir);
    }
    return absl::OkStatus();
  }

  int64_t OnAssigned(const AssignedPartition& p) override {
    const std::string name = TopicPartition{p.topic, p.partition}.Format();
    if (!tasks_->Owned(p.partition) && !state_failed_) AssignTask(p.partition);
    if (p.topic == config_.kafka.partials_topic) {  // (no events: no watermark of its own)
      assigned_.insert(name);
      auto it = next_offsets_.find(name);
      return it == next_offsets_.end() ? -1 : it->second;
    }
    const uint32_t slot = engine_->watermarks().Slot(name);
    engine_->watermarks().SetAssigned(slot, true, clock_());
    // The repartition topic's records hold the watermark from where they
    // were first read until they are back (Engine: in flight).
    if (p.topic == config_.kafka.repartition_topic) engine_->watermarks().Exclude(slot);
    assigned_.insert(name);
    metrics_->port->SetReady(true,
                             "ok: consuming " + std::to_string(assigned_.size()) + " partitions");
    auto it = next_offsets_.find(name);
    return it == next_offsets_.end() ? -1 : it->second;
  }

  void OnRevoking(const std::vector<AssignedPartition>& partitions, bool lost) override {
    if (lost) {
      // Kicked out of the group: the tasks may already run elsewhere, from
      // their changelog. Nothing is saved (a checkpoint would be a zombie's
      // write; restore would ignore it anyway), what was fetched is
      // dropped, and a task that comes back is rebuilt from its changelog.
      spdlog::warn(
          "msg=\"partitions lost: this member was out of the group\" count={} hint=\"a pause "
          "longer than session.timeout.ms (GC, SIGSTOP, an overloaded host): its tasks moved; "
          "nothing is lost, they are rebuilt wherever they run\"",
          partitions.size());
      pending_.Clear();
      (void)engine_->WaitForCommit();
    }
    // Records already fetched from these partitions are processed and
    // checkpointed before they are given up, so the next owner starts
    // exactly where this instance's state ends.
    // (After a state failure nothing can be saved: the next owner starts
    // from the last durable checkpoint.)
    metrics_->tasks->PartitionsRevoked(static_cast<int64_t>(partitions.size()));
    if (!state_failed_ && !lost) ProcessPending();
    if (auto s = state_failed_ || lost ? absl::OkStatus() : Checkpoint(); !s.ok()) {
      spdlog::error("msg=\"checkpoint before revoke failed\" error=\"{}\"",
                    std::string(s.message()));
    }
    for (const auto& p : partitions) {
      assigned_.erase(TopicPartition{p.topic, p.partition}.Format());
      if (p.topic == config_.kafka.partials_topic) continue;
      engine_->watermarks().SetAssigned(
          engine_->watermarks().Slot(TopicPartition{p.topic, p.partition}.Format()), false,
          clock_());
    }
    // A task none of whose partitions stay here goes: its state is in its
    // changelog (and local copy) for whoever gets it.
    // (Stopping: the tasks stay loaded for the last report.)
    for (const auto& p : partitions) {
      if (StopRequested() || !tasks_->Owned(p.partition)) continue;
      bool kept = false;
      for (const auto& name : assigned_) {
        const auto tp = TopicPartition::Parse(name);
        kept = kept || (tp && tp->partition == p.partition);
      }
      if (!kept) {
        for (auto it = next_offsets_.begin(); it != next_offsets_.end();) {
          const auto tp = TopicPartition::Parse(it->first);
          it = tp && tp->partition == p.partition ? next_offsets_.erase(it) : std::next(it);
        }
        tasks_->Revoke(p.partition, *engine_, /*rebuild_next_time=*/lost);
      }
    }
    UpdateTaskStateGauges();
  }

  // Task `task` runs here from now: its state loaded (local copy, or rebuilt
  // from its changelog), its partitions sought to the offsets stored with it.
  void AssignTask(int task) {
    if (auto s = engine_->WaitForCommit(); !s.ok()) return;  // (stops: state_failed_)
    TaskPosition position;
    if (auto s = tasks_->Assign(task, *engine_, *backend_, &position); !s.ok()) {
      spdlog::error("msg=\"task cannot start, stopping\" task={} error=\"{}\"", task,
                    std::string(s.message()));
      state_failed_ = true;
      RequestStop();
      return;
    }
    for (const auto& [name, next] : position.offsets) next_offsets_[name] = next;
    repartitioned_upto_[static_cast<size_t>(task)] = position.repartitioned_upto;
    spdlog::info("msg=\"task assigned\" task={} sequence={} partitions_with_offsets={}", task,
                 position.sequence, position.offsets.size());
    // (Its alerts and profiles, loaded with it, count here from now, not at
    // the next report.)
    UpdateTaskStateGauges();
  }

  // `on_second` (optional) runs about once a second on this thread.
  int Run(KafkaSource* source, const std::function<void()>& on_second = nullptr) {
    source_ = source;
    CheckpointSchedule schedule(config_, std::chrono::steady_clock::now());
    auto last_report = std::chrono::steady_clock::now();
    auto last_second = last_report;
    while (!StopRequested()) {
      source->Poll(static_cast<size_t>(config_.batch_size), 100, &pending_);
      schedule.Counted(static_cast<int64_t>(pending_.size()));
      read_here_ += static_cast<int64_t>(pending_.size());
      if (pending_.empty()) {
        JudgeCompleteness();  // (else in ProcessPending)
        sink_->SetResultsDueSince(std::chrono::steady_clock::now());
        MarkBehind();
        engine_->Tick();  // a quiet stream still closes its windows (idle partitions)
        PublishPartials();
      } else {
        ProcessPending();
        kill_point_.AfterRecords(read_here_);
      }
      sink_->Poll();
      if (sink_->failed_deliveries() > 0) LoseOutput();  // (stops at once, not at the checkpoint)
      const auto now = std::chrono::steady_clock::now();
      // A quiet stream (nothing read, watermark still) has nothing to save.
      // While the last commit still runs (its changelog waiting on a broker
      // that is down) the next one waits: the loop keeps fetching.
      if (schedule.Due(*engine_, now, engine_->watermark_ms() != checkpointed_watermark_) &&
          !engine_->CommitInFlight()) {
        if (auto s = Checkpoint(/*wait=*/false); !s.ok()) {
          spdlog::log(schedule.Failed(now, std::string(s.message())) ? spdlog::level::err : spdlog::level::debug,
                      "msg=\"checkpoint failed{}\" error=\"{}\"",
                      state_failed_ ? "" : ", will retry", std::string(s.message()));
        } else {
          if (const int64_t failed = schedule.Taken(now); failed > 0) {
            spdlog::info("msg=\"checkpoint taken again\" failed_attempts={}", failed);
          }
          checkpointed_watermark_ = engine_->watermark_ms();
        }
      }
      if (TakeReloadRequest()) ReloadRules("SIGHUP");
      if (now - last_second >= std::chrono::seconds(1)) {
        metrics_->port->Heartbeat(clock_());
        if (rules_.Changed()) ReloadRules("file changed");
        if (completeness_.ever_assigned())
          global_->CheckTopicSilence(engine_->watermarks().TopicSilence(clock_()), clock_());
        UpdateGauges();
        if (on_second) on_second();
        last_second = now;
      }
      if (now - last_report >= std::chrono::seconds(10)) {
        Report("progress");
        metrics_->results->ExpireCampaigns(clock_());
        last_report = now;
      }
    }
    if (state_failed_) {
      // Nothing is saved: the restart resumes from the last durable checkpoint.
      if (output_lost_) {
        spdlog::error(
            "msg=\"output was not delivered to Kafka; stopping without a final checkpoint\" "
            "hint=\"see the delivery errors above (a dead letter over the topic's "
            "max.message.bytes: lower kafka.dead_letter_max_bytes); on restart promowatch "
            "resumes from the last checkpoint and produces the lost output again\"");
      } else {
        spdlog::error(
            "msg=\"state could not be written; stopping without a final checkpoint\" "
            "hint=\"fix the state directory (space, permissions, disk) and restart: promowatch "
            "resumes from the last durable checkpoint and reads the records after it again\"");
      }
      metrics_->port->SetReady(false, output_lost_ ? "stopping: output was not delivered"
                                                   : "stopping: state could not be written");
      source->Close();
      Report("stopped");
      return 1;
    }
    spdlog::info("msg=\"stopping: final checkpoint\"");
    metrics_->port->SetReady(false, "stopping: final checkpoint");
    ProcessPending();
    absl::Status s = Checkpoint();
    source->Close();  // revokes: processes and checkpoints again, then leaves the group
    // What Alertmanager has not acknowledged yet gets a few seconds; firing
    // alerts are in the checkpoint and are sent again after a restart.
    fanout_.Stop(std::min<int64_t>(5'000, config_.alertmanager.timeout_ms));
    Report("stopped");
    return s.ok() ? 0 : 1;
  }

 private:
  Clock clock_;
  std::string Fingerprint() const { return "kafka group " + config_.kafka.group; }

  void ProcessPending() {
    if (pending_.empty()) return;
    // One Engine batch per partition: its task's (the source name goes to dead
    // letters); order within each partition is kept.
    router_->Route(pending_, &next_offsets_, &repartitioned_upto_, &batch_);
    // Windows these records close are due from now: publish delay counts
    // this batch's processing too.
    sink_->SetResultsDueSince(std::chrono::steady_clock::now());
    JudgeCompleteness();  // before the windows these records close are judged
    for (auto& [where, records] : batch_.by_partition) {
      const std::string& topic = where.first;
      const EngineCounters before = engine_->counters();
      // Task p = partition p of every input.
      engine_->ProcessTask(where.second, records, topic, config_.kafka.InputFormatOf(topic));
      metrics_->ingest->RecordBatch(topic, before, engine_->counters());
      if (engine_->counters().repartitioned != before.repartitioned) {
        metrics_->ingest->RecordsRepartitioned(
            topic, engine_->counters().repartitioned - before.repartitioned);
      }
    }
    MarkBehind();
    engine_->Tick();  // the watermark step, once for every task's batch
    PublishPartials();
    // The global tasks: what the partials read change, then what every
    // source task's watermark has passed.
    for (auto& [task, values] : batch_.partials) {
      for (std::string_view v : values) global_->Consume(task, v);
      global_->Flush(task);
      values.clear();
    }
    metrics_->ingest->RecordsVisible(batch_.kafka_timestamps_ms, clock_());
    pending_.Clear();
  }

  // Sends the partials the tasks' windows emitted (and their watermarks).
  void PublishPartials(bool force = false) {
    WatermarkTracker& w = engine_->watermarks();
    global_->Publish([this](int t) { return engine_->task_live(t); },
                     [&w](int t) { return w.task_current(t); },
                     [this](int t) { return InputPosition(next_offsets_, t, config_.kafka.partials_topic); }, std::chrono::steady_clock::now(),
                     force);
  }

  // `wait`: durable before returning (before a revoke or a stop); else the
  // commit runs in the background while the next batches are processed.
  absl::Status Checkpoint(bool wait = true) {
    const auto start = std::chrono::steady_clock::now();
    // Results (and partials) emitted so far must be in Kafka before the
    // state that says they were emitted.
    PublishPartials(/*force=*/true);
    // In the background (wait false) only a short wait: with a broker down
    // the flush would block the loop, which then fetched nothing (and heard
    // nothing of the outage); the checkpoint is tried again instead.
    if (auto s = sink_->Flush(wait ? 30'000 : 1'000); !s.ok()) {
      metrics_->checkpoints->CheckpointFailed();
      return s;
    }
    if (sink_->failed_deliveries() > 0) {
      metrics_->checkpoints->CheckpointFailed();
      LoseOutput();
      return absl::DataLossError(fmt::format(
          "{} records were not delivered to Kafka (last: {}); stopping without a checkpoint "
          "so that a restart produces them again",
          sink_->failed_deliveries(), sink_->last_failure()));
    }
    kill_point_.BeforeCheckpointCommit();
    SourcePosition p;
    p.fingerprint = Fingerprint();
    p.offsets = next_offsets_;
    p.repartitioned_upto = repartitioned_upto_;
    if (auto s = engine_->Checkpoint(p, wait, tasks_.get()); !s.ok()) {
      // The state backend failed (disk full, I/O error): operators already
      // consider what they handed over saved, so no later checkpoint can be
      // trusted. Stop; a restart resumes from the last durable checkpoint.
      metrics_->checkpoints->CheckpointFailed();
      state_failed_ = true;
      RequestStop();
      return s;
    }
    // Only the partitions this member owns: a commit for others (or before
    // the first assignment) is refused by the group coordinator.
    if (config_.kafka.commit_offsets && source_ != nullptr && !assigned_.empty()) {
      std::map<std::string, int64_t> owned;
      for (const auto& name : assigned_) {
        if (auto it = next_offsets_.find(name); it != next_offsets_.end())
          owned.emplace(name, it->second);
      }
      source_->CommitForMonitoring(owned);
    }
    last_checkpoint_ms_ =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    // The duration is the pause in processing; the watermark gauge follows
    // durable checkpoints only (UpdateGauges).
    metrics_->checkpoints->CheckpointDone(
        last_checkpoint_ms_ / 1000.0, engine_->last_checkpoint_bytes(),
        backend_->ApproximateSizeBytes(), engine_->committed_watermark_ms());
    return absl::OkStatus();
  }

  // Output Kafka refused (a result, an alert, a dead letter) is gone; the
  // state that says it was sent must not be saved. Stop: a restart resumes
  // from the last checkpoint and produces it again.
  void LoseOutput() {
    UpdateGauges();
    state_failed_ = true;
    output_lost_ = true;
    RequestStop();
  }

  // Partitions that may hold unread records are not idle (input_health.h).
  void MarkBehind() {
    if (source_ != nullptr) input_health_.Update(*source_, assigned_, engine_->watermarks());
  }

  // Whether windows emitted now have complete inputs (completeness.h).
  void JudgeCompleteness() {
    std::function<int64_t(const TopicPartition&)> high;
    if (source_ != nullptr) {
      high = [this](const TopicPartition& tp) {
        return source_->HighWatermark(tp.topic, tp.partition);
      };
    }
    completeness_.Judge(
        {assigned_, next_offsets_, std::move(high), engine_->watermarks(), batch_.delivering,
         input_health_.unreachable()},
        clock_());
  }

  // New rules without losing alert state; rules that do not load (or need
  // a restart) are rejected and the running rules stay.
  void ReloadRules(const char* why) {
    rules_.Reload(why, config_.operators.window_minutes, metrics_->alerts.get(),
                  [this](RuleWatcher::Rules& loaded) {
                    config_.alert_rules = loaded.rules;
                    config_.alert_rules_file = loaded.rules_file;
                    global_->ReplaceRules(std::move(loaded.rules), engine_->watermark_ms());
                    UpdateTaskStateGauges();
                    return global_->Firing().size();
                  });
  }

  void PublishTagChange(const TagChange& c) {
    if (config_.kafka.results_json) {
      sink_->Produce(config_.kafka.user_tags_topic, c.user_id, TagChangeToJson(c));
    } else {
      sink_->Produce(config_.kafka.user_tags_topic, c.user_id,
                     TagChangeToProto(c).SerializeAsString());
    }
  }

  void OnAlert(const AlertEvent& a) {
    fanout_.Publish(a);
    if (a.state == "firing" || a.state == "resolved")
      UpdateTaskStateGauges();
  }

  // Gauges of state that comes and goes with tasks: firing alerts, user
  // profiles and tags (set with every assignment, not only once a second).
  void UpdateTaskStateGauges() {
    metrics_->alerts->SetAlertsFiring(global_->FiringCounts());
    if (profiles_) profiles_->UpdateGauges(*engine_, metrics_->profiles.get());
  }

  void UpdateGauges() {
    metrics_->ingest->SetWatermark(engine_->watermark_ms(), clock_());
    for (int t = 0; t < tasks_->tasks(); ++t) {
      const EngineCounters& c = engine_->task_counters(t);
      metrics_->tasks->SetTaskRecords(t, c.read, c.accepted, c.duplicates, c.late,
                                      c.rejected_total());
    }
    metrics_->checkpoints->SetCheckpointWatermark(engine_->committed_watermark_ms());
    metrics_->tasks->SetGlobalTasks(global_->owned_count(), global_->lowest_watermark_ms());
    // (Global tasks come and go with their alert state.)
    UpdateTaskStateGauges();
    metrics_->tasks->SetPartials(global_->partials_sent(), global_->rejected());
    metrics_->ingest->SetOutput(sink_->truncated_dead_letters(), sink_->failed_by_topic());
    if (source_ == nullptr) return;
    for (const auto& [name, next] : next_offsets_) {
      const auto tp = TopicPartition::Parse(name);
      if (!tp) continue;
      const int64_t high = source_->HighWatermark(tp->topic, tp->partition);
      if (high >= 0)
        metrics_->ingest->SetLag(tp->topic, tp->partition, std::max<int64_t>(0, high - next));
    }
  }

  void Report(const char* what) {
    const auto& c = engine_->counters();
    spdlog::info(
        "msg=\"{}\" read={} accepted={} rejected={} duplicates={} late={} repartitioned={} "
        "in_flight={} watermark_ms={} global_tasks={} global_watermark_ms={} "
        "idle_partitions={} produced={} failed_deliveries={} checkpoints={} "
        "last_checkpoint_ms={:.1f}",
        what, c.read, c.accepted, c.rejected_total(), c.duplicates, c.late, c.repartitioned,
        engine_->records_in_flight(),
        engine_->watermark_ms(), global_->owned_count(), global_->lowest_watermark_ms(),
        engine_->watermarks().idle_partitions(), sink_->produced(), sink_->failed_deliveries(),
        c.checkpoints, last_checkpoint_ms_);
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
  AlertFanout fanout_;
  DataCompleteness completeness_;
  InputHealth input_health_;
  std::unique_ptr<GlobalStage> global_;  // (before engine_: a task state of it)
  std::unique_ptr<RocksStateBackend> backend_;  // (before engine_: outlives its commit in flight)
  bool state_failed_ = false;                   // a checkpoint could not be written: stop
  bool output_lost_ = false;                    // (why: Kafka refused output)
  std::unique_ptr<TaskOwner> tasks_;  // (before engine_: the engine's commits use it)
  std::unique_ptr<Engine> engine_;
  KafkaSource* source_ = nullptr;
  std::unique_ptr<TaskProfiles> profiles_;
  std::unique_ptr<QueryApi> api_;
  RuleWatcher rules_;
  PolledBatch pending_;
  std::unique_ptr<PolledRouter> router_;  // (with engine_)
  RoutedBatch batch_;  // pending_, sorted
  std::map<std::string, int64_t> next_offsets_;
  std::set<std::string> assigned_;  // partitions this member owns now
  // By task: SourcePosition::repartitioned_upto.
  std::vector<std::map<std::string, int64_t>> repartitioned_upto_;
  int64_t checkpointed_watermark_ = kNoWatermark;
  double last_checkpoint_ms_ = 0;
  KillPoint kill_point_ = KillPoint::FromEnv();
  int64_t read_here_ = 0;
};

LiveRunner::LiveRunner(const PipelineConfig& config, KafkaSink* sink, LiveMetrics* metrics,
                       WindowResultSink* tap, Clock clock)
    : impl_(std::make_unique<Impl>(config, sink, metrics, tap, std::move(clock))) {}
LiveRunner::~LiveRunner() = default;
void LiveRunner::WatchRules(const std::string& config_path) { impl_->WatchRules(config_path); }
absl::Status LiveRunner::Open(const std::string& state_dir) { return impl_->Open(state_dir); }
int LiveRunner::Run(KafkaSource* source, const std::function<void()>& on_second) {
  return impl_->Run(source, on_second);
}
std::vector<AlertEvent> LiveRunner::FiringAlerts() const { return impl_->FiringAlerts(); }
const EngineCounters& LiveRunner::counters() const { return impl_->counters(); }
KafkaSource::Listener* LiveRunner::listener() { return impl_.get(); }

}  // namespace promowatch
