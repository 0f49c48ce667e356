#pragma once
// What an on-call engineer looks at first: the status page (GET /,
// status_page.h) and its data, one JSON document (GET /v1/status,
// docs/status.md). The live job writes here - a sample of the instance about
// once a second, events as they happen (checkpoints, rebalances, dead
// letters, results) - and HTTP threads read; the rates, lag history and
// sparklines are derived here from the samples, so the page needs no
// history of its own. Nothing here names a user: dead letters keep their
// reason, source and offset, never their payload.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <vector>

#include "operators/alert_engine.h"
#include "operators/plan_rules.h"
#include "pipeline/runtime/topic_partition.h"
#include "pipeline/serve/task_probe.h"
#include "promowatch/v1/results.pb.h"

namespace promowatch {

// One look at the instance, taken by the live job.
struct StatusSample {
  int64_t wall_ms = 0;
  int tasks = 0;                     // in the group: one per input partition number
  std::vector<int> tasks_here;       // run here
  std::vector<int> global_here;      // global tasks here
  std::vector<std::string> members;  // instances heard from (addresses), this one included
  struct Partition : TopicPartition {
    int64_t next_offset = -1;  // -1: nothing read yet
    int64_t end_offset = -1;   // Kafka's high watermark, -1: not known yet
    bool idle = false;         // not holding the watermark back (watermark.idle_timeout)
  };
  std::vector<Partition> partitions;  // assigned inputs
  struct Task {
    int task = 0;
    int64_t watermark_ms = 0;  // the task's (kNoWatermark: none yet)
    bool global_here = false;
    int64_t global_watermark_ms = 0;  // its global task's: the lowest source watermark
    std::string incomplete;           // why its global task does not judge (empty: it does)
    // Forwarders (tasks sending it records through the repartition topic)
    // that hold its watermark now - the lowest mark, or none heard yet -
    // or that are silent (their instance stopped; waited for up to
    // watermark.forwarder_timeout, then `vanished`).
    struct Forwarder {
      int task = 0;
      int64_t mark_ms = 0;  // kNoWatermark: none yet
      bool idle = false;
      int64_t silent_ms = 0;
      bool vanished = false;
      bool doubted = false;  // idle, but held for: the input here resumed (watermarks.h)
    };
    std::vector<Forwarder> held_by;
  };
  std::vector<Task> task_list;
  int64_t watermark_ms = 0;         // this instance's
  int64_t global_watermark_ms = 0;  // the lowest of its global tasks'
  std::string incomplete_reason;    // this instance's inputs (empty: complete)
  std::vector<AlertEvent> alerts;   // pending and firing, of the global tasks here
  int64_t read = 0, accepted = 0, duplicates = 0, late = 0;
  std::map<std::pair<std::string, std::string>, int64_t> rejected;  // (topic, reason)
  int64_t partials_sent = 0, partials_rejected = 0;
  // Which partitioner the producers use, by input topic: of the records
  // read here, the share each partitioner places with their user.
  struct Placement {
    int64_t checked = 0;
    std::map<std::string, double> match;  // partitioner name -> share
  };
  std::map<std::string, Placement> placement;
  std::string input_partitioner;  // kafka.input_partitioner
};

class StatusBoard {
 public:
  struct Options {
    std::string version;
    std::string group;
    std::string address;        // where this instance serves
    std::string dashboard_url;  // a rule's link when its annotations give none
    // Read at each request, not sampled: a restore blocks the live job.
    const TaskProbe* tasks = nullptr;
  };
  StatusBoard(Options options, int64_t started_ms);

  // Where this instance serves (Options::address).
  const std::string& address() const { return options_.address; }

  // --- The live job (its thread).
  void Sample(StatusSample sample);
  void CheckpointTaken(int64_t sequence, int64_t wall_ms, double pause_ms, uint64_t bytes,
                       uint64_t state_bytes);
  void CheckpointCommitted(int64_t sequence, double commit_ms, bool ok);
  void CheckpointFailed(int64_t wall_ms, const std::string& why);
  // A rebalance handled here: partitions given up or taken, and how long
  // processing stopped for it (the revoke's checkpoint, the assignment's
  // restores).
  void Rebalance(int64_t wall_ms, const std::string& what, int partitions, double pause_ms);
  void DeadLetter(int64_t wall_ms, const std::string& reason, const std::string& topic,
                  int32_t partition, int64_t offset);
  // Every published window (the campaigns table: cumulative GMV and the
  // latest minute of each campaign over all channels; with segments, the
  // same by user segment).
  void ResultPublished(const v1::WindowResult& r);
  // The campaign plan (plan.file): "plan" holds each planned campaign's
  // targets against its latest period rows.
  void SetPlan(std::shared_ptr<const Plan> plan);

  // --- HTTP threads.
  std::string Json(int64_t now_ms) const;

  static constexpr size_t kCheckpoints = 20;
  static constexpr size_t kDeadLetters = 10;
  static constexpr size_t kRebalances = 10;
  static constexpr int64_t kLagHistoryMs = 15 * 60'000;
  static constexpr int64_t kLagStepMs = 10'000;  // one lag point per step
  static constexpr int64_t kRateWindowMs = 10'000;
  static constexpr size_t kSparkMinutes = 30;

 private:
  // The sections of Json, under mu_.
  nlohmann::json InstanceJson() const;
  nlohmann::json InputJson() const;
  nlohmann::json EventTimeJson() const;
  nlohmann::json CheckpointsJson() const;
  nlohmann::json AlertsJson() const;
  nlohmann::json CampaignsJson() const;
  nlohmann::json RejectionsJson() const;
  nlohmann::json PlanJson() const;

  struct Checkpoint {
    int64_t sequence = 0;
    int64_t wall_ms = 0;
    double pause_ms = 0;
    double commit_ms = -1;  // -1: committing
    uint64_t bytes = 0, state_bytes = 0;
    std::string outcome;  // committing, ok, failed: why
  };
  struct RebalanceEvent {
    int64_t wall_ms = 0;
    std::string what;
    int partitions = 0;
    double pause_ms = 0;
  };
  struct DeadLetterEvent {
    int64_t wall_ms = 0;
    std::string reason, topic;
    int32_t partition = 0;
    int64_t offset = 0;
  };
  struct Campaign {
    int64_t gmv_cents = 0;  // since local midnight (the cumulative window)
    int64_t day_start_ms = 0;
    v1::WindowResult minute;                   // the latest 1m window, all channels
    std::map<int64_t, int64_t> gmv_by_minute;  // window start -> GMV cents (last kSparkMinutes)
    // By user segment (segments.enabled), over all channels: GMV since
    // midnight and the latest window of the smallest size split.
    struct Segment {
      int64_t gmv_cents = 0;
      int64_t day_start_ms = 0;
      v1::WindowResult latest;
    };
    std::map<std::string, Segment> segments;
  };
  static nlohmann::json SegmentsJson(const Campaign& c);
  // A row of one user segment (ResultPublished).
  void SegmentPublished(const v1::WindowResult& r);
  // Positions of a partition over the last kRateWindowMs.
  struct Positions {
    std::deque<std::tuple<int64_t, int64_t, int64_t>> seen;  // wall ms, next, end
  };

  Options options_;
  int64_t started_ms_;
  mutable std::mutex mu_;
  std::shared_ptr<const Plan> plan_;
  // The latest period row of each planned campaign and channel.
  std::map<std::string, std::map<std::string, v1::WindowResult>> periods_;
  StatusSample sample_;
  std::map<std::string, Positions> positions_;  // by "topic/partition"
  std::deque<std::pair<int64_t, std::map<std::string, int64_t>>> lag_history_;  // by topic
  std::deque<Checkpoint> checkpoints_;
  std::deque<RebalanceEvent> rebalances_;
  int64_t rebalance_count_ = 0;
  std::deque<DeadLetterEvent> dead_letters_;
  int64_t dead_letter_count_ = 0;
  std::map<std::string, Campaign> campaigns_;
};

}  // namespace promowatch
