#include "operators/profile_snapshot.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "operators/profile_timers.h"

namespace promowatch {

struct ProfileSnapshot::Job {
  struct Entry {
    ProfileRecord* record;
    std::atomic<uint8_t>* claim;
    uint32_t handle;
  };
  struct Timer {
    int64_t minute;
    int64_t due_ms;
    const ProfileRecord* record;
  };
  struct Copied {
    std::string user_id;
    std::string profile;  // (empty with erase)
    bool erase;           // gone, and in state: deleted
  };
  std::vector<Entry> records;
  // Filled by the committing thread (the pipeline reads them once the
  // write is over); the pipeline's gone ones go to copied_gone first.
  std::vector<Timer> timers;
  std::vector<uint32_t> gone;
  uint64_t first_run = 0;
  std::shared_ptr<const ProfileNames> names;
  std::string table, timers_table;

  enum class State { kWaiting, kRunning, kDone };
  std::mutex mu;
  std::condition_variable done;
  State state = State::kWaiting;      // guarded by mu
  std::vector<Copied> copied;         // guarded by mu
  std::vector<uint32_t> copied_gone;  // guarded by mu

  // The committing thread.
  void Run(StateWriter& out);
  // Waits until it has run; one not begun never begins (its batch was
  // dropped, or the caller moved on without committing it): what it left
  // pending is settled unwritten, so that no later change copies into it
  // and the next snapshot sees what changes after.
  void Finish();
};

namespace {

constexpr size_t kPrefetch = 8;

void Serialise(const ProfileRecord& r, const ProfileNames& names, v1::UserProfile* scratch,
               std::string* out) {
  scratch->Clear();
  ToProto(r, names, scratch);
  out->clear();
  scratch->SerializeToString(out);
}

// What a changed record means for the checkpoint that holds it, as of
// that checkpoint: its bookkeeping set as once the checkpoint is written
// (clean; stored unless gone; its timer as stored), by the side that
// claimed it.
struct Settled {
  bool write = false;  // the profile is written
  bool erase = false;  // gone and in state: its key is deleted
  bool gone = false;   // gone: forgotten once the checkpoint is durable
};
Settled Settle(ProfileRecord& r) {
  Settled s;
  r.dirty = false;
  r.timer_to_store = false;
  if (r.gone) {
    s.erase = r.stored;
    s.gone = true;
    r.stored = false;
    r.stored_timer_ms = 0;
    return s;
  }
  // Only changed timers go into runs: an unchanged one is in a run
  // already. The old entry of a changed one stays, stale, until its
  // minute is passed.
  r.timer_to_store = r.timer_ms != 0 && r.timer_ms != r.stored_timer_ms;
  s.write = true;
  r.stored = true;
  r.stored_timer_ms = r.timer_ms;
  return s;
}

// Held by the deferred write: finishes its job if the write is dropped
// without running (the batch of a failed checkpoint).
struct Ticket {
  std::shared_ptr<ProfileSnapshot::Job> job;
  ~Ticket() {
    if (job != nullptr) job->Finish();
  }
};

}  // namespace

void ProfileSnapshot::Job::Run(StateWriter& out) {
  {
    std::lock_guard lock(mu);
    if (state != State::kWaiting) return;
    state = State::kRunning;
  }
  // Done however it ends (a waiting destructor must not wait forever).
  struct Finish {
    Job* job;
    ~Finish() {
      std::lock_guard lock(job->mu);
      job->state = State::kDone;
      job->done.notify_all();
    }
  } finish{this};
  v1::UserProfile scratch;
  std::string bytes;
  for (size_t i = 0; i < records.size(); ++i) {
    if (i + kPrefetch < records.size()) PrefetchProfile(*records[i + kPrefetch].record);
    const Entry& e = records[i];
    uint8_t pending = kPending;
    if (e.claim->compare_exchange_strong(pending, kWriting, std::memory_order_acq_rel,
                                         std::memory_order_acquire)) {
      ProfileRecord& r = *e.record;
      const Settled s = Settle(r);
      if (s.gone) gone.push_back(e.handle);
      if (s.erase) out.Delete(table, r.user_id);
      if (s.write) {
        Serialise(r, *names, &scratch, &bytes);
        out.Put(table, r.user_id, bytes);
      }
      e.claim->store(kIdle, std::memory_order_release);
    } else {
      // Copied by the pipeline (or being copied: it is in `copied` once idle).
      while (e.claim->load(std::memory_order_acquire) != kIdle) std::this_thread::yield();
    }
    // Its timer as settled, whichever side settled it (settled fields do
    // not change until the next snapshot): in the order of the changes.
    const ProfileRecord& r = *e.record;
    if (r.timer_to_store) {
      timers.push_back({ProfileTimers::Minute(r.stored_timer_ms), r.stored_timer_ms, &r});
    }
  }
  std::lock_guard lock(mu);
  gone.insert(gone.end(), copied_gone.begin(), copied_gone.end());
  // Timers by due minute, in runs of at most kTimersPerRun (the user ids
  // do not change while the snapshot is in flight).
  std::stable_sort(timers.begin(), timers.end(),
                   [](const Timer& a, const Timer& b) { return a.minute < b.minute; });
  v1::ProfileTimerRun run;
  std::string key;
  uint64_t number = first_run;
  for (size_t i = 0; i < timers.size();) {
    run.Clear();
    const int64_t minute = timers[i].minute;
    size_t j = i;
    for (; j < timers.size() && timers[j].minute == minute && j - i < kTimersPerRun; ++j) {
      run.add_due_ms(timers[j].due_ms);
      run.add_user_id(timers[j].record->user_id);
    }
    key.clear();
    AppendBigEndian64(&key, minute * 60'000);
    AppendBigEndian64(&key, static_cast<int64_t>(number++));
    run.SerializeToString(&bytes);
    out.Put(timers_table, key, bytes);
    i = j;
  }
  for (const Copied& c : copied) {
    if (c.erase) {
      out.Delete(table, c.user_id);
    } else {
      out.Put(table, c.user_id, c.profile);
    }
  }
  copied.clear();
}

void ProfileSnapshot::Job::Finish() {
  std::unique_lock lock(mu);
  if (state == State::kWaiting) {
    state = State::kDone;
    for (const Entry& e : records) {
      uint8_t pending = kPending;
      if (e.claim->compare_exchange_strong(pending, kWriting, std::memory_order_acq_rel)) {
        if (Settle(*e.record).gone) gone.push_back(e.handle);
        e.claim->store(kIdle, std::memory_order_release);
      }
    }
    gone.insert(gone.end(), copied_gone.begin(), copied_gone.end());
    done.notify_all();
    return;
  }
  done.wait(lock, [this] { return state == State::kDone; });
}

ProfileSnapshot::ProfileSnapshot(ProfileStore& store, const ProfileNames& names,
                                 std::string_view table, std::string_view timers_table)
    : store_(store),
      names_(names),
      table_(table),
      timers_table_(timers_table),
      names_copy_(std::make_shared<ProfileNames>()) {}

ProfileSnapshot::~ProfileSnapshot() { Committed(); }

void ProfileSnapshot::Committed(std::vector<uint32_t>* gone) {
  if (job_ == nullptr) return;
  job_->Finish();  // (run by now when the commit says so: no wait)
  if (gone != nullptr) gone->insert(gone->end(), job_->gone.begin(), job_->gone.end());
  written_ = std::move(job_);
}

void ProfileSnapshot::Begin(size_t records) {
  // (A caller that did not say the last one was committed: it is over.)
  Committed();
  names_copy_->CopyNew(names_);
  job_ = std::make_shared<Job>();
  if (written_ != nullptr) {  // (done: a ticket still holding it reads only its state)
    job_->records.swap(written_->records);
    job_->timers.swap(written_->timers);
    job_->records.clear();
    job_->timers.clear();
    written_.reset();
  }
  job_->records.reserve(records);
  job_->names = names_copy_;
  job_->table = table_;
  job_->timers_table = timers_table_;
}

void ProfileSnapshot::Add(uint32_t handle) {
  std::atomic<uint8_t>& claim = store_.claim(handle);
  claim.store(kPending, std::memory_order_relaxed);  // (published by the hand-over)
  job_->records.push_back({&store_.at(handle), &claim, handle});
}

uint64_t ProfileSnapshot::Defer(StateWriter& out, uint64_t first_run) {
  job_->first_run = first_run;
  // (Runs are fewer than timers, timers at most one a record.)
  const uint64_t next = first_run + job_->records.size();
  auto ticket = std::make_shared<Ticket>();
  ticket->job = job_;
  out.Defer([ticket](StateWriter& there) { ticket->job->Run(there); });
  return next;
}

void ProfileSnapshot::Copy(uint32_t handle, std::atomic<uint8_t>& claim) {
  ProfileRecord& r = store_.at(handle);
  uint8_t v = claim.load(std::memory_order_acquire);
  while (v != kIdle) {
    if (v == kPending) {
      if (!claim.compare_exchange_weak(v, kCopying, std::memory_order_acq_rel,
                                       std::memory_order_acquire))
        continue;
      const Settled s = Settle(r);
      if (s.write) Serialise(r, names_, &scratch_, &buffer_);
      {
        std::lock_guard lock(job_->mu);
        if (s.gone) job_->copied_gone.push_back(handle);
        if (s.write || s.erase)
          job_->copied.push_back({r.user_id, s.write ? buffer_ : std::string(), s.erase});
      }
      claim.store(kIdle, std::memory_order_release);
      return;
    }
    std::this_thread::yield();  // the committing thread is writing it
    v = claim.load(std::memory_order_acquire);
  }
}

}  // namespace promowatch
