// The metrics alert rules judge, read from a final window (README "Alerts").

#include <limits>

#include "operators/aggregate.h"
#include "operators/alert_engine.h"
#include "operators/counter_reflection.h"

namespace promowatch {
namespace {

double Cents(int64_t c) { return static_cast<double>(c) / 100.0; }
double Count(int64_t c) { return static_cast<double>(c); }

// The metrics that are not counters: ratios and unique visitors.
struct DerivedMetric {
  const char* name;
  // Fills the denominator (INT64_MAX: none) and returns the value if defined.
  std::optional<double> (*get)(const v1::WindowResult& r, int64_t* volume);
};

const DerivedMetric kDerivedMetrics[] = {
    {"ctr",
     [](const v1::WindowResult& r, int64_t* v) -> std::optional<double> {
       *v = r.impressions();
       return r.has_ctr() ? std::optional<double>(r.ctr()) : std::nullopt;
     }},
    {"cvr",
     [](const v1::WindowResult& r, int64_t* v) -> std::optional<double> {
       *v = r.clicks();
       return r.has_cvr() ? std::optional<double>(r.cvr()) : std::nullopt;
     }},
    {"roi",
     [](const v1::WindowResult& r, int64_t* v) -> std::optional<double> {
       *v = r.spend_cents();
       return r.has_roi() ? std::optional<double>(r.roi()) : std::nullopt;
     }},
    {"aov",
     [](const v1::WindowResult& r, int64_t* v) -> std::optional<double> {
       *v = r.paid_orders();
       if (r.paid_orders() == 0) return std::nullopt;
       return Cents(r.gmv_cents()) / Count(r.paid_orders());
     }},
    {"uv",
     [](const v1::WindowResult& r, int64_t* v) -> std::optional<double> {
       *v = INT64_MAX;
       return Count(r.uv());
     }},
    // With user profiles on (absent otherwise).
    {"new_customer_share",
     [](const v1::WindowResult& r, int64_t* v) -> std::optional<double> {
       *v = r.paid_orders();
       return r.has_new_customer_share() ? std::optional<double>(r.new_customer_share())
                                         : std::nullopt;
     }},
};

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
  for (const DerivedMetric& m : kDerivedMetrics) {
    if (metric == m.name) return m.get(r, volume);
  }
  const auto& fields = CounterDescriptors<v1::WindowResult>();
  const auto* reflection = r.GetReflection();
  for (size_t i = 0; i < fields.size(); ++i) {
    const CounterField& f = kCounterFields[i];
    if (metric != f.metric) continue;
    *volume = INT64_MAX;
    if (f.profiles_only && !reflection->HasField(r, fields[i])) return std::nullopt;
    const int64_t v = reflection->GetInt64(r, fields[i]);
    return f.cents ? Cents(v) : Count(v);
  }
  *volume = 0;
  return std::nullopt;
}

const std::vector<std::string>& AlertMetricNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const DerivedMetric& m : kDerivedMetrics) n.emplace_back(m.name);
    for (const CounterField& f : kCounterFields) n.emplace_back(f.metric);
    return n;
  }();
  return names;
}

}  // namespace promowatch
