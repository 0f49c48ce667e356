#pragma once
// librdkafka configuration, built the same way for every client promowatch
// creates (io/ only): promowatch's own settings first, then the user's
// kafka.properties, so that a user can override any of them. A client gets
// only the user's properties that apply to its kind (librdkafka's own
// table says which: consumer, producer or both), so that a consumer's
// session.timeout.ms does not make every producer log a CONFWARN.

#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace promowatch {

enum class KafkaClient { kConsumer, kProducer };

absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeConf(
    KafkaClient client, const std::map<std::string, std::string>& ours,
    const std::map<std::string, std::string>& user);

// Whether librdkafka applies property `name` to `client` (a name it does
// not know: true, so that librdkafka itself refuses it with its message).
bool AppliesTo(KafkaClient client, const std::string& name);

}  // namespace promowatch
