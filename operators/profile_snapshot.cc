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
    const ProfileRecord* record;
    std::atomic<uint8_t>* claim;
  };
  struct Timer {
    int64_t minute;
    int64_t due_ms;
    const ProfileRecord* record;
  };
  std::vector<Entry> records;
  std::vector<Timer> timers;
  uint64_t first_run = 0;
  std::shared_ptr<const ProfileNames> names;
  std::string table, timers_table;

  enum class State { kWaiting, kRunning, kDone };
  std::mutex mu;
  std::condition_variable done;
  State state = State::kWaiting;                            // guarded by mu
  std::vector<std::pair<std::string, std::string>> copied;  // guarded by mu: user id, profile

  // The committing thread.
  void Run(StateWriter& out);
  // Waits until it has run; one not begun never begins (its batch was
  // dropped, or the caller moved on without committing it): what it left
  // pending is released, so that no later change copies into it.
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
      Serialise(*e.record, *names, &scratch, &bytes);
      out.Put(table, e.record->user_id, bytes);
      e.claim->store(kIdle, std::memory_order_release);
      continue;
    }
    // Copied by the pipeline (or being copied: it is in `copied` once idle).
    while (e.claim->load(std::memory_order_acquire) != kIdle) std::this_thread::yield();
  }
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
  std::lock_guard lock(mu);
  for (const auto& [user, profile] : copied) out.Put(table, user, profile);
  copied.clear();
}

void ProfileSnapshot::Job::Finish() {
  std::unique_lock lock(mu);
  if (state == State::kWaiting) {
    state = State::kDone;
    for (const Entry& e : records) {
      uint8_t pending = kPending;
      e.claim->compare_exchange_strong(pending, kIdle, std::memory_order_acq_rel);
    }
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

void ProfileSnapshot::Committed() {
  if (job_ == nullptr) return;
  job_->Finish();  // (run by now when the commit says so: no wait)
  job_.reset();
}

void ProfileSnapshot::Begin() {
  // (A caller that did not say the last one was committed: it is over.)
  Committed();
  names_copy_->CopyNew(names_);
  job_ = std::make_shared<Job>();
  job_->names = names_copy_;
  job_->table = table_;
  job_->timers_table = timers_table_;
}

void ProfileSnapshot::Add(uint32_t handle) {
  ProfileRecord& r = store_.at(handle);
  std::atomic<uint8_t>& claim = store_.claim(handle);
  claim.store(kPending, std::memory_order_relaxed);  // (published by the hand-over)
  r.in_snapshot = true;
  job_->records.push_back({&r, &claim});
}

void ProfileSnapshot::AddTimer(uint32_t handle, int64_t due_ms) {
  job_->timers.push_back({ProfileTimers::Minute(due_ms), due_ms, &store_.at(handle)});
}

uint64_t ProfileSnapshot::Defer(StateWriter& out, uint64_t first_run) {
  job_->first_run = first_run;
  const uint64_t next = first_run + job_->timers.size();
  auto ticket = std::make_shared<Ticket>();
  ticket->job = job_;
  out.Defer([ticket](StateWriter& there) { ticket->job->Run(there); });
  return next;
}

void ProfileSnapshot::Copy(const ProfileRecord& r, std::atomic<uint8_t>& claim) {
  uint8_t v = claim.load(std::memory_order_acquire);
  while (v != kIdle) {
    if (v == kPending) {
      if (!claim.compare_exchange_weak(v, kCopying, std::memory_order_acq_rel,
                                       std::memory_order_acquire))
        continue;
      Serialise(r, names_, &scratch_, &buffer_);
      {
        std::lock_guard lock(job_->mu);
        job_->copied.emplace_back(r.user_id, buffer_);
      }
      claim.store(kIdle, std::memory_order_release);
      return;
    }
    std::this_thread::yield();  // the committing thread is writing it
    v = claim.load(std::memory_order_acquire);
  }
}

}  // namespace promowatch
