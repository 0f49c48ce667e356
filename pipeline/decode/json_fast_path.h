#pragma once
// A fast path for JSON events: simdjson's on-demand parser fills a
// promowatch.v1.Event for the shape producers actually send (one payload
// object, string / integer / enum fields, either field-name spelling, int64
// as number or string, unknown fields skipped). Whenever a record is anything
// else - null values, duplicate fields, two payloads, floats, unknown enum
// names, broken JSON - Decode returns false and the caller uses protobuf's
// own JSON parser, so what is accepted, and every error message, is exactly
// protobuf's. A differential test (tests/unit/json_fast_path_test.cc) holds
// the two to the same result.
//
// One per thread; reuses its parser and buffer.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/decode/framing.h"
#include "promowatch/v1/events.pb.h"

namespace promowatch {

class JsonFastPath {
 public:
  JsonFastPath();
  ~JsonFastPath();
  // True when `json`, a value of a topic carrying `type`, was decoded into
  // `event` (which must be empty): an Event envelope, or on a typed topic
  // the bare message (put in the envelope's payload of that type).
  bool Decode(std::string_view json, ValueType type, v1::Event* event);
  // The keys of a JSON object's top level, in order; nullopt if `json` is
  // not an object. For the slow path's shape rule and for messages.
  std::optional<std::vector<std::string>> TopLevelKeys(std::string_view json);

 private:
  // simdjson stays out of this header: its classes change shape with its
  // compile definitions, which only this module's target carries.
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The JSON shape rule on a typed topic: an object is an Event envelope when
// it has a key click, order or spend and no field of the topic's own
// message; otherwise it is the bare message (its unknown keys ignored).
bool IsEnvelopeKey(std::string_view key);
bool IsFieldName(std::string_view key, ValueType type);

}  // namespace promowatch
