#include "pipeline/decode/partitioner.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <random>
#include <string>

namespace promowatch {
namespace {

// The values of Kafka's own UtilsTest.testMurmur2.
TEST(Partitioner, Murmur2MatchesKafkasReferenceValues) {
  EXPECT_EQ(KafkaMurmur2("21"), -973932308);
  EXPECT_EQ(KafkaMurmur2("foobar"), -790332482);
  EXPECT_EQ(KafkaMurmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(KafkaMurmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(KafkaMurmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(KafkaMurmur2("abc"), 479470107);
}

// librdkafka's murmur2 partitioner is an independent implementation of the
// same contract: what a producer keyed by user id does.
TEST(Partitioner, PartitionAgreesWithLibrdkafkasMurmur2Partitioner) {
  char err[256];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), err, sizeof(err));
  ASSERT_NE(rk, nullptr) << err;
  rd_kafka_topic_t* topic = rd_kafka_topic_new(rk, "clickstream", nullptr);
  ASSERT_NE(topic, nullptr);
  std::mt19937_64 rng(17);
  for (int i = 0; i < 20'000; ++i) {
    std::string key;
    const size_t length = rng() % 40;  // every tail length, the empty key too
    for (size_t j = 0; j < length; ++j) key.push_back(static_cast<char>(rng() & 0xff));
    for (const int32_t partitions : {1, 3, 8, 12, 31}) {
      const int32_t want = rd_kafka_msg_partitioner_murmur2(topic, key.data(), key.size(),
                                                            partitions, nullptr, nullptr);
      ASSERT_EQ(KafkaPartitionOf(key, partitions), want)
          << "key of " << key.size() << " bytes, " << partitions << " partitions";
    }
  }
  rd_kafka_topic_destroy(topic);
  rd_kafka_destroy(rk);
}

// librdkafka's default partitioner (consistent_random; consistent for a
// keyed record): CRC-32 of the key modulo the count. What kcat and the
// confluent-kafka clients send with.
TEST(Partitioner, ConsistentAgreesWithLibrdkafkasConsistentPartitioner) {
  char err[256];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), err, sizeof(err));
  ASSERT_NE(rk, nullptr) << err;
  rd_kafka_topic_t* topic = rd_kafka_topic_new(rk, "clickstream", nullptr);
  ASSERT_NE(topic, nullptr);
  std::mt19937_64 rng(29);
  for (int i = 0; i < 20'000; ++i) {
    std::string key;
    const size_t length = 1 + rng() % 40;  // (an empty key is random under consistent_random)
    for (size_t j = 0; j < length; ++j) key.push_back(static_cast<char>(rng() & 0xff));
    for (const int32_t partitions : {1, 3, 8, 12, 31, 1 + static_cast<int32_t>(rng() % 200)}) {
      const int32_t want = rd_kafka_msg_partitioner_consistent(topic, key.data(), key.size(),
                                                               partitions, nullptr, nullptr);
      ASSERT_EQ(PartitionOfKey(key, partitions, InputPartitioner::kConsistent), want)
          << "key of " << key.size() << " bytes, " << partitions << " partitions";
      ASSERT_EQ(rd_kafka_msg_partitioner_consistent_random(topic, key.data(), key.size(),
                                                           partitions, nullptr, nullptr),
                want)
          << "consistent_random places keyed records as consistent";
    }
  }
  rd_kafka_topic_destroy(topic);
  rd_kafka_destroy(rk);
}

TEST(Partitioner, NamesRoundTrip) {
  for (const auto& [name, p] : kInputPartitionerNames) {
    EXPECT_EQ(ParseInputPartitioner(InputPartitionerName(p)), p);
    EXPECT_EQ(InputPartitionerName(p), name);
  }
  EXPECT_EQ(ParseInputPartitioner("crc32"), std::nullopt);
  EXPECT_EQ(PartitionOfKey("u1", 4, InputPartitioner::kMurmur2), KafkaPartitionOf("u1", 4));
}

}  // namespace
}  // namespace promowatch
