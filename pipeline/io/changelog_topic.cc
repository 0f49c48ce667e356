#include "pipeline/io/changelog_topic.h"

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <chrono>
#include <cstdlib>

#include "pipeline/io/kafka_conf.h"
#include "pipeline/io/kafka_events.h"
#include "pipeline/runtime/clock.h"

namespace promowatch {
namespace {

constexpr const char* kGenerationHeader = "promowatch.generation";
constexpr const char* kSequenceHeader = "promowatch.sequence";
constexpr const char* kDeleteHeader = "promowatch.delete";

std::string HeaderValue(const RdKafka::Headers* headers, const char* name) {
  if (headers == nullptr) return "";
  const RdKafka::Headers::Header h = headers->get_last(name);
  if (h.err() != RdKafka::ERR_NO_ERROR || h.value() == nullptr) return "";
  return std::string(static_cast<const char*>(h.value()), h.value_size());
}

// A changelog record as Kafka carried it (state/changelog.h).
void ToRecord(const RdKafka::Message& m, ChangelogRecord* r) {
  r->key.assign(static_cast<const char*>(m.key_pointer()), m.key_len());
  const RdKafka::Headers* headers = const_cast<RdKafka::Message&>(m).headers();
  if (!HeaderValue(headers, kDeleteHeader).empty()) {
    r->value.reset();
  } else {  // (an empty put may come with no payload at all)
    r->value.emplace(m.payload() != nullptr ? static_cast<const char*>(m.payload()) : "", m.len());
  }
  r->generation = std::atoll(HeaderValue(headers, kGenerationHeader).c_str());
  r->sequence = std::atoll(HeaderValue(headers, kSequenceHeader).c_str());
}

}  // namespace

absl::StatusOr<std::unique_ptr<RdKafka::Message>> ChangelogTopic::Next(
    int32_t task, std::chrono::steady_clock::time_point deadline) {
  while (MonotonicNow() < deadline) {
    std::unique_ptr<RdKafka::Message> m(consumer_->consume(100));
    if (!m || m->err() == RdKafka::ERR__TIMED_OUT || m->err() == RdKafka::ERR__PARTITION_EOF) {
      continue;
    }
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      return absl::UnavailableError("changelog partition " + std::to_string(task) + ": " +
                                    m->errstr());
    }
    return m;
  }
  return nullptr;
}

struct ChangelogTopic::Acks final : RdKafka::DeliveryReportCb {
  std::atomic<int64_t> outstanding{0};
  std::atomic<int64_t> failed{0};
  std::string first_error;
  void dr_cb(RdKafka::Message& m) override {
    if (m.err() != RdKafka::ERR_NO_ERROR) {
      if (failed++ == 0) first_error = m.errstr();
    }
    --outstanding;
  }
};

absl::StatusOr<std::unique_ptr<ChangelogTopic>> ChangelogTopic::Open(const KafkaOptions& options,
                                                                     std::string topic) {
  std::unique_ptr<ChangelogTopic> t(new ChangelogTopic());
  t->topic_ = std::move(topic);
  t->acks_ = std::make_unique<Acks>();
  std::string err;
  auto producer_conf = MakeConf(KafkaClient::kProducer,
                                {{"bootstrap.servers", options.brokers},
                                 {"enable.idempotence", "true"},
                                 {"linger.ms", "5"},
                                 {"compression.type", "lz4"}},
                                options.properties);
  if (!producer_conf.ok()) return producer_conf.status();
  (*producer_conf)->set("dr_cb", t->acks_.get(), err);
  t->events_ = std::make_unique<KafkaEvents>("changelog");
  (*producer_conf)->set("event_cb", t->events_.get(), err);
  t->producer_.reset(RdKafka::Producer::create(producer_conf->get(), err));
  if (!t->producer_) return absl::InvalidArgumentError("changelog producer: " + err);
  // Partitions are assigned by hand: the group id is never joined.
  auto consumer_conf = MakeConf(KafkaClient::kConsumer,
                                {{"bootstrap.servers", options.brokers},
                                 {"group.id", "promowatch-changelog-restore"},
                                 // A restore reads to the end: no waiting for
                                 // more data at each fetch (librdkafka: 500 ms).
                                 {"fetch.wait.max.ms", "10"},
                                 {"enable.auto.commit", "false"},
                                 {"enable.partition.eof", "true"}},
                                options.properties);
  if (!consumer_conf.ok()) return consumer_conf.status();
  (*consumer_conf)->set("event_cb", t->events_.get(), err);
  t->consumer_.reset(RdKafka::KafkaConsumer::create(consumer_conf->get(), err));
  if (!t->consumer_) return absl::InvalidArgumentError("changelog consumer: " + err);
  return t;
}

ChangelogTopic::~ChangelogTopic() {
  if (producer_) producer_->flush(5'000);
  if (consumer_) consumer_->close();
}

absl::Status ChangelogTopic::Append(int32_t task, const std::vector<ChangelogRecord>& batch,
                                    int timeout_ms) {
  acks_->failed = 0;
  for (const ChangelogRecord& r : batch) {
    RdKafka::Headers* headers = RdKafka::Headers::create();
    const std::string generation = std::to_string(r.generation);
    const std::string sequence = std::to_string(r.sequence);
    headers->add(kGenerationHeader, generation);
    headers->add(kSequenceHeader, sequence);
    if (!r.value) headers->add(kDeleteHeader, "1");
    RdKafka::ErrorCode e;
    while (true) {
      e = producer_->produce(topic_, task, RdKafka::Producer::RK_MSG_COPY,
                             r.value ? const_cast<char*>(r.value->data()) : nullptr,
                             r.value ? r.value->size() : 0, r.key.data(), r.key.size(), 0, headers,
                             nullptr);
      if (e != RdKafka::ERR__QUEUE_FULL) break;
      producer_->poll(10);  // the local queue drains as Kafka acknowledges
    }
    if (e != RdKafka::ERR_NO_ERROR) {
      delete headers;  // (owned by the message only when produce succeeds)
      return absl::UnavailableError("changelog partition " + std::to_string(task) + ": " +
                                    RdKafka::err2str(e));
    }
    ++acks_->outstanding;
  }
  if (producer_->flush(timeout_ms) != RdKafka::ERR_NO_ERROR || acks_->outstanding > 0) {
    return absl::DeadlineExceededError("changelog partition " + std::to_string(task) +
                                       ": not acknowledged within " + std::to_string(timeout_ms) +
                                       " ms");
  }
  if (acks_->failed > 0) {
    return absl::UnavailableError("changelog partition " + std::to_string(task) + ": " +
                                  acks_->first_error);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<ChangelogPosition>> ChangelogTopic::LastCommit(int32_t task,
                                                                            int timeout_ms) {
  int64_t low = -1, high = -1;
  if (auto e = consumer_->query_watermark_offsets(topic_, task, &low, &high, timeout_ms);
      e != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError("changelog partition " + std::to_string(task) +
                                  ": cannot read its offsets: " + RdKafka::err2str(e));
  }
  if (high <= low) return ChangelogPosition();
  std::unique_ptr<RdKafka::TopicPartition> tp(
      RdKafka::TopicPartition::create(topic_, task, high - 1));
  std::vector<RdKafka::TopicPartition*> assignment = {tp.get()};
  if (auto e = consumer_->assign(assignment); e != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError("changelog partition " + std::to_string(task) + ": " +
                                  RdKafka::err2str(e));
  }
  const auto deadline = MonotonicNow() + std::chrono::milliseconds(timeout_ms);
  std::optional<ChangelogPosition> last;
  absl::Status status;
  auto m = Next(task, deadline);
  if (!m.ok()) {
    status = m.status();
  } else if (*m == nullptr) {
    status = absl::DeadlineExceededError("changelog partition " + std::to_string(task) +
                                         ": its last record was not read within " +
                                         std::to_string(timeout_ms) + " ms");
  } else {
    ChangelogRecord r;
    ToRecord(**m, &r);
    last = ParseCommit(r);
  }
  consumer_->unassign();
  if (!status.ok()) return status;
  return last;
}

absl::StatusOr<int> ChangelogTopic::PartitionCount(const std::string& topic, int timeout_ms) {
  std::string err;
  std::unique_ptr<RdKafka::Topic> handle(
      RdKafka::Topic::create(producer_.get(), topic, nullptr, err));
  if (!handle) return absl::InvalidArgumentError("topic " + topic + ": " + err);
  RdKafka::Metadata* raw = nullptr;
  if (auto e = producer_->metadata(false, handle.get(), &raw, timeout_ms);
      e != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError("metadata of topic " + topic + ": " + RdKafka::err2str(e));
  }
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
    if (t->topic() != topic) continue;
    if (t->err() == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART) return 0;
    return static_cast<int>(t->partitions()->size());
  }
  return 0;
}

absl::StatusOr<int64_t> ChangelogTopic::Read(int32_t task, ChangelogRestorer* restorer,
                                             int timeout_ms, const Progress& progress) {
  int64_t low = -1, high = -1;
  if (auto e = consumer_->query_watermark_offsets(topic_, task, &low, &high, timeout_ms);
      e != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError("changelog partition " + std::to_string(task) +
                                  ": cannot read its offsets: " + RdKafka::err2str(e));
  }
  if (high <= low) return 0;
  std::unique_ptr<RdKafka::TopicPartition> tp(RdKafka::TopicPartition::create(topic_, task, low));
  std::vector<RdKafka::TopicPartition*> assignment = {tp.get()};
  if (auto e = consumer_->assign(assignment); e != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError("changelog partition " + std::to_string(task) + ": " +
                                  RdKafka::err2str(e));
  }
  const auto deadline = MonotonicNow() + std::chrono::milliseconds(timeout_ms);
  auto last_progress = MonotonicNow();
  int64_t read = 0, next = low;
  absl::Status status;
  ChangelogRecord r;
  while (next < high && status.ok()) {
    auto m = Next(task, deadline);
    if (!m.ok()) {
      status = m.status();
      break;
    }
    if (*m == nullptr) {
      status = absl::DeadlineExceededError("changelog partition " + std::to_string(task) +
                                           ": restore read " + std::to_string(next - low) + " of " +
                                           std::to_string(high - low) + " records in " +
                                           std::to_string(timeout_ms) + " ms");
      break;
    }
    next = (*m)->offset() + 1;
    ++read;
    ToRecord(**m, &r);
    status = restorer->Add(r);
    if (progress && MonotonicNow() - last_progress > std::chrono::seconds(1)) {
      progress(next - low, high - low);
      last_progress = MonotonicNow();
    }
  }
  consumer_->unassign();
  if (!status.ok()) return status;
  if (progress) progress(high - low, high - low);
  return read;
}

}  // namespace promowatch
