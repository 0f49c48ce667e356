#include "pipeline/runtime/engine.h"

#include <fmt/format.h>

#include <chrono>

#include "pipeline/decode/partitioner.h"
#include "pipeline/runtime/clock.h"
#include "pipeline/runtime/engine_meta.h"
#include "pipeline/runtime/task_state.h"
#include "promowatch/v1/state.pb.h"

namespace promowatch {
namespace {
constexpr std::string_view kRuntimeKey = "runtime";
}  // namespace

EngineOptions EngineOptions::From(const PipelineConfig& config) {
  EngineOptions o;
  o.operators = config.operators;
  o.idle_partition_timeout_ms = config.idle_partition_timeout_ms;
  o.max_future_skew_ms = config.max_future_skew_ms;
  o.future_skew_reference = config.future_skew_reference;
  o.orders_may_lack_campaign = config.profiles_enabled;
  o.input_partitioner = config.kafka.input_partitioner;
  return o;
}

Engine::Engine(const EngineOptions& options, WindowResultSink* results, RecordSink* dead_letters,
               RecordSink* late, std::function<int64_t()> wall_clock_ms)
    : options_(options),
      dead_letters_(dead_letters),
      late_(late),
      admission_(options.operators),
      windows_(options.operators, results),
      watermark_(options.operators.max_out_of_orderness_ms, options.idle_partition_timeout_ms),
      wall_clock_ms_(std::move(wall_clock_ms)) {
  decoder_.set_orders_may_lack_campaign(options.orders_may_lack_campaign);
  if (!wall_clock_ms_) wall_clock_ms_ = SystemClock();
  by_partition_ = options.task_per_partition;
  if (options.tasks > 1 || by_partition_) {
    merger_ = std::make_unique<PartialMerger>(options.operators, options.tasks, results);
    tasks_.resize(static_cast<size_t>(options.tasks));
    for (int t = 0; t < options.tasks; ++t) ResetTask(t);
    routed_.resize(static_cast<size_t>(options.tasks));
  }
  if (by_partition_) watermark_.EnableTasks(options.tasks);
}

std::vector<std::string> Engine::StateTables() const {
  std::vector<std::string> tables;
  if (by_partition_) {
    tables = TaskTables();  // shared by the tasks (task_state.h: a key prefix each)
    for (auto& t : merger_->StateTables()) tables.push_back(std::move(t));
  } else if (merger_) {
    tables = windows_.StateTables();  // shared by the tasks (task_state.h: a key prefix each)
    for (auto& t : merger_->StateTables()) tables.push_back(std::move(t));
  } else {
    tables = windows_.StateTables();
  }
  if (!by_partition_) tables.emplace_back(EventAdmission::kIdsTable);
  for (const Operator* op : operators_) {
    for (auto& t : op->StateTables()) tables.push_back(std::move(t));
  }
  return tables;
}

absl::Status Engine::Restore(RocksStateBackend* backend, SourcePosition* position) {
  backend_ = backend;
  if (backend == nullptr) return absl::OkStatus();
  std::string bytes;
  absl::Status s = backend->Get(WindowOperator::kMetaTable, kRuntimeKey, &bytes);
  if (absl::IsNotFound(s)) {  // fresh state; operators may still read it on demand later
    for (Operator* op : operators_) {
      if (s = op->Restore(*backend); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  if (!s.ok()) return s;
  v1::OperatorMeta meta;
  if (!meta.ParseFromString(bytes)) return absl::DataLossError("meta/runtime: undecodable");
  if (by_partition_) {
    // The merged windows (unless the job merges: then they are its global
    // tasks' state, under their task prefixes, restored with those tasks)
    // and what is attached; each task's own state when its partitions are
    // assigned (RestoreTask).
    if (!task_results_) {
      if (s = merger_->Restore(*backend); !s.ok()) return s;
    }
    for (Operator* op : operators_) {
      if (s = op->Restore(*backend); !s.ok()) return s;
    }
    // The watermark never goes back, across restarts too; the partitions'
    // times come with their tasks.
    const auto& c = meta.counters();
    if (auto it = c.find("max_event_time/\x01watermark"); it != c.end())
      watermark_.Restore({{"\x01watermark", it->second}});
    if (position != nullptr) {
      position->fingerprint = meta.source_fingerprint();
      position->offsets.clear();
      position->restored = true;
    }
    return absl::OkStatus();
  }
  if (s = admission_.Restore(*backend); !s.ok()) return s;
  if (merger_) {
    for (size_t t = 0; t < tasks_.size(); ++t) {
      if (s = tasks_[t].windows->Restore(TaskStateReader(backend, static_cast<int>(t))); !s.ok())
        return s;
    }
    if (s = merger_->Restore(*backend); !s.ok()) return s;
  } else if (s = windows_.Restore(*backend); !s.ok()) {
    return s;
  }
  for (Operator* op : operators_) {
    if (s = op->Restore(*backend); !s.ok()) return s;
  }
  counters_ = LoadCounters(meta);
  std::map<std::string, int64_t> max_times;
  constexpr std::string_view kPrefix = "max_event_time/";
  for (const auto& [k, v] : meta.counters()) {
    if (k.rfind(kPrefix, 0) == 0) max_times[k.substr(kPrefix.size())] = v;
  }
  watermark_.Restore(max_times);
  for (const auto& [name, t] : max_times) newest_counted_ms_ = std::max(newest_counted_ms_, t);
  if (meta.has_held()) {  // decoded again: it was valid when it was held
    const v1::HeldRecord& h = meta.held();
    Held& held = held_.emplace();
    held.bytes = h.value();
    held.source = h.source();
    held.raw.offset = h.offset();
    held.format.type = static_cast<ValueType>(h.value_type());
    if (h.wire() != 0) held.format.wire = static_cast<WireFormat>(h.wire() - 1);
    held.format.noun = "input";
    if (decoder_.Decode(held.bytes, held.format, held.source, &held.record) !=
        v1::REJECT_REASON_UNSPECIFIED) {
      return absl::DataLossError("meta/runtime: the held record no longer decodes");
    }
  }
  if (position != nullptr) {
    position->fingerprint = meta.source_fingerprint();
    position->offsets.clear();
    for (const auto& [k, v] : meta.source_offsets()) position->offsets[k] = v;
    position->restored = true;
  }
  return absl::OkStatus();
}

void Engine::Process(std::span<const RawRecord> batch, std::string_view source,
                     const InputFormat& format) {
  CollectCommit(false);
  if (records_.size() < batch.size()) records_.resize(batch.size());
  accepted_.clear();
  released_.clear();
  const int64_t wall_ms = wall_clock_ms_();
  // A file source does not name partitions: its records are slot 0, "input".
  if (watermark_.size() == 0) watermark_.Slot("input");
  const std::string label = fmt::format("{} {}", format.noun, source);
  // Decode the whole batch first, then admit in input order: admission can
  // then prefetch the dedup-set slots of records a few places ahead (the set
  // holds millions of ids, so each lookup is a cache miss otherwise).
  // Rejections are kept in input order with the late records (one
  // dead-letter stream, the same whatever the batching).
  rejects_.clear();
  for (size_t i = 0; i < batch.size(); ++i) {
    ++counters_.read;
    const v1::RejectReason reason =
        decoder_.Decode(batch[i].bytes, format, label, &records_[i], &detail_);
    if (reason != v1::REJECT_REASON_UNSPECIFIED) {
      ++counters_.rejected[reason];
      rejects_.push_back({i, reason, detail_});
    }
  }
  constexpr size_t kPrefetchDistance = 8;
  const EventAdmission& admission = AdmissionOf(current_task_);
  size_t next_reject = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (i + kPrefetchDistance < batch.size()) admission.Prefetch(records_[i + kPrefetchDistance]);
    const RawRecord& raw = batch[i];
    if (next_reject < rejects_.size() && rejects_[next_reject].index == i) {
      const Reject& r = rejects_[next_reject++];
      if (dead_letters_ != nullptr)
        dead_letters_->Keep(raw, source, RejectReasonName(r.reason), r.detail);
      if (raw.forwarded) Arrived(raw, source);
      continue;
    }
    if (forwarder_ != nullptr && !raw.forwarded && Forwarded(records_[i], raw, source, wall_ms))
      continue;
    if (options_.max_future_skew_ms > 0 &&
        GuardFutureTime(records_[i], raw, source, format, wall_ms)) {
      if (raw.forwarded) Arrived(raw, source);
      continue;
    }
    Admit(records_[i], raw, source, wall_ms);
    if (raw.forwarded) Arrived(raw, source);  // (after: it held the watermark for itself)
  }
  RunOperators();
  if (defer_watermark_) return;  // (ProcessTask: the caller's Tick, once per poll)
  watermark_.CheckIdle(wall_ms);
  const int64_t wm = watermark_.current();
  TasksOnWatermark(wm);
  WindowsOnWatermark(wm);
  for (Operator* op : operators_) op->OnWatermark(wm);
}

void Engine::RunOperators() {
  EventTimeOrder* order = OrderOf(current_task_);
  if (order == nullptr) return Deliver(current_task_, accepted_);
  // Held until the watermark passes them (ReleaseOrdered); a record behind
  // what was released already (late, within the allowed lateness) goes on
  // now, and so does spend (no user: nothing for the enrichment to order).
  now_.clear();
  for (EventRecord* e : accepted_) {
    if (e->user_id.empty() || !order->Hold(*e)) now_.push_back(e);
  }
  if (!now_.empty()) Deliver(current_task_, now_);
}

void Engine::ReleaseOrdered(int task, int64_t watermark_ms, bool all) {
  EventTimeOrder* order = OrderOf(task);
  if (order == nullptr) return;
  const std::span<EventRecord* const> released =
      all ? order->ReleaseAll() : order->Release(watermark_ms);
  if (released.empty()) return;
  const int caller = current_task_;
  current_task_ = task;
  // In slices: what the enrichment just read is still in cache for the windows.
  constexpr size_t kSlice = 256;
  for (size_t i = 0; i < released.size(); i += kSlice)
    Deliver(task, released.subspan(i, std::min(kSlice, released.size() - i)));
  current_task_ = caller;
}

void Engine::Deliver(int task, std::span<EventRecord* const> records) {
  if (enricher_ != nullptr) enricher_->EnrichBatch(records);
  if (by_partition_) {
    if (auto* e = tasks_[static_cast<size_t>(task)].enricher.get()) e->EnrichBatch(records);
  }
  const std::span<const EventRecord* const> admitted(records.data(), records.size());
  for (Operator* op : operators_) op->ProcessBatch(admitted);
  if (!merger_) {
    windows_.ProcessBatch(admitted);
    return;
  }
  if (by_partition_) {  // the caller's task: its partition
    Task& slot = tasks_[static_cast<size_t>(task)];
    slot.windows->ProcessBatch(admitted);
    for (auto& op : slot.operators) op->ProcessBatch(admitted);
    return;
  }
  // By user, as the producers' partitioner would place a record keyed by
  // its user id; spend (no user) by its event id.
  const int32_t tasks = static_cast<int32_t>(tasks_.size());
  for (auto& r : routed_) r.clear();
  for (const EventRecord* e : admitted) {
    const std::string& key = e->user_id.empty() ? e->event_id : e->user_id;
    routed_[static_cast<size_t>(PartitionOfKey(key, tasks, options_.input_partitioner))].push_back(
        e);
  }
  for (size_t t = 0; t < tasks_.size(); ++t) tasks_[t].windows->ProcessBatch(routed_[t]);
}

void Engine::Admit(EventRecord& rec, const RawRecord& raw, std::string_view source,
                   int64_t wall_ms) {
  // (A task judges lateness by its own time: watermarks.h.)
  rec.watermark_ms = watermark_.task_current(current_task_);
  switch (AdmissionOf(current_task_).Admit(rec)) {
    case Admission::kDuplicate:
      ++counters_.duplicates;
      break;
    case Admission::kLate:
      ++counters_.late;
      if (late_ != nullptr) late_->Keep(raw, source, "late", "event time is behind the watermark");
      break;
    case Admission::kAccepted:
      ++counters_.accepted;
      watermark_.Observe(raw.partition, rec.event_time_ms, wall_ms);
      newest_counted_ms_ = std::max(newest_counted_ms_, rec.event_time_ms);
      accepted_.push_back(&rec);
      break;
  }
}

bool Engine::GuardFutureTime(EventRecord& rec, const RawRecord& raw, std::string_view source,
                             const InputFormat& format, int64_t wall_ms) {
  const int64_t skew = options_.max_future_skew_ms;
  if (options_.future_skew_reference == PipelineConfig::SkewReference::kWallClock) {
    if (rec.event_time_ms - skew <= wall_ms) return false;
    ++counters_.rejected[v1::REJECT_REASON_FUTURE_EVENT_TIME];
    if (dead_letters_ != nullptr) {
      dead_letters_->Keep(
          raw, source, RejectReasonName(v1::REJECT_REASON_FUTURE_EVENT_TIME),
          fmt::format("event time {} is {} s ahead of the wall clock {} (limit {} s): {}",
                      rec.event_time_ms, (rec.event_time_ms - wall_ms) / 1000, wall_ms, skew / 1000,
                      RejectAdvice(v1::REJECT_REASON_FUTURE_EVENT_TIME)));
    }
    return true;
  }
  if (held_) {
    ReleaseHeld(rec.event_time_ms >= held_->record.event_time_ms - skew, rec.event_time_ms,
                wall_ms);
  }
  if (newest_counted_ms_ != kNoWatermark && rec.event_time_ms - skew <= newest_counted_ms_) {
    return false;
  }
  // Ahead of everything counted (or the first record): held for the next.
  Held& h = held_.emplace();
  std::swap(h.record, rec);  // rec's slot is refilled by the next batch's decode
  h.bytes.assign(raw.bytes.data(), raw.bytes.size());
  h.raw = raw;
  h.raw.bytes = {};
  h.source.assign(source.data(), source.size());
  h.format = format;
  return true;
}

void Engine::ReleaseHeld(bool admit, int64_t next_ms, int64_t wall_ms) {
  Held& h = *held_;
  RawRecord raw = h.raw;
  raw.bytes = h.bytes;
  if (admit) {
    EventRecord& rec = released_.emplace_back();
    std::swap(rec, h.record);
    Admit(rec, raw, h.source, wall_ms);
  } else {
    ++counters_.rejected[v1::REJECT_REASON_FUTURE_EVENT_TIME];
    if (dead_letters_ != nullptr) {
      dead_letters_->Keep(
          raw, h.source, RejectReasonName(v1::REJECT_REASON_FUTURE_EVENT_TIME),
          fmt::format("event time {} is ahead of the input: the newest counted was {} and the "
                      "next record ({}) is {} s behind it (limit {} s): {}",
                      h.record.event_time_ms,
                      newest_counted_ms_ == kNoWatermark ? std::string("none yet")
                                                         : std::to_string(newest_counted_ms_),
                      next_ms, (h.record.event_time_ms - next_ms) / 1000,
                      options_.max_future_skew_ms / 1000,
                      RejectAdvice(v1::REJECT_REASON_FUTURE_EVENT_TIME)));
    }
  }
  held_.reset();
}

void Engine::Tick() {
  CollectCommit(false);
  watermark_.CheckIdle(wall_clock_ms_());
  const int64_t wm = watermark_.current();
  TasksOnWatermark(wm);
  WindowsOnWatermark(wm);
  for (Operator* op : operators_) op->OnWatermark(wm);
}

void Engine::WindowsOnWatermark(int64_t watermark_ms) {
  if (!merger_) {
    windows_.OnWatermark(watermark_ms);
    return;
  }
  for (size_t t = 0; t < tasks_.size(); ++t)
    tasks_[t].windows->OnWatermark(watermark_.task_current(static_cast<int>(t)));
  // One step: every task saw the batch and its watermark; what every task
  // has passed is final. (Or the job merges: the live global stage.)
  if (!task_results_) merger_->Flush(watermark_ms);
}

Engine::StateMemory Engine::state_memory() const {
  StateMemory m;
  const auto add_windows = [&m](const WindowOperator& w) {
    const WindowOperator::Stats s = w.stats();
    m.window_user_bytes += (s.pane_users + s.day_users) * sizeof(uint64_t);
  };
  add_windows(windows_);
  m.dedup_bytes = admission_.memory_bytes();
  for (const Task& t : tasks_) {
    add_windows(*t.windows);
    if (t.admission) m.dedup_bytes += t.admission->memory_bytes();
  }
  return m;
}

WindowOperator::Stats Engine::window_stats() const {
  if (!merger_) return windows_.stats();
  WindowOperator::Stats sum;
  for (const Task& t : tasks_) {
    const WindowOperator::Stats s = t.windows->stats();
    sum.keys += s.keys;
    sum.panes += s.panes;
    sum.days += s.days;
    sum.pane_users += s.pane_users;
    sum.day_users += s.day_users;
    sum.pane_users_unsorted += s.pane_users_unsorted;
  }
  sum.windows_emitted = merger_->windows_emitted();
  sum.corrections_emitted = merger_->corrections_emitted();
  return sum;
}

void Engine::RejectUnframed(const RawRecord& record, std::string_view source,
                            v1::RejectReason reason, std::string_view detail) {
  ++counters_.read;
  ++counters_.rejected[reason];
  if (dead_letters_ != nullptr) {
    dead_letters_->Keep(record, source, RejectReasonName(reason),
                        detail.empty() ? RejectAdvice(reason) : std::string(detail));
  }
}

bool Engine::checkpoint_wanted() const {
  bool wanted = false;
  ForEachOperator([&](const Operator* op) { wanted = wanted || op->WantsCheckpoint(); });
  return wanted;
}

bool Engine::ReadyForCheckpoint(bool overdue) {
  CollectCommit(false);
  if (!inflight_.valid() || overdue) return true;
  bool needed = false;
  ForEachOperator([&](const Operator* op) { needed = needed || op->NeedsCheckpoint(); });
  return needed;
}

void Engine::CollectCommit(bool block) {
  if (!inflight_.valid()) return;
  if (!block && inflight_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return;
  const absl::Status s = inflight_.get();
  last_commit_ = {inflight_checkpoint_, static_cast<double>(inflight_commit_us_.load()) / 1000.0,
                  s.ok()};
  if (!s.ok()) {
    inflight_batch_.reset();
    if (commit_error_.ok()) commit_error_ = s;
    return;
  }
  spare_batch_ = std::move(inflight_batch_);
  last_checkpoint_bytes_ = inflight_bytes_.load();  // (with the deferred writes)
  committed_watermark_ms_ = inflight_watermark_ms_;
  for (Operator* op : operators_) op->OnCheckpointCommitted();
  for (Task& t : tasks_) {
    if (t.in_commit && t.live)
      ForEachTaskOperator(t, [](Operator* op) { op->OnCheckpointCommitted(); });
    t.in_commit = false;
  }
}

absl::Status Engine::WaitForCommit() {
  CollectCommit(true);
  return commit_error_;
}

bool Engine::CommitInFlight() {
  CollectCommit(false);
  return inflight_.valid();
}

int64_t Engine::committed_watermark_ms() {
  CollectCommit(false);
  return committed_watermark_ms_;
}

absl::Status Engine::Checkpoint(const SourcePosition& position, bool wait,
                                TaskCheckpointer* tasks) {
  if (backend_ == nullptr) return absl::OkStatus();
  // Operators marked the previous snapshot's state clean: a failed commit of
  // it leaves memory and disk apart, so nothing is committed after it.
  const auto wait_started = MonotonicNow();
  const absl::Status committed = WaitForCommit();
  last_commit_wait_ms_ = MillisSince(wait_started);
  if (!committed.ok()) return committed;
  // State an operator could not read: outputs since may be wrong; stop
  // before making them the committed truth.
  absl::Status unreadable;
  ForEachOperator([&](const Operator* op) {
    if (unreadable.ok()) unreadable = op->status();
  });
  if (!unreadable.ok()) return unreadable;
  auto batch = spare_batch_ != nullptr ? std::move(spare_batch_) : backend_->NewBatch();
  if (by_partition_) {
    SnapshotTasks(*batch, position, tasks);
    if (!task_results_) merger_->Snapshot(*batch);
  } else if (merger_) {
    admission_.Snapshot(*batch);
    for (size_t t = 0; t < tasks_.size(); ++t) {
      TaskStateWriter out(batch.get(), static_cast<int>(t));
      tasks_[t].windows->Snapshot(out);
    }
    merger_->Snapshot(*batch);
  } else {
    admission_.Snapshot(*batch);
    windows_.Snapshot(*batch);
  }
  for (Operator* op : operators_) op->Snapshot(*batch);
  v1::OperatorMeta meta;
  ++counters_.checkpoints;
  StoreCounters(counters_, &meta);
  auto& c = *meta.mutable_counters();
  for (const auto& [name, t] : watermark_.Snapshot()) c["max_event_time/" + name] = t;
  if (held_) {
    v1::HeldRecord* h = meta.mutable_held();
    h->set_value(held_->bytes);
    h->set_source(held_->source);
    h->set_offset(held_->raw.offset);
    h->set_value_type(static_cast<uint32_t>(held_->format.type));
    h->set_wire(held_->format.wire ? static_cast<uint32_t>(*held_->format.wire) + 1 : 0);
  }
  meta.set_source_fingerprint(position.fingerprint);
  for (const auto& [k, v] : position.offsets) (*meta.mutable_source_offsets())[k] = v;
  batch->Put(WindowOperator::kMetaTable, kRuntimeKey, meta.SerializeAsString());
  last_checkpoint_bytes_ = batch->byte_size();
  inflight_watermark_ms_ = watermark_.current();
  inflight_batch_ = std::move(batch);
  RocksStateBackend* backend = backend_;
  RocksStateBackend::Batch* pending = inflight_batch_.get();
  inflight_checkpoint_ = counters_.checkpoints;
  inflight_started_ = MonotonicNow();
  inflight_ = std::async(std::launch::async, [this, backend, pending, tasks] {
    // What operators left to this thread (StateWriter::Defer) first: it
    // goes to the changelog as well.
    pending->RunDeferred();
    inflight_bytes_.store(pending->byte_size());
    // The local state is never ahead of the changelog: a task restored
    // elsewhere from the changelog is at least where this state says.
    absl::Status s = tasks != nullptr ? tasks->BeforeCommit() : absl::OkStatus();
    if (s.ok()) s = backend->Commit(*pending);
    inflight_commit_us_.store(
        std::chrono::duration_cast<std::chrono::microseconds>(MonotonicNow() - inflight_started_)
            .count());
    return s;
  });
  if (!wait) return absl::OkStatus();
  return WaitForCommit();
}

void Engine::Finish() {
  if (held_) {
    accepted_.clear();
    released_.clear();
    const int64_t wall_ms = wall_clock_ms_();
    ReleaseHeld(/*admit=*/true, 0, wall_ms);
    RunOperators();
    const int64_t wm = watermark_.current();
    TasksOnWatermark(wm);
    WindowsOnWatermark(wm);
    for (Operator* op : operators_) op->OnWatermark(wm);
  }
  // The end of the input: what the order still holds goes on (in order).
  if (by_partition_) {
    for (size_t t = 0; t < tasks_.size(); ++t) {
      if (tasks_[t].live) ReleaseOrdered(static_cast<int>(t), kNoWatermark, /*all=*/true);
    }
  } else {
    ReleaseOrdered(0, kNoWatermark, /*all=*/true);
  }
  if (merger_) {
    for (Task& t : tasks_) ForEachTaskOperator(t, [](Operator* op) { op->OnEndOfInput(); });
    merger_->Flush(kNoWatermark, /*end_of_input=*/true);
  } else {
    windows_.OnEndOfInput();
  }
  for (Operator* op : operators_) op->OnEndOfInput();
}

}  // namespace promowatch
