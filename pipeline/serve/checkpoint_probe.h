#pragma once
// What checkpoints measure: the pause they cost, their size, the state's
// size, the watermark they made durable, and failures.

#include <cstdint>

#include "pipeline/serve/prometheus_fwd.h"

namespace promowatch {

class CheckpointProbe {
 public:
  explicit CheckpointProbe(prometheus::Registry& registry);

  void CheckpointDone(double seconds, uint64_t bytes, uint64_t state_bytes, int64_t watermark_ms);
  // The watermark of the newest durable checkpoint (commits may finish
  // after CheckpointDone, in the background).
  void SetCheckpointWatermark(int64_t watermark_ms);
  void CheckpointFailed();
  // The local state failed its checksums at start-up and was moved aside.
  void StateMovedAside();
  // Memory of the state (promowatch_state_memory_bytes{part}): RocksDB's
  // block cache, memtables and table readers, the windows' unique-visitor
  // sets and the dedup ids - what a growing resident size is made of.
  void SetStateMemory(uint64_t block_cache, uint64_t memtables, uint64_t table_readers,
                      uint64_t window_users, uint64_t dedup_ids);

 private:
  prometheus::Histogram* duration_;
  prometheus::Gauge* bytes_;
  prometheus::Gauge* watermark_;
  prometheus::Counter* failures_;
  prometheus::Counter* moved_aside_;
  prometheus::Gauge* state_bytes_;
  prometheus::Gauge* memory_[5];
};

}  // namespace promowatch
