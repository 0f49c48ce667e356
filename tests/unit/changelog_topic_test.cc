// The changelog through Kafka's protocol: librdkafka's mock cluster in
// process, a real producer and consumer.

#include "pipeline/io/changelog_topic.h"

#include <gtest/gtest.h>

#include "pipeline/io/kafka.h"
#include "pipeline/live/task_owner.h"
#include "unit/test_util.h"

namespace promowatch {
namespace {

const std::vector<std::string> kTopicTables = {"windows", "profile_timers"};

using testing::TableContents;

TEST(ChangelogTopic, BatchesRoundTripThroughKafka) {
  auto cluster = MockKafkaCluster::Start(1, 4, {"promowatch-changelog"});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  KafkaOptions options;
  options.brokers = (*cluster)->bootstrap_servers();
  auto topic = ChangelogTopic::Open(options, "promowatch-changelog");
  ASSERT_TRUE(topic.ok()) << topic.status();

  MemoryState state;
  {
    ChangelogBatchWriter w(2, 1, 1, /*full=*/true, &state);
    w.Put("windows", "a", "1");
    w.Put("profile_timers", "t1", "");  // an empty value is a put, not a delete
    w.Put("windows", std::string("bin\0ary", 7), std::string("\0\xff", 2));
    ASSERT_TRUE((*topic)->Append(2, w.Finish({{"clickstream/2", 10}}, 100), 10'000).ok());
  }
  state.Put("windows", "a", "1");
  state.Put("profile_timers", "t1", "");
  state.Put("windows", std::string("bin\0ary", 7), std::string("\0\xff", 2));
  {
    ChangelogBatchWriter w(2, 1, 2, false, &state);
    w.Delete("windows", "a");
    w.Put("windows", "b", "2");
    ASSERT_TRUE((*topic)->Append(2, w.Finish({{"clickstream/2", 20}}, 200), 10'000).ok());
  }
  state.Delete("windows", "a");
  state.Put("windows", "b", "2");
  {
    // The owner dies while writing its third batch: no commit record.
    ChangelogBatchWriter w(2, 1, 3, false, &state);
    w.Put("windows", "b", "torn");
    auto batch = w.Finish({{"clickstream/2", 30}}, 300);
    batch.pop_back();
    ASSERT_TRUE((*topic)->Append(2, batch, 10'000).ok());
  }

  MemoryState restored;
  ChangelogRestorer restorer(2, kTopicTables, &restored);
  int64_t progress_calls = 0;
  auto read = (*topic)->Read(2, &restorer, 10'000, [&](int64_t, int64_t) { ++progress_calls; });
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, 5 + 4 + 2);  // begin, writes and commit of each batch; the torn one's two
  EXPECT_GE(progress_calls, 1);
  auto p = restorer.Finish();
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->sequence, 2);
  EXPECT_EQ(p->offsets.at("clickstream/2"), 20);
  for (const auto& t : kTopicTables)
    EXPECT_EQ(TableContents(restored, t), TableContents(state, t)) << t;
  EXPECT_EQ(restorer.next_generation(), 2);

  // Another task's partition is empty: a new task.
  MemoryState empty;
  ChangelogRestorer other(1, kTopicTables, &empty);
  auto none = (*topic)->Read(1, &other, 10'000);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, 0);
  EXPECT_EQ(other.Finish()->sequence, 0);
}

}  // namespace
}  // namespace promowatch

namespace promowatch {
namespace {

// A task's next full batch waits for increments of the larger of the bound
// and a quarter of its last full batch: small tasks as before (every
// `snapshot_bytes`), a large one no longer rewrites its whole state every
// few checkpoints.
TEST(ChangelogFullBatches, FollowTheBoundOrAQuarterOfTheState) {
  constexpr int64_t kMiB = int64_t{1} << 20;
  EXPECT_FALSE(NextBatchFull(kMiB, 200 * 1024, kMiB));
  EXPECT_TRUE(NextBatchFull(kMiB + 1, 200 * 1024, kMiB));
  EXPECT_TRUE(NextBatchFull(kMiB + 1, 4 * kMiB, kMiB));  // 4 MiB: still the bound
  EXPECT_FALSE(NextBatchFull(20 * kMiB, 100 * kMiB, kMiB));
  EXPECT_TRUE(NextBatchFull(25 * kMiB + 1, 100 * kMiB, kMiB));
}

}  // namespace
}  // namespace promowatch
