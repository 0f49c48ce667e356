#include "pipeline/io/kafka_conf.h"

#include <gtest/gtest.h>

namespace promowatch {
namespace {

// kafka.properties go to each client they apply to, as librdkafka's own
// property table says: a consumer's settings make no producer warn.
TEST(KafkaConf, EachClientGetsTheUserPropertiesOfItsKind) {
  EXPECT_TRUE(AppliesTo(KafkaClient::kConsumer, "session.timeout.ms"));
  EXPECT_FALSE(AppliesTo(KafkaClient::kProducer, "session.timeout.ms"));
  EXPECT_FALSE(AppliesTo(KafkaClient::kProducer, "heartbeat.interval.ms"));
  EXPECT_TRUE(AppliesTo(KafkaClient::kProducer, "linger.ms"));
  EXPECT_FALSE(AppliesTo(KafkaClient::kConsumer, "linger.ms"));
  EXPECT_TRUE(AppliesTo(KafkaClient::kConsumer, "security.protocol"));
  EXPECT_TRUE(AppliesTo(KafkaClient::kProducer, "security.protocol"));
  EXPECT_TRUE(AppliesTo(KafkaClient::kProducer, "compression.type"));
  // Unknown to librdkafka: passed on, for librdkafka to refuse by name.
  EXPECT_TRUE(AppliesTo(KafkaClient::kProducer, "no.such.property"));
  const std::map<std::string, std::string> user = {{"session.timeout.ms", "6000"},
                                                   {"linger.ms", "20"}};
  auto producer = MakeConf(KafkaClient::kProducer, {}, user);
  ASSERT_TRUE(producer.ok()) << producer.status();
  std::string value;
  EXPECT_EQ((*producer)->get("linger.ms", value), RdKafka::Conf::CONF_OK);
  EXPECT_EQ(value, "20");
  EXPECT_EQ((*producer)->get("session.timeout.ms", value), RdKafka::Conf::CONF_OK);
  EXPECT_EQ(value, "45000") << "librdkafka's default: the user's value is the consumer's";
  auto consumer = MakeConf(KafkaClient::kConsumer, {}, user);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  EXPECT_EQ((*consumer)->get("session.timeout.ms", value), RdKafka::Conf::CONF_OK);
  EXPECT_EQ(value, "6000");
  auto bad = MakeConf(KafkaClient::kConsumer, {}, {{"no.such.property", "1"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("no.such.property"), std::string::npos) << bad.status();
}

}  // namespace
}  // namespace promowatch
