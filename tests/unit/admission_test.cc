#include "operators/admission.h"

#include <gtest/gtest.h>

#include "operators/time_util.h"
#include "unit/test_util.h"

namespace promowatch {
namespace {

using testing::Click;
using testing::kMidnight;

EventRecord At(std::string id, int64_t t, int64_t watermark) {
  EventRecord e = Click(std::move(id), "u", "c", "douyin", kClick, t);
  e.watermark_ms = watermark;
  return e;
}

TEST(Admission, SameEventIdCountsOnce) {
  EventAdmission a({});
  EXPECT_EQ(a.Admit(At("e1", kMidnight, kNoWatermark)), Admission::kAccepted);
  EXPECT_EQ(a.Admit(At("e1", kMidnight, kNoWatermark)), Admission::kDuplicate);
  EXPECT_EQ(a.Admit(At("e2", kMidnight, kNoWatermark)), Admission::kAccepted);
  EXPECT_EQ(a.remembered_ids(), 2u);
}

TEST(Admission, LateExactlyWhenThePaneIsFinal) {
  EventAdmission a({});
  // Pane [midnight, midnight+60s) is final once the watermark reaches its end.
  EXPECT_EQ(a.Admit(At("e1", kMidnight + 59'999, kMidnight + 59'999)), Admission::kAccepted);
  EXPECT_EQ(a.Admit(At("e2", kMidnight + 59'999, kMidnight + 60'000)), Admission::kLate);
  EXPECT_EQ(a.Admit(At("e3", kMidnight, kMidnight + 60'000)), Admission::kLate);
  EXPECT_EQ(a.Admit(At("e4", kMidnight + 60'000, kMidnight + 60'000)), Admission::kAccepted);
}

TEST(Admission, LateRecordIsNotRememberedSoItsRetryIsLateToo) {
  EventAdmission a({});
  EXPECT_EQ(a.Admit(At("e1", kMidnight, kMidnight + 120'000)), Admission::kLate);
  EXPECT_EQ(a.Admit(At("e1", kMidnight, kMidnight + 120'000)), Admission::kLate);
  EXPECT_EQ(a.remembered_ids(), 0u);
}

TEST(Admission, AllowedLatenessOnlyWithCorrectPolicy) {
  OperatorOptions drop;
  drop.allowed_lateness_ms = 30'000;  // ignored: policy is drop
  OperatorOptions correct = drop;
  correct.late_policy = LatePolicy::kCorrect;
  EventAdmission a(drop), b(correct);
  const int64_t wm = kMidnight + 60'000 + 29'999;
  EXPECT_EQ(a.Admit(At("e1", kMidnight, wm)), Admission::kLate);
  EXPECT_EQ(b.Admit(At("e1", kMidnight, wm)), Admission::kAccepted);
  EXPECT_EQ(b.Admit(At("e2", kMidnight, wm + 1)), Admission::kLate);
}

TEST(Admission, IdsExpireWithTheirPane) {
  EventAdmission a({});
  ASSERT_EQ(a.Admit(At("e1", kMidnight, kNoWatermark)), Admission::kAccepted);
  ASSERT_EQ(a.Admit(At("e2", kMidnight + 60'000, kNoWatermark)), Admission::kAccepted);
  a.OnWatermark(kMidnight + 59'999);
  EXPECT_EQ(a.remembered_ids(), 2u);
  a.OnWatermark(kMidnight + 60'000);
  EXPECT_EQ(a.remembered_ids(), 1u);
  EXPECT_GT(a.memory_bytes(), 0u);
}

TEST(Admission, ExpiredIdsLeaveInBoundedSlicesWithoutChangingOutcomes) {
  EventAdmission a({});
  constexpr size_t kIds = 100'000;
  for (size_t i = 0; i < kIds; ++i) {
    ASSERT_EQ(a.Admit(At("old" + std::to_string(i), kMidnight, kNoWatermark)),
              Admission::kAccepted);
    if (i % 1000 == 999) a.OnWatermark(kMidnight);  // batches of 1,000; the pane is open
  }
  ASSERT_EQ(a.remembered_ids(), kIds);
  const int64_t wm = kMidnight + 60'000;  // the pane is final
  a.OnWatermark(wm);
  EXPECT_EQ(a.remembered_ids(), kIds - EventAdmission::kMinForgetPerCall)
      << "one call after a batch erases a bounded slice, not the whole minute";
  size_t calls = 1;
  while (a.remembered_ids() > calls - 1 && calls < 100) {
    // Meanwhile the expired pane's retries are late (never duplicates), and
    // new ids are accepted once.
    ASSERT_EQ(a.Admit(At("old7", kMidnight, wm)), Admission::kLate);
    ASSERT_EQ(a.Admit(At("new" + std::to_string(calls), wm, wm)), Admission::kAccepted);
    ASSERT_EQ(a.Admit(At("new" + std::to_string(calls), wm, wm)), Admission::kDuplicate);
    a.OnWatermark(wm);
    ++calls;
  }
  EXPECT_EQ(calls,
            (kIds + EventAdmission::kMinForgetPerCall - 1) / EventAdmission::kMinForgetPerCall);
  EXPECT_EQ(a.remembered_ids(), calls - 1) << "only the new ids remain";
}

TEST(Admission, SnapshotRestoreKeepsIdsAndDropsExpiredOnes) {
  MemoryState state;
  EventAdmission a({});
  ASSERT_EQ(a.Admit(At("e1", kMidnight, kNoWatermark)), Admission::kAccepted);
  a.Snapshot(state);
  ASSERT_EQ(a.Admit(At("e2", kMidnight + 60'000, kNoWatermark)), Admission::kAccepted);
  a.Snapshot(state);  // a second chunk, only the new id
  EXPECT_EQ(state.size(EventAdmission::kIdsTable), 2u);

  EventAdmission b({});
  ASSERT_TRUE(b.Restore(state).ok());
  EXPECT_EQ(b.remembered_ids(), 2u);
  EXPECT_EQ(b.Admit(At("e1", kMidnight, kNoWatermark)), Admission::kDuplicate);
  EXPECT_EQ(b.Admit(At("e2", kMidnight + 60'000, kNoWatermark)), Admission::kDuplicate);

  b.OnWatermark(kMidnight + 60'000);  // e1's pane is final
  b.Snapshot(state);
  EXPECT_EQ(state.size(EventAdmission::kIdsTable), 1u);
}

}  // namespace
}  // namespace promowatch
