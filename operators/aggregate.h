#pragma once
// The aggregate of one window and key, in the shape of DuckDB's aggregate
// functions: Update with one event, Combine partials (panes into a sliding
// window, panes into a day), Finalize into a result with ratios that are
// null when their denominator is zero.

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

  // Called once per accepted event per key it counts toward.
  void Update(const EventRecord& e) {
    switch (e.kind) {
      case EventKind::kClick:
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

  std::optional<double> ctr() const { return Ratio(clicks, impressions); }
  std::optional<double> cvr() const { return Ratio(paid_orders, clicks); }
  std::optional<double> roi() const { return Ratio(gmv_cents, spend_cents); }

  static std::optional<double> Ratio(int64_t num, int64_t den) {
    if (den == 0) return std::nullopt;
    return static_cast<double>(num) / static_cast<double>(den);
  }

  bool operator==(const Counters&) const = default;
};

// The window counters, defined once: state at rest (AggregateState),
// results (WindowResult, where each has the same name, and its JSON), the
// metrics alert rules judge and "is this window empty" loop over this list
// (operators/counter_reflection.h finds the fields); Update above is where
// events map onto them. Ratios derived from them are Finalize's.
struct CounterField {
  std::string_view name;  // of the field in AggregateState and WindowResult
  int64_t Counters::*member;
  std::string_view metric;  // what alert rules call it (amounts: in yuan)
  bool cents;               // an amount in cents (alert rules judge yuan)
  bool counts_events;       // any non-zero: the window had events (no_data rules)
  bool profiles_only;       // in results with user profiles on only
};
inline constexpr CounterField kCounterFields[] = {
    {"impressions", &Counters::impressions, "impressions", false, true, false},
    {"clicks", &Counters::clicks, "clicks", false, true, false},
    {"add_to_carts", &Counters::add_to_carts, "add_to_carts", false, true, false},
    {"page_views", &Counters::page_views, "page_views", false, true, false},
    {"orders", &Counters::orders, "orders", false, true, false},
    {"paid_orders", &Counters::paid_orders, "paid_orders", false, true, false},
    {"cancelled_orders", &Counters::cancelled_orders, "cancelled_orders", false, true, false},
    {"refunded_orders", &Counters::refunded_orders, "refunded_orders", false, true, false},
    {"gmv_cents", &Counters::gmv_cents, "gmv", true, false, false},
    {"refund_cents", &Counters::refund_cents, "refunds", true, false, false},
    {"spend_cents", &Counters::spend_cents, "spend", true, true, false},
    {"new_customer_orders", &Counters::new_customer_orders, "new_customer_orders", false, false,
     true},
    {"attributed_orders", &Counters::attributed_orders, "attributed_orders", false, false, true},
};

// A member of Counters missing from the list would be neither stored nor
// emitted.
static_assert(sizeof(Counters) == std::size(kCounterFields) * sizeof(int64_t),
              "every member of Counters needs its row in kCounterFields");

inline void Counters::Combine(const Counters& o) {
  for (const CounterField& f : kCounterFields) AddSaturating(this->*f.member, o.*f.member);
}

}  // namespace promowatch
