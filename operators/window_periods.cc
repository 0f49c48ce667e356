// A planned campaign's period rows (window_operator.h; plan.h): the
// window operator's panes folded into a running total from the period's
// start, as the cumulative day folds them from midnight.

#include <algorithm>

#include "operators/time_util.h"
#include "operators/window_operator.h"

namespace promowatch {

WindowOperator::PeriodShare WindowOperator::PeriodShareOf(KeyId key, int64_t pane_start) const {
  const int period = keys_[key].period;
  if (period < 0) return PeriodShare::kNone;
  const CampaignPeriod& p = options_.periods[static_cast<size_t>(period)];
  if (pane_start < p.start_ms) return PeriodShare::kNone;
  if (pane_start < p.end_ms) return PeriodShare::kAll;
  if (pane_start < p.end_ms + p.tail_ms) return PeriodShare::kRepurchases;
  return PeriodShare::kNone;
}

WindowOperator::Aggregate& WindowOperator::PeriodFor(KeyId key) {
  const CampaignPeriod& p = options_.periods[static_cast<size_t>(keys_[key].period)];
  const int64_t start = PaneOf(p.start_ms);
  auto [it, inserted] = periods_.try_emplace(Slot(start, key));
  if (inserted) period_keys_[start].push_back(key);
  return it->second;
}

void WindowOperator::AddCredits(const EventRecord& e, int64_t pane, bool correction) {
  for (const EventRecord::CohortCredit& c : e.cohort_credits) {
    const KeyId keys[3] = {InternKey(c.campaign_id, c.channel),
                           InternKey(c.campaign_id, kRollupKey), 0};
    for (KeyId k : keys) {
      Aggregate& a = PaneFor(pane, k);
      ++a.counters.dormant_repurchased;
      a.dirty = true;
      if (!correction) continue;
      corrections_.insert(Slot(pane, k));
      if (options_.cumulative) {
        Aggregate& d = DayFor(DayOf(pane * kMinuteMs, options_.day_utc_offset_ms), k);
        ++d.counters.dormant_repurchased;
        d.dirty = true;
      }
      if (PeriodShareOf(k, pane * kMinuteMs) != PeriodShare::kNone) {
        Aggregate& p = PeriodFor(k);
        ++p.counters.dormant_repurchased;
        p.dirty = true;
      }
    }
  }
}

void WindowOperator::AddLateToPeriod(const EventRecord& e, KeyId key, int64_t pane) {
  if (PeriodShareOf(key, pane * kMinuteMs) != PeriodShare::kAll) return;
  Aggregate& p = PeriodFor(key);
  p.counters.Update(e);
  AddUsers(p, e);
  p.dirty = true;
}

void WindowOperator::FoldPeriods(int64_t boundary, const std::vector<KeyId>& sorted_keys) {
  if (options_.periods.empty()) return;
  const int64_t pane = boundary - 1;
  for (KeyId k : sorted_keys) {
    const PeriodShare share = PeriodShareOf(k, pane * kMinuteMs);
    if (share == PeriodShare::kNone) continue;
    Aggregate& from = panes_.at(Slot(pane, k));
    Aggregate& p = PeriodFor(k);
    if (share == PeriodShare::kAll) {
      p.counters.Combine(from.counters);
      p.users.MergeSorted(from.users.Sorted());
      p.buyers.MergeSorted(from.buyers.Sorted());
    } else {
      if (from.counters.dormant_repurchased == 0) continue;
      p.counters.dormant_repurchased += from.counters.dormant_repurchased;
    }
    p.dirty = true;
    Aggregate* total = &p;
    const CampaignPeriod& period = options_.periods[static_cast<size_t>(keys_[k].period)];
    Emit(kPeriodWindow, period.start_ms, boundary * kMinuteMs, k, p.counters,
         DistinctOf({&total, 1}), 0);
  }
}

void WindowOperator::EmitPartialPeriodUpdates(const std::vector<uint64_t>& corrected_slots) {
  // As EmitPartialDayUpdates: the merger's copy of a period total that a
  // late record changed must not stay behind.
  std::vector<KeyId> keys;
  for (uint64_t slot : corrected_slots) {
    const auto key = static_cast<KeyId>(slot & 0xffffffffu);
    if (PeriodShareOf(key, static_cast<int64_t>(slot >> 32) * kMinuteMs) != PeriodShare::kNone)
      keys.push_back(key);
  }
  SortByKey(&keys);
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  for (KeyId k : keys) {
    Aggregate* total = &PeriodFor(k);
    const CampaignPeriod& period = options_.periods[static_cast<size_t>(keys_[k].period)];
    Emit(kPeriodWindow, period.start_ms, last_fired_ * kMinuteMs, k, total->counters,
         DistinctOf({&total, 1}), kPartialUpdate);
  }
}

void WindowOperator::ExpirePeriods(int64_t watermark_ms) {
  // A period total is done once its tail is fired and no late record can
  // reach it.
  for (auto it = period_keys_.begin(); it != period_keys_.end();) {
    std::vector<KeyId>& keys = it->second;
    const auto done = [&](KeyId k) {
      const CampaignPeriod& p = options_.periods[static_cast<size_t>(keys_[k].period)];
      const int64_t last = p.end_ms + p.tail_ms;
      if (last > last_fired_ * kMinuteMs || last + lateness_ms_ > watermark_ms) return false;
      std::string key;
      AppendBigEndian64(&key, it->first);
      key.append(keys_[k].encoded);
      expired_periods_.push_back(std::move(key));
      periods_.erase(Slot(it->first, k));
      return true;
    };
    keys.erase(std::remove_if(keys.begin(), keys.end(), done), keys.end());
    it = keys.empty() ? period_keys_.erase(it) : std::next(it);
  }
}

void WindowOperator::SnapshotPeriods(StateWriter& out) {
  for (const std::string& key : expired_periods_) {
    out.Delete(kPeriodsTable, key);
    for (std::string_view table : {kPeriodUsersTable, kPeriodBuyersTable}) {
      out.DeleteRange(table, key + '\0', key + '\1');
    }
  }
  expired_periods_.clear();
  static constexpr std::string_view kSets[2] = {kPeriodUsersTable, kPeriodBuyersTable};
  int64_t never = INT64_MIN;
  SnapshotTable(out, kPeriodsTable, kSets, periods_, INT64_MIN, &never);
}

}  // namespace promowatch
