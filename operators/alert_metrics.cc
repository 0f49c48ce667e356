// The metrics alert rules judge, read from a final window (README "Alerts").

#include <limits>

#include "operators/aggregate.h"
#include "operators/alert_engine.h"

namespace promowatch {
namespace {

double Cents(int64_t c) { return static_cast<double>(c) / 100.0; }
double Count(int64_t c) { return static_cast<double>(c); }

struct MetricDef {
  const char* name;
  // Fills the denominator (INT64_MAX: none) and returns the value if defined.
  std::optional<double> (*get)(const v1::WindowResult& r, int64_t* volume);
};

const MetricDef kMetrics[] = {
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
    {"gmv",
     [](const v1::WindowResult& r, int64_t* v) -> std::optional<double> {
       *v = INT64_MAX;
       return Cents(r.gmv_cents());
     }},
    {"refunds",
     [](const v1::WindowResult& r, int64_t* v) -> std::optional<double> {
       *v = INT64_MAX;
       return Cents(r.refund_cents());
     }},
    {"spend",
     [](const v1::WindowResult& r, int64_t* v) -> std::optional<double> {
       *v = INT64_MAX;
       return Cents(r.spend_cents());
     }},
    {"paid_orders",
     [](const v1::WindowResult& r, int64_t* v) -> std::optional<double> {
       *v = INT64_MAX;
       return Count(r.paid_orders());
     }},
    {"orders",
     [](const v1::WindowResult& r, int64_t* v) -> std::optional<double> {
       *v = INT64_MAX;
       return Count(r.orders());
     }},
    {"cancelled_orders",
     [](const v1::WindowResult& r, int64_t* v) -> std::optional<double> {
       *v = INT64_MAX;
       return Count(r.cancelled_orders());
     }},
    {"refunded_orders",
     [](const v1::WindowResult& r, int64_t* v) -> std::optional<double> {
       *v = INT64_MAX;
       return Count(r.refunded_orders());
     }},
    {"impressions",
     [](const v1::WindowResult& r, int64_t* v) -> std::optional<double> {
       *v = INT64_MAX;
       return Count(r.impressions());
     }},
    {"clicks",
     [](const v1::WindowResult& r, int64_t* v) -> std::optional<double> {
       *v = INT64_MAX;
       return Count(r.clicks());
     }},
    {"add_to_carts",
     [](const v1::WindowResult& r, int64_t* v) -> std::optional<double> {
       *v = INT64_MAX;
       return Count(r.add_to_carts());
     }},
    {"page_views",
     [](const v1::WindowResult& r, int64_t* v) -> std::optional<double> {
       *v = INT64_MAX;
       return Count(r.page_views());
     }},
    {"uv",
     [](const v1::WindowResult& r, int64_t* v) -> std::optional<double> {
       *v = INT64_MAX;
       return Count(r.uv());
     }},
    // With user profiles on (absent otherwise).
    {"new_customer_orders",
     [](const v1::WindowResult& r, int64_t* v) -> std::optional<double> {
       *v = INT64_MAX;
       return r.has_new_customer_orders() ? std::optional<double>(Count(r.new_customer_orders()))
                                          : std::nullopt;
     }},
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
  static const auto fields = [] {
    std::vector<const google::protobuf::FieldDescriptor*> v;
    for (const CounterField& f : kCounterFields) {
      if (f.counts_events) {
        v.push_back(v1::WindowResult::descriptor()->FindFieldByName(std::string(f.name)));
      }
    }
    return v;
  }();
  const auto* reflection = r.GetReflection();
  for (const auto* field : fields) {
    if (reflection->GetInt64(r, field) != 0) return true;
  }
  return false;
}

std::optional<double> MetricValue(const v1::WindowResult& r, const std::string& metric,
                                  int64_t* volume) {
  for (const MetricDef& m : kMetrics) {
    if (metric == m.name) return m.get(r, volume);
  }
  *volume = 0;
  return std::nullopt;
}

const std::vector<std::string>& AlertMetricNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const MetricDef& m : kMetrics) n.emplace_back(m.name);
    return n;
  }();
  return names;
}

}  // namespace promowatch
