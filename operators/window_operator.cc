#include "operators/window_operator.h"

#include <algorithm>
#include <array>
#include <iterator>

#include "operators/counter_reflection.h"
#include "operators/time_util.h"
#include "promowatch/v1/state.pb.h"

namespace promowatch {
namespace {
OperatorOptions Normalized(OperatorOptions o) {
  std::sort(o.window_minutes.begin(), o.window_minutes.end());
  o.window_minutes.erase(std::unique(o.window_minutes.begin(), o.window_minutes.end()),
                         o.window_minutes.end());
  return o;
}
}  // namespace

WindowOperator::WindowOperator(OperatorOptions options, WindowResultSink* sink)
    : options_(Normalized(std::move(options))),
      max_minutes_(options_.max_window_minutes()),
      lateness_ms_(options_.effective_lateness_ms()),
      sink_(sink) {
  InternKey(kRollupKey, kRollupKey);  // id 0 is ("*", "*")
}

namespace {
// The chunks of each aggregate's user sets: all users, then buyers.
constexpr std::string_view kPaneSetTables[2] = {WindowOperator::kPaneUsersTable,
                                                WindowOperator::kPaneBuyersTable};
constexpr std::string_view kDaySetTables[2] = {WindowOperator::kDayUsersTable,
                                               WindowOperator::kDayBuyersTable};
}  // namespace

std::vector<std::string> WindowOperator::StateTables() const {
  return {std::string(kPanesTable),        std::string(kPaneUsersTable),
          std::string(kPaneBuyersTable),   std::string(kDaysTable),
          std::string(kDayUsersTable),     std::string(kDayBuyersTable),
          std::string(kPeriodsTable),      std::string(kPeriodUsersTable),
          std::string(kPeriodBuyersTable), std::string(kMetaTable)};
}

WindowOperator::Aggregate& WindowOperator::PaneFor(int64_t pane, KeyId key) {
  auto [it, inserted] = panes_.try_emplace(Slot(pane, key));
  if (inserted) pane_keys_[pane].push_back(key);
  return it->second;
}

WindowOperator::Aggregate& WindowOperator::DayFor(int64_t day, KeyId key) {
  auto [it, inserted] = days_.try_emplace(Slot(day, key));
  if (inserted) day_keys_[day].push_back(key);
  return it->second;
}

void WindowOperator::ProcessBatch(std::span<const EventRecord* const> events) {
  for (const EventRecord* e : events) Add(*e);
  CompactClosingPanes();
}

namespace {
// Hashes sorted ahead per batch (a few ms), beyond the first set.
constexpr size_t kCompactAheadPerBatch = size_t{1} << 18;
}  // namespace

void WindowOperator::CompactClosingPanes() {
  size_t budget = kCompactAheadPerBatch;
  bool compacted_one = false;
  while (true) {
    // Panes before last_fired_ are closed: their 1m windows were emitted.
    if (compacting_pane_ == INT64_MIN || compacting_pane_ < last_fired_) {
      auto first =
          last_fired_ == INT64_MIN ? pane_keys_.begin() : pane_keys_.lower_bound(last_fired_);
      if (first == pane_keys_.end()) return;
      compacting_pane_ = first->first;
      compacting_next_ = 0;
    }
    if (compacting_pane_ >= newest_pane_) return;  // still open
    auto it = pane_keys_.find(compacting_pane_);
    if (it != pane_keys_.end()) {
      const std::vector<KeyId>& keys = it->second;
      for (; compacting_next_ < keys.size(); ++compacting_next_) {
        UserSet& users = panes_.at(Slot(compacting_pane_, keys[compacting_next_])).users;
        const size_t work = users.unsorted();
        if (compacted_one && work > budget) return;  // the next batch goes on from here
        (void)users.Sorted();
        budget -= std::min(work, budget);
        compacted_one = true;
      }
    }
    // Each pane once: stragglers arriving later are merged at the boundary.
    auto next = pane_keys_.upper_bound(compacting_pane_);
    if (next == pane_keys_.end()) {
      compacting_pane_ = newest_pane_;
      compacting_next_ = 0;
      return;
    }
    compacting_pane_ = next->first;
    compacting_next_ = 0;
  }
}

void WindowOperator::Add(const EventRecord& e) {
  const int64_t pane = PaneOf(e.event_time_ms);
  newest_pane_ = std::max(newest_pane_, pane);
  // Only possible under LatePolicy::kCorrect: admission lets a record into a
  // pane whose windows were already emitted. They are emitted again, and the
  // day total (which already folded this pane in) is updated directly.
  const bool correction = last_fired_ != INT64_MIN && pane + 1 <= last_fired_;
  KeyRow& row = RowOf(e.campaign_id, e.channel);
  KeyId keys[6] = {row.all[0], row.all[1], 0};
  size_t n = 3;
  if (e.segment != Segment::kNone && options_.segments()) {
    KeyId(&by)[3] = row.by_segment[static_cast<size_t>(e.segment)];
    if (by[0] == kNoKey) {
      by[0] = InternKey(e.campaign_id, e.channel, e.segment);
      by[1] = InternKey(e.campaign_id, kRollupKey, e.segment);
      by[2] = InternKey(kRollupKey, kRollupKey, e.segment);
    }
    std::copy(std::begin(by), std::end(by), keys + n);
    n += 3;
  }
  for (KeyId k : std::span<const KeyId>(keys, n)) {
    Aggregate& p = PaneFor(pane, k);
    p.counters.Update(e);
    AddUsers(p, e);
    p.dirty = true;
    if (correction) {
      corrections_.insert(Slot(pane, k));
      if (options_.cumulative && Emits(k, 0)) {
        Aggregate& d = DayFor(DayOf(e.event_time_ms, options_.day_utc_offset_ms), k);
        d.counters.Update(e);
        AddUsers(d, e);
        d.dirty = true;
      }
      AddLateToPeriod(e, k, pane);
    }
  }
  if (!e.cohort_credits.empty()) AddCredits(e, pane, correction);
}

int64_t WindowOperator::NextBoundary() const {
  // The first boundary after last_fired_ whose windows hold at least one pane:
  // boundary e covers panes [e - max_minutes_, e - 1].
  const int64_t first = last_fired_ == INT64_MIN ? INT64_MIN : last_fired_ + 1;
  auto it = first == INT64_MIN ? pane_keys_.begin() : pane_keys_.lower_bound(first - max_minutes_);
  if (it == pane_keys_.end()) return INT64_MAX;
  return std::max(first, it->first + 1);
}

void WindowOperator::OnWatermark(int64_t watermark_ms) {
  if (watermark_ms == kNoWatermark || watermark_ms < watermark_ms_) return;
  watermark_ms_ = watermark_ms;
  EmitCorrections();
  const int64_t fire_upto = FloorDiv(watermark_ms, kMinuteMs);
  for (int64_t e = NextBoundary(); e <= fire_upto; e = NextBoundary()) {
    FireBoundary(e);
    last_fired_ = e;
  }
  if (last_fired_ == INT64_MIN || fire_upto > last_fired_) last_fired_ = fire_upto;
  Expire(watermark_ms);
}

void WindowOperator::OnEndOfInput() {
  EmitCorrections();
  for (int64_t e = NextBoundary(); e != INT64_MAX; e = NextBoundary()) {
    FireBoundary(e);
    last_fired_ = e;
  }
}

void WindowOperator::SortByKey(std::vector<KeyId>* keys) const {
  std::sort(keys->begin(), keys->end(),
            [this](KeyId a, KeyId b) { return keys_[a].encoded < keys_[b].encoded; });
}

void WindowOperator::FireBoundary(int64_t boundary) {
  std::vector<KeyId> keys;
  for (int minutes : options_.window_minutes) {
    keys.clear();
    for (auto it = pane_keys_.lower_bound(boundary - minutes);
         it != pane_keys_.end() && it->first < boundary; ++it) {
      keys.insert(keys.end(), it->second.begin(), it->second.end());
    }
    SortByKey(&keys);
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    for (KeyId k : keys) {
      if (Emits(k, minutes)) EmitWindow(minutes, boundary, k, 0);
    }
  }
  auto it = pane_keys_.find(boundary - 1);
  if (it == pane_keys_.end()) return;
  keys = it->second;
  SortByKey(&keys);
  if (options_.cumulative) {
    const int64_t pane_start = (boundary - 1) * kMinuteMs;
    const int64_t day = DayOf(pane_start, options_.day_utc_offset_ms);
    for (KeyId k : keys) {
      if (!Emits(k, 0)) continue;
      Aggregate& p = panes_.at(Slot(boundary - 1, k));
      Aggregate& d = DayFor(day, k);
      d.counters.Combine(p.counters);
      d.users.MergeSorted(p.users.Sorted());
      d.buyers.MergeSorted(p.buyers.Sorted());
      d.dirty = true;
      Aggregate* day_total = &d;
      Emit(kCumulativeWindow, DayStartMs(day, options_.day_utc_offset_ms), boundary * kMinuteMs, k,
           d.counters, DistinctOf({&day_total, 1}), 0);
    }
  }
  FoldPeriods(boundary, keys);  // (after the day: the merger's order, partial_merge.cc)
}

void WindowOperator::EmitWindow(int minutes, int64_t boundary, KeyId key, int32_t revision) {
  Counters sum;
  scratch_aggs_.clear();
  for (int64_t pane = boundary - minutes; pane < boundary; ++pane) {
    auto it = panes_.find(Slot(pane, key));
    if (it == panes_.end()) continue;
    sum.Combine(it->second.counters);
    scratch_aggs_.push_back(&it->second);
  }
  Emit(WindowName(minutes), (boundary - minutes) * kMinuteMs, boundary * kMinuteMs, key, sum,
       DistinctOf(scratch_aggs_), revision);
}

DistinctUsers WindowOperator::DistinctOf(std::span<Aggregate* const> aggs) {
  DistinctUsers d;
  if (aggs.size() == 1) {
    d.uv = static_cast<int64_t>(aggs[0]->users.CountDistinct());
    d.buyers = static_cast<int64_t>(aggs[0]->buyers.CountDistinct());
    return d;
  }
  scratch_sets_.clear();
  for (Aggregate* a : aggs) scratch_sets_.push_back(a->users.Sorted());
  d.uv = static_cast<int64_t>(CountDistinctUnion(scratch_sets_, &scratch_users_, &scratch_users2_));
  if (options_.count_new_customers) {
    scratch_sets_.clear();
    for (Aggregate* a : aggs) scratch_sets_.push_back(a->buyers.Sorted());
    d.buyers =
        static_cast<int64_t>(CountDistinctUnion(scratch_sets_, &scratch_users_, &scratch_users2_));
  }
  return d;
}

void FillWindowResult(std::string_view window, int64_t start_ms, int64_t end_ms,
                      std::string_view campaign, std::string_view channel, std::string_view segment,
                      const Counters& c, DistinctUsers users, int32_t revision,
                      bool count_new_customers, v1::WindowResult* r) {
  r->Clear();
  r->set_window(std::string(window));
  r->set_window_start_ms(start_ms);
  r->set_window_end_ms(end_ms);
  r->set_campaign_id(std::string(campaign));
  r->set_channel(std::string(channel));
  if (!segment.empty()) r->set_segment(std::string(segment));
  const auto& fields = CounterDescriptors<v1::WindowResult>();
  const auto* reflection = r->GetReflection();
  for (size_t i = 0; i < fields.size(); ++i) {
    if (kCounterFields[i].profiles_only && !count_new_customers) continue;
    reflection->SetInt64(r, fields[i], c.*kCounterFields[i].member);
  }
  const auto& ratios = RatioDescriptors<v1::WindowResult>();
  for (size_t i = 0; i < ratios.size(); ++i) {
    const RatioField& f = kRatioFields[i];
    if (!f.in_results || (f.profiles_only && !count_new_customers)) continue;
    if (auto v = RatioOf(f, c.*f.numerator, c.*f.denominator)) {
      reflection->SetDouble(r, ratios[i], *v);
    }
  }
  r->set_uv(users.uv);
  r->set_revision(revision);
  if (count_new_customers) {
    r->set_buyers(users.buyers);
    if (auto share = Counters::Ratio(c.new_customer_orders, users.buyers))
      r->set_new_buyer_share(*share);
  }
}

void WindowOperator::Emit(std::string_view window, int64_t start_ms, int64_t end_ms, KeyId key,
                          const Counters& c, DistinctUsers users, int32_t revision) {
  const Key& k = keys_[key];
  FillWindowResult(window, start_ms, end_ms, k.campaign, k.channel,
                   k.segment == Segment::kNone ? "" : NameOf(kSegmentNames, k.segment), c, users,
                   revision, options_.count_new_customers, &result_);
  if (revision > 0) {
    ++emitted_.corrections_emitted;
  } else if (revision == 0) {
    ++emitted_.windows_emitted;
  }
  sink_->Emit(result_);
}

void WindowOperator::EmitCorrections() {
  if (corrections_.empty()) return;
  // Every already-emitted window containing a corrected pane, once each.
  std::vector<std::tuple<int, int64_t, KeyId>> windows;
  for (uint64_t slot : corrections_) {
    const int64_t pane = static_cast<int64_t>(slot >> 32);
    const KeyId key = static_cast<KeyId>(slot & 0xffffffffu);
    for (int minutes : options_.window_minutes) {
      if (!Emits(key, minutes)) continue;
      for (int64_t e = pane + 1; e <= pane + minutes && e <= last_fired_; ++e) {
        windows.emplace_back(minutes, e, key);
      }
    }
  }
  std::vector<std::pair<int64_t, KeyId>> days;
  std::vector<uint64_t> corrected;
  if (options_.emit_partial_updates && !options_.periods.empty()) {
    corrected.assign(corrections_.begin(), corrections_.end());
  }
  if (options_.emit_partial_updates && options_.cumulative) {
    for (uint64_t slot : corrections_) {
      const int64_t pane_start = static_cast<int64_t>(slot >> 32) * kMinuteMs;
      days.emplace_back(DayOf(pane_start, options_.day_utc_offset_ms),
                        static_cast<KeyId>(slot & 0xffffffffu));
    }
  }
  corrections_.clear();
  std::sort(windows.begin(), windows.end(), [this](const auto& a, const auto& b) {
    if (std::get<1>(a) != std::get<1>(b)) return std::get<1>(a) < std::get<1>(b);
    if (std::get<0>(a) != std::get<0>(b)) return std::get<0>(a) < std::get<0>(b);
    return keys_[std::get<2>(a)].encoded < keys_[std::get<2>(b)].encoded;
  });
  windows.erase(std::unique(windows.begin(), windows.end()), windows.end());
  for (const auto& w : windows) {
    EmitWindow(std::get<0>(w), std::get<1>(w), std::get<2>(w), ++revisions_[w]);
  }
  EmitPartialDayUpdates(std::move(days));
  EmitPartialPeriodUpdates(corrected);
}

void WindowOperator::EmitPartialDayUpdates(std::vector<std::pair<int64_t, KeyId>> days) {
  // The day totals late records changed (Add folds them in directly): the
  // merger's copy of this task's total must not stay behind, since this
  // task may not emit the key's day again before the day ends.
  std::sort(days.begin(), days.end());
  days.erase(std::unique(days.begin(), days.end()), days.end());
  for (const auto& [day, key] : days) {
    auto it = days_.find(Slot(day, key));
    if (it == days_.end()) continue;
    Aggregate* day_total = &it->second;
    Emit(kCumulativeWindow, DayStartMs(day, options_.day_utc_offset_ms), last_fired_ * kMinuteMs,
         key, it->second.counters, DistinctOf({&day_total, 1}), kPartialUpdate);
  }
}

void WindowOperator::Expire(int64_t watermark_ms) {
  // A pane is needed while a window containing it is unfired, or while a late
  // record could still correct a window containing it.
  while (!pane_keys_.empty()) {
    auto it = pane_keys_.begin();
    const int64_t pane = it->first;
    if (pane + max_minutes_ > last_fired_ ||
        (pane + max_minutes_) * kMinuteMs + lateness_ms_ > watermark_ms) {
      break;
    }
    for (KeyId k : it->second) panes_.erase(Slot(pane, k));
    pane_keys_.erase(it);
    panes_expired_below_ = pane + 1;
  }
  if (options_.cumulative && last_fired_ != INT64_MIN) {
    while (!day_keys_.empty()) {
      auto it = day_keys_.begin();
      const int64_t day_end = DayStartMs(it->first + 1, options_.day_utc_offset_ms);
      if (day_end > last_fired_ * kMinuteMs || day_end + lateness_ms_ > watermark_ms) break;
      for (KeyId k : it->second) days_.erase(Slot(it->first, k));
      days_expired_below_ = it->first + 1;
      day_keys_.erase(it);
    }
  }
  if (last_fired_ != INT64_MIN) ExpirePeriods(watermark_ms);
  if (!revisions_.empty()) {
    absl::erase_if(revisions_, [&](const auto& kv) {
      return std::get<1>(kv.first) * kMinuteMs + lateness_ms_ <= watermark_ms;
    });
  }
}

void WindowOperator::SnapshotTable(StateWriter& out, std::string_view table,
                                   const std::string_view (&users_tables)[2],
                                   absl::node_hash_map<uint64_t, Aggregate>& aggs,
                                   int64_t delete_below, int64_t* deleted_below) {
  std::string key;
  std::string& value = snapshot_value_;
  if (delete_below > *deleted_below) {
    std::string begin, end;
    AppendBigEndian64(&begin, INT64_MIN);
    AppendBigEndian64(&end, delete_below);
    out.DeleteRange(table, begin, end);
    for (std::string_view users_table : users_tables) out.DeleteRange(users_table, begin, end);
    *deleted_below = delete_below;
  }
  v1::AggregateState state;
  for (auto& [slot, agg] : aggs) {
    if (!agg.dirty) continue;
    key.clear();
    AppendBigEndian64(&key, static_cast<int64_t>(slot >> 32));
    key.append(keys_[slot & 0xffffffffu].encoded);
    // New hashes of each set: one more chunk (key: the aggregate's, '\0', chunk number).
    const auto save = [&](UserSet& set, uint32_t& chunks, std::string_view users_table) {
      value.clear();
      set.TakeFresh([&value](std::span<const uint64_t> part) {
        AppendHashes(&value, part.data(), part.size());
      });
      if (value.empty()) return;
      const size_t base = key.size();
      key.push_back('\0');
      AppendBigEndian32(&key, chunks++);
      out.Put(users_table, key, value);
      key.resize(base);
    };
    save(agg.users, agg.user_chunks, users_tables[0]);
    save(agg.buyers, agg.buyer_chunks, users_tables[1]);
    state.Clear();
    CountersToMessage(agg.counters, &state);
    state.set_user_chunks(agg.user_chunks);
    state.set_buyer_chunks(agg.buyer_chunks);
    state.SerializeToString(&value);
    out.Put(table, key, value);
    agg.dirty = false;
  }
}

void WindowOperator::Snapshot(StateWriter& out) {
  SnapshotTable(out, kPanesTable, kPaneSetTables, panes_, panes_expired_below_,
                &panes_deleted_below_);
  SnapshotTable(out, kDaysTable, kDaySetTables, days_, days_expired_below_, &days_deleted_below_);
  SnapshotPeriods(out);
  v1::OperatorMeta meta;
  meta.set_watermark_ms(watermark_ms_);
  meta.set_last_fired_minute(last_fired_);
  out.Put(kMetaTable, "windows", meta.SerializeAsString());
}

absl::Status WindowOperator::RestoreTable(const StateReader& in, std::string_view table,
                                          const std::string_view (&users_tables)[2],
                                          absl::node_hash_map<uint64_t, Aggregate>& aggs,
                                          std::map<int64_t, std::vector<KeyId>>& index) {
  aggs.clear();
  index.clear();
  absl::Status s = in.Scan(table, [&](std::string_view key, std::string_view value) {
    if (key.size() < 9) return absl::DataLossError(std::string(table) + ": malformed key");
    const int64_t at = ReadBigEndian64(key.substr(0, 8));
    const std::string_view encoded = key.substr(8);
    const size_t sep = encoded.find('\0');
    if (sep == std::string_view::npos) {
      return absl::DataLossError(std::string(table) + ": key without channel");
    }
    std::string_view channel = encoded.substr(sep + 1);
    Segment segment = Segment::kNone;
    if (const size_t seg = channel.find('\0'); seg != std::string_view::npos) {
      const auto named = FromName(kSegmentNames, channel.substr(seg + 1));
      if (!named) return absl::DataLossError(std::string(table) + ": unknown segment");
      segment = *named;
      channel = channel.substr(0, seg);
    }
    const KeyId k = InternKey(encoded.substr(0, sep), channel, segment);
    v1::AggregateState state;
    if (!state.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      return absl::DataLossError(std::string(table) + ": undecodable aggregate");
    }
    auto [it, inserted] = aggs.try_emplace(Slot(at, k));
    if (inserted) index[at].push_back(k);
    it->second.counters = CountersFromMessage(state);
    it->second.user_chunks = state.user_chunks();
    it->second.buyer_chunks = state.buyer_chunks();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  // A set's chunks are adjacent in key order: collected, then handed over at once.
  std::vector<uint64_t> collected;
  for (int set = 0; set < 2; ++set) {
    const std::string_view users_table = users_tables[set];
    UserSet Aggregate::*const member = set == 0 ? &Aggregate::users : &Aggregate::buyers;
    Aggregate* collecting = nullptr;
    const auto finish = [&] {
      if (collecting != nullptr) (collecting->*member).RestoreSaved(&collected);
      collected.clear();
    };
    s = in.Scan(users_table, [&](std::string_view key, std::string_view value) {
      if (key.size() < 8 + 1 + 1 + 4) {
        return absl::DataLossError(std::string(users_table) + ": malformed key");
      }
      const int64_t at = ReadBigEndian64(key.substr(0, 8));
      const std::string_view encoded = key.substr(8, key.size() - 8 - 5);
      auto id = key_ids_.find(absl::string_view(encoded.data(), encoded.size()));
      if (id == key_ids_.end()) {
        return absl::DataLossError(std::string(users_table) + ": users of an unknown key");
      }
      auto it = aggs.find(Slot(at, id->second));
      if (it == aggs.end()) {
        return absl::DataLossError(std::string(users_table) + ": users of an unknown aggregate");
      }
      if (&it->second != collecting) {
        finish();
        collecting = &it->second;
      }
      ForEachHash(value, [&](uint64_t h) { collected.push_back(h); });
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    finish();
  }
  return absl::OkStatus();
}

absl::Status WindowOperator::Restore(const StateReader& in) {
  absl::Status s = RestoreTable(in, kPanesTable, kPaneSetTables, panes_, pane_keys_);
  if (!s.ok()) return s;
  s = RestoreTable(in, kDaysTable, kDaySetTables, days_, day_keys_);
  if (!s.ok()) return s;
  static constexpr std::string_view kPeriodSetTables[2] = {kPeriodUsersTable, kPeriodBuyersTable};
  s = RestoreTable(in, kPeriodsTable, kPeriodSetTables, periods_, period_keys_);
  if (!s.ok()) return s;
  // A period the plan no longer has (or with another start) is forgotten.
  for (auto& [start, keys] : period_keys_) {
    const int64_t at = start;
    const auto gone = [&](KeyId k) {
      const int period = keys_[k].period;
      if (period >= 0 && PaneOf(options_.periods[static_cast<size_t>(period)].start_ms) == at)
        return false;
      std::string key;
      AppendBigEndian64(&key, at);
      key.append(keys_[k].encoded);
      expired_periods_.push_back(std::move(key));
      periods_.erase(Slot(at, k));
      return true;
    };
    keys.erase(std::remove_if(keys.begin(), keys.end(), gone), keys.end());
  }
  std::string bytes;
  s = in.Get(kMetaTable, "windows", &bytes);
  if (absl::IsNotFound(s)) return absl::OkStatus();
  if (!s.ok()) return s;
  v1::OperatorMeta meta;
  if (!meta.ParseFromString(bytes)) return absl::DataLossError("meta/windows: undecodable");
  watermark_ms_ = meta.watermark_ms();
  last_fired_ = meta.last_fired_minute();
  return absl::OkStatus();
}

WindowOperator::Stats WindowOperator::stats() const {
  Stats s = emitted_;
  s.keys = keys_.size();
  s.panes = panes_.size();
  s.days = days_.size();
  s.periods = periods_.size();
  for (const auto& [slot, p] : panes_) {
    s.pane_users += p.users.raw_size();
    s.pane_users_unsorted += p.users.unsorted();
  }
  for (const auto& [slot, d] : days_) s.day_users += d.users.raw_size();
  return s;
}

}  // namespace promowatch
