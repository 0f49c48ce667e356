#include "operators/profile_store.h"

#include <cstdio>

#include "operators/user_profiles.h"

namespace promowatch {

uint32_t ProfileNames::Intern(std::string_view campaign, std::string_view channel) {
  key_.assign(campaign);
  key_.push_back('\0');
  key_.append(channel);
  auto it = index_.find(key_);
  if (it != index_.end()) return it->second;
  const auto pair = static_cast<uint32_t>(pairs_.size());
  pairs_.push_back({std::string(campaign), std::string(channel)});
  index_.emplace(key_, pair);
  return pair;
}

void ProfileRecord::ClearProfile() {
  first_seen_ms = last_seen_ms = evaluated_ms = timer_ms = 0;
  clicks = 0;
  flags = 0;
  rfm[0] = rfm[1] = rfm[2] = '\0';
  tier = 0;
  purchases.reset();
}

std::string RfmString(const char rfm[3]) {
  if (rfm[0] == '\0') return std::string();
  return std::string{'R', rfm[0], 'F', rfm[1], 'M', rfm[2]};
}

void ToProto(const ProfileRecord& r, const ProfileNames& names, v1::UserProfile* out) {
  out->set_first_seen_ms(r.first_seen_ms);
  out->set_last_seen_ms(r.last_seen_ms);
  for (int i = 0; i < r.clicks; ++i) {
    auto* c = out->add_last_clicks();
    const std::string_view campaign = names.campaign(r.click_pair[i]);
    const std::string_view channel = names.channel(r.click_pair[i]);
    c->set_campaign_id(campaign.data(), campaign.size());
    c->set_channel(channel.data(), channel.size());
    c->set_time_ms(r.click_time_ms[i]);
  }
  for (size_t i = 0; i < std::size(kFlagTags); ++i) {
    (out->*kFlagTags[i].set)(r.flag(static_cast<int>(i)));
  }
  if (r.rfm[0] != '\0') out->set_tag_rfm(RfmString(r.rfm));
  if (r.tier != 0) out->set_tag_tier(std::string(kTiers[r.tier - 1]));
  out->set_evaluated_ms(r.evaluated_ms);
  out->set_timer_ms(r.timer_ms);
  if (!r.purchases) return;
  const ProfilePurchases& m = *r.purchases;
  out->set_first_paid_ms(m.first_paid_ms);
  out->set_last_paid_ms(m.last_paid_ms);
  out->set_lifetime_paid_orders(m.lifetime_paid_orders);
  out->set_lifetime_spend_cents(m.lifetime_spend_cents);
  out->set_refunds(m.refunds);
  out->set_refund_cents(m.refund_cents);
  out->set_paid_before_recent_ms(m.paid_before_recent_ms);
  for (const ProfileDay& d : m.days) {
    auto* b = out->add_days();
    b->set_day(d.day);
    b->set_paid_orders(d.paid_orders);
    b->set_spend_cents(d.spend_cents);
  }
  for (const ProfileMoney& x : m.recent_money) {
    auto* y = out->add_recent_money();
    y->set_time_ms(x.time_ms);
    y->set_cents(x.cents);
    y->set_paid(x.paid);
  }
  for (const ProfileCohort& c : m.cohorts) {
    auto* y = out->add_cohorts();
    y->set_campaign_id(c.campaign_id);
    y->set_channel(c.channel);
    y->set_reached_ms(c.reached_ms);
    y->set_repurchased(c.repurchased);
  }
}

bool FromProto(const v1::UserProfile& p, ProfileNames& names, ProfileRecord* r) {
  r->ClearProfile();
  r->first_seen_ms = p.first_seen_ms();
  r->last_seen_ms = p.last_seen_ms();
  r->evaluated_ms = p.evaluated_ms();
  r->timer_ms = p.timer_ms();
  if (p.last_clicks_size() > kProfileLastClicks) return false;
  for (const auto& c : p.last_clicks()) {
    r->click_pair[r->clicks] = names.Intern(c.campaign_id(), c.channel());
    r->click_time_ms[r->clicks] = c.time_ms();
    ++r->clicks;
  }
  for (size_t i = 0; i < std::size(kFlagTags); ++i) {
    r->set_flag(static_cast<int>(i), (p.*kFlagTags[i].get)());
  }
  const std::string& rfm = p.tag_rfm();
  if (!rfm.empty()) {
    if (rfm.size() != 6 || rfm[0] != 'R' || rfm[2] != 'F' || rfm[4] != 'M') return false;
    r->rfm[0] = rfm[1];
    r->rfm[1] = rfm[3];
    r->rfm[2] = rfm[5];
  }
  if (!p.tag_tier().empty()) {
    for (size_t i = 0; i < std::size(kTiers); ++i) {
      if (p.tag_tier() == kTiers[i]) r->tier = static_cast<uint8_t>(i + 1);
    }
    if (r->tier == 0) return false;
  }
  const bool money = p.first_paid_ms() != 0 || p.last_paid_ms() != 0 ||
                     p.lifetime_paid_orders() != 0 || p.lifetime_spend_cents() != 0 ||
                     p.refunds() != 0 || p.refund_cents() != 0 || p.paid_before_recent_ms() != 0 ||
                     p.days_size() != 0 || p.recent_money_size() != 0 || p.cohorts_size() != 0;
  if (!money) return true;
  ProfilePurchases& m = r->mutable_purchases();
  m.first_paid_ms = p.first_paid_ms();
  m.last_paid_ms = p.last_paid_ms();
  m.lifetime_paid_orders = p.lifetime_paid_orders();
  m.lifetime_spend_cents = p.lifetime_spend_cents();
  m.refunds = p.refunds();
  m.refund_cents = p.refund_cents();
  m.paid_before_recent_ms = p.paid_before_recent_ms();
  m.days.reserve(static_cast<size_t>(p.days_size()));
  for (const auto& d : p.days()) m.days.push_back({d.day(), d.paid_orders(), d.spend_cents()});
  for (const auto& x : p.recent_money())
    m.recent_money.push_back({x.time_ms(), x.cents(), x.paid()});
  for (const auto& c : p.cohorts()) {
    m.cohorts.push_back({c.campaign_id(), c.channel(), c.reached_ms(), c.repurchased()});
  }
  return true;
}

ProfileStore::ProfileStore(HashFunction hash) : hash_(hash) {}

uint64_t ProfileStore::Hash(std::string_view user_id) const {
  return hash_ != nullptr ? hash_(user_id) : HashId(user_id);
}

void ProfileStore::PrefetchRecord(uint64_t hash) const {
  auto it = index_.find(hash);
  if (it == index_.end()) return;
  PrefetchProfile(at(it->second));
  PrefetchClaim(it->second);
}

uint32_t ProfileStore::Find(uint64_t hash, std::string_view user_id) const {
  auto it = index_.find(hash);
  if (it == index_.end()) return kNone;
  for (uint32_t h = it->second; h != kNone; h = at(h).next_same_hash) {
    if (at(h).user_id == user_id) return h;
  }
  return kNone;
}

uint32_t ProfileStore::Add(std::string_view user_id) {
  uint32_t handle;
  if (!free_.empty()) {
    handle = free_.back();
    free_.pop_back();
  } else {
    handle = next_++;
    if ((handle >> kChunkBits) >= chunks_.size()) {
      chunks_.push_back(std::make_unique<Chunk>());
    }
  }
  ProfileRecord& r = at(handle);
  r.user_id.assign(user_id);
  r.in_use = true;
  auto [it, inserted] = index_.try_emplace(Hash(user_id), handle);
  r.next_same_hash = inserted ? kNone : it->second;
  if (!inserted) it->second = handle;  // first of its chain
  ++size_;
  return handle;
}

void ProfileStore::Remove(uint32_t handle) {
  ProfileRecord& r = at(handle);
  auto it = index_.find(Hash(r.user_id));
  if (it != index_.end()) {
    if (it->second == handle) {
      if (r.next_same_hash == kNone) {
        index_.erase(it);
      } else {
        it->second = r.next_same_hash;
      }
    } else {
      for (uint32_t h = it->second; h != kNone; h = at(h).next_same_hash) {
        if (at(h).next_same_hash == handle) {
          at(h).next_same_hash = r.next_same_hash;
          break;
        }
      }
    }
  }
  if (r.purchases) heap_bytes_ -= r.purchases->bytes();
  r.ClearProfile();
  r.user_id.clear();
  r.user_id.shrink_to_fit();
  r.stored_timer_ms = 0;
  r.next_same_hash = kNone;
  r.in_use = r.stored = r.dirty = r.gone = r.referenced = r.timer_to_store = false;
  free_.push_back(handle);
  --size_;
}

}  // namespace promowatch
