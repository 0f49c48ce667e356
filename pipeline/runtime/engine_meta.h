#pragma once
// The engine's counters in its checkpoint record (v1::OperatorMeta): the
// one spelling of their keys, for the instance's record and each task's.

#include "pipeline/runtime/engine.h"
#include "promowatch/v1/state.pb.h"

namespace promowatch {

void StoreCounters(const EngineCounters& counters, v1::OperatorMeta* meta);
EngineCounters LoadCounters(const v1::OperatorMeta& meta);

}  // namespace promowatch
