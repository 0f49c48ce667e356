// libFuzzer: the simdjson fast path against protobuf's JSON parser, on
// every value type. Whenever the fast path decodes, protobuf must accept
// the same bytes and produce the same message.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "json_differential.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // The first byte picks the topic's value type; the rest is the value.
  const auto type = static_cast<promowatch::ValueType>(data[0] % 4);
  const std::string line(reinterpret_cast<const char*>(data) + 1, size - 1);
  const promowatch::JsonOutcome o = promowatch::CompareWithProtobuf(line, type);
  if (o.fast && (!o.proto_ok || !o.same)) {
    std::fprintf(stderr, "fast path %s protobuf on type %d: %s\n",
                 o.proto_ok ? "decoded differently from" : "accepted what is rejected by",
                 data[0] % 4, line.c_str());
    std::abort();
  }
  return 0;
}
