#pragma once
// The operator graph of a job, built once from the config: decode,
// admission and the windows (the engine), user profiles as the enrichment
// step (profiles.enabled) and the alert judge on the final windows, in front
// of the sinks the job gives. replay and backtest run it over files, `run`
// over Kafka, the unit tests through tests/unit/topology_driver.h (Kafka
// Streams' TopologyTestDriver). With a task per partition (live) user
// profiles are task state, one operator per task, and the judge is the
// global stage's (live/global_stage.h), which the job attaches.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "operators/alert_engine.h"
#include "operators/user_profiles.h"
#include "pipeline/config/config.h"
#include "pipeline/runtime/clock.h"
#include "pipeline/runtime/engine.h"

namespace promowatch {

// Where a topology's outputs go. The sinks must outlive the topology.
struct TopologySinks {
  WindowResultSink* results = nullptr;  // every final window, after the judge saw it
  RecordSink* dead_letters = nullptr;   // rejected records, with their bytes
  RecordSink* late = nullptr;           // records too late to count (nullptr: dead_letters)
  AlertEngine::AlertCallback on_alert;  // every alert transition
  std::function<void(const TagChange&)> on_tag_change;  // with profiles on
};

// The user-profile operator as the config says (profiles.*), its memory
// bounds shared out equally among `tasks` (live: one per task).
std::unique_ptr<UserProfileOperator> MakeUserProfiles(
    const PipelineConfig& config, std::function<void(const TagChange&)> on_change, int tasks = 1);

// User profiles as task state (Engine::SetTaskEnricher): a user's events all
// reach one task (co-partitioned by user, else through the repartition
// topic), so its profile, tag timers and tag counts live in that task, run
// on the task's watermark, go to its changelog and follow it when it moves.
// One UserProfileOperator per task, made by the engine whenever a task is
// created or dropped.
class TaskProfiles {
 public:
  // `publish` gets every tag change (on the pipeline thread).
  TaskProfiles(const PipelineConfig& config, int tasks,
               std::function<void(const TagChange&)> publish);
  // What the engine makes each task's profiles with; `this` must outlive it.
  Engine::EnricherFactory Factory();
  // Users, profiles in memory and users per tag over the tasks running here.
  struct Totals {
    int64_t users = 0;
    size_t in_memory = 0;
    size_t memory_bytes = 0;  // of the profiles held in memory
    std::map<std::string, int64_t> tags;
  };
  Totals Tally(const Engine& engine) const;

 private:
  const PipelineConfig config_;
  const int tasks_;
  std::function<void(const TagChange&)> publish_;
  std::vector<const UserProfileOperator*> by_task_;  // (the engine owns them)
};

class Topology {
 public:
  // `options` as EngineOptions::From(config) gives them, amended by the job
  // (replay --tasks). `wall_clock` (default: the system's) drives idle
  // partitions and the far-future guard.
  Topology(const PipelineConfig& config, const EngineOptions& options, TopologySinks sinks,
           Clock wall_clock = nullptr);

  Engine& engine() { return *engine_; }
  const Engine& engine() const { return *engine_; }
  // nullptr with a task per partition (the global stage judges).
  AlertEngine* alerts() { return alerts_.get(); }
  // nullptr with profiles off, or with a task per partition ...
  const UserProfileOperator* profiles() const { return profiles_.get(); }
  // ... where they are here (nullptr with profiles off).
  const TaskProfiles* task_profiles() const { return task_profiles_.get(); }

  // The end of input: every open window closes; those ending after the
  // newest event are cut short (the data stops, it did not drop) and not
  // judged by alert rules.
  void Finish();

 private:
  TopologySinks sinks_;
  std::unique_ptr<AlertEngine> alerts_;
  std::unique_ptr<UserProfileOperator> profiles_;
  std::unique_ptr<TaskProfiles> task_profiles_;
  std::unique_ptr<Engine> engine_;  // (last: it owns the tasks' profiles)
};

}  // namespace promowatch
