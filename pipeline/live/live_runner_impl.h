#pragma once
// The live job's one class, LiveRunner::Impl (live_runner.h), private to
// pipeline/live. Its methods live in two files: live_runner.cc (opening the
// state, creating the engine, tasks coming and going in rebalances) and
// live_loop.cc (the poll loop, the global stage's step, checkpoints, gauges
// and reports).

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <set>

#include "operators/alert_engine.h"
#include "operators/encoding.h"
#include "operators/user_profiles.h"
#include "pipeline/decode/partitioner.h"
#include "pipeline/io/kafka.h"
#include "pipeline/live/alert_fanout.h"
#include "pipeline/live/completeness.h"
#include "pipeline/live/forwarder_marks.h"
#include "pipeline/live/global_stage.h"
#include "pipeline/live/input_health.h"
#include "pipeline/live/live_runner.h"
#include "pipeline/live/polled_router.h"
#include "pipeline/live/rule_reload.h"
#include "pipeline/live/task_owner.h"
#include "pipeline/runtime/checkpoint_schedule.h"
#include "pipeline/runtime/clock.h"
#include "pipeline/runtime/engine.h"
#include "pipeline/runtime/fault_injection.h"
#include "pipeline/runtime/signals.h"
#include "pipeline/runtime/task_state.h"
#include "pipeline/runtime/topic_partition.h"
#include "pipeline/runtime/topology.h"
#include "pipeline/serve/metrics.h"
#include "pipeline/serve/query_api.h"
#include "pipeline/serve/status_board.h"
#include "pipeline/serve/status_page.h"

namespace promowatch {

class LiveRunner::Impl final : public KafkaSource::Listener {
 public:
  // `tap` (optional) sees every result before it goes to Kafka (the demo view).
  Impl(const PipelineConfig& config, KafkaSink* sink, LiveMetrics* metrics, WindowResultSink* tap,
       Clock clock)
      : clock_(clock),
        config_(config),
        sink_(sink),
        metrics_(metrics),
        status_(
            StatusBoard::Options{PROMOWATCH_VERSION, config.kafka.group, AdvertisedAddress(config),
                                 config.alertmanager.generator_url, metrics->tasks.get()},
            clock()),
        tee_(tap, &status_, sink),
        metered_(&tee_, metrics->results.get(), clock),
        dead_letters_(sink, &status_, clock),
        fanout_(config, sink, metrics->alerts.get(), clock),
        completeness_(
            config.completeness,
            [this](const std::string& reason) {
              incomplete_reason_ = reason;
              if (global_) global_->SetDataIncomplete(reason, MonotonicNow());
            },
            metrics->alerts.get(),
            [this](const AlertEvent& a, int64_t wall_ms) { fanout_.Notify(a, wall_ms); }),
        input_health_(config.kafka.partials_topic, metrics->ingest.get()) {
    sink_->OnResultPublished(
        [probe = metrics->results.get()](double seconds) { probe->ResultPublished(seconds); });
    metrics->results->SetPlan(config.plan);
    status_.SetPlan(config.plan);
  }

  ~Impl();

  std::vector<AlertEvent> FiringAlerts() const {
    return global_ ? global_->Firing() : std::vector<AlertEvent>();
  }

  // The config file whose alert rules (inline or its alerts.rules_file) are
  // reloaded on SIGHUP or when either file changes.
  void WatchRules(const std::string& config_path) {
    rules_.Watch(config_path, config_.alert_rules_file, config_.plan_file,
                 config_.operators.periods);
  }
  const EngineCounters& counters() const { return engine_->counters(); }

  // The engine runs one task per input partition (task_owner.h): how many
  // is known once the inputs' partition counts are.
  absl::Status CreateEngine();

  absl::Status Open(const std::string& state_dir);
  // The local state, verified; one that fails its checksums is moved aside
  // and a fresh one opened (its tasks rebuild from their changelog).
  absl::StatusOr<std::unique_ptr<RocksStateBackend>> OpenState(const std::string& state_dir);

  int64_t OnAssigned(const TopicPartition& p) override;

  void OnRevoking(const std::vector<TopicPartition>& partitions, bool lost) override;

  // Task `task` runs here from now: its state loaded (local copy, or rebuilt
  // from its changelog), its partitions sought to the offsets stored with it.
  void AssignTask(int task);

  // `on_second` (optional) runs about once a second on this thread.
  int Run(KafkaSource* source, const std::function<void()>& on_second = nullptr);

 private:
  Clock clock_;
  std::string Fingerprint() const { return "kafka group " + config_.kafka.group; }

  void ProcessPending();

  // Sends the partials the tasks' windows emitted (and their watermarks).
  void PublishPartials(bool force = false);

  // `wait`: durable before returning (before a revoke or a stop); else the
  // commit runs in the background while the next batches are processed.
  absl::Status Checkpoint(bool wait = true);

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
    if (source_ != nullptr)
      input_health_.Update(*source_, assigned_, engine_->watermarks(), clock_());
  }

  // Whether windows emitted now have complete inputs (completeness.h).
  void JudgeCompleteness();

  // New rules without losing alert state; rules that do not load (or need
  // a restart) are rejected and the running rules stay.
  void ReloadRules(const char* why);

  void PublishTagChange(const TagChange& c) {
    if (config_.kafka.results_json) {
      sink_->Produce(config_.kafka.user_tags_topic, c.user_id, TagChangeToJson(c));
    } else {
      sink_->Produce(config_.kafka.user_tags_topic, c.user_id,
                     TagChangeToProto(c).SerializeAsString());
    }
  }

  // A transition costs the same however many alerts fire: only its
  // rule's gauge is set (a walk over that rule's alerts). (Setting every
  // rule's, 10,000 rules made each transition cost ~37 ms: a storm
  // stalled the pipeline past its SIGTERM grace period.)
  void OnAlert(const AlertEvent& a) {
    fanout_.Publish(a);
    if (a.state == kAlertFiring || a.state == kAlertResolved)
      metrics_->alerts->SetAlertFiring(a.rule, a.severity, global_->FiringOf(a.rule));
  }

  // Gauges of state that comes and goes with tasks: firing alerts, user
  // profiles and tags (set with every assignment, not only once a second).
  void UpdateTaskStateGauges() {
    firing_gauges_dirty_ = false;
    metrics_->alerts->SetAlertsFiring(global_->FiringCounts());
    UpdateProfileGauges();
  }
  void UpdateProfileGauges() {
    const TaskProfiles* profiles = topology_ ? topology_->task_profiles() : nullptr;
    if (profiles == nullptr) return;
    const TaskProfiles::Totals t = profiles->Tally(*engine_);
    metrics_->profiles->SetUserTags(t.users, t.in_memory, t.memory_bytes, t.tags);
  }
  bool firing_gauges_dirty_ = false;

  void UpdateGauges();
  // Which partitioner the producers use: the gauges, and one line per topic
  // when kafka.input_partitioner does not match them.
  void JudgePlacement();
  std::set<std::string> placement_said_;
  // The status page's look at this instance (about once a second).
  void SampleStatus();

  void Report(const char* what);

  PipelineConfig config_;
  KafkaSink* sink_;
  LiveMetrics* metrics_;
  StatusBoard status_;  // (what the status page shows: before what feeds it)
  // Results: the demo's view (`first`, optional), the status page's
  // campaigns, then Kafka.
  struct Tee final : WindowResultSink {
    Tee(WindowResultSink* a, StatusBoard* board, WindowResultSink* b)
        : first(a), status(board), second(b) {}
    void Emit(const v1::WindowResult& r) override {
      if (first != nullptr) first->Emit(r);
      status->ResultPublished(r);
      second->Emit(r);
    }
    WindowResultSink* first;
    StatusBoard* status;
    WindowResultSink* second;
  } tee_;
  MeteredResultSink metered_;
  // Rejected records: to Kafka's dead-letter topic, and the status page's
  // latest (reason, source and offset; never the bytes).
  struct DeadLetterTap final : RecordSink {
    DeadLetterTap(RecordSink* next, StatusBoard* board, Clock clock)
        : next_(next), board_(board), clock_(std::move(clock)) {}
    void Keep(const RawRecord& record, std::string_view source, std::string_view reason,
              std::string_view detail) override {
      next_->Keep(record, source, reason, detail);
      board_->DeadLetter(clock_(), std::string(reason), std::string(source),
                         record.source_partition, record.offset);
    }
    RecordSink* next_;
    StatusBoard* board_;
    Clock clock_;
  } dead_letters_;
  AlertFanout fanout_;
  DataCompleteness completeness_;
  InputHealth input_health_;
  std::unique_ptr<GlobalStage> global_;         // (before engine_: a task state of it)
  std::unique_ptr<RocksStateBackend> backend_;  // (before engine_: outlives its commit in flight)
  bool state_failed_ = false;                   // a checkpoint could not be written: stop
  bool output_lost_ = false;                    // (why: Kafka refused output)
  std::unique_ptr<TaskOwner> tasks_;            // (before engine_: the engine's commits use it)
  std::unique_ptr<Topology> topology_;
  Engine* engine_ = nullptr;  // topology_'s
  KafkaSource* source_ = nullptr;
  std::unique_ptr<QueryApi> api_;
  RuleWatcher rules_;
  PolledBatch pending_;
  std::unique_ptr<PolledRouter> router_;   // (with engine_)
  std::unique_ptr<ForwarderMarks> marks_;  // (with engine_)
  RoutedBatch batch_;                      // pending_, sorted
  std::map<std::string, int64_t> next_offsets_;
  std::set<std::string> assigned_;  // partitions this member owns now
  // By task: SourcePosition::repartitioned_upto.
  std::vector<std::map<std::string, int64_t>> repartitioned_upto_;
  int64_t checkpointed_watermark_ = kNoWatermark;
  double last_checkpoint_ms_ = 0;
  KillPoint kill_point_ = KillPoint::FromEnv();
  int64_t read_here_ = 0;
  // Assignments since the last status sample: partitions, time spent.
  int assigned_since_sample_ = 0;
  double assign_ms_since_sample_ = 0;
  int64_t commit_reported_ = 0;
  std::string incomplete_reason_;  // this instance's inputs (completeness.h; empty: complete)  //
                                   // the last checkpoint whose commit the status page has
};

}  // namespace promowatch
