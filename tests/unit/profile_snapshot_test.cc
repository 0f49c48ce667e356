// The profiles' snapshot written on the committing thread (copy on write,
// operators/profile_snapshot.h): what a checkpoint holds is every changed
// profile as of its snapshot, whatever the pipeline does to the profiles
// while the write waits or runs.
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "operators/state.h"
#include "operators/user_profiles.h"

namespace promowatch {
namespace {

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kStart = 1'794'355'200'000;  // 2026-11-11T00:00:00Z

// Keeps deferred writes for later (as the state backend's batch does) and
// applies everything to a MemoryState.
class DeferringState final : public StateWriter {
 public:
  explicit DeferringState(MemoryState* state) : state_(state) {}
  void Put(std::string_view table, std::string_view key, std::string_view value) override {
    state_->Put(table, key, value);
  }
  void Delete(std::string_view table, std::string_view key) override { state_->Delete(table, key); }
  void DeleteRange(std::string_view table, std::string_view begin, std::string_view end) override {
    state_->DeleteRange(table, begin, end);
  }
  void Defer(DeferredWrite write) override { deferred_.push_back(std::move(write)); }
  size_t deferred() const { return deferred_.size(); }
  void RunDeferred() {
    for (DeferredWrite& w : deferred_) w(*this);
    deferred_.clear();
  }

 private:
  MemoryState* state_;
  std::vector<DeferredWrite> deferred_;
};

struct Feed {
  explicit Feed(const TagRules& rules = TagRules{}) : op(rules, nullptr) {}
  std::deque<EventRecord> records;
  UserProfileOperator op;

  // Clicks and paid orders of `users` users from `t` on, one batch.
  void Batch(int users, int64_t t, int round) {
    std::vector<EventRecord*> batch;
    for (int u = 0; u < users; ++u) {
      EventRecord& r = records.emplace_back();
      r.kind = (u + round) % 3 == 0 ? EventKind::kOrder : EventKind::kClick;
      r.code = r.kind == EventKind::kOrder ? int32_t{kPaid} : int32_t{kClick};
      r.user_id = "user-" + std::to_string(u) + (u % 2 == 0 ? "-with-a-longer-id" : "");
      r.event_time_ms = t + u;
      r.amount_cents = 10'000 + 100 * u;
      r.campaign_id = "c" + std::to_string(round % 4);
      r.channel = round % 2 == 0 ? "douyin" : "tmall";
      r.watermark_ms = t - 1;
      batch.push_back(&r);
    }
    op.EnrichBatch(batch);
  }
};

using Tables = std::map<std::string, std::map<std::string, std::string>>;

Tables Read(const MemoryState& state) {
  Tables out;
  // (Not the totals, written by the pipeline at the snapshot: a protobuf
  // map, whose bytes differ from one serialisation to the next.)
  for (std::string_view table : {UserProfileOperator::kTable, UserProfileOperator::kTimersTable}) {
    auto& rows = out[std::string(table)];
    EXPECT_TRUE(state
                    .Scan(table,
                          [&](std::string_view k, std::string_view v) {
                            rows.emplace(std::string(k), std::string(v));
                            return absl::OkStatus();
                          })
                    .ok());
  }
  return out;
}

// `later` runs between the snapshot and its deferred write (on this
// thread, or beside it on another when `beside` is set); the state must
// equal a snapshot written at once by an operator fed the same events.
// Round r sends users[r] users (the next round's batch runs while round
// r's snapshot waits or is written). Returns the profiles in state after
// each snapshot.
std::vector<size_t> ExpectSnapshotAsOfItsTime(bool beside, const TagRules& rules = TagRules{},
                                              const std::vector<int>& users = {400, 300, 400,
                                                                               300}) {
  std::vector<size_t> profiles;
  Feed deferred(rules), direct(rules);
  MemoryState deferred_state, direct_state;
  for (int round = 0; round + 1 < static_cast<int>(users.size()); ++round) {
    const int64_t t = kStart + round * kDay;
    if (round == 0) {
      deferred.Batch(users[0], t, round);
      direct.Batch(users[0], t, round);
    }
    DeferringState out(&deferred_state);
    deferred.op.Snapshot(out);
    direct.op.Snapshot(direct_state);
    EXPECT_EQ(out.deferred(), 1u);
    // The reference is as of the snapshot: compared before it moves on.
    const Tables expected = Read(direct_state);
    // The next round's events change most of the profiles in the snapshot
    // while it waits (copied first) or while it is written (either side
    // may claim a profile first).
    const int64_t next = kStart + (round + 1) * kDay;
    const int later = users[static_cast<size_t>(round) + 1];
    if (beside) {
      std::thread committer([&] { out.RunDeferred(); });
      deferred.Batch(later, next, round + 1);
      committer.join();
    } else {
      deferred.Batch(later, next, round + 1);
      out.RunDeferred();
    }
    EXPECT_EQ(Read(deferred_state), expected) << "round " << round;
    profiles.push_back(expected.at(std::string(UserProfileOperator::kTable)).size());
    deferred.op.OnCheckpointCommitted();
    direct.op.OnCheckpointCommitted();
    direct.Batch(later, next, round + 1);  // (the same events, after its snapshot)
  }
  return profiles;
}

// Users unseen for half a day expire: a snapshot holds profiles gone since
// the last one (deleted from state), and the next round's batch brings
// some of them back while that snapshot waits or is written (the pipeline
// settles a gone profile before it begins anew).
TagRules ExpiringInHalfADay() {
  TagRules rules;
  rules.expire_after_ms = kDay / 2;
  return rules;
}
const std::vector<int> kComeAndGo = {400, 300, 400, 200, 400};

TEST(ProfileSnapshot, AWriteAfterTheSnapshotHoldsTheProfilesAsOfIt) {
  ExpectSnapshotAsOfItsTime(/*beside=*/false);
}

TEST(ProfileSnapshot, AWriteOnAnotherThreadHoldsTheProfilesAsOfTheSnapshot) {
  ExpectSnapshotAsOfItsTime(/*beside=*/true);
}

// Each snapshot holds the users of the batch before it: the others expired.
const std::vector<size_t> kComeAndGoInState = {400, 300, 400, 200};

TEST(ProfileSnapshot, ProfilesGoneAndBackAreDeletedAsOfTheSnapshot) {
  EXPECT_EQ(ExpectSnapshotAsOfItsTime(/*beside=*/false, ExpiringInHalfADay(), kComeAndGo),
            kComeAndGoInState);
}

TEST(ProfileSnapshot, ProfilesGoneAndBackOnAnotherThreadAreDeletedAsOfTheSnapshot) {
  EXPECT_EQ(ExpectSnapshotAsOfItsTime(/*beside=*/true, ExpiringInHalfADay(), kComeAndGo),
            kComeAndGoInState);
}

TEST(ProfileSnapshot, AWriteNeverRunLeavesTheNextSnapshotWhole) {
  // A checkpoint whose batch is dropped (a failed commit): its write never
  // runs; the next snapshot still writes every profile changed since the
  // one before it.
  Feed deferred, direct;
  MemoryState deferred_state, direct_state;
  deferred.Batch(200, kStart, 0);
  direct.Batch(200, kStart, 0);
  {
    DeferringState dropped(&deferred_state);
    deferred.op.Snapshot(dropped);
  }  // (destroyed with its deferred write)
  direct.op.Snapshot(direct_state);
  deferred.Batch(100, kStart + kDay, 1);
  direct.Batch(100, kStart + kDay, 1);
  DeferringState out(&deferred_state);
  deferred.op.Snapshot(out);
  out.RunDeferred();
  direct.op.Snapshot(direct_state);
  // The dropped checkpoint's profiles untouched since are lost with it (a
  // failed commit stops the pipeline); those changed again are written.
  const Tables got = Read(deferred_state);
  const Tables want = Read(direct_state);
  for (const auto& [user, profile] : got.at(std::string(UserProfileOperator::kTable)))
    EXPECT_EQ(profile, want.at(std::string(UserProfileOperator::kTable)).at(user)) << user;
  EXPECT_EQ(got.at(std::string(UserProfileOperator::kTable)).size(), 100u);
}

}  // namespace
}  // namespace promowatch
