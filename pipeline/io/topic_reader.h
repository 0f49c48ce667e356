#pragma once
// Reads a topic from its beginning to its end as they stand when called:
// every partition assigned by hand (no group is joined), each record's
// value handed over in partition order. For offline readers of what the
// live job published (promowatch report: results and alerts).

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "pipeline/config/config.h"

namespace promowatch {

// The number of records read; an error names the topic and what failed (a
// missing topic reads as empty).
absl::StatusOr<int64_t> ReadTopicToEnd(const KafkaOptions& options, const std::string& topic,
                                       int timeout_ms,
                                       const std::function<void(std::string_view value)>& take);

}  // namespace promowatch
