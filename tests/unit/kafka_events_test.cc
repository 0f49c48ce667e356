// Which partitions librdkafka's statistics show as unreachable
// (pipeline/io/kafka_events.h), on statistics shaped as STATISTICS.md
// documents them for librdkafka 2.0.
#include "pipeline/io/kafka_events.h"

#include <gtest/gtest.h>

namespace promowatch {
namespace {

// Brokers 1 (UP), 2 (in `state2`) and a bootstrap connection (-1);
// clickstream 0 led by 1, 1 by 2, 2 by 2 but not fetched, 3 with no leader;
// orders 0 led by 2 and being fetched.
std::string Statistics(const std::string& state2) {
  return R"({"name": "rdkafka#consumer-1", "type": "consumer",
    "brokers": {
      "127.0.0.1:9092/bootstrap": {"name": "127.0.0.1:9092/bootstrap", "nodeid": -1, "state": "DOWN", "stateage": 99000000},
      "127.0.0.1:9093/1": {"name": "127.0.0.1:9093/1", "nodeid": 1, "state": "UP", "stateage": 50000000},
      "127.0.0.1:9094/2": {"name": "127.0.0.1:9094/2", "nodeid": 2, "state": ")" +
         state2 + R"(", "stateage": 100000}},
    "topics": {
      "clickstream": {"topic": "clickstream", "partitions": {
        "0": {"partition": 0, "broker": 1, "leader": 1, "fetch_state": "active"},
        "1": {"partition": 1, "broker": 2, "leader": 2, "fetch_state": "active"},
        "2": {"partition": 2, "broker": 2, "leader": 2, "fetch_state": "none"},
        "3": {"partition": 3, "broker": -1, "leader": -1, "fetch_state": "offset-query"},
        "-1": {"partition": -1, "broker": -1, "leader": -1, "fetch_state": "none"}}},
      "orders": {"topic": "orders", "partitions": {
        "0": {"partition": 0, "broker": 2, "leader": 2, "fetch_state": "active"}}}}})";
}

using Partitions = std::vector<UnreachablePartition>;

// Broker 2 goes down and retries (DOWN, CONNECT, DOWN): what it leads is
// unreachable from the first statistics that say so, for as long as since
// it was last UP, until it is UP again. A leader unknown twice in a row
// too; a broker never tried yet (INIT) is not down.
TEST(KafkaEvents, PartitionsOfABrokerNotUpAreUnreachableSinceItWasLastUp) {
  Reachability r;
  EXPECT_EQ(r.Update(Statistics("INIT"), 0), Partitions{});  // (the unknown leader: once so far)
  EXPECT_EQ(r.Update(Statistics("UP"), 1000),
            (Partitions{{{"clickstream", 3}, -1, "unknown", 1000}}));
  EXPECT_EQ(r.Update(Statistics("DOWN"), 2000),
            (Partitions{{{"clickstream", 1}, 2, "DOWN", 1000},
                        {{"clickstream", 3}, -1, "unknown", 2000},
                        {{"orders", 0}, 2, "DOWN", 1000}}));
  EXPECT_EQ(r.Update(Statistics("CONNECT"), 4500),
            (Partitions{{{"clickstream", 1}, 2, "CONNECT", 3500},
                        {{"clickstream", 3}, -1, "unknown", 4500},
                        {{"orders", 0}, 2, "CONNECT", 3500}}));
  EXPECT_EQ(r.Update(Statistics("UP"), 5000),
            (Partitions{{{"clickstream", 3}, -1, "unknown", 5000}}));
}

TEST(KafkaEvents, StatisticsThatDoNotParseNameNothing) {
  Reachability r;
  EXPECT_TRUE(r.Update("", 0).empty());
  EXPECT_TRUE(r.Update("{\"topics\": [1, 2]", 0).empty());
  EXPECT_TRUE(r.Update("{\"topics\": {\"t\": {\"partitions\": 7}}}", 0).empty());
  EXPECT_TRUE(
      r.Update("{\"topics\": {\"t\": {\"partitions\": {\"0\": {\"partition\": \"x\"}}}}}", 0)
          .empty());
}

}  // namespace
}  // namespace promowatch
