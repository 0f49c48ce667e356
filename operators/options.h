#pragma once
// Settings of the operators. Every field says what it does and its default;
// pipeline/config/config.h reads them from YAML and checks them.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "operators/names.h"

namespace promowatch {

enum class LatePolicy : uint8_t {
  // A record whose minute pane is already final is not counted; it goes to the
  // late sink. Results are emitted once per window.
  kDrop,
  // Within `allowed_lateness_ms` after its pane is final, a record is counted
  // and every already-emitted window containing it is emitted again with
  // revision + 1. Beyond that, it goes to the late sink.
  kCorrect,
};
inline constexpr Named<LatePolicy> kLatePolicyNames[] = {{"drop", LatePolicy::kDrop},
                                                         {"correct", LatePolicy::kCorrect}};

// A planned campaign's period (plan.h): its "period" rows run from the
// start; events count until the end, reactivation repurchases until
// `tail_ms` after it.
struct CampaignPeriod {
  std::string campaign;
  int64_t start_ms = 0;  // on a minute
  int64_t end_ms = 0;    // on a minute
  int64_t tail_ms = 0;
};

struct OperatorOptions {
  // Bounded out-of-orderness: watermark = max event time seen - this.
  // Default: 5 s.
  int64_t max_out_of_orderness_ms = 5'000;
  // How long after its pane is final a record may still be counted (only with
  // LatePolicy::kCorrect). Default: 0.
  int64_t allowed_lateness_ms = 0;
  // Default: kDrop.
  LatePolicy late_policy = LatePolicy::kDrop;
  // Window sizes in minutes, each sliding with a 1-minute hop and ending on
  // minute boundaries; size 1 is the tumbling 1m window. Default: {1, 5}.
  std::vector<int> window_minutes = {1, 5};
  // Emit the cumulative "since start of day" rows. Default: true.
  bool cumulative = true;
  // Offset of the zone whose midnight starts a cumulative day. Default: UTC+8
  // (Double 11 and 618 start at midnight China time).
  int64_t day_utc_offset_ms = 8 * 3'600'000;
  // Results carry new_customer_orders / new_customer_share (set when user
  // profiles run, which mark each user's first paid order). Default: false.
  bool count_new_customers = false;
  // The operator is one task of a split run (operators/partial_merge.h):
  // a late record that changes a day total already emitted also emits the
  // new day total as a partial update (revision kPartialUpdate) for the
  // merger, which publishes nothing for it. Default: false.
  bool emit_partial_updates = false;
  // Segments (segments.enabled): windows of these sizes (and the
  // cumulative one with `segment_cumulative`) are also split by the
  // events' user segment (segment.h), beside the rows of all users.
  // Empty: no split. Default: empty.
  std::vector<int> segment_window_minutes;
  bool segment_cumulative = false;
  bool segments() const { return !segment_window_minutes.empty() || segment_cumulative; }
  bool SegmentWindow(int minutes) const {
    for (int m : segment_window_minutes) {
      if (m == minutes) return true;
    }
    return false;
  }

  // The plan's campaign periods (plan.file): each gets "period" rows.
  // Default: none.
  std::vector<CampaignPeriod> periods;
  const CampaignPeriod* PeriodOf(std::string_view campaign) const {
    for (const CampaignPeriod& p : periods) {
      if (p.campaign == campaign) return &p;
    }
    return nullptr;
  }

  int max_window_minutes() const {
    int m = 1;
    for (int w : window_minutes) m = w > m ? w : m;
    return m;
  }
  // Late records are dropped beyond this much after their pane ends.
  int64_t effective_lateness_ms() const {
    return late_policy == LatePolicy::kCorrect ? allowed_lateness_ms : 0;
  }
};

}  // namespace promowatch
