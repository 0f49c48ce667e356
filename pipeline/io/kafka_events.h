#pragma once
// What a librdkafka client says besides records: its log lines (as logfmt
// lines of ours), its errors (counted), and its statistics, read for one
// fact the consumer API does not give - which partitions' leaders it cannot
// reach. A partition whose leader is down is not quiet, it is unknown: its
// records may be waiting on that broker (or in producers' buffers), so it
// must not count as idle (the watermark would pass them and they would
// arrive late) and windows closed meanwhile are not complete.

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "pipeline/io/kafka.h"

namespace promowatch {

// Reads librdkafka's statistics (STATISTICS.md), one after the other, for
// the partitions this client fetches whose leader it cannot reach now: its
// broker not UP (INIT, never tried yet, does not count), or the leader
// unknown in two statistics in a row (metadata on its way is not an
// outage). `down_ms` counts from the last statistics that showed the broker
// UP: librdkafka's state goes DOWN, CONNECT, DOWN ... while it retries, so
// the age of its state says nothing.
class Reachability {
 public:
  // Statistics that do not parse name nothing unreachable.
  std::vector<UnreachablePartition> Update(const std::string& statistics_json, int64_t now_ms);

 private:
  std::vector<UnreachablePartition> Read(const std::string& json, int64_t now_ms);
  std::map<int32_t, int64_t> last_up_ms_;  // by broker id; first seen counts as UP
  std::map<std::pair<std::string, int32_t>, int64_t> unknown_since_ms_;  // leader unknown
};

// The client's event callback (conf "event_cb"). Log and error events come
// from librdkafka's threads, statistics from the polling thread.
class KafkaEvents : public RdKafka::EventCb {
 public:
  // `client` names the client in log lines ("consumer", "producer").
  explicit KafkaEvents(std::string client) : client_(std::move(client)) {}
  void event_cb(RdKafka::Event& event) override;

  // From the last statistics (none yet: empty).
  std::vector<UnreachablePartition> unreachable() const;
  int64_t errors() const { return errors_.load(); }

  // How often librdkafka emits statistics (conf "statistics.interval.ms").
  static constexpr int kStatisticsIntervalMs = 1000;

 private:
  const std::string client_;
  std::atomic<int64_t> errors_{0};
  Reachability reachability_;  // (statistics thread only)
  mutable std::mutex mu_;
  std::vector<UnreachablePartition> unreachable_;
};

}  // namespace promowatch
