// The profile step's timers (user_profiles.h): when a tag may next change
// with no event, the buckets of the users in memory (profile_timers.h), and
// the runs of checkpointed timers in table profile_timers for users not in
// memory (state.proto's ProfileTimerRun).

#include <algorithm>
#include <limits>
#include <map>

#include "operators/state.h"
#include "operators/time_util.h"
#include "operators/user_profiles.h"

namespace promowatch {
// The earliest time after `t` at which a tag may change with no event.
int64_t UserProfileOperator::NextTimer(const ProfileRecord& p, int64_t t) const {
  int64_t next = ProfileTimers::kNever;
  auto consider = [&](int64_t at) {
    if (at > t) next = std::min(next, at);
  };
  if (p.flag(0)) consider(p.first_seen_ms + rules_.new_for_ms);
  if (p.last_paid_ms() > 0) {
    consider(p.last_paid_ms() + rules_.dormant_after_ms);
    for (int64_t d : rules_.rfm_recency_days) consider(p.last_paid_ms() + d * kDayMs);
  }
  // A day leaves the 30- or 365-day window at the start of day + N.
  if (p.purchases) {
    const auto today = static_cast<int32_t>(DayOf(t, /*utc_offset_ms=*/0));
    for (const ProfileDay& d : p.purchases->days) {
      if (d.day > today - rules_.active_days)
        consider(static_cast<int64_t>(d.day + rules_.active_days) * kDayMs);
      consider(static_cast<int64_t>(d.day + kHighValueDays) * kDayMs);
    }
  }
  consider(p.last_seen_ms + rules_.expire_after_ms);
  return next == ProfileTimers::kNever ? 0 : next;
}

void UserProfileOperator::SetTimer(uint32_t handle, int64_t at) {
  ProfileRecord& p = store_.at(handle);
  if (p.timer_ms == at) return;
  p.timer_ms = at;  // (an entry for the old time is stale now)
  if (at != 0) timers_.Add(at, handle);
}

void UserProfileOperator::FireTimers(int64_t upto) {
  fired_upto_ = std::max(fired_upto_, upto);
  PullStoredTimers(upto);
  if (timers_.earliest() > upto) return;
  due_.clear();
  timers_.Take(upto, &due_);
  // Live entries only (the record's timer is in a bucket taken), once
  // each, in (time, user id) order.
  const int64_t last_minute = ProfileTimers::Minute(upto);
  size_t live = 0;
  for (uint32_t h : due_) {
    const ProfileRecord& r = store_.at(h);
    if (!r.in_use || r.gone || r.timer_ms == 0 || ProfileTimers::Minute(r.timer_ms) > last_minute)
      continue;
    due_[live++] = h;
  }
  due_.resize(live);
  std::sort(due_.begin(), due_.end(), [&](uint32_t a, uint32_t b) {
    const ProfileRecord& x = store_.at(a);
    const ProfileRecord& y = store_.at(b);
    if (x.timer_ms != y.timer_ms) return x.timer_ms < y.timer_ms;
    if (x.user_id != y.user_id) return x.user_id < y.user_id;
    return a < b;
  });
  due_.erase(std::unique(due_.begin(), due_.end()), due_.end());
  for (uint32_t h : due_) {
    if (store_.at(h).timer_ms <= upto) {
      FireDue(h, upto);
    } else {
      timers_.Add(store_.at(h).timer_ms, h);  // later in upto's minute
    }
  }
}

void UserProfileOperator::FireDue(uint32_t handle, int64_t upto) {
  snapshot_.BeforeChange(handle);
  while (true) {
    ProfileRecord& p = store_.at(handle);
    if (!p.in_use || p.gone) return;
    const int64_t at = p.timer_ms;
    if (at == 0 || at > upto) return;
    p.timer_ms = 0;
    MarkDirty(handle);
    p.referenced = true;
    if (at >= p.last_seen_ms + rules_.expire_after_ms) {
      // Unseen for the expiry time: forgotten, its tags with it (no change
      // events: the user is gone, not re-segmented).
      for (size_t i = 0; i < std::size(kFlagTags); ++i) {
        if (p.flag(static_cast<int>(i))) Count(std::string(kFlagTags[i].name), -1);
      }
      Count(TierCountName(TierName(p.tier)), -1);
      store_.HeapChanged(p.heap_bytes(), 0);
      p.ClearProfile();
      p.gone = true;  // deleted from state at the next checkpoint
      --users_;
      return;
    }
    const size_t heap_before = p.heap_bytes();
    Evaluate(handle, std::max(at, p.evaluated_ms), "time passed");
    store_.HeapChanged(heap_before, p.heap_bytes());
  }
}

void UserProfileOperator::PullStoredTimers(int64_t upto) {
  if (state_ == nullptr || next_stored_timer_ > upto) return;
  const int64_t minute = ProfileTimers::Minute(upto);
  std::vector<std::string> due;
  MinuteTimers& now = minute_timers_;
  if (!now.valid || now.minute != minute) {
    // Every run from the first minute not read yet through upto's minute:
    // earlier minutes' timers are all due; upto's are kept in order.
    now = MinuteTimers{true, minute, {}, 0, ProfileTimers::kNever};
    const int64_t minute_end = (minute + 1) * 60'000;
    std::string begin;
    AppendBigEndian64(&begin, scan_from_ms_);
    v1::ProfileTimerRun run;
    const auto take = [&](int64_t at, std::string_view user) {
      if (ProfileTimers::Minute(at) < minute) {
        if (store_.Find(user) == ProfileStore::kNone) due.emplace_back(user);
      } else {
        now.due.emplace_back(at, user);
      }
    };
    const absl::Status s =
        state_->ScanFrom(kTimersTable, begin, [&](std::string_view key, std::string_view value) {
          if (key.size() < 8) return true;
          const int64_t first = ReadBigEndian64(key.substr(0, 8));
          if (first >= minute_end) {
            now.beyond = first;
            return false;
          }
          if (value.empty()) {  // (one timer: state written before runs)
            take(first, key.substr(8));
          } else if (run.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
            for (int i = 0; i < run.due_ms_size() && i < run.user_id_size(); ++i)
              take(run.due_ms(i), run.user_id(i));
          } else if (status_.ok()) {
            status_ = absl::DataLossError("profile_timers: undecodable run");
          }
          return true;
        });
    if (!s.ok()) {
      if (status_.ok()) status_ = s;
      now.valid = false;
      return;
    }
    std::sort(now.due.begin(), now.due.end());
    scan_from_ms_ = minute * 60'000;
  }
  for (; now.next < now.due.size() && now.due[now.next].first <= upto; ++now.next) {
    const std::string& user = now.due[now.next].second;
    if (store_.Find(user) == ProfileStore::kNone) due.push_back(user);
  }
  next_stored_timer_ = now.next < now.due.size() ? now.due[now.next].first : now.beyond;
  std::sort(due.begin(), due.end());
  due.erase(std::unique(due.begin(), due.end()), due.end());
  std::vector<std::string_view> users(due.begin(), due.end());
  LoadAll(users);  // (their timers go to timers_)
}

void UserProfileOperator::DeletePassedTimerRuns(StateWriter& out) {
  // Runs of minutes before the watermark's: every timer in them fired or
  // was pulled (or is stale).
  const int64_t below = ProfileTimers::Minute(fired_upto_) * 60'000;
  if (below > deleted_below_ms_) {
    std::string end;
    AppendBigEndian64(&end, below);
    out.DeleteRange(kTimersTable, std::string_view(), end);
    deleted_below_ms_ = below;
  }
}

}  // namespace promowatch
