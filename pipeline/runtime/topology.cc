#include "pipeline/runtime/topology.h"

#include <algorithm>
#include <limits>

namespace promowatch {
namespace {

// A bound shared out among the tasks (0: none).
size_t Share(int64_t bound, int tasks) {
  return bound <= 0 ? size_t{0} : static_cast<size_t>(std::max<int64_t>(1, bound / tasks));
}

}  // namespace

std::unique_ptr<UserProfileOperator> MakeUserProfiles(
    const PipelineConfig& config, std::function<void(const TagChange&)> on_change, int tasks) {
  return std::make_unique<UserProfileOperator>(
      config.tag_rules, std::move(on_change), Share(config.profiles_memory_budget, tasks),
      Share(config.profiles_checkpoint_every_changed, tasks));
}

TaskProfiles::TaskProfiles(const PipelineConfig& config, int tasks,
                           std::function<void(const TagChange&)> publish)
    : config_(config),
      tasks_(tasks),
      publish_(std::move(publish)),
      by_task_(static_cast<size_t>(tasks), nullptr) {}

Engine::EnricherFactory TaskProfiles::Factory() {
  return [this](int task) {
    auto op = MakeUserProfiles(config_, publish_, tasks_);
    by_task_[static_cast<size_t>(task)] = op.get();
    return op;
  };
}

TaskProfiles::Totals TaskProfiles::Tally(const Engine& engine) const {
  Totals totals;
  for (size_t t = 0; t < by_task_.size(); ++t) {
    if (!engine.task_live(static_cast<int>(t)) || by_task_[t] == nullptr) continue;
    totals.users += by_task_[t]->users();
    totals.in_memory += by_task_[t]->users_in_memory();
    totals.memory_bytes += by_task_[t]->memory_bytes();
    for (const auto& [tag, n] : by_task_[t]->tag_counts()) totals.tags[tag] += n;
  }
  return totals;
}

Topology::Topology(const PipelineConfig& config, const EngineOptions& options, TopologySinks sinks,
                   Clock wall_clock)
    : sinks_(std::move(sinks)) {
  RecordSink* late = sinks_.late != nullptr ? sinks_.late : sinks_.dead_letters;
  if (options.task_per_partition) {
    engine_ = std::make_unique<Engine>(options, sinks_.results, sinks_.dead_letters, late,
                                       std::move(wall_clock));
    if (config.profiles_enabled) {
      task_profiles_ = std::make_unique<TaskProfiles>(config, options.tasks, sinks_.on_tag_change);
      engine_->SetTaskEnricher(task_profiles_->Factory());
    }
    return;
  }
  alerts_ = std::make_unique<AlertEngine>(config.alert_rules, sinks_.results, sinks_.on_alert);
  engine_ = std::make_unique<Engine>(options, alerts_.get(), sinks_.dead_letters, late,
                                     std::move(wall_clock));
  engine_->AddOperator(alerts_.get());  // (its input: the results the engine emits)
  if (config.profiles_enabled) {
    profiles_ = MakeUserProfiles(config, sinks_.on_tag_change);
    engine_->SetEnricher(profiles_.get());
  }
}

void Topology::Finish() {
  int64_t newest = std::numeric_limits<int64_t>::min();
  for (const auto& [name, t] : engine_->watermarks().Snapshot()) newest = std::max(newest, t);
  if (alerts_) {
    alerts_->SetDataIncomplete("end of input: the window ends after the newest event", newest);
  }
  engine_->Finish();
}

}  // namespace promowatch
