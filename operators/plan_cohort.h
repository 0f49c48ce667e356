#pragma once
// The reactivation cohort of a planned campaign (plan.h's
// reactivation_rate), kept in the profiles of its users.
//
// Definition (docs/plan.md): a user is in campaign C's cohort if they were
// dormant at C's start (a paying user whose last paid order was at least
// profiles.tags.dormant_after before it) and C reached them within its
// period: an impression or click of C (the reach: the first such event,
// its time and channel). The user repurchased if they paid, any campaign
// or none, at or after the reach and at most `within` after it.
// dormant_reached counts reaches on the reaching event's rows;
// dormant_repurchased is credited to C (and the reach's channel) in the
// minute of the payment, on C's period rows only, which keep changing
// until `within` after the period's end.
//
// Dormancy at C's start is decided by the user's first event at or after
// it (events reach the profile step in event-time order: event_order.h),
// from the profile as it stood then: nothing newer than the start is in it
// yet. Only users dormant then get an entry; entries leave the profile
// once they can change nothing (not reached by the end; repurchased; or
// `within` passed).

#include <cstdint>
#include <string>

#include "operators/event_record.h"

namespace promowatch {

struct TagRules;
struct ProfileRecord;

// A campaign whose plan sets a reactivation target.
struct CohortSpec {
  std::string campaign;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  int64_t within_ms = 0;
};

// Applies event `e` to the cohorts of profile `p` and annotates `e`
// (cohort_reached, cohort_credits). Called before `p` takes the event in
// (its last_seen_ms is still the previous event's); `known`: the user had
// a profile before this event.
void TrackCohorts(const TagRules& rules, bool known, ProfileRecord& p, EventRecord& e);

}  // namespace promowatch
