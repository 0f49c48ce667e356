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

// The counters into / out of such a message (every field of kCounterFields).
template <typename Message>
void CountersToMessage(const Counters& c, Message* m) {
  const auto& fields = CounterDescriptors<Message>();
  const auto* reflection = m->GetReflection();
  for (size_t i = 0; i < fields.size(); ++i) {
    reflection->SetInt64(m, fields[i], c.*kCounterFields[i].member);
  }
}
template <typename Message>
Counters CountersFromMessage(const Message& m) {
  Counters c;
  const auto& fields = CounterDescriptors<Message>();
  const auto* reflection = m.GetReflection();
  for (size_t i = 0; i < fields.size(); ++i) {
    c.*kCounterFields[i].member = reflection->GetInt64(m, fields[i]);
  }
  return c;
}

}  // namespace promowatch
