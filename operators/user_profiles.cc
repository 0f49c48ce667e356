#include "operators/user_profiles.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

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

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
constexpr size_t kLastClicks = 4;
constexpr std::string_view kTotalsKey = "totals";

int32_t Day(int64_t t) { return static_cast<int32_t>(DayOf(t, /*utc_offset_ms=*/0)); }

// Score 1-5 by ascending cut points; `higher_is_better` false for recency.
int Score(int64_t v, const std::vector<int64_t>& cuts, bool higher_is_better) {
  int above = 0;  // cut points at or below v
  for (int64_t c : cuts) above += v >= c ? 1 : 0;
  return higher_is_better ? 1 + above : 5 - above;
}

const char* Bool(bool b) { return b ? "true" : "false"; }

v1::UserProfile::DayBucket* BucketFor(v1::UserProfile& p, int32_t day) {
  auto* days = p.mutable_days();
  for (int i = days->size() - 1; i >= 0; --i) {
    if (days->Get(i).day() == day) return days->Mutable(i);
    if (days->Get(i).day() < day) break;
  }
  // Insert in order (events are nearly ordered: usually at the end).
  auto* b = days->Add();
  b->set_day(day);
  for (int i = days->size() - 1; i > 0 && days->Get(i - 1).day() > day; --i)
    days->SwapElements(i, i - 1);
  for (auto& d : *days) {
    if (d.day() == day) return &d;
  }
  return b;
}

}  // namespace

UserProfileOperator::UserProfileOperator(TagRules rules, ChangeCallback on_change,
                                         size_t max_users_in_memory,
                                         size_t checkpoint_every_changed)
    : rules_(std::move(rules)),
      on_change_(std::move(on_change)),
      capacity_(max_users_in_memory),
      checkpoint_every_changed_(checkpoint_every_changed) {}

std::optional<v1::UserProfile> UserProfileOperator::Lookup(const std::string& user_id) const {
  auto it = cache_.find(user_id);
  if (it != cache_.end()) {
    if (it->second.gone) return std::nullopt;
    return it->second.profile;
  }
  std::string bytes;
  v1::UserProfile p;
  if (state_ == nullptr || !state_->Get(kTable, user_id, &bytes).ok() ||
      !p.ParseFromString(bytes)) {
    return std::nullopt;
  }
  return p;
}

UserProfileOperator::Entry* UserProfileOperator::Load(const std::string& user) {
  auto it = cache_.find(user);
  if (it != cache_.end()) {
    it->second.referenced = true;
    return &it->second;
  }
  if (state_ == nullptr) return nullptr;
  const absl::Status s = state_->Get(kTable, user, &buffer_);
  if (absl::IsNotFound(s)) return nullptr;
  v1::UserProfile p;
  if (s.ok() && !p.ParseFromString(buffer_)) {
    if (status_.ok()) status_ = absl::DataLossError("profiles: undecodable profile of a user");
    return nullptr;
  }
  if (!s.ok()) {
    if (status_.ok()) status_ = s;
    return nullptr;
  }
  auto [pos, inserted] = cache_.try_emplace(user);
  Entry& e = pos->second;
  e.profile = std::move(p);
  e.stored = true;
  e.stored_timer_ms = e.profile.timer_ms();  // due in the index, ahead of its cursor
  return &e;
}

void UserProfileOperator::MarkDirty(Cache::value_type& node) {
  if (node.second.dirty) return;
  node.second.dirty = true;
  dirty_.push_back(&node);
}

void UserProfileOperator::OnCheckpointCommitted() {
  commit_pending_ = false;
  if (state_ != nullptr) {
    // The index holds these timers now (due after the watermark of the
    // snapshot, so ahead of its cursor): memory need not, unless they
    // changed since.
    for (Cache::value_type* node : written_timers_) {
      Entry& e = node->second;
      if (e.dirty || e.gone || !e.timer_in_memory || e.profile.timer_ms() != e.stored_timer_ms)
        continue;
      next_stored_timer_ = std::min(next_stored_timer_, e.stored_timer_ms);
      Untrack(*node);
    }
  }
  written_timers_.clear();
  for (Cache::value_type* node : written_gone_) {
    if (node->second.gone && !node->second.dirty)
      cache_.erase(std::string(node->first));  // (not back since)
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
  return state_ != nullptr && capacity_ != 0 && dirty_.size() >= capacity_ / 2;
}

void UserProfileOperator::Evict() {
  if (capacity_ == 0 || state_ == nullptr || commit_pending_ || cache_.size() <= capacity_) return;
  const size_t target = capacity_ - capacity_ / 10;
  // Two passes: the first clears the reference bits it passes.
  for (int pass = 0; pass < 2 && cache_.size() > target; ++pass) {
    for (auto it = cache_.begin(); it != cache_.end() && cache_.size() > target;) {
      Entry& e = it->second;
      if (e.dirty) {
        ++it;
      } else if (e.referenced) {
        e.referenced = false;
        ++it;
      } else {
        Untrack(*it);
        cache_.erase(it++);
      }
    }
  }
}

void UserProfileOperator::PullStoredTimers(int64_t upto) {
  if (state_ == nullptr || next_stored_timer_ > upto) return;
  std::vector<std::pair<int64_t, std::string>> due;
  int64_t next = kNever;
  std::string last;
  const absl::Status s =
      state_->ScanFrom(kTimersTable, stored_cursor_, [&](std::string_view key, std::string_view) {
        if (key.size() < 8) return true;
        const int64_t at = ReadBigEndian64(key.substr(0, 8));
        if (at > upto) {
          next = at;
          return false;
        }
        due.emplace_back(at, key.substr(8));
        last.assign(key);
        return true;
      });
  if (!s.ok()) {
    if (status_.ok()) status_ = s;
    return;
  }
  if (!last.empty()) stored_cursor_ = last + '\0';
  next_stored_timer_ = next;
  // An index entry is current when it matches the profile's timer and that
  // timer is not in memory already; else it is stale until the next
  // checkpoint rewrites it.
  for (const auto& [at, user] : due) {
    Entry* e = Load(user);
    if (e == nullptr || e->gone || e->timer_in_memory || e->profile.timer_ms() != at) continue;
    Track(*cache_.find(user));
  }
}

void UserProfileOperator::Track(Cache::value_type& node) {
  Entry& e = node.second;
  if (e.timer_in_memory || e.profile.timer_ms() == 0) return;
  timers_.emplace(e.profile.timer_ms(), node.first);
  e.timer_in_memory = true;
}

void UserProfileOperator::Untrack(Cache::value_type& node) {
  Entry& e = node.second;
  if (!e.timer_in_memory) return;
  timers_.erase({e.profile.timer_ms(), node.first});
  e.timer_in_memory = false;
}

void UserProfileOperator::Count(const std::string& key, int delta) {
  if (key.empty()) return;
  auto& n = counts_[key];
  n += delta;
}

void UserProfileOperator::EnrichBatch(std::span<EventRecord* const> events) {
  Evict();  // (between batches: the last checkpoint is committed)
  for (EventRecord* e : events) {
    // Timers fire at the watermark in force when each record arrived, not
    // at batch ends: the order of changes does not depend on batching (a
    // resumed replay writes the same bytes).
    if (e->watermark_ms != kNoWatermark &&
        ((!timers_.empty() && timers_.begin()->first <= e->watermark_ms) ||
         next_stored_timer_ <= e->watermark_ms)) {
      OnWatermark(e->watermark_ms);
    }
    if (e->kind == EventKind::kSpend || e->user_id.empty()) continue;
    OnEvent(*e);
  }
}

void UserProfileOperator::OnEvent(EventRecord& e) {
  const int64_t t = e.event_time_ms;
  Entry* entry = Load(e.user_id);
  // Changes that time made before this event happened first, at their own
  // time (the watermark may not have passed them yet).
  if (entry != nullptr && !entry->gone && entry->profile.timer_ms() != 0 &&
      entry->profile.timer_ms() <= t) {
    FireDue(e.user_id, t);
  }
  // Its segment just before this event, as of its time (segment.h): a user
  // not seen before is seen now, so new when nothing else holds first.
  bool paid_before = false, dormant_before = false;
  if (entry != nullptr && !entry->gone) {
    const UserAsOf then = UserAsOfTime(rules_, entry->profile, t);
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
  const bool known = entry != nullptr && !entry->gone;
  if (entry == nullptr) {
    entry = &cache_.try_emplace(e.user_id).first->second;
    ++users_;
  } else if (entry->gone) {  // expired earlier in this checkpoint interval: a new profile
    entry->gone = false;
    ++users_;
  }
  e.new_user = !known;
  auto it = cache_.find(e.user_id);
  MarkDirty(*it);
  v1::UserProfile& p = entry->profile;
  if (e.kind == EventKind::kOrder && (e.campaign_id.empty() || e.channel.empty())) Attribute(e, p);
  TrackCohorts(rules_, known, p, e);
  if (p.first_seen_ms() == 0 || t < p.first_seen_ms()) p.set_first_seen_ms(t);
  p.set_last_seen_ms(std::max(p.last_seen_ms(), t));
  const char* reason = "click";
  if (e.kind == EventKind::kClick && e.code == kClick && !e.campaign_id.empty()) {
    // Last clicks per campaign/channel, newest first (attribution).
    auto* clicks = p.mutable_last_clicks();
    for (int i = 0; i < clicks->size(); ++i) {
      if (clicks->Get(i).campaign_id() == e.campaign_id && clicks->Get(i).channel() == e.channel) {
        clicks->DeleteSubrange(i, 1);
        break;
      }
    }
    v1::UserProfile::LastClick c;
    c.set_campaign_id(e.campaign_id);
    c.set_channel(e.channel);
    c.set_time_ms(t);
    clicks->Add(std::move(c));
    for (int i = clicks->size() - 1;
         i > 0 && clicks->Get(i - 1).time_ms() < clicks->Get(i).time_ms(); --i) {
      clicks->SwapElements(i, i - 1);
    }
    while (clicks->size() > static_cast<int>(kLastClicks)) clicks->RemoveLast();
  } else if (e.kind == EventKind::kOrder && e.code == kPaid) {
    reason = "paid order";
    // As of this order (timers due by then fired above; newer orders
    // applied first taken out): the windows' new_customer_orders, and
    // reactivated_buyers (dormant just before the order wakes the user).
    e.first_paid_order = !paid_before;
    e.reactivated = dormant_before;
    RememberMoney(e, p, true);
    if (p.first_paid_ms() == 0 || t < p.first_paid_ms()) p.set_first_paid_ms(t);
    p.set_last_paid_ms(std::max(p.last_paid_ms(), t));
    p.set_lifetime_paid_orders(p.lifetime_paid_orders() + 1);
    p.set_lifetime_spend_cents(Sum(p.lifetime_spend_cents(), e.amount_cents));
    auto* b = BucketFor(p, Day(t));
    b->set_paid_orders(b->paid_orders() + 1);
    b->set_spend_cents(Sum(b->spend_cents(), e.amount_cents));
  } else if (e.kind == EventKind::kOrder && e.code == kRefunded) {
    reason = "refund";
    RememberMoney(e, p, false);
    p.set_refunds(p.refunds() + 1);
    p.set_refund_cents(Sum(p.refund_cents(), e.amount_cents));
    p.set_lifetime_spend_cents(Sum(p.lifetime_spend_cents(), -e.amount_cents));
    // The refund lowers the spend of the day it happens (orders keep their count).
    auto* b = BucketFor(p, Day(t));
    b->set_spend_cents(Sum(b->spend_cents(), -e.amount_cents));
  } else if (e.kind == EventKind::kOrder) {
    reason = "order";
  }
  Evaluate(*it, std::max(t, p.evaluated_ms()), reason);
}

void UserProfileOperator::RememberMoney(const EventRecord& e, v1::UserProfile& p, bool paid) {
  auto* recent = p.mutable_recent_money();
  if (recent->empty() && p.paid_before_recent_ms() == 0) {
    p.set_paid_before_recent_ms(p.last_paid_ms());  // (a profile kept before the list was)
  }
  // What no accepted event can come before any more: older than the
  // watermark less the lateness bound (admission refuses anything older).
  if (e.watermark_ms != kNoWatermark) {
    const int64_t horizon = e.watermark_ms - rules_.reorder_horizon_ms;
    int drop = 0;
    while (drop < recent->size() && recent->Get(drop).time_ms() < horizon) {
      if (recent->Get(drop).paid())
        p.set_paid_before_recent_ms(
            std::max(p.paid_before_recent_ms(), recent->Get(drop).time_ms()));
      ++drop;
    }
    if (drop > 0) recent->DeleteSubrange(0, drop);
  }
  v1::UserProfile::Money m;
  m.set_time_ms(e.event_time_ms);
  m.set_cents(e.amount_cents);
  m.set_paid(paid);
  recent->Add(std::move(m));
  for (int i = recent->size() - 1; i > 0 && recent->Get(i - 1).time_ms() > recent->Get(i).time_ms();
       --i) {
    recent->SwapElements(i, i - 1);  // oldest first
  }
}

void UserProfileOperator::Attribute(EventRecord& e, const v1::UserProfile& p) {
  // last_clicks is newest first: the first one not after the order wins.
  for (const auto& c : p.last_clicks()) {
    if (c.time_ms() > e.event_time_ms) continue;
    if (e.event_time_ms - c.time_ms() > rules_.attribution_window_ms) break;
    e.campaign_id = c.campaign_id();
    e.channel = c.channel();
    e.attributed = true;
    ++attributed_;
    return;
  }
  e.campaign_id = kUnattributed;
  e.channel = kUnattributed;
  ++unattributed_;
}

void UserProfileOperator::Evaluate(Cache::value_type& node, int64_t t, const char* reason) {
  const std::string& user = node.first;
  v1::UserProfile& p = node.second.profile;
  p.set_evaluated_ms(t);
  const int32_t today = Day(t);
  // Forget days that left the longest window.
  auto* days = p.mutable_days();
  int drop = 0;
  while (drop < days->size() && days->Get(drop).day() <= today - kHighValueDays) ++drop;
  if (drop > 0) days->DeleteSubrange(0, drop);
  const SegmentFlags f = SegmentFlagsAt(rules_, p, t);
  const int64_t orders365 = f.orders365, cents365 = f.cents365;
  const bool paid = p.last_paid_ms() > 0;
  std::string rfm;
  if (paid) {
    const int64_t days_since = (t - p.last_paid_ms()) / kDayMs;
    rfm = "R" + std::to_string(Score(days_since, rules_.rfm_recency_days, false)) + "F" +
          std::to_string(Score(orders365, rules_.rfm_frequency, true)) + "M" +
          std::to_string(Score(cents365, rules_.rfm_monetary_cents, true));
  }
  std::string tier;  // kTiers
  if (cents365 >= rules_.tier_diamond_cents)
    tier = "diamond";
  else if (cents365 >= rules_.tier_gold_cents)
    tier = "gold";
  else if (cents365 >= rules_.tier_silver_cents)
    tier = "silver";

  const bool flags[] = {f.is_new, f.active, f.dormant, f.high_value};  // in kFlagTags' order
  static_assert(std::size(flags) == std::size(kFlagTags));
  for (size_t i = 0; i < std::size(kFlagTags); ++i) {
    const FlagTag& tag = kFlagTags[i];
    const bool before = (p.*tag.get)();
    if (flags[i] == before) continue;
    (p.*tag.set)(flags[i]);
    const std::string name(tag.name);
    Count(name, flags[i] ? 1 : -1);
    if (on_change_) on_change_({user, name, Bool(before), Bool(flags[i]), reason, t});
  }
  if (rfm != p.tag_rfm()) {
    if (on_change_) on_change_({user, std::string(kRfmTag), p.tag_rfm(), rfm, reason, t});
    p.set_tag_rfm(rfm);
  }
  if (tier != p.tag_tier()) {
    Count(TierCountName(p.tag_tier()), -1);
    Count(TierCountName(tier), 1);
    if (on_change_) on_change_({user, std::string(kTierTag), p.tag_tier(), tier, reason, t});
    p.set_tag_tier(tier);
  }
  SetTimer(node, NextTimer(p, t));
}

// The earliest time after `t` at which a tag may change with no event.
int64_t UserProfileOperator::NextTimer(const v1::UserProfile& p, int64_t t) const {
  int64_t next = kNever;
  auto consider = [&](int64_t at) {
    if (at > t) next = std::min(next, at);
  };
  if (p.tag_new()) consider(p.first_seen_ms() + rules_.new_for_ms);
  if (p.last_paid_ms() > 0) {
    consider(p.last_paid_ms() + rules_.dormant_after_ms);
    for (int64_t d : rules_.rfm_recency_days) consider(p.last_paid_ms() + d * kDayMs);
  }
  // A day leaves the 30- or 365-day window at the start of day + N.
  const int32_t today = Day(t);
  for (const auto& d : p.days()) {
    if (d.day() > today - rules_.active_days)
      consider(static_cast<int64_t>(d.day() + rules_.active_days) * kDayMs);
    consider(static_cast<int64_t>(d.day() + kHighValueDays) * kDayMs);
  }
  consider(p.last_seen_ms() + rules_.expire_after_ms);
  return next == kNever ? 0 : next;
}

void UserProfileOperator::SetTimer(Cache::value_type& node, int64_t at) {
  v1::UserProfile& p = node.second.profile;
  if (p.timer_ms() == at) return;
  Untrack(node);
  p.set_timer_ms(at);
  Track(node);  // in memory until a checkpoint writes it to the index
}

void UserProfileOperator::OnWatermark(int64_t watermark_ms) {
  PullStoredTimers(watermark_ms);
  while (!timers_.empty() && timers_.begin()->first <= watermark_ms) {
    const auto due = *timers_.begin();
    FireDue(due.second, watermark_ms);
    if (!timers_.empty() && *timers_.begin() == due) {  // (cannot happen: FireDue untracks it)
      timers_.erase(timers_.begin());
      if (auto it = cache_.find(due.second); it != cache_.end()) it->second.timer_in_memory = false;
    }
  }
  Evict();  // users loaded for timers that did not change
}

void UserProfileOperator::FireDue(const std::string& user_ref, int64_t upto) {
  const std::string user = user_ref;  // the reference may point into timers_
  while (true) {
    auto it = cache_.find(user);
    if (it == cache_.end() || it->second.gone) return;
    Entry& e = it->second;
    v1::UserProfile& p = e.profile;
    const int64_t at = p.timer_ms();
    if (at == 0 || at > upto) return;
    Untrack(*it);
    p.set_timer_ms(0);
    MarkDirty(*it);
    if (at >= p.last_seen_ms() + rules_.expire_after_ms) {
      // Unseen for the expiry time: forgotten, its tags with it (no change
      // events: the user is gone, not re-segmented).
      for (const FlagTag& tag : kFlagTags) {
        if ((p.*tag.get)()) Count(std::string(tag.name), -1);
      }
      Count(TierCountName(p.tag_tier()), -1);
      p.Clear();
      e.gone = true;  // deleted from state at the next checkpoint
      --users_;
      return;
    }
    Evaluate(*it, std::max(at, p.evaluated_ms()), "time passed");
  }
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
  attributed_ = totals.attributed();
  unattributed_ = totals.unattributed();
  counts_.clear();
  for (const auto& [tag, n] : totals.tag_counts()) counts_[tag] = n;
  return absl::OkStatus();
}

namespace {
constexpr size_t kSnapshotPrefetch = 8;
}  // namespace

void UserProfileOperator::Snapshot(StateWriter& out) {
  // A new snapshot comes only after the previous one is durable (the
  // runtime waits for it); a caller that commits synchronously may not say so.
  if (commit_pending_) OnCheckpointCommitted();
  // No sorting here: the state writer puts the writes in key order on the
  // committing thread; this runs while the pipeline waits.
  std::string key;
  const auto write_timer = [&](int64_t at, const std::string& user, bool put) {
    key.clear();
    AppendBigEndian64(&key, at);
    key.append(user);
    if (put) {
      out.Put(kTimersTable, key, "");
    } else {
      out.Delete(kTimersTable, key);
    }
  };
  for (size_t i = 0; i < dirty_.size(); ++i) {
    // The changed profiles are scattered over the cache: fetch the ones a
    // few places ahead while this one is written.
    if (i + kSnapshotPrefetch < dirty_.size()) {
      const char* ahead = reinterpret_cast<const char*>(dirty_[i + kSnapshotPrefetch]);
      for (size_t line = 0; line < sizeof(Cache::value_type); line += 64) {
        __builtin_prefetch(ahead + line);
      }
    }
    Cache::value_type* node = dirty_[i];
    const std::string& user = node->first;
    Entry& e = node->second;
    const int64_t timer = e.gone ? 0 : e.profile.timer_ms();
    if (timer != e.stored_timer_ms) {
      // A delete and a put never share a key (the times differ).
      if (e.stored_timer_ms != 0) write_timer(e.stored_timer_ms, user, false);
      if (timer != 0) {
        write_timer(timer, user, true);
        if (state_ != nullptr) next_stored_timer_ = std::min(next_stored_timer_, timer);
      }
    }
    if (e.gone) {
      if (e.stored) out.Delete(kTable, user);
      e.stored = false;
      e.stored_timer_ms = 0;
      e.dirty = false;
      written_gone_.push_back(node);  // forgotten once the delete is durable
      continue;
    }
    buffer_.clear();
    e.profile.SerializeToString(&buffer_);
    out.Put(kTable, user, buffer_);
    e.stored = true;
    e.stored_timer_ms = timer;
    e.dirty = false;
    if (timer != 0 && e.timer_in_memory) written_timers_.push_back(node);
  }
  commit_pending_ = true;
  dirty_.clear();
  v1::ProfileTotals totals;
  totals.set_users(users_);
  totals.set_attributed(attributed_);
  totals.set_unattributed(unattributed_);
  for (const auto& [tag, n] : counts_) (*totals.mutable_tag_counts())[tag] = n;
  out.Put(kTotalsTable, kTotalsKey, totals.SerializeAsString());
}

}  // namespace promowatch
