#include "pipeline/live/polled_router.h"

#include <spdlog/spdlog.h>

#include "pipeline/runtime/topic_partition.h"

namespace promowatch {

void RoutedBatch::Clear() {
  by_partition.clear();
  for (auto& [task, values] : partials) values.clear();
  delivering.clear();
  kafka_timestamps_ms.clear();
  marks.clear();
}

void PolledRouter::Route(const PolledBatch& polled, std::map<std::string, int64_t>* next_offsets,
                         std::vector<std::map<std::string, int64_t>>* repartitioned_upto,
                         RoutedBatch* out) {
  out->Clear();
  for (const PolledBatch::Record& m : polled.records()) {
    const std::string topic(m.topic);
    const std::string name = TopicPartition{topic, m.partition}.Format();
    auto next = next_offsets->find(name);
    if (next != next_offsets->end() && m.offset != next->second) {
      if (m.offset < next->second) {
        // Already in state (a fetch from before a seek): counting it again
        // would break exactly-once, so it is dropped.
        ingest_->RecordsRefetched(topic, 1);
        continue;
      }
      const int64_t skipped = m.offset - next->second;
      ingest_->OffsetsSkipped(topic, skipped);
      spdlog::warn(
          "msg=\"offsets skipped\" partition={} from={} to={} count={} hint=\"Kafka no "
          "longer holds them: retention deleted records before promowatch read them "
          "(raise the topic's retention or fix the lag), or they were compacted away "
          "or are transaction markers\"",
          name, next->second, m.offset, skipped);
    }
    if (topic == partials_topic_) {
      (*next_offsets)[name] = m.offset + 1;
      out->partials[m.partition].push_back(m.value);
      continue;
    }
    if (m.mark_task >= 0) {  // (not a record: no watermark slot of its own)
      (*next_offsets)[name] = m.offset + 1;
      out->marks.push_back({m.partition, m.mark_task, m.mark_ms});
      continue;
    }
    auto slot = slots_.find(name);
    if (slot == slots_.end()) slot = slots_.emplace(name, engine_->watermarks().Slot(name)).first;
    RawRecord r;
    r.bytes = m.value;
    r.offset = m.offset;
    r.partition = slot->second;
    if (out->delivering.empty() || out->delivering.back() != slot->second)
      out->delivering.push_back(slot->second);
    r.source_partition = m.partition;
    (*next_offsets)[name] = m.offset + 1;
    if (!m.origin_topic.empty()) {
      // Forwarded by the task it was first read by: taken once, as from
      // its origin (a sender that crashed before its checkpoint forwards
      // it again).
      auto& upto = (*repartitioned_upto)[static_cast<size_t>(m.partition)];
      const std::string origin =
          TopicPartition{std::string(m.origin_topic), m.origin_partition}.Format();
      auto seen = upto.find(origin);
      r.offset = m.origin_offset;
      r.source_partition = m.origin_partition;
      r.forwarded = true;
      if (seen != upto.end() && m.origin_offset <= seen->second) {
        ingest_->RecordsRefetched(topic, 1);
        engine_->ForwardedDropped(r, m.origin_topic);
        continue;
      }
      upto[origin] = m.origin_offset;
      out->by_partition[{std::string(m.origin_topic), m.partition}].push_back(r);
      continue;
    }
    out->by_partition[{topic, m.partition}].push_back(r);
    if (m.timestamp_ms >= 0) out->kafka_timestamps_ms.push_back(m.timestamp_ms);
  }
}

}  // namespace promowatch
