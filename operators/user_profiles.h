#pragma once
// Per-user profiles and the tags derived from them (new, active, dormant,
// high_value, rfm, tier), in event time.
//
// A profile is updated by each of the user's clicks and orders. Tags are
// judged "as of" a time: the event's time when an event arrives, and, for
// tags that change with no event (new expires after 7 days, dormant starts
// 90 days after the last paid order, orders leave the 30/365-day windows,
// the recency score ages), at a per-user event-time timer that fires when
// the watermark passes it - like Flink's keyed timer service: one timer per
// user, kept in the profile itself (so it is checkpointed with it), never a
// scan of every user.
//
// Windows of N days are whole UTC days: "the last 30 days" at time T are the
// days day(T)-29 .. day(T), day(t) = floor(t / 86,400,000). Judgement times
// never go back for a user (an out-of-order event is judged at the latest
// time already judged).
//
// Every change goes to a callback as a TagChange; profiles are state
// (table "profiles", only changed ones written at a checkpoint). In memory
// a profile is a compact record (profile_record.h) in a hash table
// (profile_store.h) within `profiles.memory_budget` bytes; RocksDB holds
// every profile as of the last checkpoint and, past the budget, those
// dropped from memory, read back for a whole batch at once (MultiGet).
// Timers of users in memory are in minute buckets (profile_timers.h),
// those of users not in memory in an index table ordered by due time, read
// from the position of the last due timer on as the watermark passes it
// (as Flink's RocksDB timer service keeps them).

#include <cstdint>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "operators/operator.h"
#include "operators/plan_cohort.h"
#include "operators/profile_record.h"
#include "operators/profile_snapshot.h"
#include "operators/profile_store.h"
#include "operators/profile_timers.h"
#include "operators/segment.h"
#include "operators/time_util.h"
#include "promowatch/v1/results.pb.h"
#include "promowatch/v1/state.pb.h"

namespace promowatch {

// The tags, named once (tag change events, /v1/users, /v1/tags, the users
// per tag): four flags, each a field of UserProfile, then rfm ("R5F3M4")
// and tier (silver, gold, diamond; counted as "tier:gold").
struct FlagTag {
  std::string_view name;
  bool (v1::UserProfile::*get)() const;
  void (v1::UserProfile::*set)(bool);
};
inline constexpr FlagTag kFlagTags[] = {
    {"new", &v1::UserProfile::tag_new, &v1::UserProfile::set_tag_new},
    {"active", &v1::UserProfile::tag_active, &v1::UserProfile::set_tag_active},
    {"dormant", &v1::UserProfile::tag_dormant, &v1::UserProfile::set_tag_dormant},
    {"high_value", &v1::UserProfile::tag_high_value, &v1::UserProfile::set_tag_high_value},
};
inline constexpr std::string_view kRfmTag = "rfm";
inline constexpr std::string_view kTierTag = "tier";
inline constexpr std::string_view kTiers[] = {"silver", "gold", "diamond"};
// A record's tier (ProfileRecord::tier: 0 none, else 1 + its index) by name.
inline std::string_view TierName(uint8_t tier) {
  return tier == 0 ? std::string_view() : kTiers[tier - 1];
}
// What the users per tag count a tier as: "tier:gold" ("" for none).
inline std::string TierCountName(std::string_view tier) {
  return tier.empty() ? std::string() : "tier:" + std::string(tier);
}

// The longest window of the tags: high_value and tier look at 365 days.
inline constexpr int kHighValueDays = 365;

// Thresholds of the tags (../shared/DOMAIN.md's examples as defaults).
struct TagRules {
  // new: first seen less than this long ago and no paid order yet.
  int64_t new_for_ms = 7 * kDayMs;
  // active: at least this many paid orders in the last `active_days` days,
  // with an average order value above active_min_aov_cents.
  int active_days = 30;
  int64_t active_min_paid_orders = 2;
  int64_t active_min_aov_cents = 15'000;
  // dormant: a paying user with no paid order for this long.
  int64_t dormant_after_ms = 90 * kDayMs;
  // high_value: spend over the last 365 days above this, or at least this
  // many repeat purchases (paid orders after the first) in those days.
  int64_t high_value_spend_cents = 500'000;
  int64_t high_value_repeat_orders = 5;
  // RFM, each scored 1-5 by ascending cut points (4 each): recency in days
  // since the last paid order (fewer is better), frequency in paid orders
  // and monetary in spend cents over the last 365 days.
  std::vector<int64_t> rfm_recency_days = {7, 30, 90, 180};
  std::vector<int64_t> rfm_frequency = {2, 3, 5, 8};
  std::vector<int64_t> rfm_monetary_cents = {50'000, 200'000, 500'000, 1'000'000};
  // Member tier by spend over the last 365 days.
  int64_t tier_silver_cents = 100'000;
  int64_t tier_gold_cents = 500'000;
  int64_t tier_diamond_cents = 2'000'000;
  // Profiles of users unseen for this long are removed.
  int64_t expire_after_ms = 400 * kDayMs;
  // An order without campaign or channel goes to the user's last click at
  // most this long before it (last-click attribution); with none, to
  // campaign and channel "(unattributed)".
  int64_t attribution_window_ms = 24 * 3'600'000LL;
  // How far an accepted event's time may lie behind the watermark (allowed
  // lateness and its minute pane): paid orders and refunds that recent are
  // kept so that an event arriving after newer ones gets its segment as of
  // its own time.
  int64_t reorder_horizon_ms = 60'000;
  // Segments (segment.h): the tags in order of precedence.
  std::vector<Segment> segment_precedence{std::begin(kDefaultSegmentPrecedence),
                                          std::end(kDefaultSegmentPrecedence)};
  // The plan's reactivation cohorts (plan_cohort.h). Default: none.
  std::vector<CohortSpec> cohorts;
};

// Whether the profile holds the tag of segment `s` (other and unknown: no).
inline bool HasSegmentTag(const v1::UserProfile& p, Segment s) {
  switch (s) {
    case Segment::kHighValue:
      return p.tag_high_value();
    case Segment::kActive:
      return p.tag_active();
    case Segment::kDormant:
      return p.tag_dormant();
    case Segment::kNew:
      return p.tag_new();
    default:
      return false;
  }
}
// The segment tags a profile holds at `t` >= its evaluation (what
// Evaluate sets), from its fields; high_value on 365 days, active on
// rules.active_days.
struct SegmentFlags {
  bool is_new = false, active = false, dormant = false, high_value = false;
  int64_t orders365 = 0, cents365 = 0;
};
SegmentFlags SegmentFlagsAt(const TagRules& rules, const ProfileRecord& p, int64_t t);

// What the windows need of a user just before an event at `t`, as of `t`
// (not as of the newest event applied: events arrive out of order across
// topics and tasks): its segment, whether it had paid before, whether it
// was dormant. `p` holds the events applied so far; those newer than `t`
// are taken out through its recent_money.
struct UserAsOf {
  Segment segment = Segment::kOther;
  bool paid_before = false;
  bool dormant = false;
};
// (The segment by rules.segment_precedence.)
UserAsOf UserAsOfTime(const TagRules& rules, const ProfileRecord& p, int64_t t);

// The profile's segment: the first of `precedence` whose tag it holds.
template <typename Precedence>
Segment SegmentOf(const v1::UserProfile& p, const Precedence& precedence) {
  for (Segment s : precedence) {
    if (HasSegmentTag(p, s)) return s;
  }
  return Segment::kOther;
}

// The flag index (kFlagTags) of a segment's tag, or -1.
constexpr int SegmentFlagIndex(Segment s) {
  switch (s) {
    case Segment::kNew:
      return 0;
    case Segment::kActive:
      return 1;
    case Segment::kDormant:
      return 2;
    case Segment::kHighValue:
      return 3;
    default:
      return -1;
  }
}
// SegmentOf for a record's flags.
template <typename Precedence>
Segment SegmentOfFlags(uint8_t flags, const Precedence& precedence) {
  for (Segment s : precedence) {
    const int i = SegmentFlagIndex(s);
    if (i >= 0 && ((flags >> i) & 1)) return s;
  }
  return Segment::kOther;
}

struct TagChange {
  std::string user_id;
  std::string tag;   // new | active | dormant | high_value | rfm | tier
  std::string from;  // "true"/"false" for segment tags; the value for rfm and tier
  std::string to;
  std::string reason;  // what made it change: click, paid order, refund, time passed
  int64_t event_time_ms = 0;
};
// Its encoders, JSON and protobuf: operators/encoding.h.

class UserProfileOperator final : public EnrichingOperator {
 public:
  static constexpr std::string_view kTable = "profiles";  // user id -> UserProfile
  // BE64(minute's first ms) + BE64(run) -> ProfileTimerRun (state.proto);
  // state written before runs has BE64(time) + user id -> "", read alike.
  static constexpr std::string_view kTimersTable = "profile_timers";
  static constexpr std::string_view kTotalsTable = "profile_totals";  // "totals" -> ProfileTotals
  static constexpr const char* kUnattributed = "(unattributed)";
  using ChangeCallback = std::function<void(const TagChange&)>;
  // `memory_budget` bounds the bytes of the profiles held in memory (0: no
  // bound); past it, unchanged profiles least recently used leave memory
  // and are read back from the state backend when their user shows up.
  // Only checkpointed profiles can leave, so past half the budget in
  // changed profiles the operator asks for a checkpoint (NeedsCheckpoint);
  // also once `checkpoint_every_changed` profiles changed (0: no such
  // limit), as the pause of a checkpoint grows with the profiles it writes.
  UserProfileOperator(TagRules rules, ChangeCallback on_change, size_t memory_budget = 0,
                      size_t checkpoint_every_changed = 0);

  std::string_view name() const override { return "profiles"; }
  std::vector<std::string> StateTables() const override {
    return {std::string(kTable), std::string(kTimersTable), std::string(kTotalsTable)};
  }
  // Reads only the totals: profiles and timers are read when needed.
  absl::Status Restore(const StateReader& in) override;
  // Updates the profiles and annotates the records: orders without a
  // campaign get the last click's (or kUnattributed), paid orders whether
  // they are the user's first. Users of the batch not in memory are read
  // from the state backend first, in one MultiGet.
  void EnrichBatch(std::span<EventRecord* const> events) override;
  void OnWatermark(int64_t watermark_ms) override;
  void OnEndOfInput() override {}
  // Writes the profiles changed since the last checkpoint, their timers'
  // index entries and the totals.
  void Snapshot(StateWriter& out) override;
  bool WantsCheckpoint() const override;
  // Past half the memory budget in changed profiles.
  bool NeedsCheckpoint() const override;
  // Until then, what the last Snapshot wrote may not be readable yet: no
  // profile leaves memory.
  void OnCheckpointCommitted() override;
  absl::Status status() const override { return status_; }

  // Users per segment tag and tier (never ids): "new", "active", "dormant",
  // "high_value", "tier:silver", ...
  const std::map<std::string, int64_t>& tag_counts() const { return counts_; }
  // Profiles in all, and those held in memory now (and their bytes).
  int64_t users() const { return users_; }
  size_t users_in_memory() const { return store_.size(); }
  size_t memory_bytes() const { return store_.bytes(); }
  // A user's profile as the operator sees it now (memory, else state).
  std::optional<v1::UserProfile> Lookup(const std::string& user_id) const;
  const TagRules& rules() const { return rules_; }
  // Order events attributed to a last click, and those with none in the window.
  int64_t attributed() const { return attributed_; }
  int64_t unattributed() const { return unattributed_; }

 private:
  // `user_hash`: store_.Hash of the event's user id.
  void OnEvent(EventRecord& e, uint64_t user_hash);
  void Attribute(EventRecord& e, const ProfileRecord& p);
  // Judges every tag as of `t`, emits the changes, sets the next timer.
  void Evaluate(uint32_t handle, int64_t t, const char* reason);
  // Keeps a paid order or refund in the profile's recent_money (UserAsOfTime).
  void RememberMoney(const EventRecord& e, ProfilePurchases& p, bool paid);
  int64_t NextTimer(const ProfileRecord& p, int64_t t) const;
  // Fires the timers of the users in memory due at or before `upto`, in
  // (time, user id) order, each user's all at once.
  void FireTimers(int64_t upto);
  // Fires `handle`'s timers due at or before `upto`, in time order.
  void FireDue(uint32_t handle, int64_t upto);
  void SetTimer(uint32_t handle, int64_t at);
  void Count(const std::string& key, int delta);
  // Reads the profiles of `users` (not in memory) from the state backend
  // into memory, in one MultiGet.
  void LoadAll(const std::vector<std::string_view>& users);
  // Takes a profile read from state into memory: its handle, or kNone.
  uint32_t Adopt(std::string_view user, std::string_view bytes);
  void MarkDirty(uint32_t handle);
  // Loads the users not in memory whose checkpointed timers are due at
  // `upto` (their timers go to timers_).
  void PullStoredTimers(int64_t upto);
  // Deletes the timer runs of minutes the watermark passed (the changed
  // timers' runs are the snapshot's: profile_snapshot.h).
  void DeletePassedTimerRuns(StateWriter& out);
  // Drops unchanged profiles least recently used (CLOCK) down to 90% of
  // the budget.
  void Evict();
  // Drops a record from memory (it is in state, or gone from it).
  void Drop(uint32_t handle);

  TagRules rules_;
  ChangeCallback on_change_;
  size_t budget_;
  size_t checkpoint_every_changed_;
  const StateReader* state_ = nullptr;  // from Restore; nullptr: everything stays in memory
  // Some profile in state is not in memory (restored, or evicted): users
  // not in memory must be looked up there.
  bool may_be_in_state_ = false;
  absl::Status status_;
  ProfileNames names_;
  ProfileStore store_;
  // Written on the committing thread (copy on write).
  ProfileSnapshot snapshot_{store_, names_, kTable, kTimersTable};
  ProfileTimers timers_;
  std::vector<uint32_t> dirty_;  // handles changed since the last checkpoint
  // Written by the last Snapshot, acted on when its commit is durable:
  // expired users to forget.
  bool commit_pending_ = false;
  std::vector<uint32_t> written_gone_;
  uint32_t clock_hand_ = 1;
  // The checkpointed timers of the minute being passed (of the last
  // PullStoredTimers), read once from its runs, in due order; `next` is
  // the first not due yet, `beyond` the first key after the minute.
  struct MinuteTimers {
    bool valid = false;
    int64_t minute = 0;
    std::vector<std::pair<int64_t, std::string>> due;
    size_t next = 0;
    int64_t beyond = std::numeric_limits<int64_t>::max();
  };
  MinuteTimers minute_timers_;
  int64_t scan_from_ms_ = 0;  // runs of earlier minutes were all read
  // The earliest checkpointed timer of a user not in memory (a bound).
  int64_t next_stored_timer_ = std::numeric_limits<int64_t>::max();
  int64_t fired_upto_ = 0;        // the latest watermark timers fired at
  int64_t deleted_below_ms_ = 0;  // runs of minutes before this were deleted
  uint64_t timer_runs_ = 0;       // runs written (the next one's number)
  // Reused buffers.
  v1::UserProfile scratch_;
  std::vector<uint32_t> due_;
  std::vector<uint64_t> hashes_;
  std::vector<std::string_view> missing_;
  std::map<std::string, int64_t> counts_;
  int64_t users_ = 0;
  int64_t attributed_ = 0;
  int64_t unattributed_ = 0;
};

}  // namespace promowatch
