#include "operators/plan_cohort.h"

#include "operators/user_profiles.h"

namespace promowatch {

void TrackCohorts(const TagRules& rules, bool known, v1::UserProfile& p, EventRecord& e) {
  e.cohort_reached = false;
  e.cohort_credits.clear();
  if (rules.cohorts.empty() && p.cohorts().empty()) return;
  const int64_t t = e.event_time_ms;
  auto* cohorts = p.mutable_cohorts();
  // Dormant at a start this event is the first to pass: a cohort entry.
  for (const CohortSpec& c : rules.cohorts) {
    if (!known || t < c.start_ms || t >= c.end_ms || p.last_seen_ms() >= c.start_ms) continue;
    if (!SegmentFlagsAt(rules, p, c.start_ms).dormant) continue;
    v1::UserProfile::Cohort* entry = cohorts->Add();
    entry->set_campaign_id(c.campaign);
  }
  if (cohorts->empty()) return;
  const bool reach = e.kind == EventKind::kClick && (e.code == kImpression || e.code == kClick);
  const bool paid = e.kind == EventKind::kOrder && e.code == kPaid;
  int keep = 0;
  for (int i = 0; i < cohorts->size(); ++i) {
    v1::UserProfile::Cohort& entry = *cohorts->Mutable(i);
    const CohortSpec* spec = nullptr;
    for (const CohortSpec& c : rules.cohorts) {
      if (c.campaign == entry.campaign_id()) spec = &c;
    }
    if (spec == nullptr) continue;  // no longer planned: forgotten
    if (entry.reached_ms() == 0) {
      if (reach && e.campaign_id == spec->campaign && t >= spec->start_ms && t < spec->end_ms) {
        entry.set_reached_ms(t);
        entry.set_channel(e.channel);
        e.cohort_reached = true;
      } else if (t >= spec->end_ms) {
        continue;  // never reached in the period
      }
    } else if (!entry.repurchased() && paid && t >= entry.reached_ms() &&
               t - entry.reached_ms() <= spec->within_ms) {
      entry.set_repurchased(true);
      e.cohort_credits.push_back({entry.campaign_id(), entry.channel()});
    }
    const bool settled = entry.reached_ms() != 0 &&
                         (entry.repurchased() || t - entry.reached_ms() > spec->within_ms);
    if (settled) continue;
    if (keep != i) cohorts->SwapElements(keep, i);
    ++keep;
  }
  if (keep < cohorts->size()) cohorts->DeleteSubrange(keep, cohorts->size() - keep);
}

}  // namespace promowatch
