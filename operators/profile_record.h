#pragma once
// A user's profile as the profile step holds it in memory: a fixed-size
// record (what every user has: times, last clicks, tags, timer) and, for
// users who paid or were refunded, one heap part with the 365 days of
// orders, the recent money and the plan's cohorts. The state backend and
// the query API keep the protobuf form (v1::UserProfile, state.proto):
// ToProto / FromProto convert, field for field, so state written before
// this record existed reads back unchanged.
//
// Campaign and channel names of last clicks are interned (ProfileNames):
// a click is a 4-byte name pair and a time, not two strings per click.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "promowatch/v1/state.pb.h"

namespace promowatch {

// (campaign, channel) pairs of last clicks, interned for the life of the
// operator (a handful per campaign).
class ProfileNames {
 public:
  ProfileNames() { Intern("", ""); }  // pair 0: none
  uint32_t Intern(std::string_view campaign, std::string_view channel);
  std::string_view campaign(uint32_t pair) const { return pairs_[pair].campaign; }
  std::string_view channel(uint32_t pair) const { return pairs_[pair].channel; }
  size_t size() const { return pairs_.size(); }
  // Appends the pairs `from` has beyond this one's (a copy kept in step).
  void CopyNew(const ProfileNames& from) {
    for (size_t i = pairs_.size(); i < from.pairs_.size(); ++i)
      Intern(from.pairs_[i].campaign, from.pairs_[i].channel);
  }

 private:
  struct Pair {
    std::string campaign, channel;
  };
  std::vector<Pair> pairs_;
  absl::flat_hash_map<std::string, uint32_t> index_;  // campaign + '\0' + channel
  std::string key_;                                   // reused
};

struct ProfileDay {
  int32_t day = 0;  // days since 1970-01-01 (UTC)
  int64_t paid_orders = 0;
  int64_t spend_cents = 0;  // paid minus refunded that day
};
struct ProfileMoney {
  int64_t time_ms = 0;
  int64_t cents = 0;
  bool paid = false;  // else a refund
};
struct ProfileCohort {
  std::string campaign_id;
  std::string channel;  // of the reach
  int64_t reached_ms = 0;
  bool repurchased = false;
};

// What only users with a paid order or a refund have (state.proto's
// fields of the same names).
struct ProfilePurchases {
  int64_t first_paid_ms = 0;
  int64_t last_paid_ms = 0;
  int64_t lifetime_paid_orders = 0;
  int64_t lifetime_spend_cents = 0;
  int64_t refunds = 0;
  int64_t refund_cents = 0;
  int64_t paid_before_recent_ms = 0;
  std::vector<ProfileDay> days;  // ascending, the last 365 days only
  std::vector<ProfileMoney> recent_money;
  std::vector<ProfileCohort> cohorts;
  // Heap bytes this part holds (for the memory budget).
  size_t bytes() const {
    return sizeof(ProfilePurchases) + days.capacity() * sizeof(ProfileDay) +
           recent_money.capacity() * sizeof(ProfileMoney) +
           cohorts.capacity() * sizeof(ProfileCohort);
  }
};

inline constexpr int kProfileLastClicks = 4;

struct ProfileRecord {
  // The store's bookkeeping first. dirty, stored and stored_timer_ms are
  // settled by whichever thread claims the record for a checkpoint
  // (profile_snapshot.h): the pipeline reads them after BeforeChange only.
  int64_t timer_ms = 0;         // next time a tag may change with no event (0: none)
  int64_t stored_timer_ms = 0;  // its timer as of the last checkpoint (index key)
  uint32_t next_same_hash = 0;  // the next record whose user id has the same hash (0: none)
  uint8_t clicks = 0;           // entries of click_* in use
  // The tags as last emitted: bit i is kFlagTags[i]; rfm as three digits
  // ('\0': none before the first paid order); tier 0 none, 1 + kTiers index.
  uint8_t flags = 0;
  char rfm[3] = {};
  uint8_t tier = 0;
  bool in_use = false;      // the slot holds a user
  bool stored = false;      // in the state backend as of the last checkpoint
  bool dirty = false;       // changed since the last checkpoint: cannot be dropped
  bool gone = false;        // expired; deleted at the next checkpoint
  bool referenced = false;  // used since the eviction sweep last passed (CLOCK)
  // Settled for the checkpoint in flight with a changed timer (its
  // stored_timer_ms goes into a run): set by the side that claimed it,
  // read by the committing thread once the claim is idle.
  bool timer_to_store = false;
  // The profile:
  std::string user_id;  // (ids up to 15 bytes stay in the string itself)
  int64_t first_seen_ms = 0;
  int64_t last_seen_ms = 0;
  int64_t evaluated_ms = 0;  // event time of the latest evaluation
  // Last clicks per campaign/channel, newest first.
  int64_t click_time_ms[kProfileLastClicks] = {};
  uint32_t click_pair[kProfileLastClicks] = {};  // ProfileNames
  std::unique_ptr<ProfilePurchases> purchases;   // null: never paid nor refunded

  bool flag(int i) const { return (flags >> i) & 1; }
  void set_flag(int i, bool v) {
    flags = static_cast<uint8_t>(v ? flags | (1u << i) : flags & ~(1u << i));
  }
  int64_t last_paid_ms() const { return purchases ? purchases->last_paid_ms : 0; }
  int64_t lifetime_paid_orders() const { return purchases ? purchases->lifetime_paid_orders : 0; }
  // Heap bytes of the purchases part (for the memory budget).
  size_t heap_bytes() const { return purchases ? purchases->bytes() : 0; }
  ProfilePurchases& mutable_purchases() {
    if (!purchases) purchases = std::make_unique<ProfilePurchases>();
    return *purchases;
  }
  // Clears the profile (not the store's bookkeeping).
  void ClearProfile();
};

// Fetches `r` into the CPU cache ahead of its use (records are scattered:
// each is a cache miss or two otherwise).
inline void PrefetchProfile(const ProfileRecord& r) {
  const char* at = reinterpret_cast<const char*>(&r);
  for (size_t line = 0; line < sizeof(ProfileRecord); line += 64) __builtin_prefetch(at + line);
}
// "R5F3M2" from the digits ("" for none).
std::string RfmString(const char rfm[3]);

// The profile of `r` in state.proto's form (into a cleared `out`), and back.
void ToProto(const ProfileRecord& r, const ProfileNames& names, v1::UserProfile* out);
// Returns false if the profile holds what the record cannot (a malformed
// rfm or tier: state not written by promowatch).
bool FromProto(const v1::UserProfile& p, ProfileNames& names, ProfileRecord* r);

}  // namespace promowatch
