#include "pipeline/serve/checkpoint_probe.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace promowatch {

CheckpointProbe::CheckpointProbe(prometheus::Registry& r) {
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  using prometheus::BuildHistogram;
  duration_ = &BuildHistogram()
                   .Name("promowatch_checkpoint_duration_seconds")
                   .Help("Time to flush results and commit one checkpoint")
                   .Register(r)
                   .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.01, 0.05, 0.1,
                                                                    0.5, 1, 5, 30});
  bytes_ = &BuildGauge()
                .Name("promowatch_checkpoint_size_bytes")
                .Help("Bytes written by the last checkpoint")
                .Register(r)
                .Add({});
  watermark_ = &BuildGauge()
                    .Name("promowatch_checkpoint_watermark_timestamp_seconds")
                    .Help(
                        "The watermark stored by the last checkpoint; equal to "
                        "promowatch_watermark_timestamp_seconds when all processed "
                        "input is checkpointed")
                    .Register(r)
                    .Add({});
  failures_ = &BuildCounter()
                   .Name("promowatch_checkpoint_failures_total")
                   .Help("Checkpoints that failed (retried at the next interval)")
                   .Register(r)
                   .Add({});
  moved_aside_ = &BuildCounter()
                      .Name("promowatch_state_moved_aside_total")
                      .Help(
                          "Times the local state failed its checksums at start-up and was "
                          "moved aside (kept as <state-dir>.corrupt-<time>); its tasks were "
                          "rebuilt from their changelog")
                      .Register(r)
                      .Add({});
  state_bytes_ = &BuildGauge()
                      .Name("promowatch_state_size_bytes")
                      .Help("RocksDB live data and memtables of the operator state")
                      .Register(r)
                      .Add({});
  auto& memory = BuildGauge()
                     .Name("promowatch_state_memory_bytes")
                     .Help(
                         "Memory the state holds, by part: RocksDB's block cache, memtables "
                         "and table readers; the windows' unique-visitor sets; the dedup ids "
                         "(set at each checkpoint)")
                     .Register(r);
  const char* parts[] = {"rocksdb_block_cache", "rocksdb_memtables", "rocksdb_table_readers",
                         "window_user_sets", "dedup_ids"};
  for (size_t i = 0; i < 5; ++i) memory_[i] = &memory.Add({{"part", parts[i]}});
}

void CheckpointProbe::SetStateMemory(uint64_t block_cache, uint64_t memtables,
                                     uint64_t table_readers, uint64_t window_users,
                                     uint64_t dedup_ids) {
  const uint64_t values[] = {block_cache, memtables, table_readers, window_users, dedup_ids};
  for (size_t i = 0; i < 5; ++i) memory_[i]->Set(static_cast<double>(values[i]));
}

void CheckpointProbe::CheckpointDone(double seconds, uint64_t bytes, uint64_t state_bytes,
                                     int64_t watermark_ms) {
  duration_->Observe(seconds);
  SetCheckpointWatermark(watermark_ms);
  bytes_->Set(static_cast<double>(bytes));
  state_bytes_->Set(static_cast<double>(state_bytes));
}

void CheckpointProbe::SetCheckpointWatermark(int64_t watermark_ms) {
  if (watermark_ms > 0) watermark_->Set(static_cast<double>(watermark_ms) / 1000.0);
}

void CheckpointProbe::CheckpointFailed() { failures_->Increment(); }

void CheckpointProbe::StateMovedAside() { moved_aside_->Increment(); }

}  // namespace promowatch
