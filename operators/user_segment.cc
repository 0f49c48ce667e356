// A user's segment flags as of a time, and what the windows need of a user
// just before an event (user_profiles.h: SegmentFlagsAt, UserAsOfTime).

#include <algorithm>

#include "operators/time_util.h"
#include "operators/user_profiles.h"

namespace promowatch {

SegmentFlags SegmentFlagsAt(const TagRules& rules, const v1::UserProfile& p, int64_t t) {
  const auto today = static_cast<int32_t>(DayOf(t, /*utc_offset_ms=*/0));
  int64_t orders30 = 0, cents30 = 0;
  SegmentFlags f;
  for (const auto& d : p.days()) {
    // (Days after t: an out-of-order judgement time.)
    if (d.day() > today || d.day() <= today - kHighValueDays) continue;
    f.orders365 += d.paid_orders();
    f.cents365 += d.spend_cents();
    if (d.day() > today - rules.active_days) {
      orders30 += d.paid_orders();
      cents30 += d.spend_cents();
    }
  }
  const bool paid = p.last_paid_ms() > 0;
  f.is_new = !paid && t < p.first_seen_ms() + rules.new_for_ms;
  f.active = orders30 >= rules.active_min_paid_orders && orders30 > 0 &&
             cents30 > rules.active_min_aov_cents * orders30;
  f.dormant = paid && t >= p.last_paid_ms() + rules.dormant_after_ms;
  f.high_value = f.cents365 > rules.high_value_spend_cents ||
                 f.orders365 - 1 >= rules.high_value_repeat_orders;
  return f;
}

UserAsOf UserAsOfTime(const TagRules& rules, const v1::UserProfile& p, int64_t t) {
  const auto& precedence = rules.segment_precedence;
  UserAsOf out;
  if (t >= p.evaluated_ms()) {  // in order: the tags as evaluated
    out.segment = SegmentOf(p, precedence);
    out.paid_before = p.lifetime_paid_orders() > 0;
    out.dormant = p.tag_dormant();
    return out;
  }
  // Newer events were applied first: the profile without them, at t.
  v1::UserProfile then;
  then.set_first_seen_ms(p.first_seen_ms());
  // (A profile kept before recent_money was: nothing to take out.)
  then.set_last_paid_ms(p.recent_money().empty() ? p.last_paid_ms() : p.paid_before_recent_ms());
  then.mutable_days()->CopyFrom(p.days());
  int64_t paid_after = 0;
  for (const auto& m : p.recent_money()) {
    if (m.time_ms() <= t) {
      if (m.paid()) then.set_last_paid_ms(std::max(then.last_paid_ms(), m.time_ms()));
      continue;
    }
    paid_after += m.paid() ? 1 : 0;
    const auto day = static_cast<int32_t>(DayOf(m.time_ms(), /*utc_offset_ms=*/0));
    for (auto& d : *then.mutable_days()) {
      if (d.day() != day) continue;
      if (m.paid()) d.set_paid_orders(d.paid_orders() - 1);
      d.set_spend_cents(d.spend_cents() + (m.paid() ? -m.cents() : m.cents()));
    }
  }
  const SegmentFlags f = SegmentFlagsAt(rules, then, t);
  then.set_tag_new(f.is_new);
  then.set_tag_active(f.active);
  then.set_tag_dormant(f.dormant);
  then.set_tag_high_value(f.high_value);
  out.segment = SegmentOf(then, precedence);
  out.paid_before = p.lifetime_paid_orders() - paid_after > 0;
  out.dormant = f.dormant;
  return out;
}

}  // namespace promowatch
