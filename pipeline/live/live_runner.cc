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

#include <spdlog/spdlog.h>

#include "pipeline/live/live_runner_impl.h"
#include "pipeline/runtime/clock.h"

namespace promowatch {
namespace {

// /v1/ while the query API is off (or gone: the runner is stopping).
HttpServer::Reply ApiOff(const HttpServer::Request&) {
  return {404, "{\"error\":\"the query API is off: set api.enabled and api.token\"}",
          "application/json", ""};
}

}  // namespace

LiveRunner::Impl::~Impl() {
  // The HTTP threads stop using the API (and the state under it) and the
  // status board first.
  if (api_) metrics_->port->http().Route("/v1/", ApiOff);
  ServeStatusPage(metrics_->port->http(), nullptr, config_.api, config_.metrics.address, clock_);
}

absl::Status LiveRunner::Impl::CreateEngine() {
  auto owner =
      TaskOwner::Open(config_.kafka, config_.changelog_snapshot_bytes, metrics_->tasks.get());
  if (!owner.ok()) return owner.status();
  tasks_ = std::move(*owner);
  EngineOptions options = EngineOptions::From(config_);
  options.tasks = tasks_->tasks();
  options.task_per_partition = true;
  // The job's topology (runtime/topology.h): the engine with a task per
  // partition, user profiles as task state. (Tag changes are at-least-once:
  // after a crash the records after the last checkpoint are read again,
  // possibly in another interleaving of a task's partitions; the state,
  // read by the query API, is exact.)
  TopologySinks sinks;
  sinks.results = &metered_;
  sinks.dead_letters = &dead_letters_;
  sinks.on_tag_change = [this](const TagChange& c) { PublishTagChange(c); };
  topology_ = std::make_unique<Topology>(config_, options, std::move(sinks), clock_);
  engine_ = &topology_->engine();
  router_ =
      std::make_unique<PolledRouter>(config_.kafka.partials_topic, engine_, metrics_->ingest.get());
  // Forwarded records hold their task's watermark wherever it runs: every
  // task sends its mark to the others (watermarks.h, "Forwarders").
  engine_->watermarks().EnableForwarders(config_.forwarder_timeout_ms);
  marks_ =
      std::make_unique<ForwarderMarks>(options.tasks, config_.kafka.partials_interval_ms, sink_);
  // Each task's windows go through the partials topic to the global task
  // of their campaign, which merges, judges the alerts and publishes;
  // global task g is part of task g's state.
  GlobalStage::Callbacks on;
  on.on_alert = [this](const AlertEvent& a) { OnAlert(a); };
  on.still_firing = [this](const AlertEvent& a) {
    firing_gauges_dirty_ = true;  // (restored with its global task)
    spdlog::info("msg=\"alert still firing\" alert={}", AlertToJson(a));
    fanout_.Notify(a, clock_());
  };
  on.moved_away = [this](const AlertEvent& a) {
    firing_gauges_dirty_ = true;
    fanout_.Forget(a);
  };
  on.task_moved_away = [this](int task) {
    metrics_->results->ForgetCampaigns(
        [&](const std::string& c) { return global_->OwnerOf(c) == task; });
  };
  global_ = std::make_unique<GlobalStage>(config_, options.tasks, sink_, &metered_, std::move(on),
                                          AdvertisedAddress(config_));
  engine_->SetTaskResults([g = global_.get()](int task) { return g->SourceSink(task); });
  engine_->AddTaskOperator([g = global_.get()](int task) { return g->TaskPart(task); });
  UpdateTaskStateGauges();
  engine_->SetForwarder(sink_);
  repartitioned_upto_.assign(static_cast<size_t>(tasks_->tasks()), {});
  spdlog::info("msg=\"tasks\" tasks={} changelog={}", tasks_->tasks(),
               config_.kafka.changelog_topic);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RocksStateBackend>> LiveRunner::Impl::OpenState(
    const std::string& state_dir) {
  auto backend = RocksStateBackend::Open(state_dir, engine_->StateTables(), config_.state);
  absl::Status verdict = backend.ok() ? (*backend)->VerifyChecksums() : backend.status();
  if (!absl::IsDataLoss(verdict)) {
    if (!verdict.ok()) return verdict;
    return backend;
  }
  // Damaged on disk (Kafka Streams does the same with a corrupted task):
  // every task's state is also in its changelog, so the local copy is
  // kept aside for inspection and the tasks are rebuilt from there as they
  // are assigned. Only what the changelog cannot give back (a gap) stops.
  if (backend.ok()) backend->reset();
  auto moved = RocksStateBackend::MoveAside(state_dir);
  if (!moved.ok()) return moved.status();
  spdlog::warn(
      "msg=\"local state failed its checksums: moved aside, tasks rebuild from their changelog\" "
      "dir={} moved_to={} error=\"{}\" hint=\"the disk or filesystem damaged a state file: "
      "check the disk (dmesg, SMART); the copy is kept for inspection and can be deleted\"",
      state_dir, *moved, std::string(verdict.message()));
  metrics_->checkpoints->StateMovedAside();
  return RocksStateBackend::Open(state_dir, engine_->StateTables(), config_.state);
}

absl::Status LiveRunner::Impl::Open(const std::string& state_dir) {
  ServeStatusPage(metrics_->port->http(), &status_, config_.api, config_.metrics.address, clock_);
  if (config_.api.enabled || IsLoopbackAddress(config_.metrics.address)) {
    spdlog::info("msg=\"status page\" url={}://{}/ access=\"{}\"", config_.metrics.scheme(),
                 config_.metrics.address,
                 config_.api.enabled ? "api.token (a browser asks for it: any user, the token "
                                       "as password)"
                                     : "open: loopback only");
  } else {
    spdlog::info(
        "msg=\"status page off\" hint=\"served on a loopback metrics.address, or with "
        "api.enabled and api.token\"");
  }
  if (auto s = CreateEngine(); !s.ok()) return s;
  auto backend = OpenState(state_dir);
  if (!backend.ok()) return backend.status();
  backend_ = std::move(*backend);
  backend_->FlushOnClose();
  SourcePosition position;
  if (auto s = engine_->Restore(backend_.get(), &position); !s.ok()) return s;
  if (config_.api.enabled) {
    api_ = std::make_unique<QueryApi>(
        config_.api, backend_.get(), metrics_->results.get(),
        config_.profiles_enabled ? metrics_->profiles.get() : nullptr,
        [tasks = tasks_->tasks(), by = config_.kafka.input_partitioner](const std::string& user) {
          return TaskKeyPrefix(PartitionOfKey(user, tasks, by)) + user;  // (its task's)
        },
        [g = global_.get(), by = config_.kafka.input_partitioner](bool user,
                                                                  const std::string& id) {
          return g->Locate(user ? PartitionOfKey(id, g->tasks(), by) : g->OwnerOf(id));
        });
    metrics_->port->http().Route("/v1/", [api = api_.get()](const HttpServer::Request& r) {
      return api->Handle(r.path, r.authorization);
    });
    spdlog::info("msg=\"query api on\" url={}://{}/v1/", config_.metrics.scheme(),
                 config_.metrics.address);
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

int64_t LiveRunner::Impl::OnAssigned(const TopicPartition& p) {
  const std::string name = p.Format();
  const auto start = MonotonicNow();
  if (!tasks_->Owned(p.partition) && !state_failed_) AssignTask(p.partition);
  ++assigned_since_sample_;
  assign_ms_since_sample_ += MillisSince(start);
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

void LiveRunner::Impl::OnRevoking(const std::vector<TopicPartition>& partitions, bool lost) {
  const auto start = MonotonicNow();
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
    spdlog::error("msg=\"checkpoint before revoke failed\" error=\"{}\"", std::string(s.message()));
  }
  for (const auto& p : partitions) {
    assigned_.erase(p.Format());
    if (p.topic == config_.kafka.partials_topic) continue;
    engine_->watermarks().SetAssigned(engine_->watermarks().Slot(p.Format()), false, clock_());
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
      marks_->Forget(p.partition);
    }
  }
  UpdateTaskStateGauges();
  status_.Rebalance(clock_(), lost ? "lost" : "revoked", static_cast<int>(partitions.size()),
                    MillisSince(start));
}

void LiveRunner::Impl::AssignTask(int task) {
  if (auto s = engine_->WaitForCommit(); !s.ok()) return;  // (stops: state_failed_)
  TaskPosition position;
  if (auto s = tasks_->Assign(task, *engine_, *backend_, &position); !s.ok()) {
    spdlog::error("msg=\"task cannot start, stopping\" task={} error=\"{}\"{}", task,
                  std::string(s.message()),
                  absl::IsDataLoss(s)
                      ? " hint=\"a local state file is damaged: restart - promowatch checks "
                        "the state's checksums at start-up, moves a damaged state directory "
                        "aside and rebuilds its tasks from their changelog\""
                      : "");
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
