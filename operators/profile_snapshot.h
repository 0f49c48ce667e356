#pragma once
// The profiles a checkpoint writes, serialised on the thread that commits
// the checkpoint (StateWriter::Defer) instead of in the pipeline's pause:
// copy on write, as Flink's heap state snapshots asynchronously.
//
// At the snapshot the pipeline only marks each changed record (its claim
// byte: pending) and hands their list over; the committing thread then
// claims each pending record in turn and writes it. A record the pipeline
// is about to change while it is still pending is claimed by the pipeline
// first and written as it is (into the snapshot's own list, written with
// the rest), so the checkpoint holds every profile as of the snapshot,
// never a later state of it.
//
// A claim byte (ProfileStore::claim) goes pending -> writing (the
// committing thread) or copying (the pipeline) -> idle; the side that finds
// the other one at it waits for idle, one record's serialisation away.
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

  // A new snapshot (the last one is over: see Committed).
  void Begin();
  // The record at `handle` goes into the snapshot as it is now.
  void Add(uint32_t handle);
  // And its timer, due at `due_ms`, into a run of its minute.
  void AddTimer(uint32_t handle, int64_t due_ms);
  // Hands the snapshot's writes to `out` (deferred). Its timer runs are
  // numbered from `first_run` on, at most one number a timer: returns the
  // number after the last one it may use.
  uint64_t Defer(StateWriter& out, uint64_t first_run);
  // Before the pipeline changes the record at `handle`: one the write in
  // flight has not written yet is written now, as it is.
  void BeforeChange(uint32_t handle) {
    ProfileRecord& r = store_.at(handle);
    if (!r.in_snapshot) return;
    r.in_snapshot = false;
    if (job_ != nullptr) Copy(r, store_.claim(handle));
  }
  // The checkpoint is committed: its write has run. (One that has not run
  // by now never does: what it left pending is released.)
  void Committed();

 private:
  // Copies the record if it is still pending in the write in flight.
  void Copy(const ProfileRecord& r, std::atomic<uint8_t>& claim);

  ProfileStore& store_;
  const ProfileNames& names_;  // the pipeline's
  std::string table_, timers_table_;
  // The names as of the last snapshot, for the deferred write (appended to
  // only between writes).
  std::shared_ptr<ProfileNames> names_copy_;
  std::shared_ptr<Job> job_;  // the snapshot being written, until committed
  std::string buffer_;        // reused (the pipeline's copies)
  v1::UserProfile scratch_;
};

}  // namespace promowatch
