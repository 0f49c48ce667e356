#include "pipeline/io/kafka_conf.h"

namespace promowatch {
namespace {

absl::Status SetAll(RdKafka::Conf* conf, const std::map<std::string, std::string>& props) {
  std::string err;
  for (const auto& [k, v] : props) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) {
      // (librdkafka's message may quote the value: a password stays out.)
      for (size_t at; !v.empty() && (at = err.find(v)) != std::string::npos;)
        err.replace(at, v.size(), "<value>");
      return absl::InvalidArgumentError("kafka property " + k + ": " + err);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeConf(
    const std::map<std::string, std::string>& ours,
    const std::map<std::string, std::string>& user) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  if (auto st = SetAll(conf.get(), ours); !st.ok()) return st;
  if (auto st = SetAll(conf.get(), user); !st.ok()) return st;
  return conf;
}

}  // namespace promowatch
