#pragma once
// The event as operators see it: decoded, validated, flattened. Produced by
// pipeline/decode from a promowatch.v1.Event; never constructed per event on
// the hot path (batches reuse records, so the strings keep their capacity).

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "operators/segment.h"

namespace promowatch {

// The 64-bit hash of an event or user id (XXH3-64): EventRecord's
// event_id_hash and user_hash, the windows' user sets and the profile
// store's key. One hash, so a user's is computed once, at decode.
uint64_t HashId(std::string_view id);

enum class EventKind : uint8_t { kClick = 1, kOrder = 2, kSpend = 3 };

// Values of promowatch.v1.EventType / OrderStatus, repeated here so that the
// operators' hot path needs no generated header.
enum ClickType : int32_t { kImpression = 1, kClick = 2, kAddToCart = 3, kPageView = 4 };
enum OrderState : int32_t { kCreated = 1, kPaid = 2, kRefunded = 3, kCancelled = 4 };

inline constexpr int64_t kNoWatermark = std::numeric_limits<int64_t>::min();

struct EventRecord {
  EventKind kind = EventKind::kClick;
  int32_t code = 0;            // ClickType for clicks, OrderState for orders, 0 for spend
  int64_t event_time_ms = 0;   // > 0
  int64_t amount_cents = 0;    // order amount, or spend cost
  uint64_t event_id_hash = 0;  // XXH3-64 of event_id
  uint64_t user_hash = 0;      // XXH3-64 of user_id; 0 for spend events (no user)
  std::string event_id;
  std::string user_id;
  // Orders without them get the user's last click's (attribution, by the
  // enrichment step: operator.h's EnrichingOperator).
  std::string campaign_id;
  std::string channel;
  std::string order_id;
  // The watermark in force when this record arrived (before it). Lateness is
  // judged against it, so results do not depend on how records are batched.
  int64_t watermark_ms = kNoWatermark;
  // Written by the enrichment step only (false without one):
  // a PAID order that is the user's first paid order;
  bool first_paid_order = false;
  // the campaign and channel came from the user's last click;
  // a PAID order from a user who was dormant just before it (the tag as of
  // the order: 90 days or more since the user's last paid order).
  bool reactivated = false;
  bool attributed = false;
  // the user's segment just before the event (segment.h; clicks and orders).
  Segment segment = Segment::kNone;
  // the event began the user's profile (a user first seen);
  bool new_user = false;
  // a click or impression of a planned campaign that first reached a user
  // dormant at the campaign's start (plan_cohort.h);
  bool cohort_reached = false;
  // a paid order within the plan's bound of such a reach: the campaigns
  // (and channels) that reached the user, credited a repurchase each.
  struct CohortCredit {
    std::string campaign_id;
    std::string channel;
  };
  std::vector<CohortCredit> cohort_credits;
};

}  // namespace promowatch
