#pragma once
// Windowed campaign metrics per (campaign_id, channel), with rollups
// (campaign_id, "*") and ("*", "*").
//
// Time is cut into one-minute panes. An event updates the pane of each of its
// three keys (counters, and the set of user hashes for uv); nothing else is
// touched per event. When the watermark passes a minute boundary E:
//   - every window size s (in minutes; 1 = tumbling) emits [E - s, E) for each
//     key with a pane in that range, combining those panes (uv: exact union
//     of the panes' 64-bit user hashes);
//   - the cumulative window folds the pane [E - 1m, E) into the key's day
//     total and emits [day start, E) for each key active in that minute;
//   - a planned campaign's period (options.periods, plan.h) is folded the
//     same way: "period" rows [period start, E) of (campaign, channel) and
//     (campaign, "*"), for panes in the period (window_periods.cc).
// Panes live until no window or late record can need them, then leave memory
// and, at the next Snapshot, RocksDB (range deletes by time prefix).
//
// uv is exact up to 64-bit hash collisions (probability ~ n^2 / 2^65: about
// 3e-8 for a million users in one window), not HyperLogLog. User sets are
// append-then-sort (UserSet): no hash-set insert per event.
//
// Threading: single-threaded, driven by the pipeline thread.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "operators/aggregate.h"
#include "operators/keys.h"
#include "operators/operator.h"
#include "operators/options.h"
#include "operators/user_set.h"
#include "promowatch/v1/results.pb.h"

namespace promowatch {

// Receives every emitted window result. Called on the pipeline thread.
class WindowResultSink {
 public:
  virtual ~WindowResultSink() = default;
  virtual void Emit(const v1::WindowResult& result) = 0;
};

// The revision of a partial update (OperatorOptions::emit_partial_updates).
inline constexpr int32_t kPartialUpdate = -1;

// The distinct users of a window: every one (uv) and those who paid
// (buyers, with user profiles on).
struct DistinctUsers {
  int64_t uv = 0;
  int64_t buyers = 0;
};

// A window result from its counters: ratios null without a denominator,
// the counters of user profiles (and buyers) only with `count_new_customers`.
// `segment`: empty for the rows of all users.
void FillWindowResult(std::string_view window, int64_t start_ms, int64_t end_ms,
                      std::string_view campaign, std::string_view channel, std::string_view segment,
                      const Counters& c, DistinctUsers users, int32_t revision,
                      bool count_new_customers, v1::WindowResult* r);

class WindowOperator final : public Operator {
 public:
  static constexpr std::string_view kPanesTable = "window_panes";
  static constexpr std::string_view kPaneUsersTable = "window_pane_users";
  static constexpr std::string_view kDaysTable = "cumulative_days";
  static constexpr std::string_view kDayUsersTable = "cumulative_day_users";
  // Paying users' hashes (buyers), with user profiles on.
  static constexpr std::string_view kPaneBuyersTable = "window_pane_buyers";
  static constexpr std::string_view kDayBuyersTable = "cumulative_day_buyers";
  static constexpr std::string_view kMetaTable = "meta";
  // A planned campaign's running total over its period (options.periods).
  static constexpr std::string_view kPeriodsTable = "campaign_periods";
  static constexpr std::string_view kPeriodUsersTable = "campaign_period_users";
  static constexpr std::string_view kPeriodBuyersTable = "campaign_period_buyers";

  WindowOperator(OperatorOptions options, WindowResultSink* sink);

  std::string_view name() const override { return "windows"; }
  std::vector<std::string> StateTables() const override;
  absl::Status Restore(const StateReader& in) override;
  void ProcessBatch(std::span<const EventRecord* const> events) override;
  void OnWatermark(int64_t watermark_ms) override;
  void OnEndOfInput() override;
  void Snapshot(StateWriter& out) override;

  // One admitted event (ProcessBatch calls it for each).
  void Add(const EventRecord& e);
  // Compacts the unique-visitor sets of panes that are closing: before the
  // newest event's minute, not fired yet (ProcessBatch calls it after each
  // batch). They get only stragglers now and fire when the watermark
  // passes; compacted here, a few per batch, their boundary does not sort
  // up to half of a minute's hashes per set (70 ms at 200k events/s, most
  // of the 1m results' share of a boundary).
  void CompactClosingPanes();

  struct Stats {
    size_t keys = 0;
    size_t panes = 0;
    size_t days = 0;
    size_t periods = 0;
    size_t pane_users = 0;           // user hashes held in panes
    size_t day_users = 0;            // user hashes held in day totals
    size_t pane_users_unsorted = 0;  // of pane_users: appended since their set's last compaction
    int64_t windows_emitted = 0;
    int64_t corrections_emitted = 0;
  };
  Stats stats() const;

 private:
  using KeyId = uint32_t;
  struct Key {
    std::string campaign;
    std::string channel;
    Segment segment = Segment::kNone;  // kNone: all users
    int period = -1;  // its campaign's in options_.periods (rows of all users only)
    // campaign '\0' channel ('\0' segment): the state key suffix
    std::string encoded;
  };
  // Whether a key's rows of windows of `minutes` (0: cumulative) are emitted:
  // a segment's only for the sizes split by segment.
  bool Emits(KeyId key, int minutes) const {
    if (keys_[key].segment == Segment::kNone) return true;
    return minutes == 0 ? options_.segment_cumulative : options_.SegmentWindow(minutes);
  }
  struct Aggregate {  // a pane or a day total of one key
    Counters counters;
    UserSet users;
    UserSet buyers;  // users with a paid order (count_new_customers)
    uint32_t user_chunks = 0;
    uint32_t buyer_chunks = 0;
    bool dirty = false;

    void AddUser(uint64_t h) {
      if (h != 0) users.Add(h);  // spend events have no user
    }
  };
  // Where Add puts an event's user in an aggregate.
  void AddUsers(Aggregate& a, const EventRecord& e) const {
    a.AddUser(e.user_hash);
    if (options_.count_new_customers && e.kind == EventKind::kOrder && e.code == kPaid &&
        e.user_hash != 0)
      a.buyers.Add(e.user_hash);
  }
  // What the windows of a set of aggregates count as distinct users.
  DistinctUsers DistinctOf(std::span<Aggregate* const> aggs);

  static uint64_t Slot(int64_t index, KeyId key) {
    return (static_cast<uint64_t>(index) << 32) | key;
  }
  KeyId InternKey(std::string_view campaign, std::string_view channel,
                  Segment segment = Segment::kNone);
  // The keys an event of (campaign, channel) updates, found with one lookup
  // per event instead of one per key (up to five): (campaign, channel) and
  // (campaign, "*"), and per segment the same two and ("*", "*"), interned
  // when first needed (kNoKey until then), in InternKey's order.
  static constexpr KeyId kNoKey = UINT32_MAX;
  static constexpr size_t kSegments = 7;  // Segment's values
  struct KeyRow {
    KeyId all[2];
    KeyId by_segment[kSegments][3];
  };
  KeyRow& RowOf(std::string_view campaign, std::string_view channel);
  Aggregate& PaneFor(int64_t pane, KeyId key);
  Aggregate& DayFor(int64_t day, KeyId key);
  // Periods (window_periods.cc). What of a pane at `pane_start` counts in
  // key's period: all of it, only reactivation repurchases (the tail after
  // the end), or nothing.
  enum class PeriodShare { kNone, kAll, kRepurchases };
  PeriodShare PeriodShareOf(KeyId key, int64_t pane_start) const;
  Aggregate& PeriodFor(KeyId key);
  // Reactivation repurchases credited to the campaigns that reached the
  // user (EventRecord::cohort_credits) in the minute of the payment.
  void AddCredits(const EventRecord& e, int64_t pane, bool correction);
  // A late record (correction) into the period totals directly.
  void AddLateToPeriod(const EventRecord& e, KeyId key, int64_t pane);
  void FoldPeriods(int64_t boundary, const std::vector<KeyId>& sorted_keys);
  void EmitPartialPeriodUpdates(const std::vector<uint64_t>& corrected_slots);
  void ExpirePeriods(int64_t watermark_ms);
  void SnapshotPeriods(StateWriter& out);
  int64_t NextBoundary() const;  // INT64_MAX when nothing is left to fire
  void FireBoundary(int64_t boundary);
  void EmitCorrections();
  void EmitPartialDayUpdates(std::vector<std::pair<int64_t, KeyId>> days);
  void EmitWindow(int minutes, int64_t boundary, KeyId key, int32_t revision);
  void Emit(std::string_view window, int64_t start_ms, int64_t end_ms, KeyId key, const Counters& c,
            DistinctUsers users, int32_t revision);
  void Expire(int64_t watermark_ms);
  void SortByKey(std::vector<KeyId>* keys) const;
  // `users_tables`: the users' chunks, then the buyers'.
  void SnapshotTable(StateWriter& out, std::string_view table,
                     const std::string_view (&users_tables)[2],
                     absl::node_hash_map<uint64_t, Aggregate>& aggs, int64_t delete_below,
                     int64_t* deleted_below);
  absl::Status RestoreTable(const StateReader& in, std::string_view table,
                            const std::string_view (&users_tables)[2],
                            absl::node_hash_map<uint64_t, Aggregate>& aggs,
                            std::map<int64_t, std::vector<KeyId>>& index);

  const OperatorOptions options_;
  const int max_minutes_;
  const int64_t lateness_ms_;
  WindowResultSink* const sink_;

  std::vector<Key> keys_;
  absl::flat_hash_map<std::string, KeyId> key_ids_;     // encoded -> id
  absl::flat_hash_map<std::string, uint32_t> row_ids_;  // campaign '\0' channel -> key_rows_
  std::vector<KeyRow> key_rows_;
  std::string scratch_key_;

  absl::node_hash_map<uint64_t, Aggregate> panes_;   // Slot(pane, key)
  std::map<int64_t, std::vector<KeyId>> pane_keys_;  // pane -> keys with a pane there
  absl::node_hash_map<uint64_t, Aggregate> days_;    // Slot(day, key)
  std::map<int64_t, std::vector<KeyId>> day_keys_;
  absl::node_hash_map<uint64_t, Aggregate> periods_;  // Slot(period start minute, key)
  std::map<int64_t, std::vector<KeyId>> period_keys_;
  std::vector<std::string> expired_periods_;  // their state keys, deleted at the next Snapshot

  int64_t last_fired_ = INT64_MIN;   // windows ending at boundary <= this are emitted
  int64_t newest_pane_ = INT64_MIN;  // the newest event's minute
  // CompactClosingPanes' place: the pane it compacts and its next key.
  int64_t compacting_pane_ = INT64_MIN;
  size_t compacting_next_ = 0;
  int64_t watermark_ms_ = kNoWatermark;
  absl::flat_hash_set<uint64_t> corrections_;  // Slot(pane, key) changed after firing
  absl::flat_hash_map<std::tuple<int, int64_t, KeyId>, int32_t> revisions_;

  int64_t panes_expired_below_ = INT64_MIN, panes_deleted_below_ = INT64_MIN;
  int64_t days_expired_below_ = INT64_MIN, days_deleted_below_ = INT64_MIN;

  std::vector<uint64_t> scratch_users_, scratch_users2_;
  std::vector<std::span<const uint64_t>> scratch_sets_;
  std::vector<Aggregate*> scratch_aggs_;
  std::string snapshot_value_;  // kept: a boundary's chunks reach tens of MB
  v1::WindowResult result_;
  Stats emitted_;
};

}  // namespace promowatch
