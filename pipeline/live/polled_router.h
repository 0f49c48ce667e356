#pragma once
// What the live job does with a polled batch before the engine sees it:
// each record checked against its partition's position (fetched again:
// dropped; offsets missing: said), sorted into one batch per task and
// topic, partials put aside for the global stage, records forwarded by
// another task taken once, as from where they were first read, and the
// forwarders' watermark marks put aside for after the records.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pipeline/io/kafka.h"
#include "pipeline/runtime/engine.h"
#include "pipeline/serve/ingest_probe.h"

namespace promowatch {

// The batch at hand, sorted (views into the polled batch's bytes).
struct RoutedBatch {
  // (topic, task) -> its records in offset order; a forwarded record under
  // its origin topic.
  std::map<std::pair<std::string, int32_t>, std::vector<RawRecord>> by_partition;
  std::map<int32_t, std::vector<std::string_view>> partials;  // by global task
  std::vector<uint32_t> delivering;          // watermark slots with records in the batch
  std::vector<int64_t> kafka_timestamps_ms;  // of the counted records (freshness)
  // Forwarders' marks read from the repartition topic, for after the batch's
  // records (a mark covers the forwarded records before it).
  struct Mark {
    int32_t task;    // the receiving task (the repartition partition)
    int32_t source;  // the forwarder
    int64_t mark_ms;
  };
  std::vector<Mark> marks;

  void Clear();
};

class PolledRouter {
 public:
  PolledRouter(std::string partials_topic, Engine* engine, IngestProbe* ingest)
      : partials_topic_(std::move(partials_topic)), engine_(engine), ingest_(ingest) {}

  // Sorts `polled` into `out`, moving `next_offsets` (partition name -> next
  // offset) and `repartitioned_upto` (by task: origin -> last offset taken).
  void Route(const PolledBatch& polled, std::map<std::string, int64_t>* next_offsets,
             std::vector<std::map<std::string, int64_t>>* repartitioned_upto, RoutedBatch* out);

 private:
  std::string partials_topic_;
  Engine* engine_;
  IngestProbe* ingest_;
  std::map<std::string, uint32_t> slots_;  // partition name -> watermark slot
};

}  // namespace promowatch
