#include "pipeline/io/kafka_conf.h"

#include <librdkafka/rdkafka.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

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

// librdkafka's property table (CONFIGURATION.md, printed by the library
// itself): name -> "C", "P" or "*".
std::map<std::string, std::string> LoadScopes() {
  std::map<std::string, std::string> scopes;
  char* text = nullptr;
  size_t size = 0;
  FILE* out = open_memstream(&text, &size);
  if (out == nullptr) return scopes;
  rd_kafka_conf_properties_show(out);
  std::fclose(out);
  std::istringstream lines(std::string(text, size));
  std::free(text);
  for (std::string line; std::getline(lines, line);) {
    const size_t bar = line.find('|');
    if (bar == std::string::npos) continue;
    const size_t next = line.find('|', bar + 1);
    if (next == std::string::npos) continue;
    std::string name = line.substr(0, line.find_first_of(" |"));
    std::string scope = line.substr(bar + 1, next - bar - 1);
    scope.erase(0, scope.find_first_not_of(' '));
    scope.erase(scope.find_last_not_of(' ') + 1);
    if (scope != "C" && scope != "P" && scope != "*") continue;  // (the header rows)
    auto [it, inserted] = scopes.emplace(name, scope);
    if (!inserted && it->second != scope) it->second = "*";  // global and topic rows differ
  }
  return scopes;
}

}  // namespace

bool AppliesTo(KafkaClient client, const std::string& name) {
  static const std::map<std::string, std::string> scopes = LoadScopes();
  auto it = scopes.find(name);
  if (it == scopes.end() || it->second == "*") return true;
  return it->second == (client == KafkaClient::kConsumer ? "C" : "P");
}

absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeConf(
    KafkaClient client, const std::map<std::string, std::string>& ours,
    const std::map<std::string, std::string>& user) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  if (auto st = SetAll(conf.get(), ours); !st.ok()) return st;
  std::map<std::string, std::string> mine;
  for (const auto& [k, v] : user) {
    if (AppliesTo(client, k)) mine.emplace(k, v);
  }
  if (auto st = SetAll(conf.get(), mine); !st.ok()) return st;
  return conf;
}

}  // namespace promowatch
