#pragma once
// The operator graph of a job in one process, built once from the config:
// decode, admission and the windows (the engine), user profiles as the
// enrichment step (profiles.enabled) and the alert judge on the final
// windows, in front of the sinks the job gives. replay and backtest run it
// over files; the unit tests run it through tests/unit/topology_driver.h
// (Kafka Streams' TopologyTestDriver). Live builds the same engine with a
// task per partition, user profiles per task and the global stage as the
// judge (live/live_runner.cc).

#include <functional>
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

class Topology {
 public:
  // `options` as EngineOptions::From(config) gives them, amended by the job
  // (replay --tasks). `wall_clock` (default: the system's) drives idle
  // partitions and the far-future guard.
  Topology(const PipelineConfig& config, const EngineOptions& options, TopologySinks sinks,
           Clock wall_clock = nullptr);

  Engine& engine() { return *engine_; }
  const Engine& engine() const { return *engine_; }
  AlertEngine& alerts() { return *alerts_; }
  // nullptr with profiles off.
  const UserProfileOperator* profiles() const { return profiles_.get(); }

  // The end of input: every open window closes; those ending after the
  // newest event are cut short (the data stops, it did not drop) and not
  // judged by alert rules.
  void Finish();

 private:
  TopologySinks sinks_;
  std::unique_ptr<AlertEngine> alerts_;
  std::unique_ptr<UserProfileOperator> profiles_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace promowatch
