#pragma once
// What the user-profile operator reports: users kept and held in memory,
// users per segment tag and tier (counts only, never ids); the counts are
// also what the query API's /v1/tags/{tag}/count answers.

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "pipeline/serve/prometheus_fwd.h"

namespace promowatch {

class ProfilesProbe {
 public:
  explicit ProfilesProbe(prometheus::Registry& registry);

  // Users kept, held in memory, and per tag / tier (profiles.enabled).
  void SetUserTags(int64_t users, size_t in_memory, size_t memory_bytes,
                   const std::map<std::string, int64_t>& counts);
  // Users per tag as last reported ("new", "tier:gold", ...); any thread.
  std::map<std::string, int64_t> UserTagCounts() const;

 private:
  prometheus::Family<prometheus::Gauge>* by_tag_;
  prometheus::Family<prometheus::Gauge>* by_tier_;
  prometheus::Gauge* users_;
  prometheus::Gauge* in_memory_;
  prometheus::Gauge* memory_bytes_;
  mutable std::mutex mu_;  // tag_counts_ (read by HTTP threads)
  std::map<std::string, int64_t> tag_counts_;
};

}  // namespace promowatch
