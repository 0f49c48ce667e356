#pragma once
// A generated sale produced to Kafka, as producers following the contract
// send it (`gen --brokers`, `demo`).

#include <cstdint>
#include <functional>

#include "pipeline/config/config.h"
#include "pipeline/decode/framing.h"
#include "pipeline/generator/generator.h"
#include "pipeline/io/kafka.h"

namespace promowatch {

// Produces a generated sale to Kafka as producers following the contract
// do: each payload bare (or, with `envelope`, as an Event) to the input topic
// of its type, keyed by user id; garbage to the click topic. `pace` is
// called before each record and may sleep; returns false to stop.
int64_t ProduceSale(SaleGenerator& gen, KafkaSink& sink, const KafkaOptions& topics,
                    WireFormat format, bool envelope, const std::function<bool(int64_t n)>& pace);

}  // namespace promowatch
