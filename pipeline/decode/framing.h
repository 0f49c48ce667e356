#pragma once
// What a topic carries, and how its values are framed: the input contract
// with producers (README "Event contract").
//
// A value is, after its framing, binary protobuf or JSON (a value starting
// with '{', optionally after a UTF-8 byte-order mark). On a typed topic
// (click, order, spend) it is that message bare - a ClickEvent on
// `clickstream` - or, in JSON, an Event envelope ({"click": {...}}) told
// apart per record; on an envelope topic (event) it is an Event.
//
// Confluent Schema Registry framing (the serializers most Kafka shops use):
// magic byte 0x00, a 4-byte big-endian schema id, then for protobuf the
// message-index array (zigzag varints: a count, then that many indexes; a
// single 0 byte means [0]) and the message; for JSON the document. Binary
// protobuf cannot start with 0x00 (field number 0 does not exist) nor JSON,
// so `auto` tells framed values from plain ones by their first byte. No
// registry is consulted: the topic's type says which message it is.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "operators/names.h"

namespace promowatch {

enum class WireFormat : uint8_t { kBinary, kJson };
inline constexpr Named<WireFormat> kWireFormatNames[] = {{"json", WireFormat::kJson},
                                                         {"binary", WireFormat::kBinary}};

// The message a topic's values carry.
enum class ValueType : uint8_t { kEvent, kClick, kOrder, kSpend };
inline constexpr Named<ValueType> kValueTypeNames[] = {{"event", ValueType::kEvent},
                                                       {"click", ValueType::kClick},
                                                       {"order", ValueType::kOrder},
                                                       {"spend", ValueType::kSpend}};

enum class ValueFraming : uint8_t { kAuto, kPlain, kConfluent };
inline constexpr Named<ValueFraming> kValueFramingNames[] = {
    {"auto", ValueFraming::kAuto},
    {"plain", ValueFraming::kPlain},
    {"confluent", ValueFraming::kConfluent}};

// How to read the values of one input (a topic, or a replay file).
struct InputFormat {
  ValueType type = ValueType::kEvent;
  ValueFraming framing = ValueFraming::kAuto;
  // Unset: per record ('{' = JSON). Replay sets it per file.
  std::optional<WireFormat> wire;
  // What the source is, in messages: "topic clickstream", "input a.jsonl".
  std::string_view noun = "topic";
};

// clickstream -> click, orders -> order, spend -> spend, other names -> event.
ValueType DefaultValueType(std::string_view topic);
inline std::optional<ValueType> ParseValueType(std::string_view name) {
  return FromName(kValueTypeNames, name);
}
inline std::string_view ValueTypeName(ValueType type) { return NameOf(kValueTypeNames, type); }
// "ClickEvent", ..., "Event".
std::string_view MessageName(ValueType type);
inline std::optional<ValueFraming> ParseValueFraming(std::string_view name) {
  return FromName(kValueFramingNames, name);
}
inline std::string_view ValueFramingName(ValueFraming framing) {
  return NameOf(kValueFramingNames, framing);
}

// The UTF-8 byte-order mark some tools write before JSON text.
inline constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// A value starting with '{' (after an optional byte-order mark) is JSON,
// anything else binary protobuf.
inline WireFormat SniffRecord(std::string_view bytes) {
  if (bytes.substr(0, kUtf8Bom.size()) == kUtf8Bom) bytes.remove_prefix(kUtf8Bom.size());
  return !bytes.empty() && bytes.front() == '{' ? WireFormat::kJson : WireFormat::kBinary;
}

// The payload inside a value's framing.
struct Unframed {
  std::string_view payload;
  // Set when the value was Confluent-framed.
  std::optional<uint32_t> schema_id;
  // Empty when the framing was read; else what is wrong with it.
  std::string error;
};

// Strips the framing `framing` allows. A value that must be framed and is
// not, or whose frame is cut short, comes back with `error` set.
Unframed Unframe(std::string_view value, ValueFraming framing);

}  // namespace promowatch
