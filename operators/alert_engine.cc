#include "operators/alert_engine.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "operators/plan_rules.h"
#include "promowatch/v1/state.pb.h"

namespace promowatch {
namespace {

bool Compare(AlertRule::Op op, double value, double threshold) {
  switch (op) {
    case AlertRule::Op::kLess:
      return value < threshold;
    case AlertRule::Op::kLessEqual:
      return value <= threshold;
    case AlertRule::Op::kGreater:
      return value > threshold;
    case AlertRule::Op::kGreaterEqual:
      return value >= threshold;
  }
  return false;
}

// Back past the resolve line: for "<" rules the value must reach it. The
// resolve line keeps its distance from the threshold when a campaign
// override moves the threshold.
bool Cleared(const AlertRule& rule, double value, double line) {
  const bool hysteresis = rule.resolve_threshold.has_value();
  const double resolve = hysteresis ? *rule.resolve_threshold + (line - rule.threshold) : line;
  switch (rule.op) {
    case AlertRule::Op::kLess:
    case AlertRule::Op::kLessEqual:
      return hysteresis ? value >= resolve : !Compare(rule.op, value, resolve);
    case AlertRule::Op::kGreater:
    case AlertRule::Op::kGreaterEqual:
      return hysteresis ? value <= resolve : !Compare(rule.op, value, resolve);
  }
  return true;
}

int64_t WindowMs(const std::string& window) {
  return static_cast<int64_t>(WindowMinutes(window).value_or(0)) * kMinuteMs;
}

std::string FormatNumber(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

std::string Render(std::string text, const AlertEvent& a) {
  const std::pair<const char*, std::string> vars[] = {
      {"{{rule}}", a.rule},
      {"{{campaign}}", a.campaign_id},
      {"{{channel}}", a.channel},
      {"{{segment}}", a.labels.count("segment") ? a.labels.at("segment") : std::string("all")},
      {"{{metric}}", a.metric},
      {"{{value}}", FormatNumber(a.value)},
      {"{{threshold}}", FormatNumber(a.threshold)},
      {"{{window}}", a.window},
      {"{{severity}}", a.severity},
      {"{{baseline}}", a.baseline ? FormatNumber(*a.baseline) : std::string("none")},
      {"{{target}}", a.baseline ? FormatNumber(*a.baseline) : std::string("none")},
      {"{{projected}}", a.projected ? FormatNumber(*a.projected) : std::string("none")},
      {"{{time_left}}", FormatTimeLeft(a.time_left_ms)}};
  for (const auto& [name, value] : vars) {
    for (size_t at = text.find(name); at != std::string::npos;
         at = text.find(name, at + value.size())) {
      text.replace(at, std::string_view(name).size(), value);
    }
  }
  return text;
}

}  // namespace

AlertEngine::AlertEngine(std::vector<AlertRule> rules, WindowResultSink* next,
                         AlertCallback on_alert)
    : rules_(std::move(rules)), next_(next), on_alert_(std::move(on_alert)) {
  for (size_t i = 0; i < rules_.size(); ++i) rule_index_[rules_[i].name] = i;
}

bool AlertEngine::InScope(const AlertRule& rule, const v1::WindowResult& r) const {
  if (r.window() != rule.window || r.segment() != rule.segment) return false;
  const bool overall = IsRollup(r.campaign_id());
  const bool campaign_rollup = !overall && IsRollup(r.channel());
  using S = AlertRule::Scope;
  switch (rule.scope) {
    case S::kOverall:
      return overall && IsRollup(r.channel());
    case S::kCampaign:
      if (!campaign_rollup) return false;
      break;
    case S::kCampaignChannel:
      if (overall || campaign_rollup) return false;
      break;
  }
  return rule.campaigns.empty() || rule.campaigns.count(r.campaign_id()) > 0;
}

AlertEvent AlertEngine::MakeEvent(const AlertRule& rule, const v1::WindowResult& r, double value,
                                  const char* state, int64_t since_ms, double line,
                                  std::optional<double> baseline) const {
  AlertEvent a;
  a.rule = rule.name;
  a.state = state;
  a.campaign_id = r.campaign_id();
  a.channel = r.channel();
  a.metric = rule.metric;
  a.value = value;
  a.threshold = line;
  a.baseline = baseline;
  a.window = rule.window;
  a.window_end_ms = r.window_end_ms();
  a.severity = rule.severity;
  a.active_since_ms = since_ms;
  a.labels = rule.labels;
  if (!rule.topic.empty()) a.labels["topic"] = rule.topic;
  if (!rule.segment.empty()) a.labels["segment"] = rule.segment;
  if (rule.kind == AlertRule::Kind::kTarget) DescribeTarget(rule, r, &a);
  for (const auto& [k, v] : rule.annotations) a.annotations[k] = Render(v, a);
  return a;
}

void AlertEngine::Send(Instance& inst, const char* state) {
  inst.last.state = state;
  if (on_alert_) on_alert_(inst.last);
}

AlertEngine::Judgement AlertEngine::Judge(const AlertRule& rule, const v1::WindowResult& r,
                                          const Key& key) {
  using K = AlertRule::Kind;
  Judgement j;
  int64_t volume = 0;
  const std::optional<double> v = MetricValue(r, rule.metric, &volume);
  const bool measured = v.has_value() && volume >= rule.min_volume;
  j.value = v.value_or(0);
  const int64_t end = r.window_end_ms();
  switch (rule.kind) {
    case K::kThreshold:
      j.line = rule.ThresholdFor(r.campaign_id());
      j.judged = measured;
      j.breach = measured && Compare(rule.op, j.value, j.line);
      j.clear = !measured || Cleared(rule, j.value, j.line);
      return j;
    case K::kRelativeDrop: {
      History& h = history_[key];
      history_dirty_.insert(key);
      std::optional<double> baseline;
      if (rule.against_ms > 0) {
        if (auto it = h.values.find(end - rule.against_ms); it != h.values.end())
          baseline = it->second;
      } else if (rule.median_of > 0 && static_cast<int>(h.values.size()) >= rule.median_of) {
        std::vector<double> recent;
        for (auto it = h.values.rbegin();
             it != h.values.rend() && static_cast<int>(recent.size()) < rule.median_of; ++it) {
          if (it->first < end) recent.push_back(it->second);
        }
        if (static_cast<int>(recent.size()) == rule.median_of) {
          std::nth_element(recent.begin(), recent.begin() + static_cast<long>(recent.size() / 2),
                           recent.end());
          baseline = recent[recent.size() / 2];
          if (recent.size() % 2 == 0) {
            const double upper = *baseline;
            const double lower = *std::max_element(
                recent.begin(), recent.begin() + static_cast<long>(recent.size() / 2));
            baseline = (lower + upper) / 2;
          }
        }
      }
      // Remember this window; keep only what a later baseline can use.
      if (measured) h.values[end] = j.value;
      if (rule.against_ms > 0) {
        while (!h.values.empty() && h.values.begin()->first < end - rule.against_ms)
          h.values.erase(h.values.begin());
      } else {
        while (static_cast<int>(h.values.size()) > rule.median_of) h.values.erase(h.values.begin());
      }
      j.baseline = baseline;
      // A missing or too small baseline is not a drop, nor a recovery: a
      // firing alert holds until a baseline judges it.
      j.judged =
          measured && baseline.has_value() && *baseline >= rule.min_baseline && *baseline > 0;
      if (!j.judged) {
        j.clear = !measured;
        return j;
      }
      j.line = (1 - rule.drop) * *baseline;
      j.breach = j.value <= j.line;
      j.clear = j.value > (1 - rule.resolve_drop.value_or(rule.drop)) * *baseline;
      return j;
    }
    case K::kPacing: {
      const double target = rule.ThresholdFor(r.campaign_id());
      const int64_t elapsed = end - r.window_start_ms();
      j.baseline = target;
      j.line = (1 - rule.below_target) * target;
      j.judged = v.has_value() && elapsed >= rule.min_elapsed_ms && elapsed > 0;
      if (!j.judged) return j;
      // Straight-line projection of the rate so far to the deadline.
      const double remaining = static_cast<double>(std::max<int64_t>(0, rule.deadline_ms - end));
      j.value = j.value + j.value / static_cast<double>(elapsed) * remaining;
      j.breach = j.value <= j.line;
      j.clear = !j.breach;
      return j;
    }
    case K::kTarget: {
      const TargetJudgement t = JudgeTarget(rule, r);
      j.judged = t.judged;
      j.value = t.actual;
      j.line = t.line;
      j.breach = t.judged && t.breach;
      j.clear = !j.breach;
      return j;
    }
    case K::kNoData: {
      // A window with events: the scope is alive.
      j.line = static_cast<double>(rule.silence_ms) / 1000.0;
      if (!WindowHasEvents(r)) return j;
      History& h = history_[key];
      h.last_data_ms = std::max(h.last_data_ms, end);
      history_dirty_.insert(key);
      j.judged = true;
      j.value = 0;
      return j;
    }
  }
  return j;
}

void AlertEngine::CheckSilence(const AlertRule& rule, const v1::WindowResult& clock) {
  const int64_t now = clock.window_end_ms();
  for (auto it = history_.lower_bound(Key{rule.name, "", ""});
       it != history_.end() && std::get<0>(it->first) == rule.name;) {
    const Key key = it->first;
    const int64_t silent = now - it->second.last_data_ms;
    ++it;
    if (silent <= WindowMs(rule.window)) continue;  // judged by its own window
    v1::WindowResult w;
    w.set_campaign_id(std::get<1>(key));
    w.set_channel(std::get<2>(key));
    w.set_window_start_ms(now - WindowMs(rule.window));
    w.set_window_end_ms(now);
    Judgement j;
    j.judged = true;
    j.value = static_cast<double>(silent) / 1000.0;
    j.line = static_cast<double>(rule.silence_ms) / 1000.0;
    j.breach = silent >= rule.silence_ms;
    j.clear = !j.breach;
    if (silent >= rule.forget_after_ms) {
      // The campaign ended: resolve and forget it.
      j.breach = false;
      j.clear = true;
      auto active = active_.find(key);
      if (active != active_.end() && active->second.phase == Phase::kFiring) {
        active->second.clear_since_ms = now - rule.keep_firing_for_ms;
      }
      Advance(rule, w, key, j);
      history_.erase(key);
      history_dirty_.insert(key);
      continue;
    }
    Advance(rule, w, key, j);
  }
}

void AlertEngine::CheckTopicSilence(const std::map<std::string, int64_t>& silent_ms,
                                    int64_t wall_ms) {
  for (const AlertRule& rule : rules_) {
    if (rule.topic.empty()) continue;
    auto s = silent_ms.find(rule.topic);
    if (s == silent_ms.end()) continue;
    v1::WindowResult w;  // the scope: the whole topic
    w.set_campaign_id(std::string(kRollupKey));
    w.set_channel(std::string(kRollupKey));
    w.set_window_start_ms(wall_ms - s->second);
    w.set_window_end_ms(wall_ms);
    Judgement j;
    j.judged = true;
    j.value = static_cast<double>(s->second) / 1000.0;
    j.line = static_cast<double>(rule.silence_ms) / 1000.0;
    j.breach = s->second >= rule.silence_ms;
    j.clear = !j.breach;
    Advance(rule, w, Key{rule.name, "*", "*"}, j);
  }
}

void AlertEngine::Emit(const v1::WindowResult& r) {
  if (next_ != nullptr) next_->Emit(r);
  // Segment rows: judged by their segment's rules only (InScope).
  for (const AlertRule& rule : rules_) {
    if (!rule.topic.empty()) continue;  // judged in wall time, CheckTopicSilence
    const bool incomplete = !incomplete_reason_.empty() && r.window_end_ms() > incomplete_after_ms_;
    if (rule.kind == AlertRule::Kind::kNoData && r.window() == rule.window && !incomplete &&
        r.segment().empty()) {
      // Any window of its size (all users) moves event time: check the
      // silent scopes once per window end.
      int64_t& checked = silence_checked_[rule.name];
      if (r.window_end_ms() > checked) {
        checked = r.window_end_ms();
        CheckSilence(rule, r);
      }
    }
    if (!InScope(rule, r)) continue;
    const int64_t now = r.window_end_ms();
    const Key key{rule.name, r.campaign_id(), r.channel()};
    if (incomplete) {
      // Not judged: "GMV dropped" on half the data would page for nothing.
      if (incomplete_.insert(key).second && on_alert_) {
        int64_t volume = 0;
        AlertEvent a = MakeEvent(rule, r, MetricValue(r, rule.metric, &volume).value_or(0),
                                 kAlertDataIncomplete, now, rule.ThresholdFor(r.campaign_id()));
        a.annotations["data_incomplete_reason"] = incomplete_reason_;
        on_alert_(a);
      }
      continue;
    }
    incomplete_.erase(key);
    if (r.revision() > 0) {
      Rejudge(rule, r, key);
      continue;
    }
    const Judgement j = Judge(rule, r, key);
    if (rule.kind == AlertRule::Kind::kNoData && !j.judged) continue;
    Advance(rule, r, key, j);
  }
}

void AlertEngine::Rejudge(const AlertRule& rule, const v1::WindowResult& r, const Key& key) {
  auto it = active_.find(key);
  if (it == active_.end() || it->second.phase != Phase::kFiring ||
      it->second.fired_on_ms != r.window_end_ms()) {
    if (rule.kind == AlertRule::Kind::kRelativeDrop) {
      // Keep the corrected value as a future baseline.
      int64_t volume = 0;
      auto v = MetricValue(r, rule.metric, &volume);
      auto h = history_.find(key);
      if (v && volume >= rule.min_volume && h != history_.end() &&
          h->second.values.count(r.window_end_ms())) {
        h->second.values[r.window_end_ms()] = *v;
        history_dirty_.insert(key);
      }
    }
    return;
  }
  Instance& inst = it->second;
  // Judge the corrected window without recording it again as history.
  History saved;
  auto h = history_.find(key);
  if (h != history_.end()) {
    saved = h->second;
    h->second.values.erase(r.window_end_ms());
  }
  const Judgement j = Judge(rule, r, key);
  if (h != history_.end()) {
    auto& values = history_[key].values;
    values = saved.values;
    if (j.judged) values[r.window_end_ms()] = j.value;
  }
  dirty_.insert(key);
  const double uncorrected = inst.last.value;
  inst.last = MakeEvent(rule, r, j.judged ? j.value : inst.last.value, kAlertFiring, inst.since_ms,
                        j.judged ? j.line : inst.last.threshold,
                        j.judged ? j.baseline : inst.last.baseline);
  inst.last.annotations["uncorrected_value"] = FormatNumber(uncorrected);
  inst.last.annotations["corrected_revision"] = std::to_string(r.revision());
  if (j.breach) {
    inst.last.correction = true;
    Send(inst, kAlertFiring);
    inst.last.correction = false;
    return;
  }
  // Fired on a value that late data corrected away.
  inst.last.annotations["resolved_by"] = "late data corrected the window it fired on";
  Send(inst, kAlertResolved);
  active_.erase(it);
}

void AlertEngine::Advance(const AlertRule& rule, const v1::WindowResult& r, const Key& key,
                          const Judgement& j) {
  const int64_t now = r.window_end_ms();
  auto it = active_.find(key);
  if (it == active_.end()) {
    if (!j.breach) return;
    Instance inst;
    inst.since_ms = now;
    inst.last = MakeEvent(rule, r, j.value, kAlertPending, now, j.line, j.baseline);
    it = active_.emplace(key, std::move(inst)).first;
    dirty_.insert(key);
    if (rule.for_ms > 0) {
      Send(it->second, kAlertPending);
      return;
    }
    it->second.phase = Phase::kFiring;
    it->second.fired_on_ms = now;
    Send(it->second, kAlertFiring);
    return;
  }
  Instance& inst = it->second;
  dirty_.insert(key);
  // Too little data to judge counts as clear: a campaign that stopped
  // resolves its alerts instead of firing forever. The event keeps the last
  // judged value then.
  inst.last = MakeEvent(rule, r, j.judged ? j.value : inst.last.value,
                        inst.phase == Phase::kFiring ? kAlertFiring : kAlertPending, inst.since_ms,
                        j.judged ? j.line : inst.last.threshold,
                        j.judged ? j.baseline : inst.last.baseline);
  if (inst.phase == Phase::kPending) {
    if (!j.breach) {
      active_.erase(it);  // never fired: nothing to resolve
    } else if (now - inst.since_ms >= rule.for_ms) {
      inst.phase = Phase::kFiring;
      inst.fired_on_ms = now;
      Send(inst, kAlertFiring);
    }
    return;
  }
  // Firing.
  if (!j.clear) {
    inst.clear_since_ms = 0;
    return;
  }
  if (inst.clear_since_ms == 0) inst.clear_since_ms = now;
  if (now - inst.clear_since_ms >= rule.keep_firing_for_ms) {
    Send(inst, kAlertResolved);
    active_.erase(it);
  }
}

std::map<std::string, int> AlertEngine::FiringByRule() const {
  std::map<std::string, int> out;
  for (const auto& r : rules_) out[r.name] = 0;
  for (const auto& [key, inst] : active_) {
    if (inst.phase == Phase::kFiring) ++out[std::get<0>(key)];
  }
  return out;
}

int AlertEngine::FiringOf(const std::string& rule) const {
  int n = 0;
  for (auto it = active_.lower_bound(Key{rule, "", ""});
       it != active_.end() && std::get<0>(it->first) == rule; ++it) {
    if (it->second.phase == Phase::kFiring) ++n;
  }
  return n;
}

std::vector<AlertEngine::FiringCount> AlertEngine::FiringCounts() const {
  std::vector<FiringCount> out;
  const auto by_rule = FiringByRule();
  for (const auto& r : rules_) out.push_back({r.name, r.severity, by_rule.at(r.name)});
  return out;
}

void AlertEngine::ReplaceRules(std::vector<AlertRule> rules, int64_t event_time_ms) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < rules.size(); ++i) index[rules[i].name] = i;
  for (auto it = active_.begin(); it != active_.end();) {
    const auto& [rule, campaign, channel] = it->first;
    auto kept = index.find(rule);
    if (kept != index.end()) {
      // Same instance, the new rule's labels, severity and annotations.
      Instance& inst = it->second;
      v1::WindowResult w;
      w.set_campaign_id(campaign);
      w.set_channel(channel);
      w.set_window_end_ms(inst.last.window_end_ms);
      inst.last = MakeEvent(rules[kept->second], w, inst.last.value, inst.last.state.c_str(),
                            inst.last.active_since_ms, rules[kept->second].ThresholdFor(campaign),
                            inst.last.baseline);
      dirty_.insert(it->first);
      ++it;
      continue;
    }
    if (it->second.phase == Phase::kFiring) {
      it->second.last.window_end_ms = std::max(it->second.last.window_end_ms, event_time_ms);
      it->second.last.annotations["resolved_by"] = "rule removed";
      Send(it->second, kAlertResolved);
    }
    dirty_.insert(it->first);
    it = active_.erase(it);
  }
  for (auto it = history_.begin(); it != history_.end();) {
    if (index.count(std::get<0>(it->first)) != 0) {
      ++it;
    } else {
      history_dirty_.insert(it->first);
      it = history_.erase(it);
    }
  }
  for (auto it = incomplete_.begin(); it != incomplete_.end();) {
    it = index.count(std::get<0>(*it)) ? std::next(it) : incomplete_.erase(it);
  }
  rules_ = std::move(rules);
  rule_index_ = std::move(index);
}

std::vector<AlertEvent> AlertEngine::Firing() const {
  std::vector<AlertEvent> out;
  for (const auto& [key, inst] : active_) {
    if (inst.phase == Phase::kFiring) out.push_back(inst.last);
  }
  return out;
}

std::vector<AlertEvent> AlertEngine::Active() const {
  std::vector<AlertEvent> out;
  for (const auto& [key, inst] : active_) {
    out.push_back(inst.last);
    out.back().state = inst.phase == Phase::kFiring ? kAlertFiring : kAlertPending;
  }
  return out;
}

}  // namespace promowatch
