#pragma once
// librdkafka configuration, built the same way for every client promowatch
// creates (io/ only): promowatch's own settings first, then the user's
// kafka.properties, so that a user can override any of them.

#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace promowatch {

absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeConf(
    const std::map<std::string, std::string>& ours, const std::map<std::string, std::string>& user);

}  // namespace promowatch
