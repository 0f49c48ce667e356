#pragma once
// User segments: the one segment of a user at a moment, the first of its
// tags that holds in an order of precedence (default high_value, active,
// dormant, new), `other` when none does, and `unknown` where the profiles
// could not say (a profile that could not be read) - never a guess. The
// profile step stamps each click and order with its user's segment just
// before the event is applied, as of the event's time (timers due by then
// fired): a dormant user's order is a dormant-segment order, and then the
// user is dormant no more; a user's first event finds the user new.

#include <cstdint>

#include "operators/names.h"

namespace promowatch {

enum class Segment : uint8_t { kNone = 0, kHighValue, kActive, kDormant, kNew, kOther, kUnknown };

// kNone: not stamped (profiles off, or an event without a user).
inline constexpr Named<Segment> kSegmentNames[] = {
    {"high_value", Segment::kHighValue}, {"active", Segment::kActive},
    {"dormant", Segment::kDormant},      {"new", Segment::kNew},
    {"other", Segment::kOther},          {"unknown", Segment::kUnknown},
};

inline constexpr Segment kDefaultSegmentPrecedence[] = {Segment::kHighValue, Segment::kActive,
                                                        Segment::kDormant, Segment::kNew};

}  // namespace promowatch
