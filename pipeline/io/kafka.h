#pragma once
// Kafka for promowatch, on librdkafka: the consumer-group source, the
// producer sink for results and dead letters, and the embedded mock cluster
// (librdkafka's rdkafka_mock, which speaks the real Kafka protocol on
// 127.0.0.1) behind `promowatch mock-kafka` and the demo.
//
// Offsets are never committed by librdkafka's auto-commit: the source seeks
// each assigned partition to the offset stored in RocksDB with the state
// (see pipeline/live/live_runner.h), and commits to Kafka only for lag monitoring.

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "operators/window_operator.h"
#include "pipeline/config/config.h"
#include "pipeline/runtime/engine.h"
#include "pipeline/runtime/topic_partition.h"

namespace RdKafka {
class KafkaConsumer;
class Producer;
class Message;
}  // namespace RdKafka

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_mock_cluster_s rd_kafka_mock_cluster_t;

namespace promowatch {

class KafkaEvents;  // kafka_events.h

// The embedded cluster. Creates promowatch's topics.
class MockKafkaCluster {
 public:
  static absl::StatusOr<std::unique_ptr<MockKafkaCluster>> Start(
      int brokers, int partitions, const std::vector<std::string>& topics);
  ~MockKafkaCluster();
  std::string bootstrap_servers() const;

  // Faults, by one line of the control channel of `promowatch mock-kafka
  // --control` (mock_cluster_control.cc): "down BROKER", "up BROKER",
  // "rtt BROKER MS", "errors API COUNT CODE" (the next COUNT requests of
  // API, e.g. Fetch, get error CODE, a name like NOT_LEADER_FOR_PARTITION
  // or a number), "leader TOPIC PARTITION BROKER".
  absl::Status Apply(std::string_view command);

 private:
  MockKafkaCluster() = default;
  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

// Results to the results topic (keyed by campaign), kept records to the
// dead-letter topic with their original bytes and origin in headers:
// promowatch.source.topic, .partition, .offset, .reason, .detail.
// Headers of a record forwarded to the repartition topic: where it was read.
inline constexpr const char* kOriginTopicHeader = "promowatch.source.topic";
inline constexpr const char* kOriginPartitionHeader = "promowatch.source.partition";
inline constexpr const char* kOriginOffsetHeader = "promowatch.source.offset";
// Headers of a forwarder's watermark mark in the repartition topic (no
// value): the source task, and its mark (event time ms, or "idle").
inline constexpr const char* kMarkTaskHeader = "promowatch.mark.task";
inline constexpr const char* kMarkHeader = "promowatch.mark";

class KafkaSink final : public WindowResultSink, public RecordSink, public RecordForwarder {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaSink>> Create(const KafkaOptions& options);
  ~KafkaSink() override;
  void Emit(const v1::WindowResult& r) override;
  // Results emitted from now on were made due by work that started at `t`
  // (the batch or idle tick that moved the watermark past their window's
  // end). Their publish delay, from `t` to the delivery report (Kafka's
  // acknowledgement, as served by Poll or Flush), goes to the callback set
  // below.
  void SetResultsDueSince(std::chrono::steady_clock::time_point t) { due_since_ = t; }
  // Called, on the thread that polls or flushes, with each acknowledged
  // result's publish delay in seconds.
  void OnResultPublished(std::function<void(double seconds)> f);
  void Keep(const RawRecord& record, std::string_view source, std::string_view reason,
            std::string_view detail) override;
  // To the repartition topic, with the origin in headers.
  bool Forward(int32_t partition, std::string_view key, const RawRecord& record,
               std::string_view source) override;
  // kafka.max_record_bytes, capped at the producer's message.max.bytes.
  size_t max_record_bytes() const { return max_record_bytes_; }
  // Task `source_task`'s watermark mark (WatermarkTracker::ForwarderMark)
  // to partition `partition` of the repartition topic, after the records
  // it forwarded there (the producer keeps a partition's order).
  void SendMark(int32_t partition, int32_t source_task, int64_t mark_ms);
  // The first message to a topic waits for the topic's metadata (about 1 s
  // on the embedded cluster): `run` fetches it for its output topics before
  // it starts, so the first results and alerts are not late. Best effort.
  void FetchOutputMetadata();
  // Produces an opaque value to a topic (alerts).
  void Produce(const std::string& topic, std::string_view key, std::string_view value) {
    Produce(topic, key, value, nullptr);
  }
  // To one partition of a topic (the global stage's partials).
  void ProduceTo(const std::string& topic, int32_t partition, std::string_view key,
                 std::string_view value);
  // Serves delivery reports; call often.
  void Poll();
  // Waits until everything produced so far is acknowledged.
  absl::Status Flush(int timeout_ms);
  // Records Kafka did not take (refused at produce() or in a delivery
  // report): output lost since they were produced. Never 0 again: the
  // state that says they were sent must not be checkpointed.
  int64_t failed_deliveries() const;
  // By topic, with the last error (for the log line that stops the run).
  std::map<std::string, int64_t> failed_by_topic() const;
  std::string last_failure() const;
  int64_t produced() const { return produced_; }
  // Dead letters kept truncated (longer than kafka.dead_letter_max_bytes).
  int64_t truncated_dead_letters() const { return truncated_dead_letters_; }

 private:
  KafkaSink() = default;
  // `opaque` comes back in the delivery report.
  void Produce(const std::string& topic, std::string_view key, std::string_view value,
               void* opaque);
  // To partition `partition` of the repartition topic, with headers.
  void ProduceToRepartition(int32_t partition, std::string_view key, std::string_view value,
                            std::initializer_list<std::pair<const char*, std::string>> headers);
  struct DeliveryReports;
  std::chrono::steady_clock::time_point due_since_{};
  KafkaOptions options_;
  // (Callbacks before the producer: they outlive it, which calls them
  // until it is gone.)
  std::unique_ptr<DeliveryReports> reports_;
  std::unique_ptr<KafkaEvents> events_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::string buffer_;
  int64_t produced_ = 0;
  int64_t truncated_dead_letters_ = 0;
  size_t max_record_bytes_ = 900'000;
};

// A partition handed to or taken from this consumer.
// An assigned partition whose leader this consumer cannot reach.
struct UnreachablePartition : TopicPartition {
  int32_t leader = -1;       // broker id; -1: no leader known
  std::string broker_state;  // librdkafka's name of the leader's state (DOWN, CONNECT, ...)
  int64_t down_ms = 0;       // since the leader was last seen UP
  bool operator==(const UnreachablePartition&) const = default;
};

// Records fetched from Kafka, in fetch order (order within a partition is
// Kafka's). The bytes, and the records' views of them, are valid until
// Clear or the batch's end.
class PolledBatch {
 public:
  struct Record {
    std::string_view topic;
    int32_t partition = 0;
    int64_t offset = 0;
    std::string_view value;
    int64_t timestamp_ms = -1;  // the record's Kafka timestamp; -1: none
    // Of a record from the repartition topic: where it was first read.
    std::string_view origin_topic;
    int32_t origin_partition = -1;
    int64_t origin_offset = -1;
    // Of a forwarder's mark in the repartition topic: its task (-1: not a
    // mark) and the mark (WatermarkTracker::kForwarderIdle: idle).
    int32_t mark_task = -1;
    int64_t mark_ms = 0;
  };
  PolledBatch();
  ~PolledBatch();
  const std::vector<Record>& records() const { return records_; }
  size_t size() const { return records_.size(); }
  bool empty() const { return records_.empty(); }
  void Clear();

 private:
  friend class KafkaSource;
  std::vector<std::unique_ptr<RdKafka::Message>> messages_;  // own the bytes
  std::vector<Record> records_;
};

// The consumer-group source. Rebalance callbacks run on the calling thread,
// inside Poll.
class KafkaSource {
 public:
  struct Listener {
    virtual ~Listener() = default;
    // Returns the offset to start each partition at (-1: from the beginning).
    virtual int64_t OnAssigned(const TopicPartition& p) = 0;
    // Called before partitions are given up: process and checkpoint now.
    // `lost`: the group already gave them to others (this member was kicked
    // out: a session timeout, a long pause): a zombie, which must not write.
    virtual void OnRevoking(const std::vector<TopicPartition>& partitions, bool lost) = 0;
  };
  static absl::StatusOr<std::unique_ptr<KafkaSource>> Create(const KafkaOptions& options,
                                                             Listener* listener);
  ~KafkaSource();
  // Appends records until `out` holds `max`, waiting at most `timeout_ms`
  // for the first. Errors other than end-of-partition are logged and counted.
  void Poll(size_t max, int timeout_ms, PolledBatch* out);
  // Commits offsets to Kafka, asynchronously, for lag tools only: to
  // kafka.lag_group, which no member joins (config.h, commit_offsets).
  void CommitForMonitoring(const std::map<std::string, int64_t>& next_offsets);
  // The partition's end offset as last seen by the consumer (-1: unknown).
  int64_t HighWatermark(const std::string& topic, int32_t partition);
  // The assigned partitions whose end offset, as last fetched, is past the
  // consumer's position: records Kafka holds that were not handed over yet
  // (transaction markers do not count: the position moves past them).
  // Partitions whose end or position is not known yet are left out.
  std::vector<TopicPartition> Behind();
  // The assigned partitions whose leader broker this consumer cannot reach,
  // as of librdkafka's last statistics (at most a few seconds old).
  std::vector<UnreachablePartition> Unreachable();
  // Leaves the group (revoking, hence a last checkpoint through the listener).
  void Close();
  // Consume errors and client errors (broker connections, ...).
  int64_t errors() const;

 private:
  KafkaSource() = default;
  struct Rebalance;
  std::unique_ptr<Rebalance> rebalance_;
  std::unique_ptr<KafkaEvents> events_;  // (before consumer_: outlives it)
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  // Never subscribes: only commits, as a group of no members accepts.
  std::unique_ptr<KafkaEvents> lag_events_;  // (before lag_committer_: outlives it)
  std::unique_ptr<RdKafka::KafkaConsumer> lag_committer_;
  int64_t errors_ = 0;
  bool closed_ = false;
  std::string repartition_topic_;
  void ReadOrigin(RdKafka::Message& m, PolledBatch::Record* r);
  std::set<std::string, std::less<>> topics_;  // the names records point to
};

}  // namespace promowatch
