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
// (table "profiles", only changed ones written at a checkpoint). Memory is
// bounded: profiles live in a cache of at most `max_users_in_memory`
// users with the state backend (RocksDB) behind it, and the timers of
// users not in memory live in an index table ordered by due time, read
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

#include "absl/container/btree_set.h"
#include "absl/container/node_hash_map.h"
#include "operators/operator.h"
#include "operators/plan_cohort.h"
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
SegmentFlags SegmentFlagsAt(const TagRules& rules, const v1::UserProfile& p, int64_t t);

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
UserAsOf UserAsOfTime(const TagRules& rules, const v1::UserProfile& p, int64_t t);

// The profile's segment: the first of `precedence` whose tag it holds.
template <typename Precedence>
Segment SegmentOf(const v1::UserProfile& p, const Precedence& precedence) {
  for (Segment s : precedence) {
    if (HasSegmentTag(p, s)) return s;
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
  static constexpr std::string_view kTable = "profiles";              // user id -> UserProfile
  static constexpr std::string_view kTimersTable = "profile_timers";  // BE64(time) + user id -> ""
  static constexpr std::string_view kTotalsTable = "profile_totals";  // "totals" -> ProfileTotals
  static constexpr const char* kUnattributed = "(unattributed)";
  using ChangeCallback = std::function<void(const TagChange&)>;
  // `max_users_in_memory` bounds the profiles held in memory (0: no bound);
  // the rest stay in the state backend and are read back on demand. Only
  // checkpointed profiles can be dropped, so past half the bound in changed
  // profiles the operator asks for a checkpoint (WantsCheckpoint); also
  // once `checkpoint_every_changed` profiles changed (0: no such limit), as
  // the pause of a checkpoint grows with the profiles it writes.
  UserProfileOperator(TagRules rules, ChangeCallback on_change, size_t max_users_in_memory = 0,
                      size_t checkpoint_every_changed = 0);

  std::string_view name() const override { return "profiles"; }
  std::vector<std::string> StateTables() const override {
    return {std::string(kTable), std::string(kTimersTable), std::string(kTotalsTable)};
  }
  // Reads only the totals: profiles and timers are read when needed.
  absl::Status Restore(const StateReader& in) override;
  // Updates the profiles and annotates the records: orders without a
  // campaign get the last click's (or kUnattributed), paid orders whether
  // they are the user's first.
  void EnrichBatch(std::span<EventRecord* const> events) override;
  void OnWatermark(int64_t watermark_ms) override;
  void OnEndOfInput() override {}
  // Writes the profiles changed since the last checkpoint, their timers'
  // index entries and the totals.
  void Snapshot(StateWriter& out) override;
  bool WantsCheckpoint() const override;
  // Past half the memory bound in changed profiles.
  bool NeedsCheckpoint() const override;
  // Until then, what the last Snapshot wrote may not be readable yet: no
  // profile leaves memory and its timers stay in `timers_`.
  void OnCheckpointCommitted() override;
  absl::Status status() const override { return status_; }

  // Users per segment tag and tier (never ids): "new", "active", "dormant",
  // "high_value", "tier:silver", ...
  const std::map<std::string, int64_t>& tag_counts() const { return counts_; }
  // Profiles in all, and those held in memory now.
  int64_t users() const { return users_; }
  size_t users_in_memory() const { return cache_.size(); }
  // A user's profile as the operator sees it now (memory, else state).
  std::optional<v1::UserProfile> Lookup(const std::string& user_id) const;
  const TagRules& rules() const { return rules_; }
  // Order events attributed to a last click, and those with none in the window.
  int64_t attributed() const { return attributed_; }
  int64_t unattributed() const { return unattributed_; }

 private:
  // A profile held in memory.
  struct Entry {
    v1::UserProfile profile;
    int64_t stored_timer_ms = 0;  // its timer as of the last checkpoint (index key)
    bool stored = false;          // in the state backend as of the last checkpoint
    bool dirty = false;           // changed since the last checkpoint: cannot be dropped
    bool gone = false;            // expired; deleted at the next checkpoint
    bool referenced = true;       // used since the eviction sweep last passed (CLOCK)
    // The timer is in `timers_`; else it is the index entry written by the
    // last checkpoint (stored_timer_ms), found when the watermark reaches it.
    bool timer_in_memory = false;
  };
  using Cache = absl::node_hash_map<std::string, Entry>;

  void OnEvent(EventRecord& e);
  void Attribute(EventRecord& e, const v1::UserProfile& p);
  // Judges every tag as of `t`, emits the changes, sets the next timer.
  void Evaluate(Cache::value_type& node, int64_t t, const char* reason);
  // Keeps a paid order or refund in the profile's recent_money (UserAsOfTime).
  void RememberMoney(const EventRecord& e, v1::UserProfile& p, bool paid);
  int64_t NextTimer(const v1::UserProfile& p, int64_t t) const;
  // Fires `user`'s timers due at or before `upto`, in time order.
  void FireDue(const std::string& user, int64_t upto);
  void SetTimer(Cache::value_type& node, int64_t at);
  // A user's timer into / out of `timers_` (else the index holds it).
  void Track(Cache::value_type& node);
  void Untrack(Cache::value_type& node);
  void Count(const std::string& key, int delta);
  // The user's entry from memory or state (loading it); nullptr if the
  // user has no profile. A gone entry is returned as is.
  Entry* Load(const std::string& user);
  void MarkDirty(Cache::value_type& node);
  // Loads the users whose checkpointed timers are due at `upto`, so that
  // every due timer is in `timers_`.
  void PullStoredTimers(int64_t upto);
  // Drops unchanged profiles least recently used (CLOCK) down to 90% of
  // the bound.
  void Evict();

  TagRules rules_;
  ChangeCallback on_change_;
  size_t capacity_;
  size_t checkpoint_every_changed_;
  const StateReader* state_ = nullptr;  // from Restore; nullptr: everything stays in memory
  absl::Status status_;
  Cache cache_;
  // Due times of the timers set since the last checkpoint and of those
  // read back from kTimersTable as due (the others are only there), in
  // firing order.
  absl::btree_set<std::pair<int64_t, std::string>> timers_;
  std::vector<Cache::value_type*> dirty_;  // in cache_ (nodes do not move in a node map)
  // Written by the last Snapshot, acted on when its commit is durable:
  // timers now in the index, expired users to forget.
  bool commit_pending_ = false;
  std::vector<Cache::value_type*> written_timers_;
  std::vector<Cache::value_type*> written_gone_;
  std::string stored_cursor_;  // kTimersTable keys before this were loaded
  int64_t next_stored_timer_ =
      std::numeric_limits<int64_t>::max();  // earliest checkpointed timer at or after the cursor
  std::string buffer_;
  std::map<std::string, int64_t> counts_;
  int64_t users_ = 0;
  int64_t attributed_ = 0;
  int64_t unattributed_ = 0;
};

}  // namespace promowatch
