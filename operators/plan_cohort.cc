#include "operators/plan_cohort.h"

#include <utility>

#include "operators/user_profiles.h"

namespace promowatch {

void TrackCohorts(const TagRules& rules, bool known, ProfileRecord& p, EventRecord& e) {
  e.cohort_reached = false;
  e.cohort_credits.clear();
  if (rules.cohorts.empty() && (!p.purchases || p.purchases->cohorts.empty())) return;
  const int64_t t = e.event_time_ms;
  // Dormant at a start this event is the first to pass: a cohort entry
  // (dormant users have paid: their purchases part exists).
  for (const CohortSpec& c : rules.cohorts) {
    if (!known || t < c.start_ms || t >= c.end_ms || p.last_seen_ms >= c.start_ms) continue;
    if (!SegmentFlagsAt(rules, p, c.start_ms).dormant) continue;
    p.mutable_purchases().cohorts.push_back({c.campaign, std::string(), 0, false});
  }
  if (!p.purchases || p.purchases->cohorts.empty()) return;
  std::vector<ProfileCohort>& cohorts = p.purchases->cohorts;
  const bool reach = e.kind == EventKind::kClick && (e.code == kImpression || e.code == kClick);
  const bool paid = e.kind == EventKind::kOrder && e.code == kPaid;
  size_t keep = 0;
  for (size_t i = 0; i < cohorts.size(); ++i) {
    ProfileCohort& entry = cohorts[i];
    const CohortSpec* spec = nullptr;
    for (const CohortSpec& c : rules.cohorts) {
      if (c.campaign == entry.campaign_id) spec = &c;
    }
    if (spec == nullptr) continue;  // no longer planned: forgotten
    if (entry.reached_ms == 0) {
      if (reach && e.campaign_id == spec->campaign && t >= spec->start_ms && t < spec->end_ms) {
        entry.reached_ms = t;
        entry.channel = e.channel;
        e.cohort_reached = true;
      } else if (t >= spec->end_ms) {
        continue;  // never reached in the period
      }
    } else if (!entry.repurchased && paid && t >= entry.reached_ms &&
               t - entry.reached_ms <= spec->within_ms) {
      entry.repurchased = true;
      e.cohort_credits.push_back({entry.campaign_id, entry.channel});
    }
    const bool settled =
        entry.reached_ms != 0 && (entry.repurchased || t - entry.reached_ms > spec->within_ms);
    if (settled) continue;
    if (keep != i) std::swap(cohorts[keep], cohorts[i]);
    ++keep;
  }
  cohorts.resize(keep);
}

}  // namespace promowatch
