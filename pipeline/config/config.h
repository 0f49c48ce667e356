#pragma once
// promowatch's configuration file (YAML). Every key is optional; a key that
// is unknown, of the wrong type or out of range fails start-up with
// "FILE:LINE: what is wrong". deploy/promowatch.yaml documents every key.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "operators/alert_engine.h"
#include "operators/options.h"
#include "operators/plan.h"
#include "operators/plan_rules.h"
#include "operators/user_profiles.h"
#include "pipeline/decode/framing.h"
#include "pipeline/decode/partitioner.h"
#include "pipeline/state/rocksdb_state.h"

namespace promowatch {

// kafka.results_format / --results-format: protobuf or JSON values.
inline constexpr Named<bool> kResultsFormatNames[] = {{"protobuf", false}, {"json", true}};

struct KafkaOptions {
  // Default: 127.0.0.1:9092.
  std::string brokers = "127.0.0.1:9092";
  // Consumer group. Default: promowatch.
  std::string group = "promowatch";
  // Input topics. Default: clickstream, orders, spend.
  std::vector<std::string> input_topics = {"clickstream", "orders", "spend"};
  // Value types given in kafka.topics.inputs ({name: app-clicks, type:
  // click}); a topic not listed here has DefaultValueType(name).
  std::map<std::string, ValueType> input_types;
  // kafka.input_partitioner: the partitioner the inputs' producers place
  // keys with, hence the task a user belongs to (decode/partitioner.h).
  // Records elsewhere are forwarded through the repartition topic. Default:
  // murmur2 (the Java client's); consistent for librdkafka's default.
  InputPartitioner input_partitioner = InputPartitioner::kMurmur2;
  // kafka.value_framing: Schema Registry frames. Default: auto.
  ValueFraming value_framing = ValueFraming::kAuto;
  // How to read the values of `topic`.
  InputFormat InputFormatOf(const std::string& topic) const {
    auto it = input_types.find(topic);
    return InputFormat{it != input_types.end() ? it->second : DefaultValueType(topic),
                       value_framing, std::nullopt};
  }
  std::string results_topic = "promowatch-metrics";
  std::string dead_letter_topic = "promowatch-dlq";
  // The largest value written to the dead-letter topic: a rejected record
  // beyond it is kept truncated, with its size and hash in headers
  // (kafka.dead_letter_max_bytes). Default 900 kB: under Kafka's default
  // max.message.bytes (1 MB) and librdkafka's message.max.bytes, with room
  // for the headers. At most the dead-letter topic's max.message.bytes.
  int64_t dead_letter_max_bytes = 900'000;
  // The largest record promowatch produces otherwise (kafka.max_record_bytes;
  // at most the producer's message.max.bytes less 2 kB, checked at start):
  // partials are split into records under it; a record to forward that
  // does not fit is dead-lettered (record_too_large), never retried
  // forever. Default 900 kB, under Kafka's default max.message.bytes.
  int64_t max_record_bytes = 900'000;
  std::string alerts_topic = "promowatch-alerts";
  // User tag changes (profiles.enabled), keyed by user_id.
  std::string user_tags_topic = "promowatch-user-tags";
  // Every task's checkpoints (live/task_owner.h): partition p for task p, so
  // at least as many partitions as each input topic.
  std::string changelog_topic = "promowatch-changelog";
  // Records not in the partition of their user id (Kafka's default
  // partitioner), forwarded once to the task of their user, keyed by it:
  // as many partitions as each input topic.
  std::string repartition_topic = "promowatch-repartition";
  // Every task's partial windows and watermark, partition g for global
  // task g (live/global_stage.h): as many partitions as each input topic.
  std::string partials_topic = "promowatch-partials";
  // How often each task sends its fired windows and its watermark to the
  // global tasks (kafka.partials_interval). Default: 100 ms - a fifth of
  // the 500 ms freshness target (a window is final once the slowest task's
  // watermark arrives) at no more than P x P records per interval however
  // many windows fire.
  int64_t partials_interval_ms = 100;
  // Commit the checkpointed offsets to Kafka too, for lag tools (the state
  // holds the offsets promowatch resumes from). Default: true. They go to
  // a group no member joins (kafka.lag_group), not to kafka.group: a
  // commit in the members' own group that meets a rebalance carries an old
  // generation, the coordinator (a real broker as the embedded one)
  // answers ILLEGAL_GENERATION, and librdkafka before 2.10 then drops the
  // member's whole assignment as lost (librdkafka issue 4059).
  bool commit_offsets = true;
  // kafka.lag_group. Default: "<group>-lag".
  std::string lag_group;
  std::string LagGroup() const { return lag_group.empty() ? group + "-lag" : lag_group; }
  // kafka.results_format: results (and alerts) as JSON objects instead of
  // protobuf (kResultsFormatNames). Default: false.
  bool results_json = false;
  // Any librdkafka property (security.protocol, sasl.*, ssl.*, ...), applied
  // after promowatch's own settings to each client it applies to
  // (io/kafka_conf.h: a consumer's session.timeout.ms not to producers).
  std::map<std::string, std::string> properties;
};

struct MetricsOptions {
  // Where /metrics is served. Default: 127.0.0.1:9464.
  std::string address = "127.0.0.1:9464";
  // Distinct campaign / channel label values before folding into "other".
  int max_campaigns = 200;
  int max_channels = 50;
  // A campaign without results for this long loses its series. Default: 30 min.
  int64_t campaign_ttl_ms = 30 * 60'000;
  // metrics.tls: serve the port (/metrics, probes, the query API) over TLS
  // with this PEM certificate chain and its unencrypted PEM key. Empty:
  // plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string scheme() const { return tls_cert_file.empty() ? "http" : "https"; }
};

struct AlertmanagerOptions {
  // Alertmanager base URLs (http://host:9093); every alert goes to each
  // (an HA pair deduplicates between its members). Empty: no delivery.
  std::vector<std::string> urls;
  // A firing alert is re-sent this often. Default: 1 min (Prometheus's).
  int64_t resend_interval_ms = 60'000;
  // Connect and read timeout of one POST. Default: 10 s.
  int64_t timeout_ms = 10'000;
  // Alerts held per Alertmanager (firing, plus undelivered resolutions).
  size_t max_alerts = 10'000;
  // generatorURL of every alert. Default: http://<metrics.address>/metrics.
  std::string generator_url;
};

// When the inputs of a window count as incomplete (live only): alert rules
// are not judged on it (see AlertEngine::SetDataIncomplete).
struct DataCompletenessOptions {
  // An assigned input partition without a record for this long (wall
  // time). 0: never. Default: 5 min (sparse topics such as spend deliver
  // about once a minute).
  int64_t max_partition_silence_ms = 5 * 60'000;
  // An assigned partition with more unread records than this (catching up
  // after an outage or a restart). 0: never. Default: 100,000.
  int64_t max_lag_records = 100'000;
};

// api: the query API (pipeline/serve/query_api.h) on the metrics address.
struct ApiOptions {
  // Default: false (reads of user profiles are personal data).
  bool enabled = false;
  // Bearer token every request must carry; required when enabled.
  std::string token;
  // HOST:PORT other instances redirect queries to, for the users and
  // campaigns whose tasks run here. Default: metrics.address, with this
  // machine's host name for 0.0.0.0 (a StatefulSet pod's name).
  std::string advertised_address;
  // Of those redirects: https with metrics.tls (set from it, not parsed).
  std::string redirect_scheme = "http";
  // The segment /v1/users reports (set from segments.precedence).
  std::vector<Segment> segment_precedence{std::begin(kDefaultSegmentPrecedence),
                                          std::end(kDefaultSegmentPrecedence)};
};

struct PipelineConfig {
  OperatorOptions operators;
  RocksStateOptions state;
  // Where state lives. Default: empty (replay: a temporary directory).
  std::string state_dir;
  // Checkpoint after this many input records. Default: 1,000,000.
  int64_t checkpoint_every_records = 1'000'000;
  // ... or after this much wall time, whichever comes first. Default: 5 s.
  int64_t checkpoint_interval_ms = 5'000;
  // Live: a task's changelog gets a full batch (a snapshot of its state)
  // once the increments since the last one outgrow this
  // (state.changelog_full_batch_mb) or a quarter of the last full batch,
  // whichever is larger. Default: 1 MiB.
  int64_t changelog_snapshot_bytes = int64_t{1} << 20;
  // Records decoded and processed together. Default: 4096.
  int batch_size = 4096;
  // An assigned input partition silent for this long (wall time) stops
  // holding back the watermark. 0 turns it off. Default: 10 s.
  int64_t idle_partition_timeout_ms = 10'000;
  // watermark.forwarder_timeout (live): a task that forwards records to
  // others through the repartition topic and has sent no watermark mark
  // for this long (its instance died and the group has not moved its task
  // yet) stops holding the tasks it forwards to. Longer than
  // session.timeout.ms plus a task's restore. Default: 2 min.
  int64_t forwarder_timeout_ms = 120'000;
  // watermark.max_future_skew: a record further ahead than this is rejected
  // (future_event_time) before it can move the watermark. 0 turns it off.
  // Default: 10 min.
  int64_t max_future_skew_ms = 10 * 60'000;
  // Ahead of what: the wall clock (live), or the input's own event times
  // (replay and backtest, which have no wall clock; see Engine).
  enum class SkewReference : uint8_t { kWallClock, kInput };
  SkewReference future_skew_reference = SkewReference::kWallClock;
  KafkaOptions kafka;
  MetricsOptions metrics;
  // alerts.rules: threshold rules on final windows. Default: none.
  std::vector<AlertRule> alert_rules;
  // alerts.rules_file: where alert_rules came from, re-read on SIGHUP.
  std::string alert_rules_file;
  // alerts.alertmanager: delivery of firing and resolved alerts.
  AlertmanagerOptions alertmanager;
  // alerts.data_incomplete_when: bounds past which rules are not judged.
  DataCompletenessOptions completeness;
  // profiles.enabled: per-user profiles and tags in RocksDB. Default: false
  // (replay --tags-output turns them on).
  bool profiles_enabled = false;
  // profiles.memory_budget: bytes of the profiles held in memory; past it
  // the least recently used leave and are read back from RocksDB when their
  // user shows up. Default: 4 GiB (10M users with room to spare).
  int64_t profiles_memory_budget = int64_t{4} << 30;
  // profiles.checkpoint_every_changed: a checkpoint once this many profiles
  // changed since the last one. Default: 0, none (changed profiles are
  // serialised on the committing thread, not in the pause: checkpoints
  // follow state.checkpoint_interval / checkpoint_every_records).
  int64_t profiles_checkpoint_every_changed = 0;
  // profiles.tags: the thresholds of the tags.
  TagRules tag_rules;
  ApiOptions api;
  // What the config asked that still works but is to be changed, with the
  // file and line (logged as warnings at start-up).
  std::vector<std::string> warnings;
  // plan.file: the campaign plan (operators/plan.h), re-read with the alert
  // rules; its periods need a restart. Default: none.
  std::string plan_file;
  std::shared_ptr<const Plan> plan;
};

absl::StatusOr<PipelineConfig> ParseConfig(std::string_view yaml, std::string_view file_name);
absl::StatusOr<PipelineConfig> LoadConfig(const std::string& path);
// A rules file (top-level `rules:`, the alerts.rules contract) replaces
// config->alert_rules (LoadAlertRules keeps the plan's); window sizes are
// checked against *config.
absl::Status ParseAlertRulesFile(std::string_view yaml, std::string_view file_name,
                                 PipelineConfig* config);
absl::Status LoadAlertRules(const std::string& path, PipelineConfig* config);

// "500ms", "5s", "2m", "1h", "1d" -> milliseconds.
absl::StatusOr<int64_t> ParseDuration(std::string_view text);
// "2026-11-12T00:00:00+08:00" (or ...Z) -> Unix milliseconds.
absl::StatusOr<int64_t> ParseTimestamp(std::string_view text);
// "+08:00", "-05:30", "Z", "UTC" -> milliseconds ahead of UTC.
absl::StatusOr<int64_t> ParseUtcOffset(std::string_view text);

}  // namespace promowatch
