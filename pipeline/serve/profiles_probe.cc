#include "pipeline/serve/profiles_probe.h"

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace promowatch {

ProfilesProbe::ProfilesProbe(prometheus::Registry& r) {
  using prometheus::BuildGauge;
  by_tag_ = &BuildGauge()
                 .Name("promowatch_users_tagged")
                 .Help(
                     "Users carrying a segment tag (new, active, dormant, high_value); counts "
                     "only, never ids")
                 .Register(r);
  by_tier_ = &BuildGauge()
                  .Name("promowatch_users_by_tier")
                  .Help("Users per member tier (silver, gold, diamond) by 365-day spend")
                  .Register(r);
  users_ = &BuildGauge()
                .Name("promowatch_user_profiles")
                .Help("User profiles kept, in memory and in RocksDB (profiles.enabled)")
                .Register(r)
                .Add({});
  in_memory_ = &BuildGauge()
                    .Name("promowatch_user_profiles_in_memory")
                    .Help("User profiles held in memory")
                    .Register(r)
                    .Add({});
  memory_bytes_ = &BuildGauge()
                       .Name("promowatch_user_profiles_memory_bytes")
                       .Help(
                           "Bytes of the user profiles held in memory (bounded by "
                           "profiles.memory_budget)")
                       .Register(r)
                       .Add({});
}

void ProfilesProbe::SetUserTags(int64_t users, size_t in_memory, size_t memory_bytes,
                                const std::map<std::string, int64_t>& counts) {
  {
    std::lock_guard lock(mu_);
    tag_counts_ = counts;
  }
  users_->Set(static_cast<double>(users));
  in_memory_->Set(static_cast<double>(in_memory));
  memory_bytes_->Set(static_cast<double>(memory_bytes));
  for (const char* tag : {"new", "active", "dormant", "high_value"}) {
    auto it = counts.find(tag);
    by_tag_->Add({{"tag", tag}}).Set(it == counts.end() ? 0 : static_cast<double>(it->second));
  }
  for (const char* tier : {"silver", "gold", "diamond"}) {
    auto it = counts.find(std::string("tier:") + tier);
    by_tier_->Add({{"tier", tier}}).Set(it == counts.end() ? 0 : static_cast<double>(it->second));
  }
}

std::map<std::string, int64_t> ProfilesProbe::UserTagCounts() const {
  std::lock_guard lock(mu_);
  return tag_counts_;
}

}  // namespace promowatch
