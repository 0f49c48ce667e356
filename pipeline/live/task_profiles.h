#pragma once
// User profiles as task state (Engine::SetTaskEnricher): a user's events all
// reach one task (co-partitioned by user, else through the repartition
// topic), so its profile, tag timers and tag counts live in that task, run
// on the task's watermark, go to its changelog and follow it when it moves.
// One UserProfileOperator per task (runtime/topology.h MakeUserProfiles),
// made by the engine whenever a task is created or dropped; the memory
// bound is shared out equally.

#include <functional>
#include <memory>
#include <vector>

#include "operators/user_profiles.h"
#include "pipeline/config/config.h"
#include "pipeline/runtime/engine.h"
#include "pipeline/runtime/topology.h"
#include "pipeline/serve/profiles_probe.h"

namespace promowatch {

class TaskProfiles {
 public:
  // `publish` gets every tag change (on the pipeline thread).
  TaskProfiles(const PipelineConfig& config, int tasks,
               std::function<void(const TagChange&)> publish);
  // What the engine makes each task's profiles with; `this` must outlive it.
  Engine::EnricherFactory Factory();
  // Users, profiles in memory and users per tag over the tasks running here.
  void UpdateGauges(const Engine& engine, ProfilesProbe* probe) const;

 private:
  const PipelineConfig config_;
  const int tasks_;
  std::function<void(const TagChange&)> publish_;
  std::vector<const UserProfileOperator*> by_task_;  // (the engine owns them)
};

}  // namespace promowatch
