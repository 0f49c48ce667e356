#pragma once
// Which task a user belongs to: the partition Kafka's default partitioner
// gives a record keyed by the user id (murmur2 of the key bytes, made
// positive, modulo the partition count; librdkafka's "murmur2" and
// "murmur2_random" partitioners, the Java client's default). A producer
// that keys its records by user id lands each user's events in the task
// that owns the user, and nothing needs forwarding.

#include <cstdint>
#include <string_view>

namespace promowatch {

// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as the
// signed 32-bit value the Java client computes.
int32_t KafkaMurmur2(std::string_view key);

// The partition of `key` among `partitions` (> 0).
inline int32_t KafkaPartitionOf(std::string_view key, int32_t partitions) {
  return (KafkaMurmur2(key) & 0x7fffffff) % partitions;
}

}  // namespace promowatch
