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

#include <string>

#include <memory>
#include <string_view>

#include "promowatch/v1/events.pb.h"

namespace promowatch {

class JsonFastPath {
 public:
  JsonFastPath();
  ~JsonFastPath();
  // True when `json` was decoded into `event` (which must be empty).
  bool Decode(std::string_view json, v1::Event* event);

 private:
  // simdjson stays out of this header: its classes change shape with its
  // compile definitions, which only this module's target carries.
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace promowatch
