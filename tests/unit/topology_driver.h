#pragma once
// The job's topology in-process, for tests (in the spirit of Kafka Streams'
// TopologyTestDriver): pipe records in, restart from a checkpoint, end the
// input, then read what came out (results, alert transitions, tag changes,
// dead letters) and the state (counters, watermark, profiles). State is
// real RocksDB in a temporary directory, so a Restart reads everything back
// from disk as a new process would.

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/runtime/topology.h"
#include "pipeline/state/rocksdb_state.h"
#include "unit/test_util.h"

namespace promowatch::testing {

class TopologyTestDriver {
 public:
  // A record kept by a RecordSink: its reason and original bytes.
  struct Kept {
    std::string reason;
    std::string bytes;
  };

  // `wall_ms` (unset: the system clock) is where the wall clock stands.
  explicit TopologyTestDriver(PipelineConfig config, std::optional<int64_t> wall_ms = {})
      : config_(std::move(config)), wall_ms_(wall_ms) {
    Open(nullptr);
  }
  ~TopologyTestDriver() { Close(); }

  // `values` from `source`, read as `format`, in batches of `batch`; after
  // each batch, `after_batch` (if set) with the batch's number from 1.
  void Pipe(const std::vector<std::string>& values, size_t batch = 4096,
            const InputFormat& format = InputFormat{ValueType::kEvent, ValueFraming::kAuto,
                                                    std::nullopt, "input"},
            const std::function<void(size_t)>& after_batch = {}) {
    std::vector<RawRecord> raw;
    size_t batches = 0;
    for (size_t i = 0; i < values.size(); i += batch) {
      raw.clear();
      for (size_t j = i; j < std::min(values.size(), i + batch); ++j) {
        raw.push_back(RawRecord{values[j], next_offset_++, 0});
      }
      topology_->engine().Process(raw, source_, format);
      max_watermark_ = std::max(max_watermark_, topology_->engine().watermark_ms());
      if (after_batch) after_batch(++batches);
    }
  }

  // A checkpoint with `position`, then the topology and the database
  // closed and opened again: what the new one knows came from disk. Returns
  // the position restored.
  SourcePosition Restart(const SourcePosition& position = {}) {
    EXPECT_TRUE(topology_->engine().Checkpoint(position).ok());
    Close();
    SourcePosition restored;
    Open(&restored);
    return restored;
  }

  // The end of input: every window closes, cut-short ones unjudged.
  void EndOfInput() { topology_->Finish(); }

  const std::vector<v1::WindowResult>& results() const { return results_.results; }
  std::vector<v1::WindowResult> Find(std::string_view window, std::string_view campaign,
                                     std::string_view channel) const {
    return results_.Find(window, campaign, channel);
  }
  const std::vector<AlertEvent>& alerts() const { return alerts_; }
  const std::vector<TagChange>& tag_changes() const { return tag_changes_; }
  const std::vector<Kept>& dead_letters() const { return dead_letters_.kept; }
  const EngineCounters& counters() const { return topology_->engine().counters(); }
  // The highest watermark seen after a batch.
  int64_t max_watermark() const { return max_watermark_; }
  const UserProfileOperator* profiles() const { return topology_->profiles(); }
  Topology& topology() { return *topology_; }

 private:
  struct Keeper final : RecordSink {
    void Keep(const RawRecord& r, std::string_view, std::string_view reason,
              std::string_view) override {
      kept.push_back({std::string(reason), std::string(r.bytes)});
    }
    std::vector<Kept> kept;
  };

  void Open(SourcePosition* restored) {
    TopologySinks sinks;
    sinks.results = &results_;
    sinks.dead_letters = &dead_letters_;
    sinks.on_alert = [this](const AlertEvent& a) { alerts_.push_back(a); };
    sinks.on_tag_change = [this](const TagChange& c) { tag_changes_.push_back(c); };
    Clock clock = nullptr;
    if (wall_ms_) clock = [t = *wall_ms_] { return t; };
    topology_ = std::make_unique<Topology>(config_, EngineOptions::From(config_), std::move(sinks),
                                           std::move(clock));
    auto db = RocksStateBackend::Open(dir_.path(), topology_->engine().StateTables());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    ASSERT_TRUE(topology_->engine().Restore(db_.get(), restored).ok());
  }
  void Close() {
    if (topology_) (void)topology_->engine().WaitForCommit();
    topology_.reset();
    db_.reset();
  }

  const PipelineConfig config_;
  const std::optional<int64_t> wall_ms_;
  const std::string source_ = "test";
  TempDir dir_;
  CollectingSink results_;
  Keeper dead_letters_;
  std::vector<AlertEvent> alerts_;
  std::vector<TagChange> tag_changes_;
  std::unique_ptr<RocksStateBackend> db_;
  std::unique_ptr<Topology> topology_;
  int64_t next_offset_ = 0;
  int64_t max_watermark_ = kNoWatermark;
};

}  // namespace promowatch::testing
