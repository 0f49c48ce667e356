#pragma once
// kCounterFields and kRatioFields (aggregate.h) as fields of a protobuf
// message that names them the same way (AggregateState, WindowResult),
// looked up once: the encoders loop over these instead of listing the
// metrics again.

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

// The ratios' fields (nullptr: not in the message, as an alert-only ratio).
template <typename Message>
const std::array<const google::protobuf::FieldDescriptor*, std::size(kRatioFields)>&
RatioDescriptors() {
  static const auto fields = [] {
    std::array<const google::protobuf::FieldDescriptor*, std::size(kRatioFields)> a{};
    for (size_t i = 0; i < a.size(); ++i) {
      if (!kRatioFields[i].in_results) continue;
      a[i] = Message::descriptor()->FindFieldByName(std::string(kRatioFields[i].name));
    }
    return a;
  }();
  return fields;
}

// Whether a message carries user profiles' counters (profiles on).
template <typename Message>
bool HasProfileCounters(const Message& m) {
  const auto& fields = CounterDescriptors<Message>();
  for (size_t i = 0; i < fields.size(); ++i) {
    if (kCounterFields[i].profiles_only) return m.GetReflection()->HasField(m, fields[i]);
  }
  return false;
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
