#pragma once
// The profiles held in memory: records in chunks that never move (a record
// is named by a 32-bit handle for its life in memory), found through an
// open-addressing table (Abseil's Swiss table) keyed by the user id's
// HashId (event_record.h: the hash every record carries as user_hash).
//
// Collisions: the table maps a hash to one record; records whose user ids
// share a hash are chained through ProfileRecord::next_same_hash, and a
// lookup compares the full id along the chain (two ids with one 64-bit
// hash are rare, never wrong).
//
// Memory is counted, not guessed: each record's fixed size and table share
// plus the heap part of users who paid (ProfilePurchases::bytes); the
// profile step keeps it under profiles.memory_budget by dropping clean
// records least recently used (CLOCK) once the budget is passed.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "operators/event_record.h"
#include "operators/profile_record.h"

namespace promowatch {

class ProfileStore {
 public:
  static constexpr uint32_t kNone = 0;
  // What one record costs besides its heap part: the record, its table
  // entry (at the table's fill), a timer wheel entry and its claim byte.
  static constexpr size_t kRecordBytes = sizeof(ProfileRecord) + 24 + 8 + 1;

  // `hash` replaces the hash of user ids (tests: collisions on purpose).
  using HashFunction = uint64_t (*)(std::string_view);
  explicit ProfileStore(HashFunction hash = nullptr);

  // The record of `user_id`, or kNone.
  uint32_t Find(std::string_view user_id) const { return Find(Hash(user_id), user_id); }
  // The same with the id's Hash computed before.
  uint32_t Find(uint64_t hash, std::string_view user_id) const;
  uint64_t Hash(std::string_view user_id) const;
  // The same for the user of `e`: the hash decode computed, unless the
  // store was given its own function.
  uint64_t Hash(const EventRecord& e) const {
    return hash_ == nullptr && e.user_hash != 0 ? e.user_hash : Hash(e.user_id);
  }
  // Fetches into the CPU cache, ahead of a Find: the table's entry for a
  // hash; then the record it names (without touching the record).
  void PrefetchEntry(uint64_t hash) const { index_.prefetch(hash); }
  void PrefetchRecord(uint64_t hash) const;
  // A new, empty record for a user not in the store.
  uint32_t Add(std::string_view user_id);
  // Removes the record (its handle may be reused).
  void Remove(uint32_t handle);

  ProfileRecord& at(uint32_t handle) {
    return chunks_[handle >> kChunkBits]->records[handle & kChunkMask];
  }
  const ProfileRecord& at(uint32_t handle) const {
    return chunks_[handle >> kChunkBits]->records[handle & kChunkMask];
  }
  // The record's claim byte for a checkpoint being written
  // (profile_snapshot.h); beside the records, not in them, so that a
  // record stays a plain struct.
  std::atomic<uint8_t>& claim(uint32_t handle) {
    return chunks_[handle >> kChunkBits]->claims[handle & kChunkMask];
  }
  // Fetches the claim byte into the CPU cache (a snapshot sets a million
  // of them, scattered; a change reads its record's while a write is in
  // flight).
  void PrefetchClaim(uint32_t handle) const {
    __builtin_prefetch(&chunks_[handle >> kChunkBits]->claims[handle & kChunkMask], 1);
  }
  // Handles ever given: records are at handles 1 .. end() - 1 (some unused).
  uint32_t end() const { return next_; }

  size_t size() const { return size_; }
  // Resident bytes of the records in memory.
  size_t bytes() const { return size_ * kRecordBytes + heap_bytes_; }
  // Tracks a record's heap part: call with its bytes before and after a change.
  void HeapChanged(size_t before, size_t after) { heap_bytes_ += after - before; }

 private:
  static constexpr int kChunkBits = 16;
  static constexpr uint32_t kChunkMask = (1u << kChunkBits) - 1;

  struct Chunk {
    ProfileRecord records[size_t{1} << kChunkBits];
    std::atomic<uint8_t> claims[size_t{1} << kChunkBits];  // (zero: C++20 value-initialises)
  };
  HashFunction hash_;
  std::vector<std::unique_ptr<Chunk>> chunks_;
  std::vector<uint32_t> free_;
  uint32_t next_ = 1;  // handle 0 is kNone
  size_t size_ = 0;
  size_t heap_bytes_ = 0;
  absl::flat_hash_map<uint64_t, uint32_t> index_;  // hash -> first record of its chain
};

}  // namespace promowatch
