#include "pipeline/io/topic_reader.h"

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <vector>

#include "pipeline/io/kafka_conf.h"
#include "pipeline/runtime/clock.h"

namespace promowatch {

absl::StatusOr<int64_t> ReadTopicToEnd(const KafkaOptions& options, const std::string& topic,
                                       int timeout_ms,
                                       const std::function<void(std::string_view value)>& take) {
  auto conf = MakeConf(KafkaClient::kConsumer,
                       {{"bootstrap.servers", options.brokers},
                        {"group.id", "promowatch-report"},  // never joined: assigned by hand
                        {"fetch.wait.max.ms", "10"},
                        {"enable.auto.commit", "false"},
                        {"enable.partition.eof", "false"}},
                       options.properties);
  if (!conf.ok()) return conf.status();
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf->get(), err));
  if (!consumer) return absl::InvalidArgumentError("consumer of " + topic + ": " + err);
  const auto fail = [&](const std::string& what) {
    consumer->close();
    return absl::UnavailableError("topic " + topic + ": " + what);
  };
  std::unique_ptr<RdKafka::Topic> handle(
      RdKafka::Topic::create(consumer.get(), topic, nullptr, err));
  RdKafka::Metadata* raw = nullptr;
  if (auto e = consumer->metadata(false, handle.get(), &raw, timeout_ms);
      e != RdKafka::ERR_NO_ERROR) {
    return fail("no metadata (" + RdKafka::err2str(e) + "): check --brokers");
  }
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  std::map<int32_t, int64_t> end;  // partition -> its high watermark
  std::vector<std::unique_ptr<RdKafka::TopicPartition>> owned;
  std::vector<RdKafka::TopicPartition*> assignment;
  for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
    if (t->topic() != topic || t->err() != RdKafka::ERR_NO_ERROR) continue;
    for (const RdKafka::PartitionMetadata* p : *t->partitions()) {
      int64_t low = -1, high = -1;
      if (auto e = consumer->query_watermark_offsets(topic, p->id(), &low, &high, timeout_ms);
          e != RdKafka::ERR_NO_ERROR) {
        return fail("offsets of partition " + std::to_string(p->id()) + ": " + RdKafka::err2str(e));
      }
      if (high <= low) continue;
      end[p->id()] = high;
      owned.emplace_back(RdKafka::TopicPartition::create(topic, p->id(), low));
      assignment.push_back(owned.back().get());
    }
  }
  if (assignment.empty()) {
    consumer->close();
    return 0;
  }
  if (auto e = consumer->assign(assignment); e != RdKafka::ERR_NO_ERROR) {
    return fail("assign: " + RdKafka::err2str(e));
  }
  const auto deadline = MonotonicNow() + std::chrono::milliseconds(timeout_ms);
  int64_t read = 0;
  while (!end.empty()) {
    if (MonotonicNow() > deadline) {
      return fail(std::to_string(end.size()) + " partitions not read to their end within " +
                  std::to_string(timeout_ms) + " ms");
    }
    std::unique_ptr<RdKafka::Message> m(consumer->consume(100));
    if (!m || m->err() == RdKafka::ERR__TIMED_OUT) continue;
    if (m->err() != RdKafka::ERR_NO_ERROR) return fail(m->errstr());
    auto it = end.find(m->partition());
    if (it == end.end()) continue;
    take(std::string_view(static_cast<const char*>(m->payload()), m->len()));
    ++read;
    if (m->offset() + 1 >= it->second) end.erase(it);
  }
  consumer->close();
  return read;
}

}  // namespace promowatch
