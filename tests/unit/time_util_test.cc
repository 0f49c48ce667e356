#include "operators/time_util.h"

#include <gtest/gtest.h>

#include "unit/test_util.h"

namespace promowatch {
namespace {

TEST(TimeUtil, PanesAreHalfOpenMinutes) {
  EXPECT_EQ(PaneOf(testing::kMidnight), testing::kMidnight / kMinuteMs);
  EXPECT_EQ(PaneOf(testing::kMidnight - 1), testing::kMidnight / kMinuteMs - 1);
  EXPECT_EQ(PaneOf(testing::kMidnight + 59'999), testing::kMidnight / kMinuteMs);
  EXPECT_EQ(PaneEndMs(PaneOf(testing::kMidnight + 59'999)), testing::kMidnight + kMinuteMs);
}

TEST(TimeUtil, FloorDivRoundsDown) {
  EXPECT_EQ(FloorDiv(-1, 60), -1);
  EXPECT_EQ(FloorDiv(-60, 60), -1);
  EXPECT_EQ(FloorDiv(59, 60), 0);
}

TEST(TimeUtil, DaysStartAtLocalMidnight) {
  const int64_t utc8 = 8 * 3'600'000;
  // 23:59:59.999 and 00:00 China time belong to different days...
  EXPECT_EQ(DayOf(testing::kMidnight, utc8), DayOf(testing::kMidnight - 1, utc8) + 1);
  EXPECT_EQ(DayStartMs(DayOf(testing::kMidnight + 5, utc8), utc8), testing::kMidnight);
  // ... but the same UTC day.
  EXPECT_EQ(DayOf(testing::kMidnight, 0), DayOf(testing::kMidnight - 1, 0));
}

}  // namespace
}  // namespace promowatch
