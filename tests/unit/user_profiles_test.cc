#include "operators/user_profiles.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include "operators/encoding.h"
#include "operators/state.h"

namespace promowatch {
namespace {

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kDayStart = 1'794'355'200'000;  // 2026-11-11T00:00:00Z, a day boundary

struct Harness {
  std::vector<TagChange> changes;
  std::deque<EventRecord> records;  // stable addresses
  UserProfileOperator op;
  explicit Harness(TagRules rules = {})
      : op(std::move(rules), [this](const TagChange& c) { changes.push_back(c); }) {}

  void Event(EventKind kind, int32_t code, const std::string& user, int64_t t, int64_t cents = 0,
             int64_t watermark = kNoWatermark) {
    EventRecord& r = records.emplace_back();
    r.kind = kind;
    r.code = code;
    r.user_id = user;
    r.event_time_ms = t;
    r.amount_cents = cents;
    r.campaign_id = "c1";
    r.channel = "douyin";
    r.watermark_ms = watermark;
    EventRecord* p = &r;
    op.EnrichBatch(std::span<EventRecord* const>(&p, 1));
  }
  void Click(const std::string& user, int64_t t) { Event(EventKind::kClick, kClick, user, t); }
  void Paid(const std::string& user, int64_t t, int64_t yuan) {
    Event(EventKind::kOrder, kPaid, user, t, yuan * 100);
  }
  void Refund(const std::string& user, int64_t t, int64_t yuan) {
    Event(EventKind::kOrder, kRefunded, user, t, yuan * 100);
  }
  // The latest value of `tag` for `user` ("false"/"" if it never changed).
  std::string Tag(const std::string& user, const std::string& tag) const {
    std::string v = tag == "rfm" || tag == "tier" ? "" : "false";
    for (const auto& c : changes) {
      if (c.user_id == user && c.tag == tag) v = c.to;
    }
    return v;
  }
  int Count(const std::string& user, const std::string& tag, const std::string& to) const {
    int n = 0;
    for (const auto& c : changes) n += c.user_id == user && c.tag == tag && c.to == to ? 1 : 0;
    return n;
  }
};

TEST(UserProfiles, NewUntilTheFirstPaidOrderOrSevenDays) {
  Harness h;
  h.Click("u1", kDayStart);
  EXPECT_EQ(h.Tag("u1", "new"), "true");
  h.Paid("u1", kDayStart + kDay, 100);  // a paid order ends it
  EXPECT_EQ(h.Tag("u1", "new"), "false");
  EXPECT_EQ(h.changes.back().reason, "paid order");
  h.Click("u2", kDayStart);
  h.op.OnWatermark(kDayStart + 7 * kDay - 1);
  EXPECT_EQ(h.Tag("u2", "new"), "true");
  h.op.OnWatermark(kDayStart + 7 * kDay);  // exactly 7 days: no longer new
  EXPECT_EQ(h.Tag("u2", "new"), "false");
  EXPECT_EQ(h.changes.back().reason, "time passed");
  EXPECT_EQ(h.changes.back().event_time_ms, kDayStart + 7 * kDay);
}

TEST(UserProfiles, ActiveAtExactlyTwoPaidOrdersWithTheAverageAboveTheLine) {
  Harness h;
  h.Paid("u1", kDayStart, 200);
  EXPECT_EQ(h.Tag("u1", "active"), "false");  // one order
  h.Paid("u1", kDayStart + kDay, 101);        // two, AOV 150.5 > 150
  EXPECT_EQ(h.Tag("u1", "active"), "true");
  Harness low;
  low.Paid("u2", kDayStart, 150);
  low.Paid("u2", kDayStart + kDay, 150);  // AOV exactly 150: not above
  EXPECT_EQ(low.Tag("u2", "active"), "false");
  // Orders leave the 30-day window on whole days: the first at day 30.
  h.op.OnWatermark(kDayStart + 30 * kDay - 1);
  EXPECT_EQ(h.Tag("u1", "active"), "true");
  h.op.OnWatermark(kDayStart + 30 * kDay);
  EXPECT_EQ(h.Tag("u1", "active"), "false");
}

// A paid order is judged as of itself: a user dormant just before it is a
// reactivated buyer, however far the watermark is behind (the dormant
// timer due before the order fires first), and then no longer dormant.
TEST(UserProfiles, APaidOrderOfADormantUserIsAReactivation) {
  const auto reactivated = [](int64_t gap_ms) {
    Harness h;
    h.Paid("u1", kDayStart, 300);
    h.Paid("u1", kDayStart + gap_ms, 50);
    return std::make_pair(h.records.back().reactivated, h.Tag("u1", "dormant"));
  };
  EXPECT_EQ(reactivated(89 * kDay), std::make_pair(false, std::string("false")));
  EXPECT_EQ(reactivated(90 * kDay - 1), std::make_pair(false, std::string("false")));
  EXPECT_EQ(reactivated(90 * kDay), std::make_pair(true, std::string("false")));
  EXPECT_EQ(reactivated(91 * kDay), std::make_pair(true, std::string("false")));
  Harness h;
  h.Paid("u1", kDayStart, 300);
  EXPECT_FALSE(h.records.back().reactivated) << "a first paid order is new, not reactivated";
  h.Click("u1", kDayStart + 95 * kDay);  // dormant as of the click: clicks do not wake
  EXPECT_FALSE(h.records.back().reactivated);
  h.Paid("u1", kDayStart + 96 * kDay, 50);
  EXPECT_TRUE(h.records.back().reactivated);
  h.Paid("u1", kDayStart + 97 * kDay, 50);
  EXPECT_FALSE(h.records.back().reactivated) << "awake since the order before";
  EXPECT_EQ(h.Count("u1", "dormant", "true"), 1);
}

// Each click and order carries its user's segment just before it, as of
// its time: the first tag of the precedence that holds, else other.
TEST(UserProfiles, EachEventCarriesItsUsersSegmentJustBeforeIt) {
  Harness h;
  const auto segment = [&h] { return NameOf(kSegmentNames, h.records.back().segment); };
  h.Click("u1", kDayStart);
  EXPECT_EQ(segment(), "new") << "a user seen for the first time is new";
  h.Paid("u1", kDayStart + kDay, 200);
  EXPECT_EQ(segment(), "new") << "the order that ends it is a new user's";
  h.Click("u1", kDayStart + kDay + 1);
  EXPECT_EQ(segment(), "other");
  h.Paid("u1", kDayStart + 2 * kDay, 200);
  EXPECT_EQ(segment(), "other") << "the order that makes the user active";
  h.Click("u1", kDayStart + 2 * kDay + 1);
  EXPECT_EQ(segment(), "active");
  // Dormant as of the order, though no watermark passed 90 days: its
  // order is a dormant user's, then the user is awake.
  h.Paid("u1", kDayStart + 92 * kDay, 6'000);
  EXPECT_EQ(segment(), "dormant");
  EXPECT_TRUE(h.records.back().reactivated);
  h.Click("u1", kDayStart + 92 * kDay + 1);
  EXPECT_EQ(segment(), "high_value") << "high_value (spend over 5,000 yuan) comes first";

  TagRules dormant_first;
  dormant_first.segment_precedence = {Segment::kDormant, Segment::kHighValue};
  Harness d(dormant_first);
  d.Paid("u2", kDayStart, 6'000);
  EXPECT_EQ(NameOf(kSegmentNames, d.records.back().segment), "other")
      << "new is not in this precedence";
  d.Click("u2", kDayStart + 1);
  EXPECT_EQ(NameOf(kSegmentNames, d.records.back().segment), "high_value");
  d.Click("u2", kDayStart + 90 * kDay);
  EXPECT_EQ(NameOf(kSegmentNames, d.records.back().segment), "dormant");
}

// Events arrive out of order (across topics, through the repartition
// topic): one that arrives after a newer paid order of its user is stamped
// as of its own time, without that order.
TEST(UserProfiles, AnEventArrivingAfterANewerOrderIsStampedAsOfItsTime) {
  Harness h;
  const auto segment = [&h] { return NameOf(kSegmentNames, h.records.back().segment); };
  h.Paid("u1", kDayStart, 100);
  const int64_t wake = kDayStart + 100 * kDay;
  h.Paid("u1", wake, 100);  // dormant until this order
  EXPECT_TRUE(h.records.back().reactivated);
  h.Click("u1", wake - 1'000);  // arrives after it, happened before it
  EXPECT_EQ(segment(), "dormant");
  h.Paid("u1", wake - 500, 100);  // an older order arriving late: still dormant then
  EXPECT_EQ(segment(), "dormant");
  EXPECT_TRUE(h.records.back().reactivated);
  EXPECT_FALSE(h.records.back().first_paid_order);
  h.Click("u1", wake + 1'000);
  EXPECT_EQ(segment(), "other") << "in order again: awake, two orders under 150 yuan (not active)";
  // A user's first event arriving after a newer one: new as of its time.
  h.Click("u2", kDayStart + 10 * kDay);
  h.Paid("u2", kDayStart + 10 * kDay + 1'000, 100);
  EXPECT_TRUE(h.records.back().first_paid_order);
  h.Click("u2", kDayStart + 10 * kDay + 500);
  EXPECT_EQ(segment(), "new") << "no paid order before it";
  // What the watermark leaves behind (older than it less the lateness
  // bound) is no longer kept to be taken out.
  h.Event(EventKind::kOrder, kPaid, "u3", kDayStart, 10'000, kDayStart);
  h.Event(EventKind::kOrder, kPaid, "u3", kDayStart + kDay, 10'000, kDayStart + kDay);
  EXPECT_EQ(h.op.Lookup("u3")->recent_money_size(), 1);
  EXPECT_EQ(h.op.Lookup("u3")->paid_before_recent_ms(), kDayStart);
}

// A profile that cannot be read leaves the segment unknown, not guessed.
TEST(UserProfiles, ASegmentIsUnknownWhenTheProfileCannotBeRead) {
  class Unreadable final : public StateReader {
   public:
    absl::Status Scan(std::string_view, const Visitor&) const override { return absl::OkStatus(); }
    absl::Status Get(std::string_view table, std::string_view, std::string* value) const override {
      if (table == UserProfileOperator::kTable) return absl::UnavailableError("disk gone");
      if (table == UserProfileOperator::kTotalsTable) {  // profiles are there
        v1::ProfileTotals totals;
        totals.set_users(1);
        *value = totals.SerializeAsString();
        return absl::OkStatus();
      }
      return absl::NotFoundError("");
    }
    absl::Status ScanFrom(std::string_view, std::string_view, const RangeVisitor&) const override {
      return absl::OkStatus();
    }
  } unreadable;
  Harness h;
  ASSERT_TRUE(h.op.Restore(unreadable).ok());
  h.Click("u1", kDayStart);
  EXPECT_EQ(NameOf(kSegmentNames, h.records.back().segment), "unknown");
  EXPECT_FALSE(h.op.status().ok());
}

TEST(UserProfiles, DormantAtExactlyNinetyDaysOnce) {
  Harness h;
  h.Paid("u1", kDayStart, 300);
  h.op.OnWatermark(kDayStart + 90 * kDay - 1);
  EXPECT_EQ(h.Tag("u1", "dormant"), "false");
  h.op.OnWatermark(kDayStart + 90 * kDay);
  EXPECT_EQ(h.Tag("u1", "dormant"), "true");
  h.Paid("u1", kDayStart + 100 * kDay, 50);  // back: not dormant
  EXPECT_EQ(h.Tag("u1", "dormant"), "false");
  EXPECT_EQ(h.Count("u1", "dormant", "true"), 1);
}

TEST(UserProfiles, TimerFiresTheDormantChangeExactlyOnceWithNoEventOfThatUser) {
  Harness h;
  const int64_t watermark = kDayStart + 200 * kDay;
  h.Paid("quiet", watermark - 89 * kDay, 300);  // last order 89 days before the watermark
  h.op.OnWatermark(watermark);
  EXPECT_EQ(h.Count("quiet", "dormant", "true"), 0);
  // Two days of other users' traffic move the watermark; "quiet" sends nothing.
  for (int64_t t = watermark; t <= watermark + 2 * kDay; t += kDay / 4) {
    h.Event(EventKind::kClick, kClick, "busy", t, 0, t - 5'000);
    h.op.OnWatermark(t - 5'000);
  }
  EXPECT_EQ(h.Count("quiet", "dormant", "true"), 1);
  const TagChange* change = nullptr;
  for (const auto& c : h.changes) {
    if (c.user_id == "quiet" && c.tag == "dormant") change = &c;
  }
  ASSERT_NE(change, nullptr);
  EXPECT_EQ(change->event_time_ms, watermark + kDay);  // when it happened, not when noticed
  EXPECT_EQ(change->reason, "time passed");
  EXPECT_EQ(h.op.tag_counts().at("dormant"), 1);
}

TEST(UserProfiles, ARefundThatDropsSpendUnderTheLineEndsHighValueAndTier) {
  Harness h;
  h.Paid("u1", kDayStart, 3'000);
  h.Paid("u1", kDayStart + kDay, 2'001);  // 5,001 yuan: high value, gold (>= 5,000)
  EXPECT_EQ(h.Tag("u1", "high_value"), "true");
  EXPECT_EQ(h.Tag("u1", "tier"), "gold");
  h.Refund("u1", kDayStart + 2 * kDay, 2);  // 4,999
  EXPECT_EQ(h.Tag("u1", "high_value"), "false");
  EXPECT_EQ(h.Tag("u1", "tier"), "silver");
  EXPECT_EQ(h.changes.back().reason, "refund");
  // Repeat purchases: the 6th paid order is the 5th repeat.
  Harness r;
  for (int i = 0; i < 5; ++i) r.Paid("u2", kDayStart + i * kDay, 10);
  EXPECT_EQ(r.Tag("u2", "high_value"), "false");
  r.Paid("u2", kDayStart + 5 * kDay, 10);
  EXPECT_EQ(r.Tag("u2", "high_value"), "true");
}

TEST(UserProfiles, RfmScoresAgeWithTime) {
  Harness h;
  h.Paid("u1", kDayStart, 600);  // F1 (1 order), M2 (>= 500 yuan)
  EXPECT_EQ(h.Tag("u1", "rfm"), "R5F1M2");
  h.op.OnWatermark(kDayStart + 7 * kDay);
  EXPECT_EQ(h.Tag("u1", "rfm"), "R4F1M2");
  h.op.OnWatermark(kDayStart + 180 * kDay);
  EXPECT_EQ(h.Tag("u1", "rfm"), "R1F1M2");
  EXPECT_EQ(h.Count("u1", "rfm", "R3F1M2"), 1);  // every step on the way, once
}

TEST(UserProfiles, ThresholdsAreConfigurable) {
  TagRules rules;
  rules.dormant_after_ms = 30 * kDay;
  rules.active_min_paid_orders = 1;
  rules.active_min_aov_cents = 0;
  Harness h(rules);
  h.Paid("u1", kDayStart, 1);
  EXPECT_EQ(h.Tag("u1", "active"), "true");
  h.op.OnWatermark(kDayStart + 30 * kDay);
  EXPECT_EQ(h.Tag("u1", "dormant"), "true");
}

TEST(UserProfiles, StateSurvivesARestartTimersIncluded) {
  MemoryState state;
  {
    Harness h;
    h.Paid("u1", kDayStart, 300);
    h.op.Snapshot(state);
  }
  Harness h;
  ASSERT_TRUE(h.op.Restore(state).ok());
  EXPECT_EQ(h.op.users(), 1);
  ASSERT_TRUE(h.op.Lookup("u1").has_value());
  EXPECT_EQ(h.op.Lookup("u1")->lifetime_paid_orders(), 1);
  h.op.OnWatermark(kDayStart + 90 * kDay);  // the restored timer fires
  EXPECT_EQ(h.Tag("u1", "dormant"), "true");
  EXPECT_EQ(h.Count("u1", "rfm", "R2F1M1"), 1);
}

TEST(UserProfiles, OrdersWithoutACampaignGoToTheLastClickWithin24Hours) {
  Harness h;
  h.Event(EventKind::kClick, kClick, "u1", kDayStart);  // c1/douyin (the harness default)
  EventRecord& late_click = h.records.emplace_back();
  late_click.kind = EventKind::kClick;
  late_click.code = kClick;
  late_click.user_id = "u1";
  late_click.campaign_id = "c2";
  late_click.channel = "jd";
  late_click.event_time_ms = kDayStart + 3'600'000;
  EventRecord* p = &late_click;
  h.op.EnrichBatch(std::span<EventRecord* const>(&p, 1));
  auto order = [&](int64_t t) -> const EventRecord& {
    EventRecord& r = h.records.emplace_back();
    r.kind = EventKind::kOrder;
    r.code = kPaid;
    r.user_id = "u1";
    r.event_time_ms = t;
    r.amount_cents = 100;
    EventRecord* q = &r;
    h.op.EnrichBatch(std::span<EventRecord* const>(&q, 1));
    return r;
  };
  const EventRecord& a = order(kDayStart + 2 * 3'600'000);  // last click: c2/jd, an hour before
  EXPECT_EQ(a.campaign_id, "c2");
  EXPECT_EQ(a.channel, "jd");
  EXPECT_TRUE(a.attributed);
  const EventRecord& b =
      order(kDayStart + 3'600'000 + 24 * 3'600'000 + 1);  // 24 h and 1 ms after it
  EXPECT_EQ(b.campaign_id, UserProfileOperator::kUnattributed);
  EXPECT_FALSE(b.attributed);
  EXPECT_EQ(h.op.attributed(), 1);
  EXPECT_EQ(h.op.unattributed(), 1);
}

TEST(UserProfiles, UnseenUsersExpire) {
  TagRules rules;
  rules.expire_after_ms = 400 * kDay;
  Harness h(rules);
  h.Click("u1", kDayStart);
  h.op.OnWatermark(kDayStart + 400 * kDay);
  EXPECT_EQ(h.op.users(), 0);
  MemoryState state;
  h.op.Snapshot(state);
  EXPECT_EQ(state.size(UserProfileOperator::kTable), 0u);
}

// A year-long workload of a few hundred users run through the operator in
// batches with the watermark behind the newest event, checkpointing to
// `state` every 400 events and whenever the operator asks; with `restart_at`,
// the operator is replaced by a new one restored from the state there (as
// after a crash right after a checkpoint).
struct Workload {
  std::vector<TagChange> changes;
  int64_t users = 0;
  std::map<std::string, int64_t> counts;
  size_t max_in_memory = 0;
  size_t checkpoints = 0;
};

// `stateless`: no state backend at all (never restored or checkpointed):
// every profile and timer in memory, the reference.
// `ack_late`: each checkpoint is acknowledged only after the next batch, as
// when the runtime commits in the background while processing goes on.
// `users_in_memory`: the memory budget, in records of the fixed size.
Workload RunWorkload(size_t users_in_memory, size_t restart_at = 0, bool stateless = false,
                     bool ack_late = false) {
  Workload w;
  MemoryState state;
  auto make = [&] {
    auto op = std::make_unique<UserProfileOperator>(
        TagRules{}, [&](const TagChange& c) { w.changes.push_back(c); },
        users_in_memory * ProfileStore::kRecordBytes);
    if (!stateless) {
      EXPECT_TRUE(op->Restore(state).ok());
    }
    return op;
  };
  auto op = make();
  uint64_t rng = 42;
  auto next = [&](uint64_t n) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (rng >> 33) % n;
  };
  std::vector<EventRecord> batch(50);
  std::vector<EventRecord*> ptrs;
  int64_t t = kDayStart;
  size_t since = 0;
  bool unacked = false;
  for (size_t i = 0; i < 20'000; i += batch.size()) {
    ptrs.clear();
    for (auto& r : batch) {
      t += static_cast<int64_t>(next(3'000'000'000ULL / 2'000));  // ~a year over 20,000 events
      r = EventRecord{};
      r.user_id = "u" + std::to_string(next(300));
      r.event_time_ms = t - static_cast<int64_t>(next(60'000));  // a little out of order
      r.watermark_ms = t - 120'000;
      r.campaign_id = "c1";
      r.channel = "douyin";
      const uint64_t k = next(10);
      if (k < 6) {
        r.kind = EventKind::kClick;
        r.code = kClick;
      } else {
        r.kind = EventKind::kOrder;
        r.code = k < 9 ? kPaid : kRefunded;
        r.amount_cents = static_cast<int64_t>(1'000 + next(400'000));
      }
      ptrs.push_back(&r);
    }
    op->EnrichBatch(ptrs);
    op->OnWatermark(t - 120'000);
    if (ack_late && unacked) {
      op->OnCheckpointCommitted();
      unacked = false;
    }
    w.max_in_memory = std::max(w.max_in_memory, op->users_in_memory());
    since += batch.size();
    if (!stateless && (since >= 400 || op->WantsCheckpoint())) {
      op->Snapshot(state);  // (MemoryState: durable at once)
      if (ack_late) {
        unacked = true;
      } else {
        op->OnCheckpointCommitted();
      }
      ++w.checkpoints;
      since = 0;
      if (restart_at != 0 && i >= restart_at) {
        restart_at = 0;
        op = make();
      }
    }
  }
  w.users = op->users();
  w.counts = op->tag_counts();
  return w;
}

void ExpectSameChanges(const Workload& want, const Workload& got) {
  ASSERT_EQ(got.changes.size(), want.changes.size());
  for (size_t i = 0; i < want.changes.size(); ++i) {
    ASSERT_EQ(TagChangeToJson(got.changes[i]), TagChangeToJson(want.changes[i])) << "change " << i;
  }
  EXPECT_EQ(got.users, want.users);
  EXPECT_EQ(got.counts, want.counts);
}

TEST(UserProfiles, TimersInTheIndexGiveTheSameChangesAsAllInMemory) {
  // Checkpoints move timers from memory to the index table (unbounded cache).
  ExpectSameChanges(RunWorkload(0, 0, /*stateless=*/true), RunWorkload(0));
}

TEST(UserProfiles, ABoundedCacheGivesTheSameChangesAsAllInMemory) {
  const Workload all = RunWorkload(0, 0, /*stateless=*/true);
  ASSERT_GT(all.changes.size(), 1'000u);
  ASSERT_GE(all.max_in_memory, 300u);  // every user, all the time
  const Workload bounded = RunWorkload(40);
  // The bound, plus the users one batch changed (its 50 events and the
  // timers its watermark fired) that wait in memory for the checkpoint.
  EXPECT_LE(bounded.max_in_memory, 40u + 2 * 50u);
  EXPECT_LT(bounded.max_in_memory, all.max_in_memory / 2);
  EXPECT_GT(bounded.checkpoints, RunWorkload(0).checkpoints);  // asked for early checkpoints
  ASSERT_EQ(bounded.changes.size(), all.changes.size());
  for (size_t i = 0; i < all.changes.size(); ++i) {
    const TagChange& a = all.changes[i];
    const TagChange& b = bounded.changes[i];
    ASSERT_TRUE(a.user_id == b.user_id && a.tag == b.tag && a.from == b.from && a.to == b.to &&
                a.reason == b.reason && a.event_time_ms == b.event_time_ms)
        << "change " << i << " differs: " << TagChangeToJson(a) << " vs " << TagChangeToJson(b);
  }
  EXPECT_EQ(bounded.users, all.users);
  EXPECT_EQ(bounded.counts, all.counts);
}

TEST(UserProfiles, CommitsAcknowledgedLateGiveTheSameChanges) {
  // Nothing written by a checkpoint is dropped from memory before its
  // commit is durable; processing goes on meanwhile.
  const Workload late = RunWorkload(40, 0, false, /*ack_late=*/true);
  ExpectSameChanges(RunWorkload(0, 0, /*stateless=*/true), late);
  EXPECT_LE(late.max_in_memory, 40u + 3 * 50u);
}

TEST(UserProfiles, ARestartReadsOnlyTotalsAndLoadsUsersAndTimersOnDemand) {
  const Workload all = RunWorkload(0, 0, /*stateless=*/true);
  const Workload restarted = RunWorkload(40, 10'000);
  ASSERT_EQ(restarted.changes.size(), all.changes.size());
  for (size_t i = 0; i < all.changes.size(); ++i) {
    ASSERT_EQ(TagChangeToJson(restarted.changes[i]), TagChangeToJson(all.changes[i]))
        << "change " << i;
  }
  EXPECT_EQ(restarted.users, all.users);
  EXPECT_EQ(restarted.counts, all.counts);
}

// Users not in memory are read for a whole batch at once, never per event.
TEST(UserProfiles, UsersNotInMemoryAreReadOncePerBatch) {
  class Counting final : public StateReader {
   public:
    explicit Counting(const MemoryState& in) : in_(in) {}
    absl::Status Scan(std::string_view t, const Visitor& v) const override {
      return in_.Scan(t, v);
    }
    absl::Status Get(std::string_view t, std::string_view k, std::string* v) const override {
      if (t == UserProfileOperator::kTable) ++gets;
      return in_.Get(t, k, v);
    }
    absl::Status ScanFrom(std::string_view t, std::string_view b,
                          const RangeVisitor& v) const override {
      return in_.ScanFrom(t, b, v);
    }
    void MultiGet(std::string_view t, std::span<const std::string_view> keys,
                  std::vector<std::string>* values,
                  std::vector<absl::Status>* statuses) const override {
      ++multi_gets;
      keys_read += keys.size();
      StateReader::MultiGet(t, keys, values, statuses);  // (by Get: not counted apart)
    }
    mutable int gets = 0, multi_gets = 0;
    mutable size_t keys_read = 0;
    const MemoryState& in_;
  };
  MemoryState state;
  {
    UserProfileOperator first(TagRules{}, nullptr);
    ASSERT_TRUE(first.Restore(state).ok());
    std::vector<EventRecord> records(3);
    std::vector<EventRecord*> ptrs;
    for (int i = 0; i < 3; ++i) {
      records[i].user_id = "u" + std::to_string(i);
      records[i].event_time_ms = kDayStart + i;
      records[i].kind = EventKind::kClick;
      records[i].code = kClick;
      ptrs.push_back(&records[i]);
    }
    first.EnrichBatch(ptrs);
    first.Snapshot(state);
    first.OnCheckpointCommitted();
  }
  Counting counting(state);
  UserProfileOperator op(TagRules{}, nullptr);
  ASSERT_TRUE(op.Restore(counting).ok());
  // Ten events of four users (three in state, one new), one batch.
  std::vector<EventRecord> records(10);
  std::vector<EventRecord*> ptrs;
  for (int i = 0; i < 10; ++i) {
    records[i].user_id = "u" + std::to_string(i % 4);
    records[i].event_time_ms = kDayStart + 1'000 + i;
    records[i].kind = EventKind::kClick;
    records[i].code = kClick;
    records[i].campaign_id = "c1";
    records[i].channel = "douyin";
    ptrs.push_back(&records[i]);
  }
  op.EnrichBatch(ptrs);
  EXPECT_EQ(counting.multi_gets, 1);
  EXPECT_EQ(counting.keys_read, 4u);  // each user once
  EXPECT_EQ(counting.gets, 4);        // (the default MultiGet's, none of its own)
  EXPECT_TRUE(records[0].new_user == false && records[3].new_user == true);
  EXPECT_EQ(op.users(), 4);
  EXPECT_EQ(op.users_in_memory(), 4u);
}

}  // namespace
}  // namespace promowatch
