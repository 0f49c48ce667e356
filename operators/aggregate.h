#pragma once
// The aggregate of one window and key, in the shape of DuckDB's aggregate
// functions: Update with one event, Combine partials (panes into a sliding
// window, panes into a day), and the ratios of a result (RatioOf: null when
// their denominator is zero; window_operator.cc FillWindowResult finalizes).

#include <cstdint>
#include <iterator>
#include <optional>
#include <string_view>

#include "operators/event_record.h"

namespace promowatch {

// a += b, saturating at the int64 bounds instead of wrapping: amounts are
// bounded per event (decode), but sums over a day of a hero campaign still
// grow; a saturated sum stays a huge number rather than turning negative.
inline void AddSaturating(int64_t& a, int64_t b) {
  if (__builtin_add_overflow(a, b, &a)) {
    a = b > 0 ? INT64_MAX : INT64_MIN;
  }
}

struct Counters {
  int64_t impressions = 0;
  int64_t clicks = 0;
  int64_t add_to_carts = 0;
  int64_t page_views = 0;
  int64_t orders = 0;               // CREATED
  int64_t paid_orders = 0;          // PAID
  int64_t cancelled_orders = 0;     // CANCELLED
  int64_t refunded_orders = 0;      // REFUNDED
  int64_t gmv_cents = 0;            // sum of PAID amounts
  int64_t refund_cents = 0;         // sum of REFUNDED amounts
  int64_t spend_cents = 0;          // sum of spend costs
  int64_t new_customer_orders = 0;  // PAID orders that were the user's first (profiles on)
  int64_t attributed_orders = 0;    // PAID orders attributed to the user's last click
  int64_t reactivated_buyers = 0;   // PAID orders from users dormant just before (profiles on)
  int64_t new_users = 0;            // events that began a user's profile (profiles on)
  // A planned campaign's reactivation cohort (plan_cohort.h): users dormant
  // at its start, counted when it first reaches them, and those of them
  // who paid within the plan's bound (period rows only: credited to the
  // campaign that reached them, in the minute of their payment).
  int64_t dormant_reached = 0;
  int64_t dormant_repurchased = 0;

  // Called once per accepted event per key it counts toward.
  void Update(const EventRecord& e) {
    new_users += e.new_user ? 1 : 0;
    switch (e.kind) {
      case EventKind::kClick:
        dormant_reached += e.cohort_reached ? 1 : 0;
        switch (e.code) {
          case kImpression:
            ++impressions;
            break;
          case kClick:
            ++clicks;
            break;
          case kAddToCart:
            ++add_to_carts;
            break;
          case kPageView:
            ++page_views;
            break;  // counts toward uv only
          default:
            break;
        }
        break;
      case EventKind::kOrder:
        switch (e.code) {
          case kCreated:
            ++orders;
            break;
          case kPaid:
            ++paid_orders;
            AddSaturating(gmv_cents, e.amount_cents);
            new_customer_orders += e.first_paid_order ? 1 : 0;
            attributed_orders += e.attributed ? 1 : 0;
            reactivated_buyers += e.reactivated ? 1 : 0;
            break;
          case kRefunded:
            ++refunded_orders;
            AddSaturating(refund_cents, e.amount_cents);
            break;
          case kCancelled:
            ++cancelled_orders;
            break;  // counts toward uv only
          default:
            break;
        }
        break;
      case EventKind::kSpend:
        AddSaturating(spend_cents, e.amount_cents);
        break;
    }
  }

  // Adds another partial (panes into a sliding window or a day).
  inline void Combine(const Counters& o);

  static std::optional<double> Ratio(int64_t num, int64_t den) {
    if (den == 0) return std::nullopt;
    return static_cast<double>(num) / static_cast<double>(den);
  }

  bool operator==(const Counters&) const = default;
};

// The window metrics, defined once: the counters (kCounterFields) and the
// ratios derived from them (kRatioFields). From these two tables come state
// at rest (AggregateState) and results (WindowResult: a field of the same
// name each), the results' JSON, the metrics alert rules judge, "is this
// window empty", the Prometheus series (promowatch_campaign_<metric>_total,
// promowatch_window_<ratio>_ratio) and the status API. Update above is
// where events map onto counters. operators/README.md lists what adding one
// touches.
struct CounterField {
  std::string_view name;  // of the field in AggregateState and WindowResult
  int64_t Counters::*member;
  std::string_view metric;  // what alert rules and Prometheus call it (amounts: in yuan)
  bool cents;               // an amount in cents (alert rules and Prometheus: yuan)
  bool counts_events;       // any non-zero: the window had events (no_data rules)
  bool profiles_only;       // in results with user profiles on only
  std::string_view help;    // what it counts, for the Prometheus series
};
inline constexpr CounterField kCounterFields[] = {
    {"impressions", &Counters::impressions, "impressions", false, true, false, "Impressions"},
    {"clicks", &Counters::clicks, "clicks", false, true, false, "Clicks"},
    {"add_to_carts", &Counters::add_to_carts, "add_to_carts", false, true, false,
     "Add-to-cart clicks"},
    {"page_views", &Counters::page_views, "page_views", false, true, false, "Page views"},
    {"orders", &Counters::orders, "orders", false, true, false, "Orders created"},
    {"paid_orders", &Counters::paid_orders, "paid_orders", false, true, false, "Paid orders"},
    {"cancelled_orders", &Counters::cancelled_orders, "cancelled_orders", false, true, false,
     "Cancelled orders"},
    {"refunded_orders", &Counters::refunded_orders, "refunded_orders", false, true, false,
     "Refunded orders"},
    {"gmv_cents", &Counters::gmv_cents, "gmv", true, false, false, "Sum of paid order amounts"},
    {"refund_cents", &Counters::refund_cents, "refunds", true, false, false,
     "Sum of refunded amounts"},
    {"spend_cents", &Counters::spend_cents, "spend", true, true, false,
     "Marketing spend (ROI = gmv / spend)"},
    {"new_customer_orders", &Counters::new_customer_orders, "new_customer_orders", false, false,
     true, "Paid orders from users with no earlier paid order (profiles.enabled)"},
    {"attributed_orders", &Counters::attributed_orders, "attributed_orders", false, false, true,
     "Paid orders without campaign or channel, attributed to the user's last click "
     "(profiles.enabled)"},
    {"reactivated_buyers", &Counters::reactivated_buyers, "reactivated_buyers", false, false, true,
     "Users whose paid order ended their dormancy: dormant just before it (profiles.enabled)"},
    {"new_users", &Counters::new_users, "new_users", false, false, true,
     "Users first seen: events that began a profile (profiles.enabled)"},
    {"dormant_reached", &Counters::dormant_reached, "dormant_reached", false, false, true,
     "Users dormant at a planned campaign's start whom it reached (plan reactivation cohort)"},
    {"dormant_repurchased", &Counters::dormant_repurchased, "dormant_repurchased", false, false,
     true, "Of dormant_reached, users who paid within the plan's bound (period rows)"},
};

// A ratio of two counters, null (absent) when the denominator is zero. The
// alert rules' `min_volume` is the denominator's value.
struct RatioField {
  std::string_view name;  // of the optional double in WindowResult; what alert rules call it
  int64_t Counters::*numerator;
  int64_t Counters::*denominator;
  bool numerator_cents;  // the ratio is yuan per unit of the denominator
  bool in_results;       // false: an alert metric only
  bool profiles_only;    // its counters need user profiles
  std::string_view help;
};
inline constexpr RatioField kRatioFields[] = {
    {"ctr", &Counters::clicks, &Counters::impressions, false, true, false, "Clicks / impressions"},
    {"cvr", &Counters::paid_orders, &Counters::clicks, false, true, false, "Paid orders / clicks"},
    {"roi", &Counters::gmv_cents, &Counters::spend_cents, false, true, false, "GMV / spend"},
    {"new_customer_share", &Counters::new_customer_orders, &Counters::paid_orders, false, true,
     true, "New customers' paid orders / paid orders"},
    {"aov", &Counters::gmv_cents, &Counters::paid_orders, true, false, false,
     "Average paid order value in yuan"},
    {"reactivation_rate", &Counters::dormant_repurchased, &Counters::dormant_reached, false, true,
     true, "Reached dormant users who paid within the plan's bound / those reached"},
    {"cac", &Counters::spend_cents, &Counters::new_customer_orders, true, false, true,
     "Spend per first-time buyer in yuan (customer acquisition cost)"},
};

// Cents as currency units (yuan): what alert rules, Prometheus and people read.
inline double Yuan(int64_t cents) { return static_cast<double>(cents) / 100.0; }

// The value of a ratio given its counters.
inline std::optional<double> RatioOf(const RatioField& f, int64_t numerator, int64_t denominator) {
  if (denominator == 0) return std::nullopt;
  if (f.numerator_cents) return Yuan(numerator) / static_cast<double>(denominator);
  return Counters::Ratio(numerator, denominator);
}

// Where a counter is in kCounterFields.
constexpr size_t CounterIndex(int64_t Counters::*member) {
  for (size_t i = 0; i < std::size(kCounterFields); ++i) {
    if (kCounterFields[i].member == member) return i;
  }
  return std::size(kCounterFields);
}

// A member of Counters missing from the list would be neither stored nor
// emitted.
static_assert(sizeof(Counters) == std::size(kCounterFields) * sizeof(int64_t),
              "every member of Counters needs its row in kCounterFields");

inline void Counters::Combine(const Counters& o) {
  for (const CounterField& f : kCounterFields) AddSaturating(this->*f.member, o.*f.member);
}

}  // namespace promowatch
