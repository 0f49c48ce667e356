#include "operators/event_order.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "operators/state.h"

namespace promowatch {
namespace {

EventRecord At(int64_t t, const std::string& id) {
  EventRecord r;
  r.kind = EventKind::kOrder;
  r.code = kPaid;
  r.event_time_ms = t;
  r.amount_cents = 1234;
  r.event_id = id;
  r.user_id = "u1";
  r.campaign_id = "c1";
  r.channel = "sms";
  r.order_id = "o-" + id;
  r.event_id_hash = 7;
  r.user_hash = 9;
  r.watermark_ms = t - 5000;
  return r;
}

std::string Ids(std::span<EventRecord* const> records) {
  std::string s;
  for (const EventRecord* r : records) s += r->event_id + " ";
  return s;
}

TEST(EventTimeOrder, ReleasesWhatTheWatermarkPassedInEventTimeOrder) {
  EventTimeOrder order;
  ASSERT_TRUE(order.Hold(At(300, "c")));
  ASSERT_TRUE(order.Hold(At(100, "a")));
  ASSERT_TRUE(order.Hold(At(200, "b2")));  // the same time: by event id,
  ASSERT_TRUE(order.Hold(At(200, "b1")));  // not by arrival
  EXPECT_EQ(Ids(order.Release(kNoWatermark)), "");
  EXPECT_EQ(Ids(order.Release(200)), "a b1 b2 ");
  EXPECT_EQ(order.held(), 1u);
  // Behind what went on already: not held, the caller takes it now.
  EXPECT_FALSE(order.Hold(At(150, "late")));
  EXPECT_EQ(Ids(order.Release(100)), "") << "a watermark going back releases nothing";
  ASSERT_TRUE(order.Hold(At(250, "d")));
  EXPECT_EQ(Ids(order.ReleaseAll()), "d c ");
  EXPECT_EQ(order.released_upto(), 300) << "after the end, the newest released";
}

TEST(EventTimeOrder, TheSameMillisecondIsClicksFirstWhateverArrivedFirst) {
  EventTimeOrder order;
  order.Hold(At(100, "o"));  // a paid order
  EventRecord click = At(100, "z");
  click.kind = EventKind::kClick;
  click.code = kImpression;
  order.Hold(click);
  EXPECT_EQ(Ids(order.Release(100)), "z o ");
}

TEST(EventTimeOrder, MostlyOrderedArrivalsComeOutInTimeOrderAtEveryRelease) {
  // Most records arrive in time order, some behind the newest by up to
  // two buckets of the order (so a bucket gets records after newer ones):
  // every release, whole buckets and part of one, is the exact time order
  // of what the watermark passed, the same millisecond by event id.
  EventTimeOrder order;
  std::vector<std::pair<int64_t, std::string>> all;
  uint64_t x = 12345;
  for (int i = 0; i < 3000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const int64_t back = (x >> 33) % 4 == 0 ? static_cast<int64_t>((x >> 40) % 300) : 0;
    const int64_t t = 1000 + i / 3 - back;  // three a millisecond, a quarter up to 300 ms late
    const std::string id = "e" + std::to_string((x >> 20) % 100000);
    if (order.Hold(At(t, id))) all.emplace_back(t, id);
    if (i % 100 == 99) {
      const int64_t watermark = 1000 + i / 3 - 60;
      std::vector<std::pair<int64_t, std::string>> due;
      for (auto it = all.begin(); it != all.end();) {
        if (it->first <= watermark) {
          due.push_back(*it);
          it = all.erase(it);
        } else {
          ++it;
        }
      }
      std::sort(due.begin(), due.end());
      std::string want;
      for (const auto& [time, due_id] : due) want += due_id + " ";
      ASSERT_EQ(Ids(order.Release(watermark)), want) << "at " << watermark;
    }
  }
  std::sort(all.begin(), all.end());
  std::string rest;
  for (const auto& [time, held_id] : all) rest += held_id + " ";
  EXPECT_EQ(Ids(order.ReleaseAll()), rest);
  EXPECT_EQ(order.held(), 0u);
}

TEST(EventTimeOrder, HeldRecordsSurviveARestoreIncrementally) {
  MemoryState state;
  EventTimeOrder order;
  order.Hold(At(100, "a"));
  order.Hold(At(300, "c"));
  order.Snapshot(state);
  EXPECT_EQ(state.size(EventTimeOrder::kTable), 1u) << "one chunk";
  EXPECT_EQ(Ids(order.Release(150)), "a ");
  order.Hold(At(200, "b"));
  order.Snapshot(state);  // b's chunk; a's stays with c (read back, skipped); the mark
  EXPECT_EQ(state.size(EventTimeOrder::kTable), 3u);
  const MemoryState checkpoint = state;
  order.Release(300);
  order.Snapshot(state);  // both chunks released: gone
  EXPECT_EQ(state.size(EventTimeOrder::kTable), 1u) << "the released mark only";

  EventTimeOrder restored;
  ASSERT_TRUE(restored.Restore(checkpoint).ok());
  EXPECT_EQ(restored.held(), 2u);
  EXPECT_EQ(restored.released_upto(), 150);
  EXPECT_FALSE(restored.Hold(At(120, "late")));
  restored.Hold(At(200, "b2"));  // after b: a new arrival number
  const auto out = restored.Release(400);
  EXPECT_EQ(Ids(out), "b b2 c ");
  const EventRecord& b = *out[0];
  EXPECT_EQ(b.kind, EventKind::kOrder);
  EXPECT_EQ(b.code, kPaid);
  EXPECT_EQ(b.amount_cents, 1234);
  EXPECT_EQ(b.user_id, "u1");
  EXPECT_EQ(b.campaign_id, "c1");
  EXPECT_EQ(b.channel, "sms");
  EXPECT_EQ(b.order_id, "o-b");
  EXPECT_EQ(b.event_id_hash, 7u);
  EXPECT_EQ(b.user_hash, 9u);
  EXPECT_EQ(b.watermark_ms, 200 - 5000);
}

}  // namespace
}  // namespace promowatch
