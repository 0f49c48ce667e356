#pragma once
// The prometheus-cpp types probe headers name, declared only: business code
// that includes a probe does not pull in the metrics library.

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus
