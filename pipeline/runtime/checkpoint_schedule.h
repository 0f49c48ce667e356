#pragma once
// When a job checkpoints, the same for replay and live: after
// `checkpoint_every_records` records or `checkpoint_interval_ms` of wall
// time with something to save, or when an operator asks for one (its
// memory bound); not while the previous commit still runs (the snapshot
// would wait for it) unless the checkpoint is overdue - twice either bound -
// or an operator cannot wait (Engine::ReadyForCheckpoint).

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "pipeline/config/config.h"
#include "pipeline/runtime/engine.h"

namespace promowatch {

class CheckpointSchedule {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  CheckpointSchedule(const PipelineConfig& config, TimePoint start)
      : every_records_(config.checkpoint_every_records),
        interval_(std::chrono::milliseconds(config.checkpoint_interval_ms)),
        last_(start) {}

  // Records processed since the last checkpoint.
  void Counted(int64_t records) { since_ += records; }
  int64_t since_checkpoint() const { return since_; }

  // Whether to checkpoint now. `moved`: state changed without records (the
  // watermark moved on a quiet stream); without either, the interval alone
  // does not checkpoint (nothing to save).
  bool Due(Engine& engine, TimePoint now, bool moved = false) const {
    const bool changed = since_ > 0 || moved;
    const bool due = since_ >= every_records_ || engine.checkpoint_wanted() ||
                     (changed && now - last_ >= interval_);
    return due &&
           engine.ReadyForCheckpoint(since_ >= 2 * every_records_ || now - last_ >= 2 * interval_);
  }
  // A checkpoint was taken: the counts start again. Returns how many
  // attempts failed in a row before it.
  int64_t Taken(TimePoint now) {
    since_ = 0;
    last_ = now;
    return std::exchange(failed_in_a_row_, 0);
  }
  // One failed (to be retried): the interval starts again, the records
  // stay owed. Returns whether `error` is news (not the last failure's,
  // retried every interval: the caller logs news loudly).
  bool Failed(TimePoint now, std::string_view error) {
    last_ = now;
    const bool news = failed_in_a_row_++ == 0 || error != last_error_;
    last_error_ = error;
    return news;
  }

 private:
  int64_t every_records_;
  std::chrono::milliseconds interval_;
  TimePoint last_;
  int64_t since_ = 0;
  int64_t failed_in_a_row_ = 0;
  std::string last_error_;
};

}  // namespace promowatch
