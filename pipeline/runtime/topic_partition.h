#pragma once
// A Kafka topic-partition, and its one spelling "topic/partition" (state
// keys, watermark slots, logs): formatted and parsed here only.

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace promowatch {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;

  // "clickstream/3".
  std::string Format() const { return topic + "/" + std::to_string(partition); }
  // Back from Format(); nullopt for a name that is not one (a file's "input").
  static std::optional<TopicPartition> Parse(std::string_view name);

  auto operator<=>(const TopicPartition&) const = default;
};

}  // namespace promowatch
