#include "operators/user_profiles.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "operators/aggregate.h"
#include "operators/state.h"
#include "operators/time_util.h"

namespace promowatch {
namespace {

// Sums of amounts saturate (operators/aggregate.h) instead of wrapping.
int64_t Sum(int64_t a, int64_t b) {
  AddSaturating(a, b);
  return a;
}

constexpr std::string_view kTotalsKey = "totals";

int32_t UtcDay(int64_t t) { return static_cast<int32_t>(DayOf(t, /*utc_offset_ms=*/0)); }

// Score 1-5 by ascending cut points; `higher_is_better` false for recency.
int Score(int64_t v, const std::vector<int64_t>& cuts, bool higher_is_better) {
  int above = 0;  // cut points at or below v
  for (int64_t c : cuts) above += v >= c ? 1 : 0;
  return higher_is_better ? 1 + above : 5 - above;
}

const char* Bool(bool b) { return b ? "true" : "false"; }

ProfileDay& BucketFor(std::vector<ProfileDay>& days, int32_t day) {
  // Events are nearly ordered: the day is usually the last or after it.
  size_t i = days.size();
  while (i > 0 && days[i - 1].day > day) --i;
  if (i > 0 && days[i - 1].day == day) return days[i - 1];
  return *days.insert(days.begin() + static_cast<std::ptrdiff_t>(i), ProfileDay{day, 0, 0});
}

}  // namespace

UserProfileOperator::UserProfileOperator(TagRules rules, ChangeCallback on_change,
                                         size_t memory_budget, size_t checkpoint_every_changed)
    : rules_(std::move(rules)),
      on_change_(std::move(on_change)),
      budget_(memory_budget),
      checkpoint_every_changed_(checkpoint_every_changed) {}

std::optional<v1::UserProfile> UserProfileOperator::Lookup(const std::string& user_id) const {
  if (const uint32_t h = store_.Find(user_id); h != ProfileStore::kNone) {
    if (store_.at(h).gone) return std::nullopt;
    v1::UserProfile p;
    ToProto(store_.at(h), names_, &p);
    return p;
  }
  std::string bytes;
  v1::UserProfile p;
  if (state_ == nullptr || !state_->Get(kTable, user_id, &bytes).ok() ||
      !p.ParseFromString(bytes)) {
    return std::nullopt;
  }
  return p;
}

uint32_t UserProfileOperator::Adopt(std::string_view user, std::string_view bytes) {
  scratch_.Clear();
  const uint32_t h = store_.Add(user);
  ProfileRecord& r = store_.at(h);
  if (!scratch_.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
      !FromProto(scratch_, names_, &r)) {
    r.purchases.reset();  // (not counted yet)
    store_.Remove(h);
    if (status_.ok()) status_ = absl::DataLossError("profiles: undecodable profile of a user");
    return ProfileStore::kNone;
  }
  store_.HeapChanged(0, r.heap_bytes());
  r.stored = true;
  r.referenced = true;
  r.stored_timer_ms = r.timer_ms;
  if (r.timer_ms != 0) timers_.Add(r.timer_ms, h);
  return h;
}

void UserProfileOperator::LoadAll(const std::vector<std::string_view>& users) {
  if (users.empty()) return;
  std::vector<std::string> values;
  std::vector<absl::Status> statuses;
  state_->MultiGet(kTable, users, &values, &statuses);
  for (size_t i = 0; i < users.size(); ++i) {
    if (statuses[i].ok()) {
      if (store_.Find(users[i]) == ProfileStore::kNone) Adopt(users[i], values[i]);
    } else if (!absl::IsNotFound(statuses[i]) && status_.ok()) {
      status_ = statuses[i];
    }
  }
}

void UserProfileOperator::MarkDirty(uint32_t handle) {
  ProfileRecord& r = store_.at(handle);
  if (r.dirty) return;
  r.dirty = true;
  dirty_.push_back(handle);
}

void UserProfileOperator::OnCheckpointCommitted() {
  snapshot_.Committed(&written_gone_);
  commit_pending_ = false;
  for (uint32_t h : written_gone_) {
    const ProfileRecord& r = store_.at(h);
    if (r.in_use && r.gone && !r.dirty) store_.Remove(h);  // (not back since)
  }
  written_gone_.clear();
  Evict();
}

bool UserProfileOperator::WantsCheckpoint() const {
  if (state_ == nullptr) return false;
  if (checkpoint_every_changed_ != 0 && dirty_.size() >= checkpoint_every_changed_) return true;
  return NeedsCheckpoint();
}

bool UserProfileOperator::NeedsCheckpoint() const {
  if (state_ == nullptr || budget_ == 0 || store_.size() == 0) return false;
  // (Changed profiles at the average bytes of a profile held.)
  return dirty_.size() * (store_.bytes() / store_.size()) >= budget_ / 2;
}

void UserProfileOperator::Drop(uint32_t handle) {
  const ProfileRecord& r = store_.at(handle);
  // Its timer is in a run now (clean: written and committed); if the run
  // is of the minute being passed, read already, the timer joins it here.
  if (const int64_t at = r.stored_timer_ms; at != 0) {
    next_stored_timer_ = std::min(next_stored_timer_, at);
    MinuteTimers& now = minute_timers_;
    if (now.valid && ProfileTimers::Minute(at) == now.minute) {
      auto pos = std::upper_bound(now.due.begin() + static_cast<std::ptrdiff_t>(now.next),
                                  now.due.end(), std::make_pair(at, r.user_id));
      now.due.emplace(pos, at, r.user_id);
    }
  }
  store_.Remove(handle);
  may_be_in_state_ = true;
}

void UserProfileOperator::Evict() {
  if (budget_ == 0 || state_ == nullptr || commit_pending_ || store_.bytes() <= budget_) return;
  const size_t target = budget_ - budget_ / 10;
  // Two rounds at most: the first clears the reference bits it passes.
  const uint64_t steps = 2 * static_cast<uint64_t>(store_.end());
  for (uint64_t step = 0; step < steps && store_.bytes() > target; ++step) {
    if (clock_hand_ >= store_.end()) clock_hand_ = 1;
    const uint32_t h = clock_hand_++;
    ProfileRecord& r = store_.at(h);
    if (!r.in_use || r.dirty || r.gone) continue;
    if (r.referenced) {
      r.referenced = false;
      continue;
    }
    Drop(h);
  }
}

void UserProfileOperator::Count(const std::string& key, int delta) {
  if (key.empty()) return;
  auto& n = counts_[key];
  n += delta;
}

void UserProfileOperator::EnrichBatch(std::span<EventRecord* const> events) {
  Evict();  // (between batches: the last checkpoint is committed)
  // The users' table entries, then their records, into the CPU cache
  // before the events need them (a record is a cache miss or two, and
  // fetching a batch's at once overlaps them).
  hashes_.resize(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    hashes_[i] = store_.Hash(*events[i]);
    store_.PrefetchEntry(hashes_[i]);
  }
  if (state_ != nullptr && may_be_in_state_) {
    // The batch's users not in memory, read at once (never a read per event).
    missing_.clear();
    for (size_t i = 0; i < events.size(); ++i) {
      const EventRecord* e = events[i];
      if (e->kind == EventKind::kSpend || e->user_id.empty()) continue;
      if (store_.Find(hashes_[i], e->user_id) == ProfileStore::kNone)
        missing_.push_back(e->user_id);
    }
    std::sort(missing_.begin(), missing_.end());
    missing_.erase(std::unique(missing_.begin(), missing_.end()), missing_.end());
    LoadAll(missing_);
  }
  for (size_t i = 0; i < events.size(); ++i) store_.PrefetchRecord(hashes_[i]);
  for (size_t i = 0; i < events.size(); ++i) {
    EventRecord* e = events[i];
    // Timers fire at the watermark in force when each record arrived, not
    // at batch ends: the order of changes does not depend on batching (a
    // resumed replay writes the same bytes).
    if (e->watermark_ms != kNoWatermark &&
        (timers_.earliest() <= e->watermark_ms || next_stored_timer_ <= e->watermark_ms)) {
      FireTimers(e->watermark_ms);
    }
    if (e->kind == EventKind::kSpend || e->user_id.empty()) continue;
    OnEvent(*e, hashes_[i]);
  }
}

void UserProfileOperator::OnEvent(EventRecord& e, uint64_t user_hash) {
  const int64_t t = e.event_time_ms;
  // (Users of the batch not in memory were read from state: absent means new.)
  uint32_t h = store_.Find(user_hash, e.user_id);
  if (h != ProfileStore::kNone) snapshot_.BeforeChange(h);
  // Changes that time made before this event happened first, at their own
  // time (the watermark may not have passed them yet).
  if (h != ProfileStore::kNone && !store_.at(h).gone && store_.at(h).timer_ms != 0 &&
      store_.at(h).timer_ms <= t) {
    FireDue(h, t);
  }
  const bool known = h != ProfileStore::kNone && !store_.at(h).gone;
  // Its segment just before this event, as of its time (segment.h): a user
  // not seen before is seen now, so new when nothing else holds first.
  bool paid_before = false, dormant_before = false;
  if (known) {
    const UserAsOf then = UserAsOfTime(rules_, store_.at(h), t);
    e.segment = then.segment;
    paid_before = then.paid_before;
    dormant_before = then.dormant;
  } else if (!status_.ok()) {
    e.segment = Segment::kUnknown;  // its profile could not be read
  } else {
    e.segment = rules_.new_for_ms > 0 && std::find(rules_.segment_precedence.begin(),
                                                   rules_.segment_precedence.end(),
                                                   Segment::kNew) != rules_.segment_precedence.end()
                    ? Segment::kNew
                    : Segment::kOther;
  }
  if (h == ProfileStore::kNone) {
    h = store_.Add(e.user_id);
    ++users_;
  } else if (store_.at(h).gone) {  // expired earlier in this checkpoint interval: a new profile
    store_.at(h).gone = false;
    ++users_;
  }
  e.new_user = !known;
  MarkDirty(h);
  ProfileRecord& p = store_.at(h);
  p.referenced = true;
  const size_t heap_before = p.heap_bytes();
  if (e.kind == EventKind::kOrder && (e.campaign_id.empty() || e.channel.empty())) Attribute(e, p);
  TrackCohorts(rules_, known, p, e);
  if (p.first_seen_ms == 0 || t < p.first_seen_ms) p.first_seen_ms = t;
  p.last_seen_ms = std::max(p.last_seen_ms, t);
  const char* reason = "click";
  if (e.kind == EventKind::kClick && e.code == kClick && !e.campaign_id.empty()) {
    // Last clicks per campaign/channel, newest first (attribution): this
    // one replaces its pair's, goes before every older click, and the
    // oldest beyond kProfileLastClicks leaves.
    const uint32_t pair = names_.Intern(e.campaign_id, e.channel);
    int n = 0;
    int64_t times[kProfileLastClicks + 1];
    uint32_t pairs[kProfileLastClicks + 1];
    for (int i = 0; i < p.clicks; ++i) {
      if (p.click_pair[i] == pair) continue;
      times[n] = p.click_time_ms[i];
      pairs[n++] = p.click_pair[i];
    }
    int at = n;
    while (at > 0 && times[at - 1] < t) --at;
    for (int i = n; i > at; --i) {
      times[i] = times[i - 1];
      pairs[i] = pairs[i - 1];
    }
    times[at] = t;
    pairs[at] = pair;
    p.clicks = static_cast<uint8_t>(std::min(n + 1, kProfileLastClicks));
    std::copy(times, times + p.clicks, p.click_time_ms);
    std::copy(pairs, pairs + p.clicks, p.click_pair);
  } else if (e.kind == EventKind::kOrder && e.code == kPaid) {
    reason = "paid order";
    // As of this order (timers due by then fired above; newer orders
    // applied first taken out): the windows' new_customer_orders, and
    // reactivated_buyers (dormant just before the order wakes the user).
    e.first_paid_order = !paid_before;
    e.reactivated = dormant_before;
    ProfilePurchases& m = p.mutable_purchases();
    RememberMoney(e, m, true);
    if (m.first_paid_ms == 0 || t < m.first_paid_ms) m.first_paid_ms = t;
    m.last_paid_ms = std::max(m.last_paid_ms, t);
    m.lifetime_paid_orders += 1;
    m.lifetime_spend_cents = Sum(m.lifetime_spend_cents, e.amount_cents);
    ProfileDay& b = BucketFor(m.days, UtcDay(t));
    b.paid_orders += 1;
    b.spend_cents = Sum(b.spend_cents, e.amount_cents);
  } else if (e.kind == EventKind::kOrder && e.code == kRefunded) {
    reason = "refund";
    ProfilePurchases& m = p.mutable_purchases();
    RememberMoney(e, m, false);
    m.refunds += 1;
    m.refund_cents = Sum(m.refund_cents, e.amount_cents);
    m.lifetime_spend_cents = Sum(m.lifetime_spend_cents, -e.amount_cents);
    // The refund lowers the spend of the day it happens (orders keep their count).
    ProfileDay& b = BucketFor(m.days, UtcDay(t));
    b.spend_cents = Sum(b.spend_cents, -e.amount_cents);
  } else if (e.kind == EventKind::kOrder) {
    reason = "order";
  }
  Evaluate(h, std::max(t, p.evaluated_ms), reason);
  store_.HeapChanged(heap_before, p.heap_bytes());
}

void UserProfileOperator::RememberMoney(const EventRecord& e, ProfilePurchases& p, bool paid) {
  std::vector<ProfileMoney>& recent = p.recent_money;
  if (recent.empty() && p.paid_before_recent_ms == 0) {
    p.paid_before_recent_ms = p.last_paid_ms;  // (a profile kept before the list was)
  }
  // What no accepted event can come before any more: older than the
  // watermark less the lateness bound (admission refuses anything older).
  if (e.watermark_ms != kNoWatermark) {
    const int64_t horizon = e.watermark_ms - rules_.reorder_horizon_ms;
    size_t drop = 0;
    while (drop < recent.size() && recent[drop].time_ms < horizon) {
      if (recent[drop].paid)
        p.paid_before_recent_ms = std::max(p.paid_before_recent_ms, recent[drop].time_ms);
      ++drop;
    }
    recent.erase(recent.begin(), recent.begin() + static_cast<std::ptrdiff_t>(drop));
  }
  // Oldest first: after every entry not newer than this one.
  size_t at = recent.size();
  while (at > 0 && recent[at - 1].time_ms > e.event_time_ms) --at;
  recent.insert(recent.begin() + static_cast<std::ptrdiff_t>(at),
                ProfileMoney{e.event_time_ms, e.amount_cents, paid});
}

void UserProfileOperator::Attribute(EventRecord& e, const ProfileRecord& p) {
  // Last clicks are newest first: the first one not after the order wins.
  for (int i = 0; i < p.clicks; ++i) {
    const int64_t time = p.click_time_ms[i];
    if (time > e.event_time_ms) continue;
    if (e.event_time_ms - time > rules_.attribution_window_ms) break;
    e.campaign_id = names_.campaign(p.click_pair[i]);
    e.channel = names_.channel(p.click_pair[i]);
    e.attributed = true;
    ++attributed_;
    return;
  }
  e.campaign_id = kUnattributed;
  e.channel = kUnattributed;
  ++unattributed_;
}

void UserProfileOperator::Evaluate(uint32_t handle, int64_t t, const char* reason) {
  ProfileRecord& p = store_.at(handle);
  const std::string& user = p.user_id;
  p.evaluated_ms = t;
  const int32_t today = UtcDay(t);
  // Forget days that left the longest window.
  if (p.purchases) {
    auto& days = p.purchases->days;
    size_t drop = 0;
    while (drop < days.size() && days[drop].day <= today - kHighValueDays) ++drop;
    days.erase(days.begin(), days.begin() + static_cast<std::ptrdiff_t>(drop));
  }
  const SegmentFlags f = SegmentFlagsAt(rules_, p, t);
  const int64_t orders365 = f.orders365, cents365 = f.cents365;
  char rfm[3] = {};
  if (p.last_paid_ms() > 0) {
    const int64_t days_since = (t - p.last_paid_ms()) / kDayMs;
    rfm[0] = static_cast<char>('0' + Score(days_since, rules_.rfm_recency_days, false));
    rfm[1] = static_cast<char>('0' + Score(orders365, rules_.rfm_frequency, true));
    rfm[2] = static_cast<char>('0' + Score(cents365, rules_.rfm_monetary_cents, true));
  }
  uint8_t tier = 0;  // 1 + index in kTiers
  if (cents365 >= rules_.tier_diamond_cents)
    tier = 3;
  else if (cents365 >= rules_.tier_gold_cents)
    tier = 2;
  else if (cents365 >= rules_.tier_silver_cents)
    tier = 1;

  const bool flags[] = {f.is_new, f.active, f.dormant, f.high_value};  // in kFlagTags' order
  static_assert(std::size(flags) == std::size(kFlagTags));
  for (size_t i = 0; i < std::size(kFlagTags); ++i) {
    const bool before = p.flag(static_cast<int>(i));
    if (flags[i] == before) continue;
    p.set_flag(static_cast<int>(i), flags[i]);
    const std::string name(kFlagTags[i].name);
    Count(name, flags[i] ? 1 : -1);
    if (on_change_) on_change_({user, name, Bool(before), Bool(flags[i]), reason, t});
  }
  if (std::memcmp(rfm, p.rfm, sizeof(rfm)) != 0) {
    if (on_change_)
      on_change_({user, std::string(kRfmTag), RfmString(p.rfm), RfmString(rfm), reason, t});
    std::memcpy(p.rfm, rfm, sizeof(rfm));
  }
  if (tier != p.tier) {
    Count(TierCountName(TierName(p.tier)), -1);
    Count(TierCountName(TierName(tier)), 1);
    if (on_change_)
      on_change_({user, std::string(kTierTag), std::string(TierName(p.tier)),
                  std::string(TierName(tier)), reason, t});
    p.tier = tier;
  }
  SetTimer(handle, NextTimer(p, t));
}

void UserProfileOperator::OnWatermark(int64_t watermark_ms) {
  FireTimers(watermark_ms);
  Evict();  // users loaded for timers that did not change
}

absl::Status UserProfileOperator::Restore(const StateReader& in) {
  state_ = &in;
  next_stored_timer_ = std::numeric_limits<int64_t>::min();  // look once
  std::string bytes;
  const absl::Status s = in.Get(kTotalsTable, kTotalsKey, &bytes);
  if (absl::IsNotFound(s)) return absl::OkStatus();  // no profiles yet
  if (!s.ok()) return s;
  v1::ProfileTotals totals;
  if (!totals.ParseFromString(bytes)) return absl::DataLossError("profile_totals: undecodable");
  users_ = totals.users();
  timer_runs_ = totals.timer_runs();
  attributed_ = totals.attributed();
  unattributed_ = totals.unattributed();
  counts_.clear();
  for (const auto& [tag, n] : totals.tag_counts()) counts_[tag] = n;
  may_be_in_state_ = users_ > 0;
  return absl::OkStatus();
}

namespace {
// Claim bytes fetched ahead of the snapshot's hand-over.
constexpr size_t kClaimPrefetch = 16;
}  // namespace

void UserProfileOperator::Snapshot(StateWriter& out) {
  // A new snapshot comes only after the previous one is durable (the
  // runtime waits for it); a caller that commits synchronously may not say so.
  if (commit_pending_) OnCheckpointCommitted();
  // The pipeline waits for this part only: the changed profiles are handed
  // over (their claim bytes set) and settled, serialised or deleted on the
  // committing thread (profile_snapshot.h); the totals are written here.
  snapshot_.Begin(dirty_.size());
  // (No record is touched here: each is settled as of now when the
  // committing thread, or a change before it, claims it.)
  for (size_t i = 0; i < dirty_.size(); ++i) {
    if (i + kClaimPrefetch < dirty_.size()) store_.PrefetchClaim(dirty_[i + kClaimPrefetch]);
    snapshot_.Add(dirty_[i]);
  }
  DeletePassedTimerRuns(out);
  timer_runs_ = snapshot_.Defer(out, timer_runs_);
  commit_pending_ = true;
  dirty_.clear();
  v1::ProfileTotals totals;
  totals.set_users(users_);
  totals.set_timer_runs(timer_runs_);
  totals.set_attributed(attributed_);
  totals.set_unattributed(unattributed_);
  for (const auto& [tag, n] : counts_) (*totals.mutable_tag_counts())[tag] = n;
  out.Put(kTotalsTable, kTotalsKey, totals.SerializeAsString());
}

}  // namespace promowatch
