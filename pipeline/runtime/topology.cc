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
      config.tag_rules, std::move(on_change), Share(config.profiles_max_users_in_memory, tasks),
      Share(config.profiles_checkpoint_every_changed, tasks));
}

Topology::Topology(const PipelineConfig& config, const EngineOptions& options, TopologySinks sinks,
                   Clock wall_clock)
    : sinks_(std::move(sinks)) {
  alerts_ = std::make_unique<AlertEngine>(config.alert_rules, sinks_.results, sinks_.on_alert);
  engine_ = std::make_unique<Engine>(options, alerts_.get(), sinks_.dead_letters,
                                     sinks_.late != nullptr ? sinks_.late : sinks_.dead_letters,
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
  alerts_->SetDataIncomplete("end of input: the window ends after the newest event", newest);
  engine_->Finish();
}

}  // namespace promowatch
