#pragma once
// Wall time, read in one place. What needs it takes a Clock, so that tests
// drive it; the default is the system clock. Event time never comes from
// here: it is in the records.

#include <cstdint>
#include <functional>

namespace promowatch {

// Unix milliseconds, now.
using Clock = std::function<int64_t()>;

int64_t SystemNowMs();
inline Clock SystemClock() { return &SystemNowMs; }

}  // namespace promowatch
