#include "pipeline/decode/framing.h"

#include <fmt/format.h>

namespace promowatch {

ValueType DefaultValueType(std::string_view topic) {
  if (topic == "clickstream") return ValueType::kClick;
  if (topic == "orders") return ValueType::kOrder;
  if (topic == "spend") return ValueType::kSpend;
  return ValueType::kEvent;
}

std::string_view MessageName(ValueType type) {
  switch (type) {
    case ValueType::kClick:
      return "ClickEvent";
    case ValueType::kOrder:
      return "OrderEvent";
    case ValueType::kSpend:
      return "SpendEvent";
    case ValueType::kEvent:
      break;
  }
  return "Event";
}

namespace {

// One protobuf varint; false when it runs past the end or over 10 bytes.
bool ReadVarint(std::string_view* in, uint64_t* out) {
  uint64_t v = 0;
  for (int i = 0; i < 10 && !in->empty(); ++i) {
    const auto b = static_cast<unsigned char>(in->front());
    in->remove_prefix(1);
    v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      *out = v;
      return true;
    }
  }
  return false;
}

int64_t ZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

// A message nested deeper than this in its schema file is not a real one.
constexpr int64_t kMaxMessageIndexes = 64;

}  // namespace

Unframed Unframe(std::string_view value, ValueFraming framing) {
  Unframed u;
  const bool framed = !value.empty() && value.front() == '\0';
  if (framing == ValueFraming::kPlain || (framing == ValueFraming::kAuto && !framed)) {
    u.payload = value;
    return u;
  }
  if (!framed) {
    u.error = fmt::format(
        "kafka.value_framing is confluent but the value does not start with the magic byte 0x00 "
        "({} bytes): produce with a Schema Registry serializer, or set value_framing: auto",
        value.size());
    return u;
  }
  if (value.size() < 5) {
    u.error = fmt::format(
        "Confluent frame of {} bytes: the header alone is 5 (magic byte 0x00, 4-byte schema id)",
        value.size());
    return u;
  }
  const auto b = [&](size_t i) {
    return static_cast<uint32_t>(static_cast<unsigned char>(value[i]));
  };
  u.schema_id = (b(1) << 24) | (b(2) << 16) | (b(3) << 8) | b(4);
  std::string_view rest = value.substr(5);
  if (rest.empty()) {
    u.error = fmt::format("Confluent frame (schema id {}) has nothing after its 5-byte header",
                          *u.schema_id);
    return u;
  }
  // JSON Schema serializers put the document right after the header; the
  // protobuf serializer first writes the message indexes. A count is a
  // zigzag varint, so '{' (0x7b, odd: negative) is never one.
  if (SniffRecord(rest) == WireFormat::kJson) {
    u.payload = rest;
    return u;
  }
  uint64_t raw = 0;
  if (!ReadVarint(&rest, &raw)) {
    u.error = fmt::format("Confluent frame (schema id {}): the message-index count is cut short",
                          *u.schema_id);
    return u;
  }
  const int64_t count = ZigZag(raw);
  if (count < 0 || count > kMaxMessageIndexes) {
    u.error =
        fmt::format("Confluent frame (schema id {}): message-index count {} is not valid (0..{})",
                    *u.schema_id, count, kMaxMessageIndexes);
    return u;
  }
  for (int64_t i = 0; i < count; ++i) {
    if (!ReadVarint(&rest, &raw)) {
      u.error = fmt::format(
          "Confluent frame (schema id {}): {} message indexes announced, the value ends after {}",
          *u.schema_id, count, i);
      return u;
    }
  }
  u.payload = rest;
  return u;
}

}  // namespace promowatch
