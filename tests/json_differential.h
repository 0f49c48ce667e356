#pragma once
// The JSON fast path against protobuf's own parser, for the differential
// unit test and the fuzzer (tests/fuzz/json_differential_fuzz.cc): the
// typed-topic shape rule is written here independently of the code under
// test (nlohmann for the keys, the message's descriptor for its fields).

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <nlohmann/json.hpp>
#include <string>

#include "pipeline/decode/json_fast_path.h"

namespace promowatch {

struct JsonOutcome {
  bool fast = false;
  bool proto_ok = false;
  bool same = false;
};

// The shape rule of a typed topic, written independently of the code under
// test: nlohmann for the keys, the message's descriptor for its fields.
inline google::protobuf::Message* ProtobufTarget(const std::string& line, ValueType type,
                                                 v1::Event* event) {
  event->Clear();
  const google::protobuf::Descriptor* d = type == ValueType::kClick   ? v1::ClickEvent::descriptor()
                                          : type == ValueType::kOrder ? v1::OrderEvent::descriptor()
                                          : type == ValueType::kSpend ? v1::SpendEvent::descriptor()
                                                                      : nullptr;
  if (d == nullptr) return event;
  bool envelope = false, own = false;
  const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      envelope |= k == "click" || k == "order" || k == "spend";
      for (int f = 0; f < d->field_count(); ++f) {
        own |= d->field(f)->name() == k || d->field(f)->json_name() == k;
      }
    }
  }
  if (envelope && !own) return event;
  switch (type) {
    case ValueType::kClick:
      return event->mutable_click();
    case ValueType::kOrder:
      return event->mutable_order();
    case ValueType::kSpend:
      return event->mutable_spend();
    case ValueType::kEvent:
      break;
  }
  return event;
}

inline JsonOutcome CompareWithProtobuf(const std::string& line,
                                       ValueType type = ValueType::kEvent) {
  JsonOutcome o;
  thread_local JsonFastPath fast;
  v1::Event a, b;
  o.fast = fast.Decode(line, type, &a);
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  o.proto_ok =
      google::protobuf::util::JsonStringToMessage(line, ProtobufTarget(line, type, &b), options)
          .ok();
  o.same = google::protobuf::util::MessageDifferencer::Equals(a, b);
  return o;
}

}  // namespace promowatch
