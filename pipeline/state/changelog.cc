#include "pipeline/state/changelog.h"

#include <fmt/format.h>

#include "promowatch/v1/state.pb.h"

namespace promowatch {
namespace {

constexpr std::string_view kBeginKey = "b";
constexpr std::string_view kCommitKey = "c";
constexpr char kWritePrefix = 'w';

std::string WriteKey(std::string_view table, std::string_view key) {
  std::string k;
  k.reserve(2 + table.size() + key.size());
  k.push_back(kWritePrefix);
  k.append(table);
  k.push_back('\0');
  k.append(key);
  return k;
}

}  // namespace

ChangelogBatchWriter::ChangelogBatchWriter(int32_t task, int64_t generation, int64_t sequence,
                                           bool full, const StateReader* state)
    : task_(task), generation_(generation), sequence_(sequence), full_(full), state_(state) {
  v1::ChangelogFrame begin;
  begin.set_task(task_);
  begin.set_sequence(sequence_);
  begin.set_generation(generation_);
  begin.set_full(full_);
  records_.push_back({std::string(kBeginKey), begin.SerializeAsString(), generation_, sequence_});
}

void ChangelogBatchWriter::Write(std::string_view table, std::string_view key,
                                 std::optional<std::string_view> value) {
  ChangelogRecord r;
  r.key = WriteKey(table, key);
  if (value) r.value = std::string(*value);
  r.generation = generation_;
  r.sequence = sequence_;
  records_.push_back(std::move(r));
  ++writes_;
}

void ChangelogBatchWriter::Put(std::string_view table, std::string_view key,
                               std::string_view value) {
  Write(table, key, value);
}

void ChangelogBatchWriter::Delete(std::string_view table, std::string_view key) {
  Write(table, key, std::nullopt);
}

void ChangelogBatchWriter::DeleteRange(std::string_view table, std::string_view begin,
                                       std::string_view end) {
  // Compaction knows keys, not ranges: the range becomes the deletes of the
  // keys it covers, in the state and among this batch's own puts.
  std::set<std::string> covered;
  if (state_ != nullptr) {
    // (A read error leaves keys undeleted in the changelog only; the local
    // state's own batch still deletes the range.)
    (void)state_->ScanFrom(table, begin, [&](std::string_view key, std::string_view) {
      if (key >= end) return false;
      covered.emplace(key);
      return true;
    });
  }
  // This batch's own writes (range deletes are few per checkpoint: a scan
  // of the batch here costs less than indexing every put); a key deleted
  // since gets a second tombstone, which changes nothing.
  const std::string prefix = WriteKey(table, "");
  for (const ChangelogRecord& r : records_) {
    if (!r.value || r.key.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string_view key = std::string_view(r.key).substr(prefix.size());
    if (key >= begin && key < end) covered.emplace(key);
  }
  for (const auto& key : covered) Write(table, key, std::nullopt);
}

absl::Status ChangelogBatchWriter::PutAll(const StateReader& state,
                                          const std::vector<std::string>& tables) {
  for (const auto& table : tables) {
    auto s = state.Scan(table, [&](std::string_view key, std::string_view value) {
      Put(table, key, value);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

std::vector<ChangelogRecord> ChangelogBatchWriter::Finish(
    const std::map<std::string, int64_t>& offsets, int64_t watermark_ms) {
  v1::ChangelogFrame commit;
  commit.set_task(task_);
  commit.set_sequence(sequence_);
  commit.set_generation(generation_);
  commit.set_full(full_);
  commit.set_writes(writes_);
  commit.mutable_offsets()->insert(offsets.begin(), offsets.end());
  commit.set_watermark_ms(watermark_ms);
  records_.push_back({std::string(kCommitKey), commit.SerializeAsString(), generation_, sequence_});
  return std::move(records_);
}

std::optional<ChangelogPosition> ParseCommit(const ChangelogRecord& record) {
  v1::ChangelogFrame frame;
  if (record.key != kCommitKey || !record.value || !frame.ParseFromString(*record.value))
    return std::nullopt;
  ChangelogPosition p;
  p.sequence = frame.sequence();
  p.generation = frame.generation();
  p.offsets.insert(frame.offsets().begin(), frame.offsets().end());
  p.watermark_ms = frame.watermark_ms();
  return p;
}

ChangelogRestorer::ChangelogRestorer(int32_t task, std::vector<std::string> tables,
                                     StateWriter* out)
    : task_(task), tables_(std::move(tables)), out_(out) {}

absl::Status ChangelogRestorer::Add(const ChangelogRecord& record) {
  const auto id = std::make_pair(record.generation, record.sequence);
  if (!record.key.empty() && record.key[0] == kWritePrefix) {
    // A write whose batch began before the oldest record Kafka still holds
    // (or was never begun) cannot complete: it is dropped with its batch.
    if (auto it = open_.find(id); it != open_.end()) it->second.writes.push_back(record);
    return absl::OkStatus();
  }
  if (record.key != kBeginKey && record.key != kCommitKey) {
    return absl::DataLossError(fmt::format(
        "changelog of task {}: a record with key '{}' is not a promowatch changelog record "
        "(is another application writing to the topic?)",
        task_, record.key));
  }
  v1::ChangelogFrame frame;
  if (!record.value || !frame.ParseFromString(*record.value)) {
    return absl::DataLossError(fmt::format(
        "changelog of task {}: an unreadable {} frame (generation {}, sequence {})", task_,
        record.key == kBeginKey ? "begin" : "commit", record.generation, record.sequence));
  }
  if (frame.task() != task_) {
    return absl::FailedPreconditionError(fmt::format(
        "the changelog partition read for task {} holds task {}: the changelog topic needs one "
        "partition per task, partition p for task p",
        task_, frame.task()));
  }
  max_generation_ = std::max(max_generation_, frame.generation());
  if (first_seen_sequence_ == 0) first_seen_sequence_ = frame.sequence();
  if (record.key == kBeginKey) {
    open_[id] = Pending{frame.full(), {}};
    return absl::OkStatus();
  }
  auto it = open_.find(id);
  const bool complete =
      it != open_.end() && static_cast<int64_t>(it->second.writes.size()) == frame.writes();
  const int64_t expected = position_.sequence + 1;
  if (!complete) {
    // Committed, but its beginning is gone (retention took the head of the
    // partition): harmless before the first full batch; after it, a hole.
    if (based_ && frame.generation() >= accepted_generation_ && frame.sequence() == expected &&
        !hole_) {
      hole_ = fmt::format("sequence {} (generation {}) is committed but not all of it is held",
                          frame.sequence(), frame.generation());
    }
    ++ignored_;
    if (it != open_.end()) open_.erase(it);
    return absl::OkStatus();
  }
  Pending batch = std::move(it->second);
  open_.erase(it);
  if (frame.generation() < accepted_generation_) {
    ++ignored_;  // a zombie's: an older owner still writing after a newer took over
    return absl::OkStatus();
  }
  if (!batch.full) {
    if (!based_ || frame.sequence() <= position_.sequence) {
      ++ignored_;  // before the first full batch, or already in the state
      return absl::OkStatus();
    }
    if (frame.sequence() != expected || hole_) {
      if (!hole_) {
        hole_ =
            fmt::format("sequence {} is missing (the next held is {})", expected, frame.sequence());
      }
      ++ignored_;
      return absl::OkStatus();
    }
  } else {
    for (const auto& table : tables_) out_->Clear(table);
    based_ = true;
    hole_.reset();
  }
  Apply(batch);
  accepted_generation_ = frame.generation();
  position_.sequence = frame.sequence();
  position_.generation = frame.generation();
  position_.offsets.clear();
  position_.offsets.insert(frame.offsets().begin(), frame.offsets().end());
  position_.watermark_ms = frame.watermark_ms();
  ++applied_;
  return absl::OkStatus();
}

void ChangelogRestorer::Apply(const Pending& batch) {
  for (const ChangelogRecord& w : batch.writes) {
    const size_t nul = w.key.find('\0', 1);
    if (nul == std::string::npos) continue;
    const std::string_view table(w.key.data() + 1, nul - 1);
    const std::string_view key(w.key.data() + nul + 1, w.key.size() - nul - 1);
    if (w.value) {
      out_->Put(table, key, *w.value);
    } else {
      out_->Delete(table, key);
    }
  }
}

absl::StatusOr<ChangelogPosition> ChangelogRestorer::Finish() const {
  if (hole_) {
    return absl::DataLossError(fmt::format(
        "the changelog of task {} cannot rebuild its state: {}. Kafka no longer holds what "
        "restore needs (raise the changelog topic's retention, or take full batches more "
        "often); the task does not start from partial state",
        task_, *hole_));
  }
  if (!based_ && first_seen_sequence_ != 0) {
    return absl::DataLossError(fmt::format(
        "the changelog of task {} holds checkpoints from sequence {} on but no complete full "
        "batch to start from: Kafka no longer holds what restore needs (raise the changelog "
        "topic's retention, or take full batches more often); the task does not start from "
        "partial state",
        task_, first_seen_sequence_));
  }
  return position_;
}

}  // namespace promowatch
