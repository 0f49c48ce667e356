#include "operators/partial_merge.h"

#include <algorithm>

#include "operators/counter_reflection.h"
#include "operators/time_util.h"
#include "promowatch/v1/state.pb.h"

namespace promowatch {
namespace {

// As the window operator's keys sort: campaign '\0' channel ('\0' segment).
std::string MergeKey(const std::string& campaign, const std::string& channel,
                     const std::string& segment) {
  std::string key = campaign;
  key.push_back('\0');
  key.append(channel);
  if (!segment.empty()) {
    key.push_back('\0');
    key.append(segment);
  }
  return key;
}

}  // namespace

class PartialMerger::TaskSink final : public WindowResultSink {
 public:
  TaskSink(PartialMerger* merger, int task) : merger_(merger), task_(task) {}
  void Emit(const v1::WindowResult& r) override { merger_->Take(task_, r); }

 private:
  PartialMerger* merger_;
  int task_;
};

PartialMerger::PartialMerger(OperatorOptions options, int tasks, WindowResultSink* out)
    : options_(std::move(options)), tasks_(tasks), out_(out) {
  std::sort(options_.window_minutes.begin(), options_.window_minutes.end());
  options_.window_minutes.erase(
      std::unique(options_.window_minutes.begin(), options_.window_minutes.end()),
      options_.window_minutes.end());
  for (int t = 0; t < tasks; ++t) sinks_.push_back(std::make_unique<TaskSink>(this, t));
}

PartialMerger::~PartialMerger() = default;

WindowResultSink* PartialMerger::task_sink(int task) { return sinks_.at(task).get(); }

bool PartialMerger::Offer(int task, const v1::WindowResult& r, int64_t version) {
  if (task < 0 || task >= tasks_) return false;
  std::string key = MergeKey(r.campaign_id(), r.channel(), r.segment());
  auto it = windows_.find(WindowKey{r.window(), r.window_start_ms(), key});
  if (it != windows_.end()) {
    const auto t = static_cast<size_t>(task);
    if (version < it->second.offered[t]) return false;
    if (IsRunningTotal(r.window()) && r.revision() != kPartialUpdate &&
        r.window_end_ms() < it->second.offered_end[t])
      return false;
  }
  Take(task, r, version);
  return true;
}

void PartialMerger::Take(int task, const v1::WindowResult& r, int64_t version) {
  std::string key = MergeKey(r.campaign_id(), r.channel(), r.segment());
  auto [it, inserted] =
      windows_.try_emplace(WindowKey{r.window(), r.window_start_ms(), std::move(key)});
  if (inserted) {
    Window& w = it->second;
    w.name = r.window();
    w.start_ms = r.window_start_ms();
    w.campaign = r.campaign_id();
    w.channel = r.channel();
    w.segment = r.segment();
    w.partials.resize(static_cast<size_t>(tasks_));
    w.offered.resize(static_cast<size_t>(tasks_));
    w.offered_end.resize(static_cast<size_t>(tasks_));
  }
  int64_t& offered = it->second.offered[static_cast<size_t>(task)];
  offered = std::max(offered, version);
  int64_t& offered_end = it->second.offered_end[static_cast<size_t>(task)];
  offered_end = std::max(offered_end, r.window_end_ms());
  Arrival& a = step_.emplace_back();
  a.window = it;
  a.task = task;
  a.end_ms = r.window_end_ms();
  a.revision = r.revision();
  a.partial.counters = CountersFromMessage(r);
  a.partial.uv = r.uv();
  a.partial.buyers = r.buyers();
  a.partial.version = version;
  a.seq = next_seq_++;
}

int PartialMerger::WindowOrder(const std::string& name) const {
  if (name == kCumulativeWindow) return static_cast<int>(options_.window_minutes.size());
  if (name == kPeriodWindow) return static_cast<int>(options_.window_minutes.size()) + 1;
  const int minutes = WindowMinutes(name).value_or(0);
  const auto& sizes = options_.window_minutes;
  return static_cast<int>(std::lower_bound(sizes.begin(), sizes.end(), minutes) - sizes.begin());
}

void PartialMerger::Publish(Window& w, int64_t end_ms, bool correction) {
  Counters sum;
  DistinctUsers users;  // (each user lives in one task: the sums are exact)
  for (const Partial& p : w.partials) {
    sum.Combine(p.counters);
    users.uv += p.uv;
    users.buyers += p.buyers;
  }
  // As the operator numbers them: a correction is one more than the last
  // (the first is 1, whether the window fired before or not); windows fire
  // with 0.
  const int32_t revision = correction ? (w.revision > 0 ? w.revision + 1 : 1) : 0;
  FillWindowResult(w.name, w.start_ms, end_ms, w.campaign, w.channel, w.segment, sum, users,
                   revision, options_.count_new_customers, &result_);
  out_->Emit(result_);
  ++(revision > 0 ? corrected_ : emitted_);
  w.revision = revision;
}

void PartialMerger::Flush(int64_t watermark_ms, bool end_of_input) {
  // What every task has passed: the step's partials and those held before.
  auto ready = [&](const Arrival& a) {
    return end_of_input || (watermark_ms != kNoWatermark && a.end_ms <= watermark_ms);
  };
  if (held_.empty() && std::all_of(step_.begin(), step_.end(), ready)) {
    Apply(step_);  // (tasks in step: the usual case)
  } else {
    std::vector<Arrival> now;
    std::vector<Arrival> later;
    for (std::vector<Arrival>* from : {&held_, &step_}) {
      for (Arrival& a : *from) (ready(a) ? now : later).push_back(std::move(a));
    }
    held_ = std::move(later);
    Apply(now);
  }
  step_.clear();
  // A late record reaches panes up to the longest window plus the allowed
  // lateness behind the watermark; a day total, a day after its start.
  if (watermark_ms == kNoWatermark || end_of_input) return;
  const int64_t reach =
      options_.max_window_minutes() * kMinuteMs + options_.effective_lateness_ms();
  for (auto it = windows_.begin(); it != windows_.end();) {
    const Window& w = it->second;
    int64_t end = w.start_ms + WindowMinutes(w.name).value_or(0) * kMinuteMs;
    if (w.name == kCumulativeWindow) end = w.start_ms + 24 * 3'600'000;
    if (w.name == kPeriodWindow) {
      const CampaignPeriod* p = options_.PeriodOf(w.campaign);
      end = p == nullptr ? w.start_ms : p->end_ms + p->tail_ms;
    }
    const bool needed =
        std::any_of(held_.begin(), held_.end(), [&](const Arrival& a) { return a.window == it; });
    if (end + reach < watermark_ms && !needed) {
      it = windows_.erase(it);
    } else {
      ++it;
    }
  }
}

void PartialMerger::Apply(std::vector<Arrival>& ready) {
  // The order one operator emits in (WindowOperator::OnWatermark): by end -
  // corrections (and the tasks' partial updates of day totals) end at or
  // before the last boundary fired, so they come first - then window size
  // (in the options' order, the cumulative window last), keys in byte
  // order; a task's partials of one window in the order it emitted them. A
  // window's partials of one end are applied together and published once;
  // the cumulative window of a key may be published at several ends, each
  // with the other tasks' totals as they stood then.
  std::sort(ready.begin(), ready.end(), [&](const Arrival& x, const Arrival& y) {
    if (x.end_ms != y.end_ms) return x.end_ms < y.end_ms;
    const int ox = WindowOrder(x.window->second.name), oy = WindowOrder(y.window->second.name);
    if (ox != oy) return ox < oy;
    if (x.window != y.window) return std::get<2>(x.window->first) < std::get<2>(y.window->first);
    return x.seq < y.seq;
  });
  for (size_t i = 0; i < ready.size();) {
    size_t j = i;
    bool publish = false, correction = false, changed = false;
    Window& w = ready[i].window->second;
    for (; j < ready.size() && ready[j].window == ready[i].window &&
           ready[j].end_ms == ready[i].end_ms;
         ++j) {
      const Arrival& a = ready[j];
      Partial& held = w.partials[static_cast<size_t>(a.task)];
      // (Offer's re-publications: equal to what the window holds.)
      changed = changed || a.partial.version == 0 || !(held == a.partial);
      held = a.partial;
      if (a.revision != kPartialUpdate) publish = true;
      if (a.revision > 0) correction = true;
    }
    if (!changed && w.revision >= 0) publish = false;
    // A task behind (moved here with older data) fires a window the others
    // fired long ago: for the merged window, that is a correction.
    if (!IsRunningTotal(w.name) && w.revision >= 0) correction = true;
    if (publish) Publish(w, ready[i].end_ms, correction);
    i = j;
  }
}

void PartialMerger::Snapshot(StateWriter& out) {
  out.Clear(kTable);
  v1::MergedWindowState state;
  std::string key, value;
  for (const auto& [id, w] : windows_) {
    state.Clear();
    state.set_window(w.name);
    state.set_start_ms(w.start_ms);
    state.set_campaign_id(w.campaign);
    state.set_channel(w.channel);
    state.set_segment(w.segment);
    state.set_revision(w.revision);
    for (size_t t = 0; t < w.partials.size(); ++t) {
      CountersToMessage(w.partials[t].counters, state.add_partials());
      state.add_uv(w.partials[t].uv);
      state.add_buyers(w.partials[t].buyers);
      state.add_versions(std::max(w.partials[t].version, w.offered[t]));
      state.add_offered_end_ms(w.offered_end[t]);
    }
    key = std::get<0>(id);
    key.push_back('\0');
    AppendBigEndian64(&key, std::get<1>(id));
    key.append(std::get<2>(id));
    state.SerializeToString(&value);
    out.Put(kTable, key, value);
  }
  // Held partials, as their task emitted them (key: arrival order, task).
  out.Clear(kHeldTable);
  v1::Partial held;
  for (const Arrival& a : held_) {
    const Window& w = a.window->second;
    FillWindowResult(w.name, w.start_ms, a.end_ms, w.campaign, w.channel, w.segment,
                     a.partial.counters, DistinctUsers{a.partial.uv, a.partial.buyers}, a.revision,
                     options_.count_new_customers, &result_);
    key.clear();
    AppendBigEndian64(&key, static_cast<int64_t>(a.seq));
    AppendBigEndian64(&key, a.task);
    held.Clear();
    held.set_version(a.partial.version);
    *held.add_windows() = result_;
    held.SerializeToString(&value);
    out.Put(kHeldTable, key, value);
  }
}

absl::Status PartialMerger::Restore(const StateReader& in) {
  windows_.clear();
  absl::Status s = in.Scan(kTable, [&](std::string_view, std::string_view value) {
    v1::MergedWindowState state;
    if (!state.ParseFromString(std::string(value)) || state.partials_size() != tasks_ ||
        state.uv_size() != tasks_) {
      return absl::DataLossError(
          "merged_windows: undecodable, or written by a run with another number of tasks");
    }
    std::string key = MergeKey(state.campaign_id(), state.channel(), state.segment());
    Window& w = windows_[WindowKey{state.window(), state.start_ms(), std::move(key)}];
    w.name = state.window();
    w.start_ms = state.start_ms();
    w.campaign = state.campaign_id();
    w.channel = state.channel();
    w.segment = state.segment();
    w.revision = state.revision();
    w.partials.resize(static_cast<size_t>(tasks_));
    w.offered.resize(static_cast<size_t>(tasks_));
    w.offered_end.resize(static_cast<size_t>(tasks_));
    for (int t = 0; t < tasks_; ++t) {
      if (t < state.offered_end_ms_size())
        w.offered_end[static_cast<size_t>(t)] = state.offered_end_ms(t);
      Partial& p = w.partials[static_cast<size_t>(t)];
      p.counters = CountersFromMessage(state.partials(t));
      p.uv = state.uv(t);
      if (t < state.buyers_size()) p.buyers = state.buyers(t);
      if (t < state.versions_size())
        p.version = w.offered[static_cast<size_t>(t)] = state.versions(t);
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  held_.clear();
  step_.clear();
  s = in.Scan(kHeldTable, [&](std::string_view key, std::string_view value) {
    v1::Partial held;
    if (key.size() != 16 || !held.ParseFromString(std::string(value)) || held.windows_size() != 1) {
      return absl::DataLossError("merged_held: undecodable");
    }
    const v1::WindowResult& r = held.windows(0);
    const auto seq = static_cast<uint64_t>(ReadBigEndian64(key.substr(0, 8)));
    const auto task = static_cast<int>(ReadBigEndian64(key.substr(8)));
    if (task < 0 || task >= tasks_) {
      return absl::DataLossError("merged_held: written by a run with another number of tasks");
    }
    Take(task, r, held.version());
    step_.back().seq = seq;
    next_seq_ = std::max(next_seq_, seq + 1);
    return absl::OkStatus();
  });
  held_ = std::move(step_);  // (scanned in arrival order)
  step_.clear();
  return s;
}

}  // namespace promowatch
