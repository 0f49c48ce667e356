#include "pipeline/runtime/topic_partition.h"

#include <charconv>

namespace promowatch {

std::optional<TopicPartition> TopicPartition::Parse(std::string_view name) {
  const size_t slash = name.rfind('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == name.size())
    return std::nullopt;
  int32_t partition = 0;
  const char* end = name.data() + name.size();
  const auto [ptr, ec] = std::from_chars(name.data() + slash + 1, end, partition);
  if (ec != std::errc() || ptr != end || partition < 0) return std::nullopt;
  return TopicPartition{std::string(name.substr(0, slash)), partition};
}

}  // namespace promowatch
