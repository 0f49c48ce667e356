#pragma once
// The changelog topic on Kafka (state/changelog.h has the format and its
// rules): a task's checkpoint batches appended to partition `task`, and the
// partition read back from the earliest record Kafka holds to restore the
// task wherever it lands.
//
// Each record carries its batch's owner generation and sequence as headers
// (promowatch.generation, promowatch.sequence: decimal, readable with
// kcat); a delete is a tombstone (null value) marked promowatch.delete, so
// that an empty value (a put of "") stays a put.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/config/config.h"
#include "pipeline/state/changelog.h"

namespace RdKafka {
class Producer;
class KafkaConsumer;
class Message;
}  // namespace RdKafka

namespace promowatch {

class KafkaEvents;  // kafka_events.h

class ChangelogTopic {
 public:
  // An idempotent producer (a partition's batches stay in order, retries
  // do not duplicate) and a consumer without a group for restores.
  static absl::StatusOr<std::unique_ptr<ChangelogTopic>> Open(const KafkaOptions& options,
                                                              std::string topic);
  ~ChangelogTopic();

  // Appends `batch` to partition `task` and waits until Kafka has
  // acknowledged all of it.
  absl::Status Append(int32_t task, const std::vector<ChangelogRecord>& batch, int timeout_ms);

  // Reads partition `task` from the earliest offset Kafka holds to its end
  // into `restorer`; `progress(read, to_read)` about once a second. Returns
  // the records read.
  using Progress = std::function<void(int64_t read, int64_t to_read)>;
  // Where partition `task`'s newest committed batch left the state, read
  // from its last record alone (a new owner whose local state is there
  // starts at once); nullopt when the last record is not a commit (a batch
  // cut short, a zombie's writes: a full read decides). Sequence 0: empty.
  absl::StatusOr<std::optional<ChangelogPosition>> LastCommit(int32_t task, int timeout_ms);
  // The partition count of `topic` (any topic: the inputs' co-partitioning
  // is checked with it); 0 when the topic does not exist.
  absl::StatusOr<int> PartitionCount(const std::string& topic, int timeout_ms);
  absl::StatusOr<int64_t> Read(int32_t task, ChangelogRestorer* restorer, int timeout_ms,
                               const Progress& progress = nullptr);

 private:
  ChangelogTopic() = default;
  struct Acks;
  // The next record of the partition assigned for a read; nullptr once
  // `deadline` passed.
  absl::StatusOr<std::unique_ptr<RdKafka::Message>> Next(
      int32_t task, std::chrono::steady_clock::time_point deadline);

  std::string topic_;
  std::unique_ptr<Acks> acks_;
  std::unique_ptr<KafkaEvents> events_;  // (callbacks before the clients: they outlive them)
  std::unique_ptr<RdKafka::Producer> producer_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
};

}  // namespace promowatch
