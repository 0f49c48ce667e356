// The alert judge's state at rest: pending and firing instances and the
// history relative_drop and no_data rules judge against (alert_engine.h),
// checkpointed with the operators and restored after a restart.

#include "operators/alert_engine.h"
#include "promowatch/v1/state.pb.h"

namespace promowatch {
namespace {

std::string StateKey(const std::string& rule, const std::string& campaign,
                     const std::string& channel) {
  std::string k = rule;
  k.push_back('\0');
  k += campaign;
  k.push_back('\0');
  k += channel;
  return k;
}

}  // namespace

absl::Status AlertEngine::Restore(const StateReader& in) {
  absl::Status st =
      in.Scan(kStateTable, [&](std::string_view, std::string_view value) -> absl::Status {
        v1::AlertInstanceState s;
        if (!s.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          return absl::DataLossError("alerts: undecodable alert state");
        }
        auto rule = rule_index_.find(s.rule());
        if (rule == rule_index_.end()) return absl::OkStatus();  // the rule was removed
        const AlertRule& r = rules_[rule->second];
        Instance inst;
        inst.phase =
            s.phase() == v1::AlertInstanceState::PHASE_FIRING ? Phase::kFiring : Phase::kPending;
        inst.since_ms = s.since_ms();
        inst.clear_since_ms = s.cleared_at_ms();
        inst.fired_on_ms = s.fired_on_ms();
        v1::WindowResult w;
        w.set_campaign_id(s.campaign_id());
        w.set_channel(s.channel());
        w.set_window_end_ms(s.last_eval_ms());
        inst.last =
            MakeEvent(r, w, s.value(), inst.phase == Phase::kFiring ? kAlertFiring : kAlertPending,
                      s.since_ms(), r.ThresholdFor(s.campaign_id()));
        active_.emplace(Key{s.rule(), s.campaign_id(), s.channel()}, std::move(inst));
        return absl::OkStatus();
      });
  if (!st.ok()) return st;
  return in.Scan(kHistoryTable, [&](std::string_view, std::string_view value) -> absl::Status {
    v1::AlertHistoryState s;
    if (!s.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      return absl::DataLossError("alert_history: undecodable history");
    }
    if (rule_index_.count(s.rule()) == 0) return absl::OkStatus();
    History& h = history_[Key{s.rule(), s.campaign_id(), s.channel()}];
    for (int i = 0; i < s.window_end_ms_size() && i < s.value_size(); ++i) {
      h.values[s.window_end_ms(i)] = s.value(i);
    }
    h.last_data_ms = s.last_data_ms();
    return absl::OkStatus();
  });
}

void AlertEngine::Snapshot(StateWriter& out) {
  for (const Key& key : dirty_) {
    const auto& [rule, campaign, channel] = key;
    const std::string k = StateKey(rule, campaign, channel);
    auto it = active_.find(key);
    if (it == active_.end()) {
      out.Delete(kStateTable, k);
      continue;
    }
    v1::AlertInstanceState s;
    s.set_rule(rule);
    s.set_campaign_id(campaign);
    s.set_channel(channel);
    s.set_phase(it->second.phase == Phase::kFiring ? v1::AlertInstanceState::PHASE_FIRING
                                                   : v1::AlertInstanceState::PHASE_PENDING);
    s.set_since_ms(it->second.since_ms);
    s.set_cleared_at_ms(it->second.clear_since_ms);
    s.set_value(it->second.last.value);
    s.set_last_eval_ms(it->second.last.window_end_ms);
    s.set_fired_on_ms(it->second.fired_on_ms);
    out.Put(kStateTable, k, s.SerializeAsString());
  }
  dirty_.clear();
  for (const Key& key : history_dirty_) {
    const auto& [rule, campaign, channel] = key;
    const std::string k = StateKey(rule, campaign, channel);
    auto it = history_.find(key);
    if (it == history_.end()) {
      out.Delete(kHistoryTable, k);
      continue;
    }
    v1::AlertHistoryState s;
    s.set_rule(rule);
    s.set_campaign_id(campaign);
    s.set_channel(channel);
    for (const auto& [end, value] : it->second.values) {
      s.add_window_end_ms(end);
      s.add_value(value);
    }
    s.set_last_data_ms(it->second.last_data_ms);
    out.Put(kHistoryTable, k, s.SerializeAsString());
  }
  history_dirty_.clear();
}

}  // namespace promowatch
