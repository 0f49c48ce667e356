#include "pipeline/live/global_stage.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "operators/time_util.h"
#include "pipeline/runtime/clock.h"
#include "pipeline/runtime/topic_partition.h"
#include "promowatch/v1/state.pb.h"

namespace promowatch {
namespace {
constexpr std::string_view kSourcesKey = "sources";
}  // namespace

// What a source task's windows emitted since the last Publish.
class GlobalStage::SourceBuffer final : public WindowResultSink {
 public:
  void Emit(const v1::WindowResult& r) override { emitted.push_back(r); }
  std::vector<v1::WindowResult> emitted;
};

int64_t InputPosition(const std::map<std::string, int64_t>& next_offsets, int task,
                      std::string_view except_topic) {
  int64_t position = 1;
  for (const auto& [name, next] : next_offsets) {
    const auto tp = TopicPartition::Parse(name);
    if (tp && tp->partition == task && tp->topic != except_topic) position += next;
  }
  return position;
}

std::string AdvertisedAddress(const PipelineConfig& config) {
  if (!config.api.advertised_address.empty()) return config.api.advertised_address;
  std::string address = config.metrics.address;
  const size_t colon = address.rfind(':');
  const std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  if (host.empty() || host == "0.0.0.0" || host == "[::]") {
    char name[256] = {};
    if (gethostname(name, sizeof(name) - 1) == 0)
      address = std::string(name) + (colon == std::string::npos ? "" : address.substr(colon));
  }
  return address;
}

GlobalStage::GlobalStage(const PipelineConfig& config, int tasks, KafkaSink* sink,
                         WindowResultSink* results, Callbacks callbacks, std::string address)
    : operators_(config.operators),
      tasks_(tasks),
      topic_(config.kafka.partials_topic),
      interval_ms_(config.kafka.partials_interval_ms),
      sink_(sink),
      results_(results),
      callbacks_(std::move(callbacks)),
      rules_(config.alert_rules),
      watermark_sent_ms_(static_cast<size_t>(tasks), kNoWatermark),
      incomplete_sent_(static_cast<size_t>(tasks)),
      watermark_seen_ms_(static_cast<size_t>(tasks), kNoWatermark),
      watermark_seen_at_(static_cast<size_t>(tasks)),
      global_(static_cast<size_t>(tasks)),
      address_(std::move(address)),
      owner_address_(static_cast<size_t>(tasks)),
      here_(static_cast<size_t>(tasks), 0) {
  for (int t = 0; t < tasks; ++t) sources_.push_back(std::make_unique<SourceBuffer>());
}

GlobalStage::~GlobalStage() = default;

int GlobalStage::owned_count() const {
  int n = 0;
  for (int t = 0; t < tasks_; ++t) n += owned(t) ? 1 : 0;
  return n;
}

WindowResultSink* GlobalStage::SourceSink(int task) {
  return sources_.at(static_cast<size_t>(task)).get();
}

void GlobalStage::Publish(const std::function<bool(int task)>& live,
                          const std::function<int64_t(int task)>& watermark_of,
                          const std::function<int64_t(int task)>& version_of,
                          std::chrono::steady_clock::time_point now, bool force) {
  // (Called after every step: when a watermark moved, to the step.)
  for (int t = 0; t < tasks_; ++t) {
    const auto i = static_cast<size_t>(t);
    if (!live(t)) continue;
    const int64_t wm = watermark_of(t);
    if (wm != watermark_seen_ms_[i]) {
      watermark_seen_ms_[i] = wm;
      watermark_seen_at_[i] = now;
    }
  }
  if (!force && now - last_publish_ < std::chrono::milliseconds(interval_ms_)) return;
  last_publish_ = now;
  const int64_t wall_now_ms = callbacks_.wall_clock();
  // Every few seconds also unmoved watermarks: owners announce themselves
  // (Locate) to instances that started since.
  const bool announce = now - last_announce_ >= std::chrono::seconds(5);
  if (announce) last_announce_ = now;
  // One record per source task and global task at most: its windows of
  // that global task's campaigns, then its watermark - so a global task
  // that hears a watermark has every window the task fired below it.
  for (int t = 0; t < tasks_; ++t) {
    auto& emitted = sources_[static_cast<size_t>(t)]->emitted;
    if (!live(t)) {
      // Lost (out of the group) before its checkpoint: its next owner fires
      // these again from that checkpoint, with the task's own watermark.
      emitted.clear();
      continue;
    }
    const int64_t wm = watermark_of(t);
    int64_t& sent = watermark_sent_ms_[static_cast<size_t>(t)];
    std::string& incomplete_sent = incomplete_sent_[static_cast<size_t>(t)];
    // (A task without a watermark yet announces itself too: it is not
    // silent, its partitions are.)
    const bool moved =
        (wm != kNoWatermark && wm != sent) || announce || incomplete_sent != incomplete_reason_;
    if (emitted.empty() && !moved) continue;
    by_owner_.assign(static_cast<size_t>(tasks_), {});
    for (const v1::WindowResult& r : emitted)
      by_owner_[static_cast<size_t>(OwnerOf(r.campaign_id()))].push_back(&r);
    const int64_t version = version_of(t);
    const std::string key = std::to_string(t);
    const int64_t since = wall_now_ms - std::chrono::duration_cast<std::chrono::milliseconds>(
                                            now - watermark_seen_at_[static_cast<size_t>(t)])
                                            .count();
    for (int g = 0; g < tasks_; ++g) {
      const auto& windows = by_owner_[static_cast<size_t>(g)];
      if (windows.empty() && !moved) continue;
      // As many records as the windows need to stay under the largest
      // record Kafka takes (25,000 campaigns firing at once are megabytes);
      // only the last carries the watermark, so a global task that hears
      // it has every window below it.
      v1::Partial p;
      size_t bytes = 0;
      auto send = [&](bool last) {
        p.set_source_task(t);
        p.set_source_tasks(tasks_);
        p.set_version(version);
        p.set_watermark_ms(last ? wm : kNoWatermark);
        p.set_owner_address(address_);
        p.set_incomplete(incomplete_reason_);
        p.set_watermark_since_ms(since);
        p.SerializeToString(&buffer_);
        sink_->ProduceTo(topic_, g, key, buffer_);
        ++sent_;
        p.Clear();
        bytes = 0;
      };
      const size_t budget =
          sink_->max_record_bytes() - std::min<size_t>(sink_->max_record_bytes() / 2, 4'096);
      for (const v1::WindowResult* r : windows) {
        const size_t size = r->ByteSizeLong() + 8;  // (the field's tag and length)
        if (bytes > 0 && bytes + size > budget) send(/*last=*/false);
        *p.add_windows() = *r;
        bytes += size;
      }
      send(/*last=*/true);
    }
    if (moved) {
      sent = wm;
      incomplete_sent = incomplete_reason_;
    }
    emitted.clear();
  }
}

void GlobalStage::Consume(int task, std::string_view value,
                          std::chrono::steady_clock::time_point now) {
  Global& g = global_[static_cast<size_t>(task)];
  if (g.merger == nullptr) return;
  v1::Partial p;
  if (!p.ParseFromArray(value.data(), static_cast<int>(value.size())) ||
      p.source_tasks() != tasks_ || p.source_task() < 0 || p.source_task() >= tasks_) {
    if (rejected_++ == 0) {
      spdlog::error(
          "msg=\"partial dropped\" task={} source_tasks={} tasks={} hint=\"undecodable, or sent "
          "by an instance that counts another number of tasks: every instance of a group must "
          "see the same partition counts\"",
          task, p.source_tasks(), tasks_);
    }
    return;
  }
  if (!p.owner_address().empty()) {
    std::lock_guard lock(placement_mu_);
    owner_address_[static_cast<size_t>(p.source_task())] = p.owner_address();
  }
  const auto source = static_cast<size_t>(p.source_task());
  g.source_incomplete[source] = p.incomplete();
  g.source_heard[source] = now;
  int64_t& wm = g.source_watermark_ms[source];
  // (Never back: a task restarted from a checkpoint re-sends an older one.)
  if (p.watermark_ms() != kNoWatermark && (wm == kNoWatermark || p.watermark_ms() > wm)) {
    const int64_t before = watermark_ms(task);
    wm = p.watermark_ms();
    g.dirty = true;
    if (watermark_ms(task) != before) g.watermark_since_ms = p.watermark_since_ms();
  }
  for (const v1::WindowResult& w : p.windows()) {
    g.merger->Offer(p.source_task(), w, p.version());
    g.dirty = true;
  }
}

int64_t GlobalStage::watermark_ms(int task) const {
  const Global& g = global_[static_cast<size_t>(task)];
  if (g.merger == nullptr) return kNoWatermark;
  int64_t lowest = INT64_MAX;
  for (int64_t wm : g.source_watermark_ms) {
    if (wm == kNoWatermark) return kNoWatermark;
    lowest = std::min(lowest, wm);
  }
  return lowest;
}

QueryApi::Placement GlobalStage::Locate(int task) const {
  std::lock_guard lock(placement_mu_);
  const auto t = static_cast<size_t>(task);
  if (here_[t]) return {true, {}};
  // (Our own address: the task left and its new owner has not spoken yet.)
  if (owner_address_[t] == address_) return {false, {}};
  return {false, owner_address_[t]};
}

int64_t GlobalStage::lowest_watermark_ms() const {
  int64_t lowest = kNoWatermark;
  for (int g = 0; g < tasks_; ++g) {
    if (!owned(g)) continue;
    const int64_t wm = watermark_ms(g);
    if (wm == kNoWatermark) return kNoWatermark;
    lowest = lowest == kNoWatermark ? wm : std::min(lowest, wm);
  }
  return lowest;
}

int64_t GlobalStage::TakeWatermarkSince(int task) {
  return std::exchange(global_[static_cast<size_t>(task)].watermark_since_ms, -1);
}

void GlobalStage::Flush(int task) {
  Global& g = global_[static_cast<size_t>(task)];
  if (g.merger == nullptr || !g.dirty) return;
  g.merger->Flush(watermark_ms(task));
}

std::vector<AlertEvent> GlobalStage::Firing() const {
  std::vector<AlertEvent> all = Active();
  std::erase_if(all, [](const AlertEvent& a) { return a.state != kAlertFiring; });
  return all;
}

std::vector<AlertEvent> GlobalStage::Active() const {
  std::vector<AlertEvent> all;
  for (const Global& g : global_) {
    if (g.alerts == nullptr) continue;
    for (AlertEvent& a : g.alerts->Active()) all.push_back(std::move(a));
  }
  return all;
}

int GlobalStage::FiringOf(const std::string& rule) const {
  int n = 0;
  for (const Global& g : global_) {
    if (g.alerts != nullptr) n += g.alerts->FiringOf(rule);
  }
  return n;
}

std::vector<AlertEngine::FiringCount> GlobalStage::FiringCounts() const {
  std::map<std::pair<std::string, std::string>, int> sum;
  for (const AlertRule& r : rules_) sum[{r.name, r.severity}] += 0;  // (zeros too)
  for (const Global& g : global_) {
    if (g.alerts == nullptr) continue;
    for (const auto& c : g.alerts->FiringCounts()) sum[{c.rule, c.severity}] += c.firing;
  }
  std::vector<AlertEngine::FiringCount> out;
  for (const auto& [k, n] : sum) out.push_back({k.first, k.second, n});
  return out;
}

void GlobalStage::ReplaceRules(std::vector<AlertRule> rules, int64_t event_time_ms) {
  rules_ = std::move(rules);
  for (Global& g : global_) {
    if (g.alerts != nullptr) g.alerts->ReplaceRules(rules_, event_time_ms);
  }
}

void GlobalStage::SetDataIncomplete(const std::string& reason,
                                    std::chrono::steady_clock::time_point now) {
  incomplete_reason_ = reason;
  JudgeSources(now);
}

std::string GlobalStage::IncompleteReasonOf(const Global& g,
                                            std::chrono::steady_clock::time_point now) const {
  if (!incomplete_reason_.empty()) return incomplete_reason_;
  for (int t = 0; t < tasks_; ++t) {
    const std::string& reason = g.source_incomplete[static_cast<size_t>(t)];
    if (!reason.empty()) return fmt::format("source task {}: {}", t, reason);
  }
  for (int t = 0; t < tasks_; ++t) {
    if (now - g.source_heard[static_cast<size_t>(t)] > kSourceSilence) {
      return fmt::format(
          "source_silent: source task {} sent nothing for over {} s (its instance stopped or is "
          "paused; the group moves its task after session.timeout.ms)",
          t, kSourceSilence.count());
    }
  }
  return {};
}

void GlobalStage::JudgeSources(std::chrono::steady_clock::time_point now) {
  for (int task = 0; task < tasks_; ++task) {
    Global& g = global_[static_cast<size_t>(task)];
    if (g.alerts == nullptr) continue;
    std::string reason = IncompleteReasonOf(g, now);
    if (reason == g.judged_incomplete) continue;
    // (The instance's own reason is logged by completeness.cc.)
    const auto from_sources = [](const std::string& r) { return r.rfind("source", 0) == 0; };
    if (from_sources(reason)) {
      spdlog::warn(
          "msg=\"data incomplete at a source task: the rules of this global task are not "
          "judged\" task={} reason=\"{}\"",
          task, reason);
    } else if (reason.empty() && from_sources(g.judged_incomplete)) {
      spdlog::info(
          "msg=\"source tasks complete again: the rules of this global task are judged\" "
          "task={}",
          task);
    }
    g.alerts->SetDataIncomplete(reason);
    g.judged_incomplete = std::move(reason);
  }
}

std::string GlobalStage::incomplete_reason(int task) const {
  const Global& g = global_[static_cast<size_t>(task)];
  return g.alerts == nullptr ? std::string() : g.judged_incomplete;
}

int GlobalStage::incomplete_count() const {
  int n = 0;
  for (const Global& g : global_) n += g.alerts != nullptr && !g.judged_incomplete.empty() ? 1 : 0;
  return n;
}

void GlobalStage::CheckTopicSilence(const std::map<std::string, int64_t>& silent_ms,
                                    int64_t wall_ms) {
  Global& g = global_[static_cast<size_t>(OwnerOf(kRollupKey))];
  if (g.alerts != nullptr) g.alerts->CheckTopicSilence(silent_ms, wall_ms);
}

class GlobalStage::Part final : public Operator {
 public:
  Part(GlobalStage* stage, int task) : stage_(stage), task_(task) {}
  std::string_view name() const override { return "global"; }
  std::vector<std::string> StateTables() const override { return stage_->StateTables(); }
  absl::Status Restore(const StateReader& in) override { return stage_->RestoreTask(task_, in); }
  void Snapshot(StateWriter& out) override { stage_->SnapshotTask(task_, out); }
  void Close() override { stage_->DropTask(task_); }

 private:
  GlobalStage* stage_;
  int task_;
};

std::unique_ptr<Operator> GlobalStage::TaskPart(int task) {
  return std::make_unique<Part>(this, task);
}

std::vector<std::string> GlobalStage::StateTables() const {
  std::vector<std::string> tables = PartialMerger(operators_, tasks_, nullptr).StateTables();
  tables.emplace_back(kSourcesTable);
  for (auto& t : AlertEngine({}, nullptr, nullptr).StateTables()) tables.push_back(std::move(t));
  return tables;
}

absl::Status GlobalStage::RestoreTask(int task, const StateReader& in) {
  Global& g = global_[static_cast<size_t>(task)];
  g.alerts = std::make_unique<AlertEngine>(rules_, results_, callbacks_.on_alert);
  g.alerts->SetDataIncomplete(incomplete_reason_);
  g.judged_incomplete = incomplete_reason_;
  g.merger = std::make_unique<PartialMerger>(operators_, tasks_, g.alerts.get());
  g.source_watermark_ms.assign(static_cast<size_t>(tasks_), kNoWatermark);
  g.source_incomplete.assign(static_cast<size_t>(tasks_), std::string());
  // (Every source gets kSourceSilence from here to be heard.)
  g.source_heard.assign(static_cast<size_t>(tasks_), MonotonicNow());
  g.dirty = false;
  if (absl::Status s = g.merger->Restore(in); !s.ok()) return s;
  if (absl::Status s = g.alerts->Restore(in); !s.ok()) return s;
  std::string bytes;
  absl::Status s = in.Get(kSourcesTable, kSourcesKey, &bytes);
  if (s.ok()) {
    v1::GlobalSourcesState sources;
    if (!sources.ParseFromString(bytes) || sources.watermark_ms_size() != tasks_) {
      return absl::DataLossError("global_sources of task " + std::to_string(task) +
                                 ": undecodable, or written with another number of tasks");
    }
    for (int t = 0; t < tasks_; ++t)
      g.source_watermark_ms[static_cast<size_t>(t)] = sources.watermark_ms(t);
  } else if (!absl::IsNotFound(s)) {
    return s;
  }
  for (const AlertEvent& a : g.alerts->Firing()) {
    if (callbacks_.still_firing) callbacks_.still_firing(a);
  }
  std::lock_guard lock(placement_mu_);
  here_[static_cast<size_t>(task)] = 1;
  owner_address_[static_cast<size_t>(task)] = address_;
  return absl::OkStatus();
}

void GlobalStage::SnapshotTask(int task, StateWriter& out) {
  Global& g = global_[static_cast<size_t>(task)];
  if (g.merger == nullptr) return;
  g.alerts->Snapshot(out);
  if (!g.dirty) return;
  g.merger->Snapshot(out);
  v1::GlobalSourcesState sources;
  for (int64_t wm : g.source_watermark_ms) sources.add_watermark_ms(wm);
  out.Put(kSourcesTable, kSourcesKey, sources.SerializeAsString());
  g.dirty = false;
}

void GlobalStage::DropTask(int task) {
  Global& g = global_[static_cast<size_t>(task)];
  if (g.alerts != nullptr && callbacks_.moved_away) {
    for (const AlertEvent& a : g.alerts->Firing()) callbacks_.moved_away(a);
  }
  if (g.merger != nullptr && callbacks_.task_moved_away) callbacks_.task_moved_away(task);
  g = Global();
  std::lock_guard lock(placement_mu_);
  here_[static_cast<size_t>(task)] = 0;
}

}  // namespace promowatch
