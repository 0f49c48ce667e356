#include "pipeline/state/changelog.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "unit/test_util.h"

namespace promowatch {
namespace {

const std::vector<std::string> kTables = {"windows", "profiles"};

using testing::TableContents;

// A task owner as the runtime drives it: its state, its generation, its
// checkpoints appended to the changelog partition.
struct Owner {
  MemoryState state;
  int64_t generation = 1;
  int64_t sequence = 0;
  bool next_full = true;  // an owner's first checkpoint is a full batch

  // One checkpoint: `ops` write into the local state and the changelog.
  std::vector<ChangelogRecord> Checkpoint(const std::function<void(StateWriter&)>& ops,
                                          int64_t offset) {
    ChangelogBatchWriter log(3, generation, ++sequence, next_full, &state);
    if (next_full) {
      EXPECT_TRUE(log.PutAll(state, kTables).ok());
    }
    next_full = false;
    MemoryState staged = state;  // the local batch sees the same writes
    ops(log);
    ops(staged);
    state = staged;
    return log.Finish({{"clickstream/3", offset}}, offset * 10);
  }
};

absl::StatusOr<ChangelogPosition> Restore(const std::vector<ChangelogRecord>& log, MemoryState* out,
                                          ChangelogRestorer** keep = nullptr) {
  static std::unique_ptr<ChangelogRestorer> last;
  last = std::make_unique<ChangelogRestorer>(3, kTables, out);
  for (const auto& r : log) {
    if (auto s = last->Add(r); !s.ok()) return s;
  }
  if (keep != nullptr) *keep = last.get();
  return last->Finish();
}

void Append(std::vector<ChangelogRecord>* log, std::vector<ChangelogRecord> batch) {
  for (auto& r : batch) log->push_back(std::move(r));
}

TEST(Changelog, RestoreRebuildsTheStateAndPosition) {
  Owner o;
  std::vector<ChangelogRecord> log;
  Append(&log, o.Checkpoint([](StateWriter& w) { w.Put("windows", "a", "1"); }, 10));
  Append(&log, o.Checkpoint(
                   [](StateWriter& w) {
                     w.Put("windows", "b", "2");
                     w.Put("profiles", "u1", "p");
                     w.Delete("windows", "a");
                   },
                   20));
  Append(&log, o.Checkpoint([](StateWriter& w) { w.Put("windows", "a", "3"); }, 30));
  MemoryState restored;
  auto p = Restore(log, &restored);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->sequence, 3);
  EXPECT_EQ(p->offsets.at("clickstream/3"), 30);
  EXPECT_EQ(p->watermark_ms, 300);
  for (const auto& t : kTables)
    EXPECT_EQ(TableContents(restored, t), TableContents(o.state, t)) << t;
  EXPECT_EQ(TableContents(restored, "windows").at("a"), "3");
}

TEST(Changelog, RangeDeletesBecomeTheDeletesOfTheKeysTheyCover) {
  Owner o;
  std::vector<ChangelogRecord> log;
  Append(&log, o.Checkpoint(
                   [](StateWriter& w) {
                     for (const char* k : {"p1", "p2", "p3", "q1"}) w.Put("windows", k, "x");
                   },
                   1));
  Append(&log, o.Checkpoint(
                   [](StateWriter& w) {
                     w.Put("windows", "p25", "new");  // put in this batch, then covered
                     w.DeleteRange("windows", "p2", "q");
                     w.Put("windows", "p4", "after");  // after the range: stays
                   },
                   2));
  int tombstones = 0;
  for (const auto& r : log) tombstones += r.value ? 0 : 1;
  EXPECT_EQ(tombstones, 3);  // p2, p25, p3: every delete is a key compaction understands
  MemoryState restored;
  ASSERT_TRUE(Restore(log, &restored).ok());
  EXPECT_EQ(TableContents(restored, "windows"), TableContents(o.state, "windows"));
  EXPECT_EQ(TableContents(restored, "windows").size(), 3u);  // p1, p4, q1
}

TEST(Changelog, ATrailingBatchWithoutItsCommitIsIgnored) {
  Owner o;
  std::vector<ChangelogRecord> log;
  Append(&log, o.Checkpoint([](StateWriter& w) { w.Put("windows", "a", "1"); }, 10));
  auto torn = o.Checkpoint([](StateWriter& w) { w.Put("windows", "a", "2"); }, 20);
  torn.pop_back();  // the owner died before the commit record
  Append(&log, torn);
  MemoryState restored;
  auto p = Restore(log, &restored);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->sequence, 1);
  EXPECT_EQ(p->offsets.at("clickstream/3"), 10);  // the input after it is read again
  EXPECT_EQ(TableContents(restored, "windows").at("a"), "1");
}

TEST(Changelog, AZombiesWritesAfterANewerOwnerTookOverChangeNothing) {
  Owner old_owner;
  std::vector<ChangelogRecord> log;
  Append(&log, old_owner.Checkpoint([](StateWriter& w) { w.Put("windows", "a", "1"); }, 10));
  // A new owner restores and takes the next generation; its first batch is full.
  MemoryState taken;
  ChangelogRestorer* restorer = nullptr;
  auto p = Restore(log, &taken, &restorer);
  ASSERT_TRUE(p.ok());
  Owner new_owner;
  new_owner.state = taken;
  new_owner.generation = restorer->next_generation();
  new_owner.sequence = p->sequence;
  EXPECT_EQ(new_owner.generation, 2);
  // The old owner, paused past its session timeout, resumes and writes,
  // interleaved with the new owner's batches.
  auto zombie = old_owner.Checkpoint([](StateWriter& w) { w.Put("windows", "a", "zombie"); }, 99);
  auto fresh = new_owner.Checkpoint([](StateWriter& w) { w.Put("windows", "b", "2"); }, 20);
  log.insert(log.end(), zombie.begin(), zombie.begin() + 1);
  log.insert(log.end(), fresh.begin(), fresh.end());
  log.insert(log.end(), zombie.begin() + 1, zombie.end());
  Append(&log, old_owner.Checkpoint([](StateWriter& w) { w.Put("windows", "z", "z"); }, 120));
  Append(&log, new_owner.Checkpoint([](StateWriter& w) { w.Put("windows", "c", "3"); }, 30));
  MemoryState restored;
  ChangelogRestorer* r2 = nullptr;
  auto q = Restore(log, &restored, &r2);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->generation, 2);
  EXPECT_EQ(q->offsets.at("clickstream/3"), 30);
  EXPECT_EQ(TableContents(restored, "windows"), TableContents(new_owner.state, "windows"));
  EXPECT_EQ(r2->batches_ignored(), 2);  // the zombie's two late batches
}

TEST(Changelog, AHeadTruncatedBeforeTheLastFullBatchIsFine) {
  Owner o;
  std::vector<ChangelogRecord> log;
  Append(&log, o.Checkpoint([](StateWriter& w) { w.Put("windows", "a", "1"); }, 10));
  Append(&log, o.Checkpoint([](StateWriter& w) { w.Put("windows", "b", "2"); }, 20));
  o.next_full = true;  // the writer's increments outgrew their bound: a snapshot
  Append(&log, o.Checkpoint([](StateWriter& w) { w.Delete("windows", "a"); }, 30));
  Append(&log, o.Checkpoint([](StateWriter& w) { w.Put("windows", "c", "3"); }, 40));
  // Retention deleted the first batches and half of the second.
  size_t cut = 0;
  int commits = 0;
  while (commits < 1 || log[cut].key[0] != 'w') commits += log[cut++].key == "c" ? 1 : 0;
  std::vector<ChangelogRecord> held(log.begin() + static_cast<long>(cut) + 1, log.end());
  MemoryState restored;
  auto p = Restore(held, &restored);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->sequence, 4);
  EXPECT_EQ(TableContents(restored, "windows"), TableContents(o.state, "windows"));
}

TEST(Changelog, AGapIsAnErrorNeverAPartialState) {
  Owner o;
  std::vector<ChangelogRecord> log;
  Append(&log, o.Checkpoint([](StateWriter& w) { w.Put("windows", "a", "1"); }, 10));
  const size_t first_batch_end = log.size();
  Append(&log, o.Checkpoint([](StateWriter& w) { w.Put("windows", "b", "2"); }, 20));
  // The full batch is gone: only increments are held.
  std::vector<ChangelogRecord> held(log.begin() + static_cast<long>(first_batch_end), log.end());
  MemoryState restored;
  auto p = Restore(held, &restored);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("no complete full batch"), std::string::npos) << p.status();
  // A batch missing between the full one and a later one.
  std::vector<ChangelogRecord> holed(log.begin(), log.begin() + static_cast<long>(first_batch_end));
  Append(&holed, o.Checkpoint([](StateWriter& w) { w.Put("windows", "c", "3"); }, 30));
  auto q = Restore(holed, &restored);
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.status().message().find("sequence 2 is missing"), std::string::npos) << q.status();
}

TEST(Changelog, AnEmptyChangelogIsANewTask) {
  MemoryState restored;
  auto p = Restore({}, &restored);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->sequence, 0);
}

TEST(Changelog, ForeignRecordsAreRefused) {
  MemoryState restored;
  ChangelogRestorer r(3, kTables, &restored);
  ChangelogRecord foreign;
  foreign.key = "hello";
  foreign.value = "world";
  EXPECT_FALSE(r.Add(foreign).ok());
  Owner other;
  ChangelogBatchWriter w(5, 1, 1, true, &other.state);  // task 5's batch in task 3's partition
  auto batch = w.Finish({}, 0);
  EXPECT_FALSE(r.Add(batch.front()).ok());
}

}  // namespace
}  // namespace promowatch
