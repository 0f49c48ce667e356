#pragma once
// What the live job's input side measures: records by topic and outcome,
// rejects by reason, offsets skipped or fetched again, consumer lag, the
// event-time watermark, and how long records take from Kafka to a count.

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>

#include "pipeline/runtime/engine.h"
#include "pipeline/serve/prometheus_fwd.h"

namespace promowatch {

class IngestProbe {
 public:
  explicit IngestProbe(prometheus::Registry& registry);

  // Per processed batch of one topic: the engine's counters before and after.
  void RecordBatch(const std::string& topic, const EngineCounters& before,
                   const EngineCounters& after);
  // Records just counted (after RecordBatch): their Kafka timestamps (ms;
  // the producer's clock, or the broker's for LogAppendTime topics).
  void RecordsVisible(std::span<const int64_t> kafka_timestamps_ms, int64_t wall_ms);
  // Offsets a partition jumped over (records deleted by retention before
  // they were read, compacted away, or transaction markers).
  void OffsetsSkipped(const std::string& topic, int64_t n);
  // Records fetched again below the position already in state, dropped.
  void RecordsRefetched(const std::string& topic, int64_t n);
  // Records forwarded to the task of their user (the repartition topic).
  void RecordsRepartitioned(const std::string& topic, int64_t n);
  // Which partitioner the producers of `topic` use (Engine::placement()).
  void SetPlacement(const std::string& topic, const PlacementCensus& census);
  void SetWatermark(int64_t watermark_ms, int64_t wall_ms);
  void SetLag(const std::string& topic, int32_t partition, int64_t lag);
  // Assigned partitions whose leader broker is unreachable.
  void SetUnreachable(size_t partitions);
  // The producer's totals: dead letters kept truncated, records Kafka did
  // not take, by topic.
  void SetOutput(int64_t truncated_dead_letters, const std::map<std::string, int64_t>& failed);
  // What promowatch_records_rejected_total counts, by (topic, reason), for
  // the status page (the caller's thread: the one calling RecordBatch).
  const std::map<std::pair<std::string, std::string>, int64_t>& rejected_counts() const {
    return rejected_counts_;
  }

 private:
  prometheus::Family<prometheus::Counter>* records_;
  prometheus::Family<prometheus::Counter>* rejected_;
  prometheus::Family<prometheus::Counter>* offsets_skipped_;
  prometheus::Family<prometheus::Counter>* refetched_;
  prometheus::Family<prometheus::Counter>* repartitioned_;
  prometheus::Family<prometheus::Gauge>* placement_;
  prometheus::Family<prometheus::Gauge>* lag_;
  prometheus::Gauge* unreachable_;
  prometheus::Counter* dead_letters_truncated_;
  prometheus::Family<prometheus::Counter>* deliveries_failed_;
  prometheus::Gauge* watermark_delay_;
  prometheus::Gauge* watermark_;
  prometheus::Histogram* record_visible_;
  std::map<std::pair<std::string, std::string>, int64_t> rejected_counts_;
};

}  // namespace promowatch
