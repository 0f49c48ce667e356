#pragma once
// Alert rules judged on final window results, in event time: the same code
// serves replay, backtest and live, so all three give the same alerts.
//
// Each rule is evaluated per instance (rule x campaign x channel of its
// scope) on every window result of its window size. Lifecycle of an
// instance, in event time (a judgement's time is its window's end):
//
//   inactive --breach--> pending --breach held `for`--> firing
//   pending  --clear--> inactive (nothing is sent: it never fired)
//   firing   --clear held `keep_firing_for`--> resolved -> inactive
//
// "breach" is the comparison against `threshold` with at least `min_volume`
// of the metric's denominator; "clear" is the value back past
// `resolve_threshold` (hysteresis; default: the threshold itself), or too
// little volume to judge (a campaign that stopped resolves its alerts). A
// value between threshold and resolve_threshold changes nothing, so a value
// hovering around the line fires once.
//
// Transitions (pending, firing, resolved) go to a callback; instances that
// are pending or firing are state, checkpointed with the operators (a restart
// neither repeats a notification nor forgets a firing alert).

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "operators/names.h"
#include "operators/operator.h"
#include "operators/plan.h"
#include "operators/state.h"
#include "operators/window_operator.h"

namespace promowatch {

struct AlertRule {
  std::string name;
  // threshold: the metric against `threshold`.
  // relative_drop: the metric against a baseline, the same window
  //   `against_ms` earlier or the median of the previous `median_of`
  //   windows; breach when value <= (1 - drop) x baseline. Baselines under
  //   `min_baseline` (or missing) are not judged.
  // pacing: cumulative gmv projected to `deadline_ms` at the rate since the
  //   day's start; breach when projected <= (1 - below_target) x target.
  // no_data: a scope that had events shows none for `silence_ms` of event
  //   time (judged on every window of its size, so the stream must flow).
  //   With `topic` set: the input topic delivered no record for
  //   `silence_ms` of wall time (live only; see CheckTopicSilence).
  // target: a KPI of the plan (`kpi`) on the period rows of its campaigns,
  //   against the plan's target (operators/plan_rules.h: made from the plan,
  //   never written in a rules file).
  enum class Kind { kThreshold, kRelativeDrop, kPacing, kNoData, kTarget } kind = Kind::kThreshold;
  std::string metric = "ctr";  // see MetricValue
  std::string window = "5m";
  enum class Scope { kOverall, kCampaign, kCampaignChannel } scope = Scope::kCampaignChannel;
  std::set<std::string> campaigns;  // empty: every campaign
  // Judges the rows of one user segment (segments.enabled; "dormant", ...)
  // instead of the rows of all users; its alerts carry the label `segment`.
  std::string segment;
  enum class Op { kLess, kLessEqual, kGreater, kGreaterEqual } op = Op::kLess;
  double threshold = 0;
  std::optional<double> resolve_threshold;  // hysteresis; unset: threshold
  int64_t min_volume =
      0;  // of the denominator: impressions (ctr), clicks (cvr), spend (roi), paid orders (aov)
  int64_t for_ms = 0;              // breach held this long (event time) before firing
  int64_t keep_firing_for_ms = 0;  // clear held this long before resolving
  std::string severity = "warning";
  // Extra labels (team, ...) and annotations (summary, description,
  // runbook_url, dashboard); annotation values are templates: {{rule}}
  // {{campaign}} {{channel}} {{segment}} {{metric}} {{value}} {{threshold}}
  // {{window}}.
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  // Per-campaign overrides of `threshold` (threshold kind) or `target`
  // (pacing): the planning sheet's targets in one place.
  std::map<std::string, double> campaign_thresholds;

  // relative_drop
  int64_t against_ms = 0;  // > 0: the same window this long before
  int median_of = 0;       // > 0: the median of this many previous windows
  double drop = 0.5;
  std::optional<double> resolve_drop;  // hysteresis; unset: drop
  double min_baseline = 0;
  // pacing
  double target = 0;
  int64_t deadline_ms = 0;  // Unix ms
  double below_target = 0.3;
  int64_t min_elapsed_ms = 15 * 60'000;  // no projection from the first minutes
  // no_data
  int64_t silence_ms = 0;
  int64_t forget_after_ms = 6 * 3'600'000;  // a scope silent this long ended: resolved, forgotten
  std::string topic;                        // no_data on an input topic, in wall time
  // target
  std::shared_ptr<const Plan> plan;
  const KpiField* kpi = nullptr;

  // Names in rules files.
  static constexpr Named<Kind> kKindNames[] = {{"threshold", Kind::kThreshold},
                                               {"relative_drop", Kind::kRelativeDrop},
                                               {"pacing", Kind::kPacing},
                                               {"no_data", Kind::kNoData},
                                               {"target", Kind::kTarget}};
  static constexpr Named<Scope> kScopeNames[] = {{"overall", Scope::kOverall},
                                                 {"campaign", Scope::kCampaign},
                                                 {"campaign_channel", Scope::kCampaignChannel}};
  static constexpr Named<Op> kOpNames[] = {
      {"<", Op::kLess}, {"<=", Op::kLessEqual}, {">", Op::kGreater}, {">=", Op::kGreaterEqual}};

  // The threshold for one campaign (overrides, else `threshold`/`target`).
  double ThresholdFor(const std::string& campaign) const {
    auto it = campaign_thresholds.find(campaign);
    return it != campaign_thresholds.end() ? it->second
           : kind == Kind::kPacing         ? target
                                           : threshold;
  }
};

// The states of an alert transition (AlertEvent::state; the alerts
// output's "state").
inline constexpr char kAlertPending[] = "pending";
inline constexpr char kAlertFiring[] = "firing";
inline constexpr char kAlertResolved[] = "resolved";
// A window the rule could not judge (cut short at the end of input).
inline constexpr char kAlertDataIncomplete[] = "data_incomplete";

struct AlertEvent {
  std::string rule;
  std::string state;  // kAlertPending, kAlertFiring, kAlertResolved or kAlertDataIncomplete
  std::string campaign_id;
  std::string channel;
  std::string metric;
  double value = 0;
  double threshold = 0;            // the line the value was judged against
  std::optional<double> baseline;  // relative_drop: the baseline; pacing, target: the target
  // target: the KPI projected to its period's end, and the time left then.
  std::optional<double> projected;
  int64_t time_left_ms = 0;
  std::string window;
  int64_t window_end_ms = 0;  // event time of the judgement
  std::string severity;
  int64_t active_since_ms = 0;  // event time the condition started
  // A firing alert re-judged on a window corrected by late data: the
  // corrected value still breaches (not a new alert, an update).
  bool correction = false;
  std::map<std::string, std::string> labels;       // the rule's extra labels
  std::map<std::string, std::string> annotations;  // rendered
};
// Its encoders, JSON and protobuf: operators/encoding.h.

// Evaluates every rule on every emitted window and forwards the window.
class AlertEngine final : public WindowResultSink, public Operator {
 public:
  static constexpr std::string_view kStateTable = "alerts";
  static constexpr std::string_view kHistoryTable = "alert_history";
  using AlertCallback = std::function<void(const AlertEvent&)>;
  AlertEngine(std::vector<AlertRule> rules, WindowResultSink* next, AlertCallback on_alert);
  std::string_view name() const override { return "alerts"; }
  void Emit(const v1::WindowResult& r) override;

  // Whether the windows emitted from now on have complete inputs. While a
  // reason is set (a partition silent or lagging past its bound, no
  // partitions assigned), rules are not judged: a pending alert does not
  // fire, a firing one does not resolve, and each instance in scope reports
  // one "data_incomplete" transition per incomplete period instead (never
  // a page). With `windows_ending_after_ms`, only windows ending after it
  // are incomplete: replay and backtest mark the windows the end of input
  // cuts short (ending after the newest event), whose data simply stops.
  void SetDataIncomplete(std::string reason,
                         int64_t windows_ending_after_ms = std::numeric_limits<int64_t>::min()) {
    incomplete_reason_ = std::move(reason);
    incomplete_after_ms_ = windows_ending_after_ms;
  }
  const std::string& data_incomplete_reason() const { return incomplete_reason_; }
  // Instances (rule x scope) whose latest window was not judged.
  size_t data_incomplete_instances() const { return incomplete_.size(); }

  // Pending and firing instances survive restarts through these.
  std::vector<std::string> StateTables() const override {
    return {std::string(kStateTable), std::string(kHistoryTable)};
  }
  absl::Status Restore(const StateReader& in) override;
  void Snapshot(StateWriter& out) override;

  // no_data rules on topics, judged in wall time (live, about once a
  // second): `silent_ms` per input topic since its last record; topics not
  // listed (no partition assigned) are not judged.
  void CheckTopicSilence(const std::map<std::string, int64_t>& silent_ms, int64_t wall_ms);

  // Firing alerts by rule name (every rule listed), for gauges and the demo.
  std::map<std::string, int> FiringByRule() const;
  struct FiringCount {
    std::string rule;
    std::string severity;
    int firing = 0;
  };
  std::vector<FiringCount> FiringCounts() const;
  // Firing alerts of one rule: its alerts only, not every rule's.
  int FiringOf(const std::string& rule) const;

  // New rules (a reload) without losing alert state: pending and firing
  // instances of rules that keep their name stay as they are and are judged
  // by the new definition from the next window on; firing instances of
  // removed rules are resolved at `event_time_ms` (the watermark).
  void ReplaceRules(std::vector<AlertRule> rules, int64_t event_time_ms);
  std::vector<AlertEvent> Firing() const;
  // Pending and firing instances, as last judged.
  std::vector<AlertEvent> Active() const;
  const std::vector<AlertRule>& rules() const { return rules_; }

 private:
  enum class Phase { kPending, kFiring };
  struct Instance {
    Phase phase = Phase::kPending;
    int64_t fired_on_ms = 0;  // end of the window it went firing on
    int64_t since_ms = 0;
    int64_t clear_since_ms = 0;  // 0: not clear
    AlertEvent last;             // the latest judgement, as an event
  };
  using Key = std::tuple<std::string, std::string, std::string>;  // rule, campaign, channel
  struct History {
    std::map<int64_t, double> values;  // by window end (relative_drop)
    int64_t last_data_ms = 0;          // no_data
  };
  struct Judgement {
    bool judged = false;  // enough data to say breach or clear
    bool breach = false;
    bool clear = true;
    double value = 0;
    double line = 0;  // the threshold the value was judged against
    std::optional<double> baseline;
  };
  bool InScope(const AlertRule& rule, const v1::WindowResult& r) const;
  Judgement Judge(const AlertRule& rule, const v1::WindowResult& r, const Key& key);
  // A window corrected by late data (revision > 0): an alert that fired on
  // its first value is re-judged, resolved if the corrected value clears,
  // else updated with it. Other corrections change nothing (the lifecycle
  // does not go back in time).
  void Rejudge(const AlertRule& rule, const v1::WindowResult& r, const Key& key);
  // One judgement through the lifecycle.
  void Advance(const AlertRule& rule, const v1::WindowResult& r, const Key& key,
               const Judgement& j);
  // no_data: scopes of `rule` with no events since `now - silence`.
  void CheckSilence(const AlertRule& rule, const v1::WindowResult& clock);
  AlertEvent MakeEvent(const AlertRule& rule, const v1::WindowResult& r, double value,
                       const char* state, int64_t since_ms, double line,
                       std::optional<double> baseline = std::nullopt) const;
  void Send(Instance& inst, const char* state);

  std::vector<AlertRule> rules_;
  std::map<std::string, size_t> rule_index_;
  WindowResultSink* next_;
  AlertCallback on_alert_;
  std::map<Key, Instance> active_;
  std::set<Key> dirty_;  // changed since the last snapshot (deleted if no longer active)
  std::map<Key, History> history_;
  std::set<Key> history_dirty_;
  std::map<std::string, int64_t> silence_checked_;  // no_data: latest window end checked, by rule
  std::string incomplete_reason_;
  int64_t incomplete_after_ms_ = std::numeric_limits<int64_t>::min();
  std::set<Key> incomplete_;  // reported data_incomplete, not judged since
};

// The value a rule looks at, and its denominator for min_volume (INT64_MAX
// for plain counts); nullopt when undefined (ctr without impressions) or the
// metric is unknown.
std::optional<double> MetricValue(const v1::WindowResult& r, const std::string& metric,
                                  int64_t* volume);
// Every metric name MetricValue knows.
const std::vector<std::string>& AlertMetricNames();
// Any event at all in a window (no_data rules).
bool WindowHasEvents(const v1::WindowResult& r);

}  // namespace promowatch
