#pragma once
// The global stage of a run split into tasks by user (Flink's local-global
// aggregation; ../shared/SCALE-OUT.md): every task's WindowOperator emits
// the windows of its own users as partials; the merger keeps, per window
// and key, the latest partial of every task and emits their sum. Each user
// lives in exactly one task, so the sums are exact, unique visitors too
// (split-distinct: the distinct users of a window are the sum of the
// tasks' distinct counts), and so are the rollups.
//
// Driven in steps: every task processes the same batch's records (its
// users') and then the same watermark; Flush emits what the step changed in
// the order one WindowOperator over all of the input emits - corrections
// first, then by window end, window size (in the options' order, the
// cumulative window last) and key bytes - with the same revisions, so the
// merged output equals the unsplit one byte for byte. Tasks must run with
// OperatorOptions::emit_partial_updates (late records that change a day
// total already emitted).
//
// Tasks may run on watermarks of their own (live tasks by partition): a
// task ahead fires windows the others have not reached. What a task emits
// is held until the merged watermark (the minimum over tasks) passes its
// end, then applied in end order - so a window is published once, with
// every task's partial as of that end (a day total too) - and held
// partials are part of the checkpoint. A task behind (one just moved here)
// publishes windows already published as corrections.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "operators/aggregate.h"
#include "operators/operator.h"
#include "operators/options.h"
#include "operators/state.h"
#include "operators/window_operator.h"

namespace promowatch {

class PartialMerger final : public Operator {
 public:
  static constexpr std::string_view kTable = "merged_windows";
  static constexpr std::string_view kHeldTable = "merged_held";

  // `out` receives the merged windows; it must outlive the merger.
  PartialMerger(OperatorOptions options, int tasks, WindowResultSink* out);
  ~PartialMerger();

  // Where task `task` (0 <= task < tasks) emits its partial windows.
  WindowResultSink* task_sink(int task);
  // A partial that came through Kafka (the live global stage): `version`
  // is the task's input position when it sent it. The newest version per
  // task and window wins: an older one (a task that moved re-sending what
  // its previous owner had sent later) is dropped, and a partial that
  // changes nothing of a window already published publishes nothing - so a
  // re-publication after a crash changes nothing. False: dropped.
  bool Offer(int task, const v1::WindowResult& r, int64_t version);
  // The end of a step: emits the windows the tasks' partials up to
  // `watermark_ms` changed (every partial at the end of the input), then
  // forgets those no late record can change any more.
  void Flush(int64_t watermark_ms, bool end_of_input = false);
  // Partials held for a watermark not reached yet.
  size_t held() const { return held_.size(); }
  // Windows held (each with a partial per task).
  size_t windows() const { return windows_.size(); }
  // Windows published, first emissions and corrections.
  int64_t windows_emitted() const { return emitted_; }
  int64_t corrections_emitted() const { return corrected_; }

  // Every window held, rewritten at each checkpoint (they are few: the open
  // windows of the active keys). Call between steps.
  std::string_view name() const override { return "partial_merge"; }
  std::vector<std::string> StateTables() const override {
    return {std::string(kTable), std::string(kHeldTable)};
  }
  absl::Status Restore(const StateReader& in) override;
  void Snapshot(StateWriter& out) override;

 private:
  class TaskSink;
  struct Partial {
    Counters counters;
    int64_t uv = 0;
    int64_t buyers = 0;
    int64_t version = 0;  // Offer's; 0 for task_sink's
    bool operator==(const Partial& o) const {
      return uv == o.uv && buyers == o.buyers && counters == o.counters;
    }
  };
  struct Window {
    std::string name;  // "1m", "5m", "cumulative"
    int64_t start_ms = 0;
    std::string campaign;
    std::string channel;
    std::string segment;            // empty: all users
    std::vector<Partial> partials;  // by task
    std::vector<int64_t> offered;   // by task: the newest version offered (Offer)
    // By task, cumulative windows (one per day and key, published at many
    // ends): the latest end offered. A task's input position is no order
    // between two owners - one restored from a checkpoint reads its
    // partitions (forwarded records, watermark marks) in another
    // interleaving - so a restored task re-firing an earlier end of the day
    // must not replace the later total its previous owner sent.
    std::vector<int64_t> offered_end;
    int32_t revision = -1;  // last emitted; -1: none yet
  };
  // (window, start, campaign '\0' channel)
  using WindowKey = std::tuple<std::string, int64_t, std::string>;
  // One partial a task emitted, in arrival order (`seq`).
  struct Arrival {
    std::map<WindowKey, Window>::iterator window;
    int task;
    int64_t end_ms;
    int32_t revision;  // kPartialUpdate: the task's copy only
    Partial partial;
    uint64_t seq;
  };

  void Take(int task, const v1::WindowResult& r, int64_t version = 0);
  void Apply(std::vector<Arrival>& ready);
  int WindowOrder(const std::string& name) const;
  void Publish(Window& w, int64_t end_ms, bool correction);

  OperatorOptions options_;
  int tasks_;
  WindowResultSink* out_;
  std::vector<std::unique_ptr<TaskSink>> sinks_;
  std::map<WindowKey, Window> windows_;
  std::vector<Arrival> step_;
  std::vector<Arrival> held_;  // past the merged watermark, in arrival order
  uint64_t next_seq_ = 0;
  v1::WindowResult result_;
  int64_t emitted_ = 0;
  int64_t corrected_ = 0;
};

}  // namespace promowatch
