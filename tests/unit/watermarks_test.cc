#include "pipeline/runtime/watermarks.h"

#include <gtest/gtest.h>

namespace promowatch {
namespace {

TEST(Watermarks, MinimumOverPartitionsMinusOutOfOrderness) {
  WatermarkTracker w(5'000, 0);
  const uint32_t a = w.Slot("clickstream/0"), b = w.Slot("clickstream/1");
  EXPECT_EQ(w.Slot("clickstream/0"), a) << "slots are stable";
  w.Observe(a, 100'000, 0);
  EXPECT_EQ(w.current(), kNoWatermark) << "a partition that has not spoken holds the watermark";
  w.Observe(b, 60'000, 0);
  EXPECT_EQ(w.current(), 55'000);
  w.Observe(b, 200'000, 0);
  EXPECT_EQ(w.current(), 95'000);
  w.Observe(a, 90'000, 0);  // older data does not move it back
  EXPECT_EQ(w.current(), 95'000);
}

TEST(Watermarks, LongestSilenceSkipsUnassignedAndDeliveringPartitions) {
  WatermarkTracker w(0, 10'000);
  const uint32_t a = w.Slot("orders/0"), b = w.Slot("orders/1"), c = w.Slot("orders/2");
  w.Observe(a, 1'000, 1'000);
  w.Observe(b, 1'000, 5'000);
  w.Observe(c, 1'000, 0);
  w.SetAssigned(c, false, 0);
  EXPECT_EQ(w.LongestSilence(61'000, {}), (std::pair<std::string, int64_t>{"orders/0", 60'000}));
  EXPECT_EQ(w.LongestSilence(61'000, {a}), (std::pair<std::string, int64_t>{"orders/1", 56'000}));
  EXPECT_EQ(w.LongestSilence(61'000, {a, b}).second, 0) << "orders/2 is not assigned";
}

// The repartition topic is empty while producers key by user id (the
// normal case): its silence says nothing about the inputs. Counted, it made
// every run's data incomplete after partition_silent_for (5 min), and alert
// rules were never judged again (found by scripts/soak.py --processes).
TEST(Watermarks, LongestSilenceSkipsExcludedPartitions) {
  WatermarkTracker w(0, 10'000);
  const uint32_t in = w.Slot("orders/0"), repartition = w.Slot("promowatch-repartition/0");
  w.Exclude(repartition);
  w.SetAssigned(repartition, true, 0);
  w.Observe(in, 1'000, 590'000);
  EXPECT_EQ(w.LongestSilence(600'000, {}), (std::pair<std::string, int64_t>{"orders/0", 10'000}));
  EXPECT_EQ(w.TopicSilence(600'000), (std::map<std::string, int64_t>{{"orders", 10'000}}));
}

TEST(Watermarks, TopicSilenceIsSinceTheNewestRecordOfAnyTopicPartition) {
  WatermarkTracker w(0, 10'000);
  w.Observe(w.Slot("orders/0"), 1, 1'000);
  w.Observe(w.Slot("orders/1"), 1, 4'000);
  w.Observe(w.Slot("spend/0"), 1, 2'000);
  w.SetAssigned(w.Slot("spend/0"), false, 2'000);
  EXPECT_EQ(w.TopicSilence(10'000), (std::map<std::string, int64_t>{{"orders", 6'000}}));
}

TEST(Watermarks, IdlePartitionStopsHoldingBackAndRejoinsWithoutGoingBack) {
  WatermarkTracker w(0, 10'000);
  const uint32_t a = w.Slot("a"), b = w.Slot("b");
  w.Observe(a, 1'000, 0);
  w.Observe(b, 50'000, 0);
  EXPECT_EQ(w.current(), 1'000);
  w.Observe(b, 90'000, 9'000);
  w.CheckIdle(9'999);
  EXPECT_EQ(w.current(), 1'000);
  w.CheckIdle(10'000);  // "a" silent for 10 s of wall time
  EXPECT_EQ(w.idle_partitions(), 1u);
  EXPECT_EQ(w.current(), 90'000);
  w.Observe(a, 2'000, 11'000);  // back, with old data: the watermark stays
  EXPECT_EQ(w.idle_partitions(), 0u);
  EXPECT_EQ(w.current(), 90'000);
}

TEST(Watermarks, APartitionBehindIsSlowNotIdle) {
  WatermarkTracker w(0, 10'000);
  const uint32_t a = w.Slot("a"), b = w.Slot("b");
  w.Observe(a, 1'000, 0);
  w.Observe(b, 50'000, 0);
  w.SetBehind(a, true, 0);  // Kafka holds records of "a" the consumer has not fetched yet
  w.CheckIdle(60'000);
  EXPECT_EQ(w.idle_partitions(), 1u) << "only b, caught up and silent, is idle";
  EXPECT_EQ(w.current(), 1'000) << "a still holds the watermark: its records would be late";
  w.SetBehind(a, false, 60'000);
  w.CheckIdle(60'000);
  EXPECT_EQ(w.current(), 50'000) << "caught up and silent: idle";
  w.SetBehind(a, true, 60'000);
  EXPECT_EQ(w.idle_partitions(), 1u) << "records arrived in Kafka: not idle any more";
  w.Observe(a, 3'000, 61'000);
  EXPECT_EQ(w.current(), 50'000) << "and the watermark never goes back";
}

TEST(Watermarks, ATaskBehindHasItsOwnTheOthersFollowTheOverallOne) {
  WatermarkTracker w(0, 10'000);
  w.EnableTasks(2);
  const uint32_t c0 = w.Slot("clicks/0"), o0 = w.Slot("orders/0"), c1 = w.Slot("clicks/1");
  w.Observe(c0, 90'000, 0);
  w.Observe(o0, 80'000, 0);
  w.Observe(c1, 50'000, 0);
  EXPECT_EQ(w.current(), 50'000);
  EXPECT_EQ(w.task_current(1), 50'000);
  EXPECT_EQ(w.task_current(0), 50'000)
      << "never ahead of the overall watermark: records forwarded from clicks/1 reach task 0 too";
  // Task 1 moves here from elsewhere with older data: its own records are
  // judged against its own time, the overall watermark never goes back.
  w.RestoreTask(1, 20'000);
  w.Restore({{"clicks/1", 20'000}});
  w.SetAssigned(c1, true, 1'000);
  EXPECT_EQ(w.task_current(1), 20'000);
  EXPECT_EQ(w.task_current(0), 50'000);
  EXPECT_EQ(w.current(), 50'000);
  w.Observe(c1, 40'000, 2'000);
  EXPECT_EQ(w.task_current(1), 40'000);
  w.Observe(c1, 60'000, 2'000);
  EXPECT_EQ(w.task_current(1), 60'000);
  // All of task 1's partitions idle: it follows the overall watermark.
  w.Observe(c0, 95'000, 11'000);
  w.Observe(o0, 85'000, 11'000);
  w.CheckIdle(12'000);
  EXPECT_EQ(w.current(), 85'000);
  EXPECT_EQ(w.task_current(1), 85'000);
}

TEST(Watermarks, RevokedPartitionsDoNotCountAndStateRoundTrips) {
  WatermarkTracker w(0, 0);
  const uint32_t a = w.Slot("a"), b = w.Slot("b");
  w.Observe(a, 10, 0);
  w.Observe(b, 500, 0);
  w.SetAssigned(a, false, 0);
  EXPECT_EQ(w.current(), 500);
  WatermarkTracker r(0, 0);
  r.Restore(w.Snapshot());
  EXPECT_EQ(r.current(), 500) << "the watermark never goes back, not even across a restart";
  r.Observe(r.Slot("a"), 700, 0);
  EXPECT_EQ(r.current(), 700) << "restored partitions count only once assigned: b is not";
  r.SetAssigned(r.Slot("b"), true, 0);
  r.Observe(r.Slot("a"), 2'000, 0);
  EXPECT_EQ(r.current(), 700) << "b, assigned again with its restored time (500), holds it";
  r.Observe(r.Slot("b"), 900, 0);
  EXPECT_EQ(r.current(), 900);
}

TEST(Watermarks, AllIdleFlushesToTheNewestTimeSeen) {
  WatermarkTracker w(1'000, 5'000);
  const uint32_t a = w.Slot("a"), b = w.Slot("b"), empty = w.Slot("never");
  w.Observe(a, 10'000, 0);
  w.Observe(b, 40'000, 0);
  EXPECT_EQ(w.current(), kNoWatermark) << "a partition that never delivered holds it";
  w.CheckIdle(5'000);  // all three idle now
  EXPECT_EQ(w.current(), 39'000);
  (void)empty;
}

// After the repartition shuffle (watermarks.h, "Forwarders"): this instance
// runs task 1 only; tasks 0 and 2 run elsewhere and forward to it.
TEST(Watermarks, AForwarderBehindHoldsTheTaskItForwardsTo) {
  WatermarkTracker w(5'000, 10'000);
  w.EnableTasks(3);
  w.EnableForwarders(60'000);
  const uint32_t c1 = w.Slot("clicks/1");
  w.RestoreForwarderMarks(1, {}, 0);  // a new task: nothing heard yet
  w.Observe(c1, 100'000, 0);
  EXPECT_EQ(w.current(), 95'000) << "the instance's own partitions";
  EXPECT_EQ(w.task_current(1), kNoWatermark) << "forwarders never heard of hold the task";
  w.SetForwarderMark(1, 0, 50'000, 0);
  EXPECT_EQ(w.task_current(1), kNoWatermark) << "task 2 is not heard of yet";
  w.SetForwarderMark(1, 2, WatermarkTracker::kForwarderIdle, 0);
  EXPECT_EQ(w.task_current(1), kNoWatermark) << "an idle mark at the task's start is doubted";
  w.Observe(c1, 100'000, 9'000);
  w.SetForwarderMark(1, 0, 50'000, 9'000);
  w.SetForwarderMark(1, 2, WatermarkTracker::kForwarderIdle, 9'000);
  w.CheckIdle(10'000);  // idle for an idle timeout since the start: idle
  EXPECT_EQ(w.task_current(1), 45'000) << "task 0 is behind: its forwards may still come";
  w.SetForwarderMark(1, 0, 80'000, 10'100);
  EXPECT_EQ(w.task_current(1), 75'000);
  w.SetForwarderMark(1, 2, 60'000, 10'100);
  EXPECT_EQ(w.task_current(1), 75'000) << "never back, even when an idle forwarder wakes behind";
  w.SetForwarderMark(1, 2, 90'000, 10'100);
  w.SetForwarderMark(1, 0, 200'000, 10'100);
  EXPECT_EQ(w.task_current(1), 85'000);
  EXPECT_EQ(w.current(), 95'000) << "marks hold tasks, not the instance's own partitions";
  w.Observe(c1, 300'000, 10'200);
  w.SetForwarderMark(1, 2, 400'000, 10'200);
  EXPECT_EQ(w.task_current(1), 195'000) << "the lowest of its own partitions and every forwarder";
}

TEST(Watermarks, AForwarderThatLeavesStopsHoldingAfterTheTimeout) {
  WatermarkTracker w(0, 0);
  w.EnableTasks(2);
  w.EnableForwarders(30'000);
  const uint32_t c1 = w.Slot("clicks/1");
  w.RestoreForwarderMarks(1, {}, 1'000);
  w.Observe(c1, 100'000, 1'000);
  w.SetForwarderMark(1, 0, 40'000, 2'000);
  EXPECT_EQ(w.task_current(1), 40'000);
  w.CheckIdle(31'999);
  EXPECT_EQ(w.task_current(1), 40'000) << "silent for less than the timeout: still waited for";
  auto view = w.Forwarders(1, 31'999);
  ASSERT_EQ(view.size(), 1u);
  EXPECT_EQ(view[0].source, 0);
  EXPECT_EQ(view[0].silent_ms, 29'999);
  EXPECT_FALSE(view[0].vanished);
  w.CheckIdle(32'000);
  EXPECT_EQ(w.task_current(1), 100'000) << "silent for the timeout: it holds nobody";
  EXPECT_TRUE(w.Forwarders(1, 32'000)[0].vanished);
  // Its task's next owner speaks: held again from there, never back.
  w.SetForwarderMark(1, 0, 90'000, 40'000);
  w.Observe(c1, 150'000, 40'000);
  EXPECT_EQ(w.task_current(1), 100'000);
  EXPECT_FALSE(w.Forwarders(1, 40'000)[0].vanished);
  // A forwarder never heard of vanishes too (a task whose owner died
  // before this one started).
  w.RestoreForwarderMarks(1, {}, 50'000);
  w.Observe(c1, 160'000, 50'000);
  EXPECT_EQ(w.task_current(1), 100'000);
  w.CheckIdle(80'000);
  EXPECT_EQ(w.task_current(1), 160'000);
}

// An idle forwarder holds nobody only while it keeps saying so: one whose
// instance died idle may have records waiting for its next owner (the
// scale-out test's killed member, between two phases of a sale).
TEST(Watermarks, AnIdleForwarderThatFallsSilentHoldsAgain) {
  WatermarkTracker w(0, 0);
  w.EnableTasks(2);
  w.EnableForwarders(60'000);
  const uint32_t c1 = w.Slot("clicks/1");
  w.RestoreForwarderMarks(1, {}, 0);
  w.SetForwarderMark(1, 0, WatermarkTracker::kForwarderIdle, 0);
  w.Observe(c1, 100'000, 0);
  EXPECT_EQ(w.task_current(1), 100'000) << "an idle forwarder that says so holds nobody";
  w.CheckIdle(WatermarkTracker::kForwarderStaleMs - 1);
  w.Observe(c1, 200'000, 1'000);
  EXPECT_EQ(w.task_current(1), 200'000);
  w.CheckIdle(WatermarkTracker::kForwarderStaleMs);
  w.Observe(c1, 300'000, 4'000);
  EXPECT_EQ(w.task_current(1), 200'000) << "silent: it may have records waiting, so it holds";
  w.SetForwarderMark(1, 0, 250'000, 5'000);  // its next owner, with its records
  EXPECT_EQ(w.task_current(1), 250'000);
  w.SetForwarderMark(1, 0, WatermarkTracker::kForwarderIdle, 6'000);
  EXPECT_EQ(w.task_current(1), 300'000);
  w.CheckIdle(6'000 + WatermarkTracker::kForwarderStaleMs);
  w.CheckIdle(6'000 + 60'000);  // vanished: holds nobody
  w.Observe(c1, 400'000, 70'000);
  EXPECT_EQ(w.task_current(1), 400'000);
}

// A sale paused longer than the idle timeout resumes on every instance at
// once, but each fetches it in its own time: an idle forwarder whose
// instance has not fetched yet would let the task run ahead of the records
// it is about to forward (the scale-out test's member paused while a phase
// of the sale was produced). Doubted, it holds until it sends a time, or
// for an idle timeout.
TEST(Watermarks, AnIdleForwarderIsDoubtedWhenTheInputResumes) {
  WatermarkTracker w(0, 10'000);
  w.EnableTasks(2);
  w.EnableForwarders(60'000);
  const uint32_t c1 = w.Slot("clicks/1");
  w.RestoreForwarderMarks(1, {}, 0);
  w.Observe(c1, 100'000, 0);
  w.SetForwarderMark(1, 0, WatermarkTracker::kForwarderIdle, 0);
  EXPECT_EQ(w.task_current(1), kNoWatermark) << "at the task's start an idle mark is old news";
  w.SetForwarderMark(1, 0, WatermarkTracker::kForwarderIdle, 9'000);
  w.Observe(c1, 100'000, 9'000);
  w.CheckIdle(10'000);
  EXPECT_EQ(w.task_current(1), 100'000) << "idle for an idle timeout since the start: idle";
  w.CheckIdle(19'000);  // the sale pauses: clicks/1 idle
  w.SetForwarderMark(1, 0, WatermarkTracker::kForwarderIdle, 19'500);
  EXPECT_EQ(w.task_current(1), 100'000);
  EXPECT_FALSE(w.Forwarders(1, 19'500)[0].doubted);

  w.Observe(c1, 400'000, 20'000);                                      // it resumes here first
  w.SetForwarderMark(1, 0, WatermarkTracker::kForwarderIdle, 20'200);  // sent before it fetched
  EXPECT_EQ(w.task_current(1), 100'000) << "the forwarder's input resumed too, unseen yet";
  EXPECT_TRUE(w.Forwarders(1, 20'200)[0].doubted);
  w.SetForwarderMark(1, 0, 300'000, 20'500);  // it fetched: its time
  EXPECT_EQ(w.task_current(1), 300'000) << "its records are on time";
  w.SetForwarderMark(1, 0, WatermarkTracker::kForwarderIdle, 20'550);
  EXPECT_EQ(w.task_current(1), 300'000) << "an idle after a time is still doubted (the backlog)";
  w.SetForwarderMark(1, 0, 500'000, 20'600);
  EXPECT_EQ(w.task_current(1), 400'000);
  w.SetForwarderMark(1, 0, WatermarkTracker::kForwarderIdle, 29'000);
  w.CheckIdle(29'999);
  EXPECT_EQ(w.task_current(1), 400'000);

  // A forwarder idle for good holds for an idle timeout after each resume.
  w.CheckIdle(30'000);  // clicks/1 idle again; the doubt since 20'000 is over
  EXPECT_EQ(w.task_current(1), 400'000);
  EXPECT_FALSE(w.Forwarders(1, 30'000)[0].doubted);
  w.SetBehind(c1, true, 30'500);  // Kafka has records of it: resumed
  w.Observe(c1, 600'000, 30'600);
  w.SetForwarderMark(1, 0, WatermarkTracker::kForwarderIdle, 31'000);
  EXPECT_EQ(w.task_current(1), 400'000);
  w.SetForwarderMark(1, 0, WatermarkTracker::kForwarderIdle, 40'000);
  w.CheckIdle(30'500 + 10'000 - 1);
  EXPECT_EQ(w.task_current(1), 400'000) << "idle for less than the idle timeout since the resume";
  w.CheckIdle(30'500 + 10'000);
  EXPECT_EQ(w.task_current(1), 600'000) << "idle for the idle timeout after the resume: idle";
}

TEST(Watermarks, MarksRoundTripAndHoldARestartedTask) {
  WatermarkTracker w(0, 0);
  w.EnableTasks(3);
  w.EnableForwarders(60'000);
  w.RestoreForwarderMarks(2, {}, 0);
  w.SetForwarderMark(2, 0, 70'000, 0);
  w.SetForwarderMark(2, 1, WatermarkTracker::kForwarderIdle, 0);
  const std::map<int, int64_t> stored = w.ForwarderMarks(2);
  EXPECT_EQ(stored, (std::map<int, int64_t>{{0, 70'000}, {1, WatermarkTracker::kForwarderIdle}}));
  WatermarkTracker r(0, 0);
  r.EnableTasks(3);
  r.EnableForwarders(60'000);
  r.RestoreForwarderMarks(2, stored, 5'000);
  r.Observe(r.Slot("clicks/2"), 500'000, 5'000);
  EXPECT_EQ(r.task_current(2), 70'000)
      << "what task 0 forwarded before the crash is still held for";
}

TEST(Watermarks, AForwardersMarkIsItsLowestActivePartition) {
  WatermarkTracker w(5'000, 10'000);
  w.EnableTasks(2);
  const uint32_t c0 = w.Slot("clicks/0"), o0 = w.Slot("orders/0"), c1 = w.Slot("clicks/1");
  EXPECT_EQ(w.ForwarderMark(0), kNoWatermark) << "an active partition that has not delivered";
  w.Observe(c0, 90'000, 0);
  w.Observe(o0, 80'000, 0);
  w.Observe(c1, 10'000, 0);
  EXPECT_EQ(w.ForwarderMark(0), 80'000) << "its own partitions only, before the out-of-orderness";
  w.Observe(c0, 95'000, 9'000);
  w.CheckIdle(10'000);  // orders/0 idle
  EXPECT_EQ(w.ForwarderMark(0), 95'000);
  w.CheckIdle(19'000);  // clicks/0 idle too
  EXPECT_EQ(w.ForwarderMark(0), WatermarkTracker::kForwarderIdle);
}

}  // namespace
}  // namespace promowatch
