// The live job's loop (LiveRunner::Impl, live_runner_impl.h): poll, route,
// process, the global stage's step, checkpoints, gauges and reports.

#include <spdlog/spdlog.h>

#include "pipeline/live/live_runner_impl.h"
#include "pipeline/runtime/clock.h"

namespace promowatch {

int LiveRunner::Impl::Run(KafkaSource* source, const std::function<void()>& on_second) {
  source_ = source;
  CheckpointSchedule schedule(config_, MonotonicNow());
  auto last_report = MonotonicNow();
  auto last_second = last_report;
  while (!StopRequested()) {
    source->Poll(static_cast<size_t>(config_.batch_size), 100, &pending_);
    schedule.Counted(static_cast<int64_t>(pending_.size()));
    read_here_ += static_cast<int64_t>(pending_.size());
    if (pending_.empty()) {
      JudgeCompleteness();  // (else in ProcessPending)
      sink_->SetResultsDueSince(MonotonicNow());
      MarkBehind();
      engine_->Tick();  // a quiet stream still closes its windows (idle partitions)
      PublishPartials();
    } else {
      ProcessPending();
      kill_point_.AfterRecords(read_here_);
    }
    sink_->Poll();
    if (sink_->failed_deliveries() > 0) LoseOutput();  // (stops at once, not at the checkpoint)
    const auto now = MonotonicNow();
    // A quiet stream (nothing read, watermark still) has nothing to save.
    // While the last commit still runs (its changelog waiting on a broker
    // that is down) the next one waits: the loop keeps fetching.
    if (schedule.Due(*engine_, now, engine_->watermark_ms() != checkpointed_watermark_) &&
        !engine_->CommitInFlight()) {
      if (auto s = Checkpoint(/*wait=*/false); !s.ok()) {
        spdlog::log(schedule.Failed(now, std::string(s.message())) ? spdlog::level::err
                                                                   : spdlog::level::debug,
                    "msg=\"checkpoint failed{}\" error=\"{}\"", state_failed_ ? "" : ", will retry",
                    std::string(s.message()));
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
      SampleStatus();
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

void LiveRunner::Impl::ProcessPending() {
  if (pending_.empty()) return;
  // One Engine batch per partition: its task's (the source name goes to dead
  // letters); order within each partition is kept.
  router_->Route(pending_, &next_offsets_, &repartitioned_upto_, &batch_);
  // Windows these records close are due from now: publish delay counts
  // this batch's processing too.
  sink_->SetResultsDueSince(MonotonicNow());
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
  // The forwarders' marks read, now that the records before them are in.
  for (const RoutedBatch::Mark& m : batch_.marks)
    engine_->watermarks().SetForwarderMark(m.task, m.source, m.mark_ms, clock_());
  MarkBehind();
  engine_->Tick();  // the watermark step, once for every task's batch
  PublishPartials();
  // The global tasks: what the partials read change, then what every
  // source task's watermark has passed.
  const auto read_at = MonotonicNow();
  for (auto& [task, values] : batch_.partials) {
    for (std::string_view v : values) global_->Consume(task, v, read_at);
    // Its windows are due since the source watermarks passed their end.
    // (Else corrections: due since they were read.)
    const int64_t since = global_->TakeWatermarkSince(task);
    sink_->SetResultsDueSince(
        read_at - std::chrono::milliseconds(
                      since > 0 ? std::clamp<int64_t>(clock_() - since, 0, 60'000) : 0));
    global_->Flush(task);
    values.clear();
  }
  metrics_->ingest->RecordsVisible(batch_.kafka_timestamps_ms, clock_());
  pending_.Clear();
}

void LiveRunner::Impl::PublishPartials(bool force) {
  WatermarkTracker& w = engine_->watermarks();
  global_->Publish(
      [this](int t) { return engine_->task_live(t); }, [&w](int t) { return w.task_current(t); },
      [this](int t) { return InputPosition(next_offsets_, t, config_.kafka.partials_topic); },
      MonotonicNow(), force);
  marks_->Publish([this](int t) { return engine_->task_live(t); }, w, MonotonicNow(), force);
}

absl::Status LiveRunner::Impl::Checkpoint(bool wait) {
  const auto start = MonotonicNow();
  // Results (and partials) emitted so far must be in Kafka before the
  // state that says they were emitted.
  PublishPartials(/*force=*/true);
  // In the background (wait false) only a short wait: with a broker down
  // the flush would block the loop, which then fetched nothing (and heard
  // nothing of the outage); the checkpoint is tried again instead.
  auto failed = [this](absl::Status s) {
    metrics_->checkpoints->CheckpointFailed();
    status_.CheckpointFailed(clock_(), std::string(s.message()));
    return s;
  };
  if (auto s = sink_->Flush(wait ? 30'000 : 1'000); !s.ok()) return failed(s);
  if (sink_->failed_deliveries() > 0) {
    LoseOutput();
    return failed(absl::DataLossError(fmt::format(
        "{} records were not delivered to Kafka (last: {}); stopping without a checkpoint "
        "so that a restart produces them again",
        sink_->failed_deliveries(), sink_->last_failure())));
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
    state_failed_ = true;
    RequestStop();
    return failed(s);
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
  last_checkpoint_ms_ = MillisSince(start);
  // The duration is the pause in processing; the watermark gauge follows
  // durable checkpoints only (UpdateGauges).
  const uint64_t state_bytes = backend_->ApproximateSizeBytes();
  metrics_->checkpoints->CheckpointDone(last_checkpoint_ms_ / 1000.0,
                                        engine_->last_checkpoint_bytes(), state_bytes,
                                        engine_->committed_watermark_ms());
  status_.CheckpointTaken(engine_->counters().checkpoints, clock_(), last_checkpoint_ms_,
                          engine_->last_checkpoint_bytes(), state_bytes);
  const RocksStateBackend::Memory rocks = backend_->MemoryUsage();
  const Engine::StateMemory operators = engine_->state_memory();
  metrics_->checkpoints->SetStateMemory(rocks.block_cache, rocks.memtables, rocks.table_readers,
                                        operators.window_user_bytes, operators.dedup_bytes);
  return absl::OkStatus();
}

void LiveRunner::Impl::JudgeCompleteness() {
  std::function<int64_t(const TopicPartition&)> high;
  if (source_ != nullptr) {
    high = [this](const TopicPartition& tp) {
      return source_->HighWatermark(tp.topic, tp.partition);
    };
  }
  completeness_.Judge({assigned_, next_offsets_, std::move(high), engine_->watermarks(),
                       batch_.delivering, input_health_.unreachable()},
                      clock_());
  global_->JudgeSources(MonotonicNow());  // ... and its source tasks'
}

void LiveRunner::Impl::ReloadRules(const char* why) {
  rules_.Reload(why, config_.operators.window_minutes, metrics_->alerts.get(),
                [this](RuleWatcher::Rules& loaded) {
                  config_.alert_rules = loaded.rules;
                  config_.alert_rules_file = loaded.rules_file;
                  config_.plan = loaded.plan;
                  metrics_->results->SetPlan(loaded.plan);
                  status_.SetPlan(loaded.plan);
                  global_->ReplaceRules(std::move(loaded.rules), engine_->watermark_ms());
                  UpdateTaskStateGauges();
                  return global_->Firing().size();
                });
}

void LiveRunner::Impl::JudgePlacement() {
  const InputPartitioner ours = config_.kafka.input_partitioner;
  auto describe = [](InputPartitioner p) {
    return p == InputPartitioner::kConsistent ? "CRC32 (librdkafka's default partitioner)"
                                              : "murmur2 (the Java client's default partitioner)";
  };
  for (const auto& [topic, census] : engine_->placement()) {
    metrics_->ingest->SetPlacement(topic, census);
    if (tasks_->tasks() < 2 || census.checked < 1'000 || placement_said_.count(topic) != 0)
      continue;
    placement_said_.insert(topic);
    if (census.ratio(ours) >= 0.9) continue;
    InputPartitioner best = ours;
    for (const auto& [name, p] : kInputPartitionerNames) {
      if (census.ratio(p) > census.ratio(best)) best = p;
    }
    if (best != ours && census.ratio(best) >= 0.9) {
      spdlog::warn(
          "msg=\"producers use another partitioner\" topic={} {}_match={:.2f} {}_match={:.2f} "
          "hint=\"{:.0f}% of {}'s keys sit where {} puts them: set kafka.input_partitioner: {} "
          "to stop forwarding them (on a new group or empty state: docs/operations.md, "
          "'Keying producers')\"",
          topic, InputPartitionerName(ours), census.ratio(ours), InputPartitionerName(best),
          census.ratio(best), 100 * census.ratio(best), topic, describe(best),
          InputPartitionerName(best));
    } else {
      spdlog::info(
          "msg=\"records not keyed by their user\" topic={} {}_match={:.2f} {}_match={:.2f} "
          "hint=\"most of {}'s records are in neither partitioner's partition of their user id "
          "(keyed by another id, or unkeyed): each is forwarded once to its user's task; key "
          "the producers by user id to save that\"",
          topic, InputPartitionerName(InputPartitioner::kMurmur2),
          census.ratio(InputPartitioner::kMurmur2),
          InputPartitionerName(InputPartitioner::kConsistent),
          census.ratio(InputPartitioner::kConsistent), topic);
    }
  }
}

void LiveRunner::Impl::UpdateGauges() {
  JudgePlacement();
  metrics_->ingest->SetWatermark(engine_->watermark_ms(), clock_());
  for (int t = 0; t < tasks_->tasks(); ++t) {
    const EngineCounters& c = engine_->task_counters(t);
    metrics_->tasks->SetTaskRecords(t, c.read, c.accepted, c.duplicates, c.late,
                                    c.rejected_total());
  }
  metrics_->checkpoints->SetCheckpointWatermark(engine_->committed_watermark_ms());
  metrics_->tasks->SetGlobalTasks(global_->owned_count(), global_->lowest_watermark_ms(),
                                  global_->incomplete_count());
  // (Global tasks come and go with their alert state: set on assignment.)
  if (firing_gauges_dirty_) {
    firing_gauges_dirty_ = false;
    metrics_->alerts->SetAlertsFiring(global_->FiringCounts());
  }
  UpdateProfileGauges();
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

void LiveRunner::Impl::SampleStatus() {
  const int64_t now = clock_();
  StatusSample s;
  s.wall_ms = now;
  s.tasks = tasks_->tasks();
  std::set<std::string> members{status_.address()};
  for (int t = 0; t < s.tasks; ++t) {
    if (tasks_->Owned(t)) s.tasks_here.push_back(t);
    if (global_->owned(t)) s.global_here.push_back(t);
    const QueryApi::Placement p = global_->Locate(t);
    if (!p.here && !p.address.empty()) members.insert(p.address);
  }
  s.members.assign(members.begin(), members.end());
  for (const auto& name : assigned_) {
    const auto tp = TopicPartition::Parse(name);
    if (!tp) continue;
    StatusSample::Partition p;
    p.topic = tp->topic;
    p.partition = tp->partition;
    if (auto it = next_offsets_.find(name); it != next_offsets_.end()) p.next_offset = it->second;
    if (source_ != nullptr) p.end_offset = source_->HighWatermark(tp->topic, tp->partition);
    p.idle = engine_->watermarks().idle(name);
    s.partitions.push_back(std::move(p));
  }
  for (int t : s.tasks_here) {
    StatusSample::Task task;
    task.task = t;
    task.watermark_ms = engine_->watermarks().task_current(t);
    // Forwarders holding it: the lowest mark (or none yet), or silent.
    int64_t lowest = INT64_MAX;
    const auto forwarders = engine_->watermarks().Forwarders(t, now);
    for (const auto& f : forwarders) {
      if (!f.vanished && f.mark_ms != WatermarkTracker::kForwarderIdle)
        lowest = std::min(lowest, f.mark_ms);
    }
    for (const auto& f : forwarders) {
      const bool idle = f.mark_ms == WatermarkTracker::kForwarderIdle;
      if ((!f.vanished && !idle && f.mark_ms == lowest) || f.silent_ms >= 3'000 || f.doubted)
        task.held_by.push_back({f.source, f.mark_ms, idle, f.silent_ms, f.vanished, f.doubted});
    }
    task.global_here = global_->owned(t);
    if (task.global_here) {
      task.global_watermark_ms = global_->watermark_ms(t);
      task.incomplete = global_->incomplete_reason(t);
    }
    s.task_list.push_back(std::move(task));
  }
  s.watermark_ms = engine_->watermark_ms();
  s.global_watermark_ms = global_->lowest_watermark_ms();
  s.incomplete_reason = incomplete_reason_;
  s.alerts = global_->Active();
  const EngineCounters& c = engine_->counters();
  s.read = c.read;
  s.accepted = c.accepted;
  s.duplicates = c.duplicates;
  s.late = c.late;
  s.rejected = metrics_->ingest->rejected_counts();
  s.input_partitioner = std::string(InputPartitionerName(config_.kafka.input_partitioner));
  for (const auto& [topic, census] : engine_->placement()) {
    StatusSample::Placement& p = s.placement[topic];
    p.checked = census.checked;
    for (const auto& [name, by] : kInputPartitionerNames)
      p.match[std::string(name)] = census.ratio(by);
  }
  s.partials_sent = global_->partials_sent();
  s.partials_rejected = global_->rejected();
  status_.Sample(std::move(s));
  if (assigned_since_sample_ > 0) {
    status_.Rebalance(now, "assigned", assigned_since_sample_, assign_ms_since_sample_);
    assigned_since_sample_ = 0;
    assign_ms_since_sample_ = 0;
  }
  if (const Engine::CommitReport commit = engine_->last_commit();
      commit.checkpoint != commit_reported_) {
    status_.CheckpointCommitted(commit.checkpoint, commit.millis, commit.ok);
    commit_reported_ = commit.checkpoint;
  }
}

void LiveRunner::Impl::Report(const char* what) {
  const auto& c = engine_->counters();
  spdlog::info(
      "msg=\"{}\" read={} accepted={} rejected={} duplicates={} late={} repartitioned={} "
      "in_flight={} watermark_ms={} global_tasks={} global_watermark_ms={} "
      "idle_partitions={} produced={} failed_deliveries={} checkpoints={} "
      "last_checkpoint_ms={:.1f}",
      what, c.read, c.accepted, c.rejected_total(), c.duplicates, c.late, c.repartitioned,
      engine_->records_in_flight(), engine_->watermark_ms(), global_->owned_count(),
      global_->lowest_watermark_ms(), engine_->watermarks().idle_partitions(), sink_->produced(),
      sink_->failed_deliveries(), c.checkpoints, last_checkpoint_ms_);
}

}  // namespace promowatch
