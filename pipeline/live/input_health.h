#pragma once
// Which assigned partitions may still hold records this consumer has not
// read: those Kafka says are behind (records not handed over yet), and those
// whose leader it cannot reach (a broker down: their records wait there, or
// in producers' buffers). Neither may count as idle (watermarks.h): the
// watermark would pass their records, which would then arrive late. An
// unreachable partition is held at once; once its leader has been gone for
// kReportAfterMs (not a reconnect's blip) it is logged, exported
// (promowatch_partitions_unreachable) and reported by DataCompleteness as
// missing data.

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "pipeline/io/kafka.h"
#include "pipeline/runtime/watermarks.h"
#include "pipeline/serve/ingest_probe.h"

namespace promowatch {

class InputHealth {
 public:
  // `ignored_topic`: not an input of the watermark (the partials topic).
  InputHealth(std::string ignored_topic, IngestProbe* probe)
      : ignored_topic_(std::move(ignored_topic)), probe_(probe) {}

  // Asks the source (at most every 100 ms) and marks the tracker's
  // partitions. `assigned`: the partitions owned now (TopicPartition names);
  // `wall_ms`: the tracker's wall time.
  void Update(KafkaSource& source, const std::set<std::string>& assigned,
              WatermarkTracker& watermarks, int64_t wall_ms);
  // Unreachable for kReportAfterMs or longer, as of the last Update.
  const std::vector<UnreachablePartition>& unreachable() const { return unreachable_; }

  static constexpr int64_t kReportAfterMs = 2000;
  // A partition reachable again is held this long more: producers that
  // buffered its records while its leader was down reconnect and send
  // them within librdkafka's reconnect backoff (10 s at most by default).
  static constexpr int64_t kRecoveryHoldMs = 30'000;

 private:
  void Mark(WatermarkTracker& watermarks, const std::string& topic, int32_t partition,
            int64_t wall_ms);

  const std::string ignored_topic_;
  IngestProbe* probe_;
  std::chrono::steady_clock::time_point checked_{};
  std::vector<uint32_t> held_;  // slots marked behind by the last Update
  std::vector<UnreachablePartition> unreachable_;
  std::set<std::string> held_unreachable_;  // names, at the last Update
  std::map<std::string, std::chrono::steady_clock::time_point> recovering_until_;
};

}  // namespace promowatch
