#include "pipeline/io/kafka.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <mutex>

#include "operators/encoding.h"
#include "pipeline/decode/decode.h"
#include "pipeline/io/file_io.h"
#include "pipeline/io/kafka_conf.h"
#include "pipeline/io/kafka_events.h"
#include "pipeline/runtime/clock.h"

namespace promowatch {

// --- mock cluster ----------------------------------------------------------

absl::StatusOr<std::unique_ptr<MockKafkaCluster>> MockKafkaCluster::Start(
    int brokers, int partitions, const std::vector<std::string>& topics) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The handle only owns the cluster; keep it quiet.
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) return absl::InternalError(std::string("mock cluster handle: ") + err);
  std::unique_ptr<MockKafkaCluster> c(new MockKafkaCluster());
  c->handle_ = rk;
  c->cluster_ = rd_kafka_mock_cluster_new(rk, brokers);
  if (c->cluster_ == nullptr) return absl::InternalError("rd_kafka_mock_cluster_new failed");
  for (const auto& t : topics) {
    rd_kafka_resp_err_t e =
        rd_kafka_mock_topic_create(c->cluster_, t.c_str(), partitions, std::min(brokers, 3));
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::InternalError("creating topic " + t + ": " + rd_kafka_err2str(e));
    }
  }
  return c;
}

MockKafkaCluster::~MockKafkaCluster() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
  if (handle_ != nullptr) rd_kafka_destroy(handle_);
}

std::string MockKafkaCluster::bootstrap_servers() const {
  return rd_kafka_mock_cluster_bootstraps(cluster_);
}

// --- sink --------------------------------------------------------------------

struct KafkaSink::DeliveryReports final : RdKafka::DeliveryReportCb {
  std::atomic<int64_t> failed{0};
  mutable std::mutex mu;
  std::map<std::string, int64_t> failed_by_topic;  // (guarded by mu)
  std::string last_failure;                        // (guarded by mu)
  std::function<void(double)> on_result_published;

  void Failed(const std::string& topic, const std::string& error) {
    ++failed;
    std::lock_guard lock(mu);
    ++failed_by_topic[topic];
    last_failure = topic + ": " + error;
  }

  void dr_cb(RdKafka::Message& m) override {
    if (m.err() != RdKafka::ERR_NO_ERROR) {
      Failed(m.topic_name(), m.errstr());
      spdlog::warn("msg=\"delivery failed\" topic={} error=\"{}\"", m.topic_name(), m.errstr());
      return;
    }
    // A result's opaque is 1 + microseconds from "due" to produce(); the
    // message's latency is produce() to now, when its delivery report is
    // served (librdkafka reads the clock in Message::latency()): an upper
    // bound of the broker's acknowledgement, by at most one loop turn of
    // the pipeline (it polls the producer after every batch, and at least
    // every 100 ms when idle).
    if (m.msg_opaque() != nullptr && on_result_published) {
      const int64_t before_produce_us = reinterpret_cast<intptr_t>(m.msg_opaque()) - 1;
      const int64_t in_kafka_us = std::max<int64_t>(m.latency(), 0);
      on_result_published(static_cast<double>(before_produce_us + in_kafka_us) / 1e6);
    }
  }
};

absl::StatusOr<std::unique_ptr<KafkaSink>> KafkaSink::Create(const KafkaOptions& options) {
  std::unique_ptr<KafkaSink> s(new KafkaSink());
  s->options_ = options;
  s->reports_ = std::make_unique<DeliveryReports>();
  auto conf = MakeConf(KafkaClient::kProducer,
                       {{"bootstrap.servers", options.brokers},
                        // Kafka's default partitioner (the Java client's):
                        // a record keyed by user id lands in its user's task.
                        {"partitioner", "murmur2_random"},
                        {"enable.idempotence", "true"},
                        {"linger.ms", "5"},
                        {"compression.type", "lz4"}},
                       options.properties);
  if (!conf.ok()) return conf.status();
  std::string err;
  std::string message_max;
  s->max_record_bytes_ = static_cast<size_t>(options.max_record_bytes);
  if ((*conf)->get("message.max.bytes", message_max) == RdKafka::Conf::CONF_OK) {
    const int64_t cap = std::atoll(message_max.c_str()) - 2'048;
    if (cap > 0 && static_cast<size_t>(cap) < s->max_record_bytes_)
      s->max_record_bytes_ = static_cast<size_t>(cap);
  }
  (*conf)->set("dr_cb", s->reports_.get(), err);
  s->events_ = std::make_unique<KafkaEvents>("producer");
  (*conf)->set("event_cb", s->events_.get(), err);
  s->producer_.reset(RdKafka::Producer::create(conf->get(), err));
  if (!s->producer_) return absl::InvalidArgumentError("kafka producer: " + err);
  return s;
}

KafkaSink::~KafkaSink() {
  if (producer_) producer_->flush(5'000);
}

void KafkaSink::FetchOutputMetadata() {
  std::string err;
  for (const std::string& topic : {options_.results_topic, options_.dead_letter_topic,
                                   options_.alerts_topic, options_.user_tags_topic}) {
    std::unique_ptr<RdKafka::Topic> handle(
        RdKafka::Topic::create(producer_.get(), topic, nullptr, err));
    RdKafka::Metadata* metadata = nullptr;
    if (handle &&
        producer_->metadata(false, handle.get(), &metadata, 5'000) == RdKafka::ERR_NO_ERROR) {
      delete metadata;
    }
  }
}

void KafkaSink::OnResultPublished(std::function<void(double seconds)> f) {
  reports_->on_result_published = std::move(f);
}

void KafkaSink::Produce(const std::string& topic, std::string_view key, std::string_view value,
                        void* opaque) {
  for (int attempt = 0;; ++attempt) {
    RdKafka::ErrorCode e = producer_->produce(
        topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
        const_cast<char*>(value.data()), value.size(), key.data(), key.size(), 0, opaque);
    if (e == RdKafka::ERR__QUEUE_FULL && attempt < 100) {
      producer_->poll(100);  // back-pressure: wait for deliveries
      continue;
    }
    if (e != RdKafka::ERR_NO_ERROR) {
      reports_->Failed(topic, RdKafka::err2str(e));
      spdlog::error("msg=\"produce failed\" topic={} error=\"{}\"", topic, RdKafka::err2str(e));
    } else {
      ++produced_;
    }
    return;
  }
}

void KafkaSink::ProduceTo(const std::string& topic, int32_t partition, std::string_view key,
                          std::string_view value) {
  for (int attempt = 0;; ++attempt) {
    RdKafka::ErrorCode e = producer_->produce(topic, partition, RdKafka::Producer::RK_MSG_COPY,
                                              const_cast<char*>(value.data()), value.size(),
                                              key.data(), key.size(), 0, nullptr);
    if (e == RdKafka::ERR__QUEUE_FULL && attempt < 100) {
      producer_->poll(100);  // back-pressure: wait for deliveries
      continue;
    }
    if (e != RdKafka::ERR_NO_ERROR) {
      // A failed delivery: the next checkpoint fails, and the task's
      // windows fire (and are sent) again after the restart.
      reports_->Failed(topic, RdKafka::err2str(e));
      spdlog::error("msg=\"produce failed\" topic={} partition={} error=\"{}\"", topic, partition,
                    RdKafka::err2str(e));
    } else {
      ++produced_;
    }
    return;
  }
}

void KafkaSink::Emit(const v1::WindowResult& r) {
  buffer_.clear();
  if (options_.results_json) {
    AppendWindowResultJson(r, &buffer_);
  } else {
    r.SerializeToString(&buffer_);
  }
  void* opaque = nullptr;
  if (due_since_ != std::chrono::steady_clock::time_point{}) {
    const int64_t us =
        std::chrono::duration_cast<std::chrono::microseconds>(MonotonicNow() - due_since_).count();
    opaque = reinterpret_cast<void*>(static_cast<intptr_t>(std::max<int64_t>(us, 0) + 1));
  }
  Produce(options_.results_topic, r.campaign_id(), buffer_, opaque);
}

void KafkaSink::ProduceToRepartition(
    int32_t partition, std::string_view key, std::string_view value,
    std::initializer_list<std::pair<const char*, std::string>> headers) {
  for (int attempt = 0;; ++attempt) {
    RdKafka::Headers* h = RdKafka::Headers::create();
    for (const auto& [name, v] : headers) h->add(name, v);
    RdKafka::ErrorCode e = producer_->produce(
        options_.repartition_topic, partition, RdKafka::Producer::RK_MSG_COPY,
        const_cast<char*>(value.data()), value.size(), key.data(), key.size(), 0, h, nullptr);
    if (e == RdKafka::ERR_NO_ERROR) {
      ++produced_;
      return;
    }
    delete h;  // only freed by librdkafka on success
    if (e == RdKafka::ERR__QUEUE_FULL && attempt < 100) {
      producer_->poll(100);  // back-pressure: wait for deliveries
      continue;
    }
    // Counted as a failed delivery: the next checkpoint fails, and the
    // record is read (and forwarded, or the mark sent) again after the restart.
    reports_->Failed(options_.repartition_topic, RdKafka::err2str(e));
    spdlog::error("msg=\"repartition produce failed\" error=\"{}\"", RdKafka::err2str(e));
    return;
  }
}

bool KafkaSink::Forward(int32_t partition, std::string_view key, const RawRecord& record,
                        std::string_view source) {
  // (Headers and key: well under 1 kB with bounded ids.)
  if (record.bytes.size() + key.size() + 1'024 > max_record_bytes_) return false;
  ProduceToRepartition(partition, key, record.bytes,
                       {{kOriginTopicHeader, std::string(source)},
                        {kOriginPartitionHeader, std::to_string(record.source_partition)},
                        {kOriginOffsetHeader, std::to_string(record.offset)}});
  return true;
}

void KafkaSink::SendMark(int32_t partition, int32_t source_task, int64_t mark_ms) {
  const std::string task = std::to_string(source_task);
  ProduceToRepartition(
      partition, task, {},
      {{kMarkTaskHeader, task},
       {kMarkHeader,
        mark_ms == WatermarkTracker::kForwarderIdle ? "idle" : std::to_string(mark_ms)}});
}

void KafkaSink::Keep(const RawRecord& record, std::string_view source, std::string_view reason,
                     std::string_view detail) {
  RdKafka::Headers* headers = RdKafka::Headers::create();
  headers->add("promowatch.source.topic", std::string(source));
  headers->add("promowatch.source.partition", std::to_string(record.source_partition));
  headers->add("promowatch.source.offset", std::to_string(record.offset));
  headers->add("promowatch.reason", std::string(reason));
  headers->add("promowatch.detail", std::string(detail));
  // A value the topic would refuse is kept truncated, with what identifies
  // the original (its size and hash; the source offset finds it while the
  // input topic retains it): lost, it was only a log line.
  std::string_view value = record.bytes;
  const auto limit = static_cast<size_t>(options_.dead_letter_max_bytes);
  if (value.size() > limit) {
    headers->add("promowatch.original.size", std::to_string(value.size()));
    headers->add("promowatch.original.xxh3_64", fmt::format("{:016x}", HashId(value)));
    value = value.substr(0, limit);
    ++truncated_dead_letters_;
  }
  RdKafka::ErrorCode e = producer_->produce(
      options_.dead_letter_topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
      const_cast<char*>(value.data()), value.size(), nullptr, 0, 0, headers, nullptr);
  if (e != RdKafka::ERR_NO_ERROR) {
    delete headers;  // only freed by librdkafka on success
    reports_->Failed(options_.dead_letter_topic, RdKafka::err2str(e));
    spdlog::error(
        "msg=\"dead-letter produce failed\" error=\"{}\" hint=\"set "
        "kafka.dead_letter_max_bytes below the topic's max.message.bytes\"",
        RdKafka::err2str(e));
  } else {
    ++produced_;
  }
}

void KafkaSink::Poll() { producer_->poll(0); }

absl::Status KafkaSink::Flush(int timeout_ms) {
  RdKafka::ErrorCode e = producer_->flush(timeout_ms);
  if (e != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError("results not acknowledged by Kafka within " +
                                  std::to_string(timeout_ms) + " ms: " + RdKafka::err2str(e));
  }
  return absl::OkStatus();
}

int64_t KafkaSink::failed_deliveries() const { return reports_->failed.load(); }
std::map<std::string, int64_t> KafkaSink::failed_by_topic() const {
  std::lock_guard lock(reports_->mu);
  return reports_->failed_by_topic;
}
std::string KafkaSink::last_failure() const {
  std::lock_guard lock(reports_->mu);
  return reports_->last_failure;
}

// --- source ------------------------------------------------------------------

// The group assigns partitions of one topic, the lead (the repartition
// topic: ours, with exactly one partition per task); partition p of it is
// task p, and this member takes partition p of every input topic with it.
// So any assignor keeps a task's partitions together - cooperative-sticky
// too, which on its own places each topic's partitions independently (and
// librdkafka has no custom assignors): only the tasks that move stop.
struct KafkaSource::Rebalance final : RdKafka::RebalanceCb {
  Listener* listener = nullptr;
  std::string lead;
  std::vector<std::string> inputs;
  // Where each assigned partition was started (-1: its beginning), for
  // Behind() before the partition hands anything over.
  std::map<std::pair<std::string, int32_t>, int64_t> start;
  // Whether the group ever handed this member an assignment (KafkaSource::
  // Close: before that, destroying the consumer may abort).
  bool assigned_once = false;

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    // The tasks' partitions: every input's, then the lead's.
    std::vector<RdKafka::TopicPartition*> tasks;
    for (const RdKafka::TopicPartition* tp : partitions) {
      for (const std::string& topic : inputs)
        tasks.push_back(RdKafka::TopicPartition::create(topic, tp->partition()));
      tasks.push_back(RdKafka::TopicPartition::create(tp->topic(), tp->partition()));
    }
    const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
    std::unique_ptr<RdKafka::Error> error;
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      assigned_once = true;
      for (RdKafka::TopicPartition* tp : tasks) {
        const int64_t next = listener->OnAssigned({tp->topic(), tp->partition()});
        tp->set_offset(next >= 0 ? next : RdKafka::Topic::OFFSET_BEGINNING);
        start[{tp->topic(), tp->partition()}] = next;
        spdlog::info("msg=\"partition assigned\" partition={} start_offset={}",
                     TopicPartition{tp->topic(), tp->partition()}.Format(), next);
      }
      if (cooperative) {
        error.reset(consumer->incremental_assign(tasks));
      } else {
        consumer->assign(tasks);
      }
    } else {
      std::vector<TopicPartition> revoked;
      for (RdKafka::TopicPartition* tp : tasks) {
        revoked.push_back({tp->topic(), tp->partition()});
        start.erase({tp->topic(), tp->partition()});
      }
      listener->OnRevoking(revoked, consumer->assignment_lost());
      if (cooperative) {
        error.reset(consumer->incremental_unassign(tasks));
      } else {
        consumer->unassign();
      }
      spdlog::info("msg=\"partitions revoked\" count={}", revoked.size());
    }
    if (error) spdlog::error("msg=\"rebalance: assignment not taken\" error=\"{}\"", error->str());
    RdKafka::TopicPartition::destroy(tasks);
  }
};

absl::StatusOr<std::unique_ptr<KafkaSource>> KafkaSource::Create(const KafkaOptions& options,
                                                                 Listener* listener) {
  std::unique_ptr<KafkaSource> s(new KafkaSource());
  s->rebalance_ = std::make_unique<Rebalance>();
  s->rebalance_->listener = listener;
  auto conf =
      MakeConf(KafkaClient::kConsumer,
               {{"bootstrap.servers", options.brokers},
                {"group.id", options.group},
                {"enable.auto.commit", "false"},
                {"enable.auto.offset.store", "false"},
                {"enable.partition.eof", "false"},
                {"auto.offset.reset", "earliest"},
                // Freshness: librdkafka's 500 ms default lets a fetch wait
                // that long for data; the embedded cluster then answers
                // only after the wait even when data arrived, which put
                // p99 arrival-to-/metrics at ~0.9 s at 20k-150k events/s
                // (BENCHMARKS.md, section 4d). A real broker answers as
                // soon as fetch.min.bytes is there; idle, 50 ms costs 20
                // fetches per second per broker.
                {"fetch.wait.max.ms", "50"},
                // Incremental rebalances: only the tasks that move
                // stop (every member must list the same assignor).
                {"partition.assignment.strategy", "cooperative-sticky"},
                // Read for partitions whose leader is unreachable
                // (kafka_events.h), which then never count as idle.
                {"statistics.interval.ms", std::to_string(KafkaEvents::kStatisticsIntervalMs)}},
               options.properties);
  if (!conf.ok()) return conf.status();
  std::string err;
  (*conf)->set("rebalance_cb", s->rebalance_.get(), err);
  s->events_ = std::make_unique<KafkaEvents>("consumer");
  (*conf)->set("event_cb", s->events_.get(), err);
  s->consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), err));
  if (!s->consumer_) return absl::InvalidArgumentError("kafka consumer: " + err);
  // Task p reads partition p of every input and of the repartition topic:
  // the group assigns the latter (Rebalance).
  s->rebalance_->lead = options.repartition_topic;
  s->rebalance_->inputs = options.input_topics;
  // Global task p (partials partition p) goes with task p.
  s->rebalance_->inputs.push_back(options.partials_topic);
  s->repartition_topic_ = options.repartition_topic;
  if (options.commit_offsets) {
    auto lag_conf = MakeConf(KafkaClient::kConsumer,
                             {{"bootstrap.servers", options.brokers},
                              {"group.id", options.LagGroup()},
                              {"enable.auto.commit", "false"}},
                             options.properties);
    if (!lag_conf.ok()) return lag_conf.status();
    s->lag_events_ = std::make_unique<KafkaEvents>("lag committer");
    (*lag_conf)->set("event_cb", s->lag_events_.get(), err);
    s->lag_committer_.reset(RdKafka::KafkaConsumer::create(lag_conf->get(), err));
    if (!s->lag_committer_) return absl::InvalidArgumentError("kafka lag committer: " + err);
  }
  RdKafka::ErrorCode e = s->consumer_->subscribe({options.repartition_topic});
  if (e != RdKafka::ERR_NO_ERROR) {
    return absl::InvalidArgumentError(std::string("subscribe: ") + RdKafka::err2str(e));
  }
  return s;
}

KafkaSource::~KafkaSource() { Close(); }

int64_t KafkaSource::errors() const { return errors_ + (events_ ? events_->errors() : 0); }

std::vector<UnreachablePartition> KafkaSource::Unreachable() {
  std::vector<UnreachablePartition> out;
  std::vector<RdKafka::TopicPartition*> tps;
  if (consumer_->assignment(tps) != RdKafka::ERR_NO_ERROR) return out;
  std::set<std::pair<std::string, int32_t>> assigned;
  for (const RdKafka::TopicPartition* tp : tps) assigned.insert({tp->topic(), tp->partition()});
  RdKafka::TopicPartition::destroy(tps);
  for (UnreachablePartition& p : events_->unreachable()) {
    if (assigned.count({p.topic, p.partition}) != 0) out.push_back(std::move(p));
  }
  return out;
}

PolledBatch::PolledBatch() = default;
PolledBatch::~PolledBatch() = default;

void PolledBatch::Clear() {
  records_.clear();
  messages_.clear();
}

void KafkaSource::Poll(size_t max, int timeout_ms, PolledBatch* out) {
  int wait = timeout_ms;
  while (out->size() < max) {
    std::unique_ptr<RdKafka::Message> m(consumer_->consume(wait));
    wait = 0;  // only the first message is waited for
    if (!m) break;
    if (m->err() == RdKafka::ERR__TIMED_OUT) break;
    if (m->err() == RdKafka::ERR__PARTITION_EOF) continue;
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      ++errors_;
      spdlog::warn("msg=\"consume error\" error=\"{}\"", m->errstr());
      break;
    }
    PolledBatch::Record r;
    const std::string topic = m->topic_name();
    auto name = topics_.find(topic);
    if (name == topics_.end()) name = topics_.insert(topic).first;
    r.topic = *name;
    r.partition = m->partition();
    r.offset = m->offset();
    r.value = std::string_view(static_cast<const char*>(m->payload()), m->len());
    if (*name == repartition_topic_) ReadOrigin(*m, &r);
    const RdKafka::MessageTimestamp ts = m->timestamp();
    if (ts.type != RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE) {
      r.timestamp_ms = ts.timestamp;
    }
    out->records_.push_back(r);
    out->messages_.push_back(std::move(m));
  }
}

void KafkaSource::ReadOrigin(RdKafka::Message& m, PolledBatch::Record* r) {
  const RdKafka::Headers* headers = m.headers();
  if (headers == nullptr) return;
  // (A header's value lives as long as the Header: copied out.)
  auto value = [&](const char* name) {
    const RdKafka::Headers::Header h = headers->get_last(name);
    if (h.err() != RdKafka::ERR_NO_ERROR || h.value() == nullptr) return std::string();
    return std::string(static_cast<const char*>(h.value()), h.value_size());
  };
  if (const std::string mark_task = value(kMarkTaskHeader); !mark_task.empty()) {
    const std::string mark = value(kMarkHeader);
    r->mark_task = std::atoi(mark_task.c_str());
    r->mark_ms = mark == "idle" ? WatermarkTracker::kForwarderIdle : std::atoll(mark.c_str());
    return;
  }
  const std::string topic = value(kOriginTopicHeader);
  if (topic.empty()) return;
  auto name = topics_.find(topic);
  if (name == topics_.end()) name = topics_.insert(topic).first;
  r->origin_topic = *name;
  const std::string partition = value(kOriginPartitionHeader), offset = value(kOriginOffsetHeader);
  r->origin_partition = std::atoi(partition.c_str());
  r->origin_offset = std::atoll(offset.c_str());
}

void KafkaSource::CommitForMonitoring(const std::map<std::string, int64_t>& next_offsets) {
  std::vector<RdKafka::TopicPartition*> tps;
  for (const auto& [name, offset] : next_offsets) {
    const auto tp = promowatch::TopicPartition::Parse(name);
    if (!tp) continue;
    tps.push_back(RdKafka::TopicPartition::create(tp->topic, tp->partition, offset));
  }
  if (!tps.empty() && lag_committer_) lag_committer_->commitAsync(tps);
  RdKafka::TopicPartition::destroy(tps);
}

int64_t KafkaSource::HighWatermark(const std::string& topic, int32_t partition) {
  int64_t low = -1, high = -1;
  if (consumer_->get_watermark_offsets(topic, partition, &low, &high) != RdKafka::ERR_NO_ERROR) {
    return -1;
  }
  return high;
}

std::vector<TopicPartition> KafkaSource::Behind() {
  std::vector<TopicPartition> behind;
  std::vector<RdKafka::TopicPartition*> tps;
  if (consumer_->assignment(tps) != RdKafka::ERR_NO_ERROR || tps.empty()) return behind;
  if (consumer_->position(tps) == RdKafka::ERR_NO_ERROR) {
    for (const RdKafka::TopicPartition* tp : tps) {
      int64_t low = -1, high = -1;
      if (consumer_->get_watermark_offsets(tp->topic(), tp->partition(), &low, &high) !=
              RdKafka::ERR_NO_ERROR ||
          high < 0) {
        continue;
      }
      int64_t position = tp->offset();
      if (position < 0) {  // nothing handed over since the assignment: where it started
        auto it = rebalance_->start.find({tp->topic(), tp->partition()});
        if (it == rebalance_->start.end()) continue;
        position = it->second >= 0 ? it->second : std::max<int64_t>(low, 0);
      }
      if (high > position) behind.push_back({tp->topic(), tp->partition()});
    }
  }
  RdKafka::TopicPartition::destroy(tps);
  return behind;
}

void KafkaSource::Close() {
  if (closed_ || !consumer_) return;
  closed_ = true;
  consumer_->close();  // (leaves the group: the others rebalance at once)
  if (!rebalance_->assigned_once) {
    // librdkafka 2.0.2 aborts when a consumer is destroyed between its
    // group's JoinGroup response and its first assignment: the sticky
    // assignor's state is still null and its destructor asserts it is not
    // (rdkafka_sticky_assignor.c, rd_kafka_sticky_assignor_state_destroy;
    // fixed in 2.3.0). A member stopped while it joins has left the group
    // (close above) and saved everything (it had no task yet); its handle,
    // and what the handle's threads may still call, are left to the
    // process's exit instead of destroyed.
    spdlog::info(
        "msg=\"consumer closed before its first assignment: not destroyed\" "
        "why=\"librdkafka 2.0.2's sticky assignor aborts on it (fixed in 2.3.0)\"");
    (void)consumer_.release();
    (void)events_.release();
    (void)rebalance_.release();
  }
  if (lag_committer_) {
    // (Its close waits for the commits in flight: the final checkpoint's.)
    lag_committer_->close();
  }
}

}  // namespace promowatch
