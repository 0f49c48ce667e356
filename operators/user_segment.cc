// A user's segment flags as of a time, and what the windows need of a user
// just before an event (user_profiles.h: SegmentFlagsAt, UserAsOfTime).

#include <algorithm>

#include "operators/time_util.h"
#include "operators/user_profiles.h"

namespace promowatch {
namespace {

SegmentFlags FlagsFrom(const TagRules& rules, int64_t first_seen_ms, int64_t last_paid_ms,
                       const std::vector<ProfileDay>* days, int64_t t) {
  const auto today = static_cast<int32_t>(DayOf(t, /*utc_offset_ms=*/0));
  int64_t orders30 = 0, cents30 = 0;
  SegmentFlags f;
  if (days != nullptr) {
    for (const ProfileDay& d : *days) {
      // (Days after t: an out-of-order judgement time.)
      if (d.day > today || d.day <= today - kHighValueDays) continue;
      f.orders365 += d.paid_orders;
      f.cents365 += d.spend_cents;
      if (d.day > today - rules.active_days) {
        orders30 += d.paid_orders;
        cents30 += d.spend_cents;
      }
    }
  }
  const bool paid = last_paid_ms > 0;
  f.is_new = !paid && t < first_seen_ms + rules.new_for_ms;
  f.active = orders30 >= rules.active_min_paid_orders && orders30 > 0 &&
             cents30 > rules.active_min_aov_cents * orders30;
  f.dormant = paid && t >= last_paid_ms + rules.dormant_after_ms;
  f.high_value = f.cents365 > rules.high_value_spend_cents ||
                 f.orders365 - 1 >= rules.high_value_repeat_orders;
  return f;
}

uint8_t FlagBits(const SegmentFlags& f) {  // in kFlagTags' order
  return static_cast<uint8_t>((f.is_new ? 1 : 0) | (f.active ? 2 : 0) | (f.dormant ? 4 : 0) |
                              (f.high_value ? 8 : 0));
}

}  // namespace

SegmentFlags SegmentFlagsAt(const TagRules& rules, const ProfileRecord& p, int64_t t) {
  return FlagsFrom(rules, p.first_seen_ms, p.last_paid_ms(),
                   p.purchases ? &p.purchases->days : nullptr, t);
}

UserAsOf UserAsOfTime(const TagRules& rules, const ProfileRecord& p, int64_t t) {
  const auto& precedence = rules.segment_precedence;
  UserAsOf out;
  if (t >= p.evaluated_ms) {  // in order: the tags as evaluated
    out.segment = SegmentOfFlags(p.flags, precedence);
    out.paid_before = p.lifetime_paid_orders() > 0;
    out.dormant = p.flag(2);
    return out;
  }
  // Newer events were applied first: the profile without them, at t.
  std::vector<ProfileDay> days;
  int64_t last_paid = 0;
  int64_t paid_after = 0;
  if (p.purchases) {
    const ProfilePurchases& m = *p.purchases;
    // (A profile kept before recent_money was: nothing to take out.)
    last_paid = m.recent_money.empty() ? m.last_paid_ms : m.paid_before_recent_ms;
    days = m.days;
    for (const ProfileMoney& x : m.recent_money) {
      if (x.time_ms <= t) {
        if (x.paid) last_paid = std::max(last_paid, x.time_ms);
        continue;
      }
      paid_after += x.paid ? 1 : 0;
      const auto day = static_cast<int32_t>(DayOf(x.time_ms, /*utc_offset_ms=*/0));
      for (ProfileDay& d : days) {
        if (d.day != day) continue;
        if (x.paid) d.paid_orders -= 1;
        d.spend_cents += x.paid ? -x.cents : x.cents;
      }
    }
  }
  const SegmentFlags f = FlagsFrom(rules, p.first_seen_ms, last_paid, &days, t);
  out.segment = SegmentOfFlags(FlagBits(f), precedence);
  out.paid_before = p.lifetime_paid_orders() - paid_after > 0;
  out.dormant = f.dormant;
  return out;
}

}  // namespace promowatch
