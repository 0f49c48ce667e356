// The kafka section of a config file (config.h KafkaOptions).

#include "pipeline/config/parse.h"

namespace promowatch::config_internal {
namespace {

// kafka.topics.inputs: names, or {name, type} where the topic's values are
// not what its name says (framing.h DefaultValueType).
absl::Status ParseInputTopics(const Reader& r, const YAML::Node& n, KafkaOptions* out) {
  KafkaOptions& ko = *out;
  if (!n.IsSequence() || n.size() == 0) return r.Error(n, "inputs must be a list of topics");
  ko.input_topics.clear();
  for (const auto& item : n) {
    std::string name;
    if (item.IsScalar()) {
      name = item.Scalar();
    } else if (item.IsMap()) {  // {name: app-clicks, type: click}
      PW_RETURN_IF_ERROR(r.CheckKeys(item, "kafka.topics.inputs", {"name", "type"}));
      if (!item["name"] || !item["name"].IsScalar()) {
        return r.Error(item, "an input needs a name: {name: app-clicks, type: click}");
      }
      name = item["name"].Scalar();
      if (auto tn = item["type"]) {
        ValueType type = ValueType::kEvent;
        PW_RETURN_IF_ERROR(
            r.Enum(tn, "input type", kValueTypeNames, &type, " (event: the Event envelope)"));
        ko.input_types[name] = type;
      }
    } else {
      return r.Error(item,
                     "an input is a topic name or {name: TOPIC, type: click|order|spend|event}");
    }
    if (name.empty()) return r.Error(item, "an input topic name is empty");
    if (std::find(ko.input_topics.begin(), ko.input_topics.end(), name) != ko.input_topics.end()) {
      return r.Error(item, fmt::format("input topic '{}' is listed twice", name));
    }
    ko.input_topics.push_back(name);
  }
  return absl::OkStatus();
}

// kafka.topics: the inputs, and the names of the topics promowatch writes.
absl::Status ParseKafkaTopics(const Reader& r, const YAML::Node& t, KafkaOptions* out) {
  KafkaOptions& ko = *out;
  PW_RETURN_IF_ERROR(r.CheckKeys(t, "kafka.topics",
                                 {"inputs", "results", "dead_letter", "alerts", "user_tags",
                                  "changelog", "repartition", "partials"}));
  if (auto n = t["inputs"]) PW_RETURN_IF_ERROR(ParseInputTopics(r, n, &ko));
  if (auto n = t["results"]) ko.results_topic = n.Scalar();
  if (auto n = t["dead_letter"]) ko.dead_letter_topic = n.Scalar();
  if (auto n = t["alerts"]) ko.alerts_topic = n.Scalar();
  if (auto n = t["user_tags"]) ko.user_tags_topic = n.Scalar();
  if (auto n = t["changelog"]) ko.changelog_topic = n.Scalar();
  if (auto n = t["repartition"]) ko.repartition_topic = n.Scalar();
  if (auto n = t["partials"]) ko.partials_topic = n.Scalar();
  return absl::OkStatus();
}

}  // namespace

// kafka: the cluster, topics, formats and client properties.
absl::Status ParseKafkaSection(const Reader& r, const YAML::Node& k, PipelineConfig* out) {
  PipelineConfig& config = *out;
  KafkaOptions& ko = config.kafka;
  PW_RETURN_IF_ERROR(
      r.CheckKeys(k, "kafka",
                  {"brokers", "group", "topics", "results_format", "value_framing", "properties",
                   "dead_letter_max_bytes", "max_record_bytes", "partials_interval",
                   "commit_offsets", "input_partitioner", "lag_group"}));
  if (auto n = k["lag_group"]) {
    ko.lag_group = n.Scalar();
    const std::string group = k["group"] ? k["group"].Scalar() : ko.group;
    if (ko.lag_group == group) {
      return r.Error(n,
                     "lag_group must differ from kafka.group: its members' own commits "
                     "during a rebalance would cost them their partitions (librdkafka "
                     "before 2.10); lag tools read the lag group instead");
    }
  }
  if (auto n = k["input_partitioner"]) {
    PW_RETURN_IF_ERROR(r.Enum(n, "input_partitioner", kInputPartitionerNames, &ko.input_partitioner,
                              " (murmur2: the Java client's default; consistent: librdkafka's "
                              "default, CRC32: kcat, confluent-kafka)"));
  }
  if (auto n = k["commit_offsets"]) PW_RETURN_IF_ERROR(r.Bool(n, &ko.commit_offsets));
  if (auto n = k["partials_interval"]) PW_RETURN_IF_ERROR(r.Duration(n, &ko.partials_interval_ms));
  if (auto n = k["value_framing"]) {
    PW_RETURN_IF_ERROR(r.Enum(n, "value_framing", kValueFramingNames, &ko.value_framing));
  }
  if (auto n = k["brokers"]) ko.brokers = n.Scalar();
  if (auto n = k["group"]) ko.group = n.Scalar();
  if (auto t = k["topics"]) PW_RETURN_IF_ERROR(ParseKafkaTopics(r, t, &ko));
  if (auto n = k["results_format"]) {
    PW_RETURN_IF_ERROR(r.Enum(n, "results_format", kResultsFormatNames, &ko.results_json));
  }
  if (auto n = k["max_record_bytes"]) {
    PW_RETURN_IF_ERROR(r.Number<int64_t>(n, 16'384, &ko.max_record_bytes));
    if (ko.max_record_bytes > 100'000'000) {
      return r.Error(n, "max_record_bytes must be at most 100000000 (Kafka's own limit)");
    }
  }
  if (auto n = k["dead_letter_max_bytes"]) {
    PW_RETURN_IF_ERROR(r.Number<int64_t>(n, 1024, &ko.dead_letter_max_bytes));
    if (ko.dead_letter_max_bytes > 100'000'000) {
      return r.Error(n, "dead_letter_max_bytes must be at most 100000000 (Kafka's own limit)");
    }
  }
  if (auto n = k["properties"]) {
    if (!n.IsMap()) return r.Error(n, "properties must be a mapping of librdkafka properties");
    // (Every value may come from the environment: ${NAME}, for passwords.)
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      PW_RETURN_IF_ERROR(r.Secret(kv.second, "kafka.properties." + key, &ko.properties[key]));
    }
  }

  return absl::OkStatus();
}

}  // namespace promowatch::config_internal
