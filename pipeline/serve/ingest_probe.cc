#include "pipeline/serve/ingest_probe.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <vector>

namespace promowatch {
namespace {

const std::vector<double> kRecordVisibleBuckets = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                   1,    2.5,   5,    10,  30,   60};

}  // namespace

IngestProbe::IngestProbe(prometheus::Registry& r) {
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  using prometheus::BuildHistogram;
  records_ = &BuildCounter()
                  .Name("promowatch_records_total")
                  .Help("Input records by topic and outcome (accepted, duplicate, late, rejected)")
                  .Register(r);
  rejected_ =
      &BuildCounter()
           .Name("promowatch_records_rejected_total")
           .Help("Rejected input records by topic and reason (kept in the dead-letter topic)")
           .Register(r);
  offsets_skipped_ =
      &BuildCounter()
           .Name("promowatch_offsets_skipped_total")
           .Help(
               "Offsets a partition jumped over between the position in state and the next "
               "record Kafka returned (retention deleted unread records, compaction, "
               "transaction markers)")
           .Register(r);
  dead_letters_truncated_ =
      &BuildCounter()
           .Name("promowatch_dead_letters_truncated_total")
           .Help(
               "Rejected records longer than kafka.dead_letter_max_bytes, kept truncated with "
               "their size and hash in headers")
           .Register(r)
           .Add({});
  deliveries_failed_ = &BuildCounter()
                            .Name("promowatch_deliveries_failed_total")
                            .Help(
                                "Records Kafka did not take; the run stops before the next "
                                "checkpoint, and a restart produces them again")
                            .Register(r);
  refetched_ = &BuildCounter()
                    .Name("promowatch_records_refetched_total")
                    .Help(
                        "Records fetched again below the position already in state; dropped, not "
                        "counted twice")
                    .Register(r);
  repartitioned_ =
      &BuildCounter()
           .Name("promowatch_records_repartitioned_total")
           .Help(
               "Records not in the partition of their user id (by "
               "kafka.input_partitioner), forwarded once to the repartition topic; counted as "
               "read when their task reads them there")
           .Register(r);
  placement_ = &BuildGauge()
                    .Name("promowatch_records_partitioner_match_ratio")
                    .Help(
                        "Of the records read here since start, the share in the partition the "
                        "partitioner gives their user id (spend: event id): which one the "
                        "producers use (kafka.input_partitioner)")
                    .Register(r);
  lag_ = &BuildGauge()
              .Name("promowatch_consumer_lag_records")
              .Help("Records between the partition's end and the next offset to process")
              .Register(r);
  unreachable_ = &BuildGauge()
                      .Name("promowatch_partitions_unreachable")
                      .Help(
                          "Assigned input partitions whose leader broker this consumer cannot "
                          "reach; their windows wait for them (data incomplete)")
                      .Register(r)
                      .Add({});
  watermark_delay_ = &BuildGauge()
                          .Name("promowatch_watermark_delay_seconds")
                          .Help("Wall clock minus the event-time watermark")
                          .Register(r)
                          .Add({});
  watermark_ = &BuildGauge()
                    .Name("promowatch_watermark_timestamp_seconds")
                    .Help("The event-time watermark, as a Unix time")
                    .Register(r)
                    .Add({});
  record_visible_ = &BuildHistogram()
                         .Name("promowatch_record_visible_seconds")
                         .Help(
                             "From a record's Kafka timestamp to its count in "
                             "promowatch_records_total (arrival to effect in /metrics)")
                         .Register(r)
                         .Add({}, kRecordVisibleBuckets);
}

void IngestProbe::RecordBatch(const std::string& topic, const EngineCounters& before,
                              const EngineCounters& after) {
  auto add = [&](const char* outcome, int64_t n) {
    if (n > 0)
      records_->Add({{"topic", topic}, {"outcome", outcome}}).Increment(static_cast<double>(n));
  };
  add("accepted", after.accepted - before.accepted);
  add("duplicate", after.duplicates - before.duplicates);
  add("late", after.late - before.late);
  add("rejected", after.rejected_total() - before.rejected_total());
  for (int r = 1; r < kRejectReasonCount; ++r) {
    const int64_t n = after.rejected[r] - before.rejected[r];
    if (n > 0) {
      std::string reason(RejectReasonName(static_cast<v1::RejectReason>(r)));
      rejected_->Add({{"topic", topic}, {"reason", reason}}).Increment(static_cast<double>(n));
      rejected_counts_[{topic, std::move(reason)}] += n;
    }
  }
}

void IngestProbe::RecordsVisible(std::span<const int64_t> kafka_timestamps_ms, int64_t wall_ms) {
  // One histogram update per batch, not per record.
  std::vector<double> increments(kRecordVisibleBuckets.size() + 1, 0.0);
  double sum = 0;
  for (const int64_t t : kafka_timestamps_ms) {
    const double seconds = static_cast<double>(std::max<int64_t>(wall_ms - t, 0)) / 1000.0;
    sum += seconds;
    const size_t bucket = static_cast<size_t>(
        std::lower_bound(kRecordVisibleBuckets.begin(), kRecordVisibleBuckets.end(), seconds) -
        kRecordVisibleBuckets.begin());
    increments[bucket] += 1;
  }
  if (!kafka_timestamps_ms.empty()) record_visible_->ObserveMultiple(increments, sum);
}

void IngestProbe::OffsetsSkipped(const std::string& topic, int64_t n) {
  offsets_skipped_->Add({{"topic", topic}}).Increment(static_cast<double>(n));
}

void IngestProbe::RecordsRepartitioned(const std::string& topic, int64_t n) {
  repartitioned_->Add({{"topic", topic}}).Increment(static_cast<double>(n));
}

void IngestProbe::SetPlacement(const std::string& topic, const PlacementCensus& census) {
  if (census.checked == 0) return;
  for (const auto& [name, p] : kInputPartitionerNames) {
    placement_->Add({{"topic", topic}, {"partitioner", std::string(name)}}).Set(census.ratio(p));
  }
}

void IngestProbe::RecordsRefetched(const std::string& topic, int64_t n) {
  refetched_->Add({{"topic", topic}}).Increment(static_cast<double>(n));
}

void IngestProbe::SetOutput(int64_t truncated_dead_letters,
                            const std::map<std::string, int64_t>& failed) {
  dead_letters_truncated_->Increment(static_cast<double>(truncated_dead_letters) -
                                     dead_letters_truncated_->Value());
  for (const auto& [topic, n] : failed) {
    prometheus::Counter& c = deliveries_failed_->Add({{"topic", topic}});
    c.Increment(static_cast<double>(n) - c.Value());
  }
}

void IngestProbe::SetWatermark(int64_t watermark_ms, int64_t wall_ms) {
  if (watermark_ms == kNoWatermark) return;
  watermark_->Set(static_cast<double>(watermark_ms) / 1000.0);
  watermark_delay_->Set(static_cast<double>(wall_ms - watermark_ms) / 1000.0);
}

void IngestProbe::SetLag(const std::string& topic, int32_t partition, int64_t lag) {
  lag_->Add({{"topic", topic}, {"partition", std::to_string(partition)}})
      .Set(static_cast<double>(lag));
}

void IngestProbe::SetUnreachable(size_t partitions) {
  unreachable_->Set(static_cast<double>(partitions));
}

}  // namespace promowatch
