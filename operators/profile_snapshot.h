#pragma once
// The profiles a checkpoint writes, serialised on the thread that commits
// the checkpoint (StateWriter::Defer) instead of in the pipeline's pause:
// copy on write, as Flink's heap state snapshots asynchronously.
//
// At the snapshot the pipeline touches no record: it sets each changed
// record's claim byte (pending; the bytes are dense, beside the records)
// and hands their list over. The committing thread then claims each
// pending record in turn, settles its bookkeeping as of the snapshot
// (Settle: clean, stored, its timer and whether it is gone) and writes
// it. A record the pipeline is about to change while it is still pending
// is claimed by the pipeline first, settled and copied as it is (into the
// snapshot's own list, written with the rest), so the checkpoint holds
// every profile as of the snapshot, never a later state of it.
//
// A claim byte (ProfileStore::claim) goes pending -> writing (the
// committing thread) or copying (the pipeline) -> idle; the side that finds
// the other one at it waits for idle, one record's serialisation away.
// The bookkeeping a claim settles (dirty, stored, stored_timer_ms) is read
// by the pipeline only after BeforeChange, or once the write is over.
// Records are not removed while a snapshot is in flight (the profile step
// evicts only after the commit), so its pointers stay valid.
//
// Threading: everything but the deferred write runs on the pipeline
// thread. The deferred write reads names of last clicks from a copy grown
// at each snapshot, never the pipeline's, which interns while it runs.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "operators/profile_record.h"
#include "operators/profile_store.h"
#include "operators/state.h"

namespace promowatch {

class ProfileSnapshot {
 public:
  struct Job;  // (public for the deferred write's ticket)
  enum : uint8_t { kIdle = 0, kPending = 1, kWriting = 2, kCopying = 3 };
  // Timers per run value (a changelog record stays far under Kafka's 1 MB).
  static constexpr int kTimersPerRun = 4096;

  // Profiles go to `table` (user id -> v1::UserProfile), timer runs to
  // `timers_table` (BE64(minute's first ms) + BE64(run) -> ProfileTimerRun).
  ProfileSnapshot(ProfileStore& store, const ProfileNames& names, std::string_view table,
                  std::string_view timers_table);
  // Waits for a write in progress; one not begun never begins.
  ~ProfileSnapshot();
  ProfileSnapshot(const ProfileSnapshot&) = delete;
  ProfileSnapshot& operator=(const ProfileSnapshot&) = delete;

  // A new snapshot of about `records` records (the last one is over: see
  // Committed).
  void Begin(size_t records = 0);
  // The changed record at `handle` goes into the snapshot as it is now
  // (without touching it: its claim byte only). A record is added once.
  void Add(uint32_t handle);
  // Hands the snapshot's writes to `out` (deferred). Its timer runs are
  // numbered from `first_run` on, at most one number a record: returns the
  // number after the last one it may use.
  uint64_t Defer(StateWriter& out, uint64_t first_run);
  // Before the pipeline changes the record at `handle`: one the write in
  // flight has not written yet is settled and copied now, as it is.
  void BeforeChange(uint32_t handle) {
    if (job_ == nullptr) return;
    std::atomic<uint8_t>& claim = store_.claim(handle);
    if (claim.load(std::memory_order_acquire) == kIdle) return;
    Copy(handle, claim);
  }
  // The checkpoint is committed: its write has run. (One that has not run
  // by now never does: what it left pending is settled unwritten, as a
  // failed commit loses it.) The handles of the profiles it found gone
  // (expired: deleted from state) are appended to `gone`.
  void Committed(std::vector<uint32_t>* gone = nullptr);

 private:
  // Settles and copies the record if it is still pending in the write in
  // flight.
  void Copy(uint32_t handle, std::atomic<uint8_t>& claim);

  ProfileStore& store_;
  const ProfileNames& names_;  // the pipeline's
  std::string table_, timers_table_;
  // The names as of the last snapshot, for the deferred write (appended to
  // only between writes).
  std::shared_ptr<ProfileNames> names_copy_;
  std::shared_ptr<Job> job_;  // the snapshot being written, until committed
  // The last one, written: its lists' memory serves the next (a fresh list
  // of a million entries is page faults in the pipeline's pause).
  std::shared_ptr<Job> written_;
  std::string buffer_;  // reused (the pipeline's copies)
  v1::UserProfile scratch_;
};

}  // namespace promowatch
