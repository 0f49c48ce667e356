#pragma once
// The global stage of the live job (../shared/SCALE-OUT.md, scale-out part
// 2): two-phase aggregation through Kafka, so that N instances publish what
// one would.
//
//   task t's windows --partials--> promowatch-partials/g (g: the campaign's)
//   every task's watermark ------> every partition of promowatch-partials
//   global task g = partition g: the newest partial of every source task per
//   window and key (operators/partial_merge.h), summed, published when every
//   source task's watermark passed the window's end -> alert judge -> results
//
// A global task is part of task g (the consumer takes partition g of the
// partials topic with partition g of every input): its merge, the source
// watermarks and the alert state of its campaigns are task g's state - one
// WriteBatch with the partials offset, its changelog, restored wherever it
// lands. So every alert scope is judged by one instance at a time and its
// firing state moves with it; campaign metrics come from the owner only.
//
// Partials are idempotent: a version (the source task's input position)
// per partial, the newest wins, and one that changes nothing publishes
// nothing - a task re-sending after a crash or a move changes no result.
// A task's partials go out when its windows fire (final at the task, or a
// correction), not on every record: the global stage only publishes final
// windows, so earlier copies would cost messages and change nothing. They
// are batched per interval: one record per source and global task.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "operators/alert_engine.h"
#include "operators/partial_merge.h"
#include "pipeline/config/config.h"
#include "pipeline/decode/partitioner.h"
#include "pipeline/io/kafka.h"
#include "pipeline/runtime/clock.h"
#include "pipeline/runtime/engine.h"
#include "pipeline/serve/query_api.h"

namespace promowatch {

// A task's input position, the version of its partials: the sum of the
// next offsets of its partitions (by "topic/partition" in `next_offsets`)
// but those of `except_topic`, plus one (never 0). It only grows, and a
// task restarted from a checkpoint counts from there again.
int64_t InputPosition(const std::map<std::string, int64_t>& next_offsets, int task,
                      std::string_view except_topic);

// Where this instance answers queries for others (api.advertised_address,
// else metrics.address with the host name for 0.0.0.0).
std::string AdvertisedAddress(const PipelineConfig& config);

class GlobalStage final {
 public:
  static constexpr std::string_view kSourcesTable = "global_sources";

  struct Callbacks {
    // Every alert transition of a judge here (on the pipeline thread).
    AlertEngine::AlertCallback on_alert;
    // A global task came here with firing alerts: Alertmanager hears of
    // them again (same labels, same startsAt: no new page).
    std::function<void(const AlertEvent&)> still_firing;
    // A global task went elsewhere: its firing alerts are the new owner's,
    // and so are its campaigns' series.
    std::function<void(const AlertEvent&)> moved_away;
    std::function<void(int task)> task_moved_away;
    // Wall time, for what the partials say of when (default: the system clock).
    Clock wall_clock = SystemClock();
  };

  // `results` gets every final window (after the judge of its campaign's
  // global task); `sink` sends the partials. Both must outlive this.
  // `address`: where this instance answers queries (announced with its
  // tasks' partials).
  GlobalStage(const PipelineConfig& config, int tasks, KafkaSink* sink, WindowResultSink* results,
              Callbacks callbacks, std::string address);
  ~GlobalStage();

  int tasks() const { return tasks_; }
  // The global task of a campaign's results and alerts; the overall scope
  // ("*") has a fixed one too.
  int OwnerOf(std::string_view campaign) const { return KafkaPartitionOf(campaign, tasks_); }
  bool owned(int task) const { return global_[static_cast<size_t>(task)].merger != nullptr; }
  int owned_count() const;

  // --- The source side.
  // Where source task `task`'s windows emit (Engine::SetTaskResults).
  WindowResultSink* SourceSink(int task);
  // Every kafka.partials_interval (or now, with `force`: before a
  // checkpoint), sends what the source tasks' windows emitted since, to the
  // global tasks of their campaigns, with the task's version and
  // watermark; and the watermark of every live task whose watermark moved
  // to every global task (also a task with no data: no window waits for
  // it). At most one record per source and global task.
  void Publish(const std::function<bool(int task)>& live,
               const std::function<int64_t(int task)>& watermark_of,
               const std::function<int64_t(int task)>& version_of,
               std::chrono::steady_clock::time_point now, bool force);

  // --- The global side (a task's records, in offset order; `now`: when
  // they were read).
  void Consume(int task, std::string_view value, std::chrono::steady_clock::time_point now);
  // When (wall-clock ms) the source watermarks of global task `task` last
  // reached what lets its next windows go (-1: not moved since the last
  // call): the start of their publish delay.
  int64_t TakeWatermarkSince(int task);
  // After a poll's records: publishes the windows every source task passed.
  void Flush(int task);
  // The lowest source watermark of global task `task` (kNoWatermark: a
  // source task has not reported yet).
  int64_t watermark_ms(int task) const;
  // The lowest of watermark_ms over the global tasks here (kNoWatermark:
  // none here, or one without): every window ending at or before it was
  // published.
  int64_t lowest_watermark_ms() const;
  // Partials that could not be read (another task count, undecodable).
  int64_t rejected() const { return rejected_; }
  int64_t partials_sent() const { return sent_; }

  // Where task `task` runs, as its owner last announced (any thread): here,
  // another instance's address, or neither (moving).
  QueryApi::Placement Locate(int task) const;

  // --- The alert judges of the global tasks here.
  std::vector<AlertEvent> Firing() const;
  // Pending and firing, of the global tasks here.
  std::vector<AlertEvent> Active() const;
  std::vector<AlertEngine::FiringCount> FiringCounts() const;
  // Of one rule, over the global tasks here.
  int FiringOf(const std::string& rule) const;
  void ReplaceRules(std::vector<AlertRule> rules, int64_t event_time_ms);
  // Data completeness across instances: this instance's own judgement of
  // its inputs (completeness.h; empty: complete) goes with its tasks'
  // partials, and a global task judges its rules only while every source
  // task's instance says its inputs are complete and every source task was
  // heard within kSourceSilence (sources announce themselves every few
  // seconds; a silent one is a stopped or paused instance whose tasks the
  // group has not moved yet). Judged again on every call of either.
  static constexpr std::chrono::seconds kSourceSilence{30};
  void SetDataIncomplete(const std::string& reason, std::chrono::steady_clock::time_point now);
  void JudgeSources(std::chrono::steady_clock::time_point now);
  // Why the judges of global task `task` do not judge (empty: they do).
  std::string incomplete_reason(int task) const;
  // Global tasks here whose judges do not judge.
  int incomplete_count() const;
  // no_data rules on input topics: judged by the overall scope's owner.
  void CheckTopicSilence(const std::map<std::string, int64_t>& silent_ms, int64_t wall_ms);

  // Task g's global part (its merge, its alert judges and what its source
  // tasks said), an operator of task g (Engine::AddTaskOperator): loaded
  // when g comes here, snapshotted with g's state, closed when g goes.
  std::unique_ptr<Operator> TaskPart(int task);

 private:
  class Part;
  std::vector<std::string> StateTables() const;
  absl::Status RestoreTask(int task, const StateReader& in);
  void SnapshotTask(int task, StateWriter& out);
  void DropTask(int task);

  class SourceBuffer;
  struct Global {
    std::unique_ptr<AlertEngine> alerts;
    std::unique_ptr<PartialMerger> merger;  // null: not here
    std::vector<int64_t> source_watermark_ms;
    bool dirty = false;  // merge or sources changed since the snapshot
    // Not checkpointed: heard again within seconds wherever the task runs.
    std::vector<std::string> source_incomplete;  // by source task, as last heard
    std::vector<std::chrono::steady_clock::time_point> source_heard;
    std::string judged_incomplete;    // what the judges were told
    int64_t watermark_since_ms = -1;  // (TakeWatermarkSince)
  };
  std::string IncompleteReasonOf(const Global& g, std::chrono::steady_clock::time_point now) const;

  OperatorOptions operators_;
  int tasks_;
  std::string topic_;
  int64_t interval_ms_;
  KafkaSink* sink_;
  WindowResultSink* results_;
  Callbacks callbacks_;
  std::vector<AlertRule> rules_;
  std::string incomplete_reason_;
  std::vector<std::unique_ptr<SourceBuffer>> sources_;
  std::vector<int64_t> watermark_sent_ms_;    // by source task
  std::vector<std::string> incomplete_sent_;  // by source task
  // When each source task's watermark was first seen at its value.
  std::vector<int64_t> watermark_seen_ms_;
  std::vector<std::chrono::steady_clock::time_point> watermark_seen_at_;
  std::vector<Global> global_;
  std::chrono::steady_clock::time_point last_publish_{};
  std::chrono::steady_clock::time_point last_announce_{};
  std::string address_;
  mutable std::mutex placement_mu_;                             // (Locate runs on HTTP threads)
  std::vector<std::string> owner_address_;                      // by task, as announced
  std::vector<char> here_;                                      // by task
  std::vector<std::vector<const v1::WindowResult*>> by_owner_;  // (reused)
  std::string buffer_;
  int64_t rejected_ = 0;
  int64_t sent_ = 0;
};

}  // namespace promowatch
