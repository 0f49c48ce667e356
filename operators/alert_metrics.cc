// The metrics alert rules judge, read from a final window (README "Alerts").

#include <limits>

#include "operators/aggregate.h"
#include "operators/alert_engine.h"
#include "operators/counter_reflection.h"

namespace promowatch {
namespace {

double Count(int64_t c) { return static_cast<double>(c); }

// A ratio of kRatioFields read from a result: the value results carry (null
// there: none), or computed from its counters when results do not carry it.
std::optional<double> RatioValue(const v1::WindowResult& r, size_t i, int64_t* volume) {
  const RatioField& f = kRatioFields[i];
  const auto& counters = CounterDescriptors<v1::WindowResult>();
  const auto* reflection = r.GetReflection();
  *volume = reflection->GetInt64(r, counters[CounterIndex(f.denominator)]);
  if (f.in_results) {
    const auto* field = RatioDescriptors<v1::WindowResult>()[i];
    if (!reflection->HasField(r, field)) return std::nullopt;
    return reflection->GetDouble(r, field);
  }
  return RatioOf(f, reflection->GetInt64(r, counters[CounterIndex(f.numerator)]), *volume);
}

}  // namespace

// Any event at all in a window (no_data).
bool WindowHasEvents(const v1::WindowResult& r) {
  const auto& fields = CounterDescriptors<v1::WindowResult>();
  const auto* reflection = r.GetReflection();
  for (size_t i = 0; i < fields.size(); ++i) {
    if (kCounterFields[i].counts_events && reflection->GetInt64(r, fields[i]) != 0) return true;
  }
  return false;
}

std::optional<double> MetricValue(const v1::WindowResult& r, const std::string& metric,
                                  int64_t* volume) {
  if (metric == "uv") {
    *volume = INT64_MAX;
    return Count(r.uv());
  }
  // Distinct paying users, and the first-time buyers' share of them
  // (profiles on): like uv, not counters of the aggregate.
  if (metric == "buyers") {
    *volume = INT64_MAX;
    if (!r.has_buyers()) return std::nullopt;
    return Count(r.buyers());
  }
  if (metric == "new_buyer_share") {
    *volume = r.buyers();
    if (!r.has_new_buyer_share()) return std::nullopt;
    return r.new_buyer_share();
  }
  for (size_t i = 0; i < std::size(kRatioFields); ++i) {
    if (metric == kRatioFields[i].name) return RatioValue(r, i, volume);
  }
  const auto& fields = CounterDescriptors<v1::WindowResult>();
  const auto* reflection = r.GetReflection();
  for (size_t i = 0; i < fields.size(); ++i) {
    const CounterField& f = kCounterFields[i];
    if (metric != f.metric) continue;
    *volume = INT64_MAX;
    if (f.profiles_only && !reflection->HasField(r, fields[i])) return std::nullopt;
    const int64_t v = reflection->GetInt64(r, fields[i]);
    return f.cents ? Yuan(v) : Count(v);
  }
  *volume = 0;
  return std::nullopt;
}

const std::vector<std::string>& AlertMetricNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const RatioField& f : kRatioFields) n.emplace_back(f.name);
    n.emplace_back("uv");
    n.emplace_back("buyers");
    n.emplace_back("new_buyer_share");
    for (const CounterField& f : kCounterFields) n.emplace_back(f.metric);
    return n;
  }();
  return names;
}

}  // namespace promowatch
