#include "operators/profile_store.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "operators/profile_record.h"

namespace promowatch {
namespace {

// Users whose ids share a 64-bit hash are told apart by the full id.
TEST(ProfileStore, IdsWithOneHashAreChainedAndComparedInFull) {
  ProfileStore store([](std::string_view) -> uint64_t { return 7; });  // every id collides
  std::vector<uint32_t> handles;
  for (int i = 0; i < 5; ++i) handles.push_back(store.Add("u" + std::to_string(i)));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(store.Find("u" + std::to_string(i)), handles[i]);
  EXPECT_EQ(store.Find("u9"), ProfileStore::kNone);
  store.Remove(handles[2]);  // the middle of the chain
  store.Remove(handles[4]);  // its head (the newest)
  EXPECT_EQ(store.Find("u2"), ProfileStore::kNone);
  EXPECT_EQ(store.Find("u4"), ProfileStore::kNone);
  for (int i : {0, 1, 3}) EXPECT_EQ(store.Find("u" + std::to_string(i)), handles[i]);
  const uint32_t again = store.Add("u2");  // reuses a handle
  EXPECT_EQ(store.Find("u2"), again);
  EXPECT_EQ(store.size(), 4u);
}

// The record holds every field of state.proto's profile: what a checkpoint
// wrote before the record existed reads back the same.
TEST(ProfileRecord, ConvertsToAndFromTheStoredProfileFieldForField) {
  v1::UserProfile p;
  p.set_first_seen_ms(1);
  p.set_last_seen_ms(2);
  p.set_first_paid_ms(3);
  p.set_last_paid_ms(4);
  p.set_lifetime_paid_orders(5);
  p.set_lifetime_spend_cents(6);
  p.set_refunds(7);
  p.set_refund_cents(8);
  auto* d = p.add_days();
  d->set_day(20'000);
  d->set_paid_orders(2);
  d->set_spend_cents(-30);
  for (int i = 0; i < 4; ++i) {
    auto* c = p.add_last_clicks();
    c->set_campaign_id("c" + std::to_string(i % 2));
    c->set_channel(i < 2 ? "douyin" : "");
    c->set_time_ms(100 - i);
  }
  p.set_tag_new(false);
  p.set_tag_active(true);
  p.set_tag_high_value(true);
  p.set_tag_rfm("R5F3M2");
  p.set_tag_tier("gold");
  p.set_evaluated_ms(9);
  p.set_timer_ms(10);
  auto* m = p.add_recent_money();
  m->set_time_ms(11);
  m->set_cents(12);
  m->set_paid(true);
  p.set_paid_before_recent_ms(13);
  auto* co = p.add_cohorts();
  co->set_campaign_id("c9");
  co->set_channel("wechat");
  co->set_reached_ms(14);
  co->set_repurchased(true);
  ProfileNames names;
  ProfileRecord r;
  ASSERT_TRUE(FromProto(p, names, &r));
  v1::UserProfile back;
  ToProto(r, names, &back);
  EXPECT_EQ(back.SerializeAsString(), p.SerializeAsString()) << back.DebugString();
  // A user who never paid has no purchases part.
  v1::UserProfile clicker;
  clicker.set_first_seen_ms(1);
  clicker.set_tag_new(true);
  ASSERT_TRUE(FromProto(clicker, names, &r));
  EXPECT_EQ(r.purchases, nullptr);
  p.set_tag_tier("platinum");  // not written by promowatch
  EXPECT_FALSE(FromProto(p, names, &r));
}

}  // namespace
}  // namespace promowatch
