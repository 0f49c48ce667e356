#pragma once
// kCounterFields (aggregate.h) as fields of a protobuf message that names
// them the same way (AggregateState, WindowResult), looked up once: the
// encoders loop over these instead of listing the counters again.

#include <google/protobuf/descriptor.h>

#include <array>
#include <string>

#include "operators/aggregate.h"

namespace promowatch {

template <typename Message>
const std::array<const google::protobuf::FieldDescriptor*, std::size(kCounterFields)>&
CounterDescriptors() {
  static const auto fields = [] {
    std::array<const google::protobuf::FieldDescriptor*, std::size(kCounterFields)> a{};
    for (size_t i = 0; i < a.size(); ++i) {
      a[i] = Message::descriptor()->FindFieldByName(std::string(kCounterFields[i].name));
    }
    return a;
  }();
  return fields;
}

}  // namespace promowatch
