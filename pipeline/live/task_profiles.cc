#include "pipeline/live/task_profiles.h"

#include <algorithm>
#include <map>
#include <string>

namespace promowatch {

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

void TaskProfiles::UpdateGauges(const Engine& engine, ProfilesProbe* probe) const {
  int64_t users = 0;
  size_t in_memory = 0;
  std::map<std::string, int64_t> tags;
  for (size_t t = 0; t < by_task_.size(); ++t) {
    if (!engine.task_live(static_cast<int>(t)) || by_task_[t] == nullptr) continue;
    users += by_task_[t]->users();
    in_memory += by_task_[t]->users_in_memory();
    for (const auto& [tag, n] : by_task_[t]->tag_counts()) tags[tag] += n;
  }
  probe->SetUserTags(users, in_memory, tags);
}

}  // namespace promowatch
