#pragma once
// Which task a user belongs to: the partition a producer's partitioner
// gives a record keyed by the user id, among the task count. Producers
// disagree on it, so promowatch matches the one they use
// (kafka.input_partitioner): a producer that keys its records by user id
// with that partitioner lands each user's events in the task that owns
// the user, and nothing needs forwarding.
//   murmur2:    murmur2 of the key bytes, made positive, modulo the
//               partition count - the Java client's default, librdkafka's
//               "murmur2" and "murmur2_random".
//   consistent: CRC-32 of the key bytes, modulo the partition count -
//               librdkafka's "consistent" and its default
//               "consistent_random" (kcat, confluent-kafka for Python, Go
//               and .NET, most C/C++ services) for keyed records.

#include <cstdint>
#include <optional>
#include <string_view>

#include "operators/names.h"

namespace promowatch {

enum class InputPartitioner { kMurmur2, kConsistent };
inline constexpr Named<InputPartitioner> kInputPartitionerNames[] = {
    {"murmur2", InputPartitioner::kMurmur2}, {"consistent", InputPartitioner::kConsistent}};

inline std::string_view InputPartitionerName(InputPartitioner p) {
  return NameOf(kInputPartitionerNames, p);
}
inline std::optional<InputPartitioner> ParseInputPartitioner(std::string_view name) {
  return FromName(kInputPartitionerNames, name);
}

// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as the
// signed 32-bit value the Java client computes.
int32_t KafkaMurmur2(std::string_view key);

// The CRC-32 (IEEE 802.3, as zlib computes it) librdkafka's consistent
// partitioners take of the key.
uint32_t KafkaCrc32(std::string_view key);

// The partition of `key` among `partitions` (> 0), murmur2.
inline int32_t KafkaPartitionOf(std::string_view key, int32_t partitions) {
  return (KafkaMurmur2(key) & 0x7fffffff) % partitions;
}

// The partition of `key` among `partitions` (> 0) by `partitioner`.
inline int32_t PartitionOfKey(std::string_view key, int32_t partitions,
                              InputPartitioner partitioner) {
  if (partitioner == InputPartitioner::kConsistent)
    return static_cast<int32_t>(KafkaCrc32(key) % static_cast<uint32_t>(partitions));
  return KafkaPartitionOf(key, partitions);
}

}  // namespace promowatch
