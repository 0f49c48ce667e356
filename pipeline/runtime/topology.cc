#include "pipeline/runtime/topology.h"

#include <algorithm>
#include <limits>

namespace promowatch {

Topology::Topology(const PipelineConfig& config, const EngineOptions& options, TopologySinks sinks,
                   Clock wall_clock)
    : sinks_(std::move(sinks)) {
  alerts_ = std::make_unique<AlertEngine>(config.alert_rules, sinks_.results, sinks_.on_alert);
  engine_ = std::make_unique<Engine>(options, alerts_.get(), sinks_.dead_letters,
                                     sinks_.late != nullptr ? sinks_.late : sinks_.dead_letters,
                                     std::move(wall_clock));
  engine_->AddOperator(alerts_.get());  // (its input: the results the engine emits)
  if (config.profiles_enabled) {
    profiles_ = std::make_unique<UserProfileOperator>(
        config.tag_rules, sinks_.on_tag_change,
        static_cast<size_t>(config.profiles_max_users_in_memory),
        static_cast<size_t>(config.profiles_checkpoint_every_changed));
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
