#include "pipeline/decode/json_fast_path.h"

#include <simdjson.h>

#include <cstring>
#include <limits>
#include <string>

namespace promowatch {
namespace {

using simdjson::ondemand::json_type;
using simdjson::ondemand::value;

// Reads a value the caller does not need, checking that it is valid JSON:
// simdjson's on-demand parser would otherwise skip it unchecked, while
// protobuf rejects a record with broken JSON anywhere in it.
bool Walk(value v, int depth = 0) {
  if (depth > 64) return false;
  json_type t;
  if (v.type().get(t) != simdjson::SUCCESS) return false;
  switch (t) {
    case json_type::object: {
      simdjson::ondemand::object o;
      if (v.get_object().get(o) != simdjson::SUCCESS) return false;
      for (auto f : o) {
        std::string_view k;
        value fv;
        if (f.unescaped_key().get(k) != simdjson::SUCCESS ||
            f.value().get(fv) != simdjson::SUCCESS || !Walk(fv, depth + 1)) {
          return false;
        }
      }
      return true;
    }
    case json_type::array: {
      simdjson::ondemand::array a;
      if (v.get_array().get(a) != simdjson::SUCCESS) return false;
      for (auto e : a) {
        value ev;
        if (e.get(ev) != simdjson::SUCCESS || !Walk(ev, depth + 1)) return false;
      }
      return true;
    }
    case json_type::string: {
      std::string_view s;
      return v.get_string().get(s) == simdjson::SUCCESS;
    }
    case json_type::number: {
      double d;
      return v.get_double().get(d) == simdjson::SUCCESS;
    }
    case json_type::boolean: {
      bool b;
      return v.get_bool().get(b) == simdjson::SUCCESS;
    }
    case json_type::null: {
      bool is_null = false;
      return v.is_null().get(is_null) == simdjson::SUCCESS && is_null;
    }
  }
  return false;
}

bool ReadString(value v, std::string* out) {
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) return false;
  out->assign(s.data(), s.size());
  return true;
}

bool ReadInt64(value v, int64_t* out) {
  json_type t;
  if (v.type().get(t) != simdjson::SUCCESS) return false;
  if (t == json_type::number) return v.get_int64().get(*out) == simdjson::SUCCESS;
  if (t == json_type::string) {
    // protobuf accepts only plain digits here; anything fancier goes to it.
    std::string_view raw;
    // At most 18 digits: no overflow to think about; longer goes to protobuf.
    if (v.get_string().get(raw) != simdjson::SUCCESS || raw.empty() || raw.size() > 19)
      return false;
    if (raw.size() == 19 && raw[0] != '-') return false;
    size_t i = raw[0] == '-' ? 1 : 0;
    if (i == raw.size()) return false;
    int64_t n = 0;
    for (; i < raw.size(); ++i) {
      if (raw[i] < '0' || raw[i] > '9') return false;
      n = n * 10 + (raw[i] - '0');
    }
    *out = raw[0] == '-' ? -n : n;
    return true;
  }
  return false;
}

template <typename Enum, typename ParseFn>
bool ReadEnum(value v, ParseFn parse, Enum* out) {
  json_type t;
  if (v.type().get(t) != simdjson::SUCCESS) return false;
  if (t == json_type::string) {
    std::string_view name;
    if (v.get_string().get(name) != simdjson::SUCCESS) return false;
    return parse(std::string(name), out);  // unknown names: protobuf decides
  }
  if (t == json_type::number) {
    int64_t n = 0;
    if (v.get_int64().get(n) != simdjson::SUCCESS) return false;
    if (n < std::numeric_limits<int32_t>::min() || n > std::numeric_limits<int32_t>::max()) {
      return false;
    }
    *out = static_cast<Enum>(n);  // open enum: unknown numbers are kept
    return true;
  }
  return false;
}

// Field ids per payload, to catch a field given twice (in either spelling).
enum Field : int {
  kEventId,
  kUserId,
  kCampaignId,
  kChannel,
  kType,
  kTime,
  kSku,
  kSession,
  kOrderId,
  kAmount,
  kCurrency,
  kCost,
  kUnknown
};

Field FieldOf(std::string_view key) {
  if (key == "event_id" || key == "eventId") return kEventId;
  if (key == "user_id" || key == "userId") return kUserId;
  if (key == "campaign_id" || key == "campaignId") return kCampaignId;
  if (key == "channel") return kChannel;
  if (key == "type" || key == "status") return kType;
  if (key == "event_time_ms" || key == "eventTimeMs") return kTime;
  if (key == "sku_id" || key == "skuId") return kSku;
  if (key == "session_id" || key == "sessionId") return kSession;
  if (key == "order_id" || key == "orderId") return kOrderId;
  if (key == "amount_cents" || key == "amountCents") return kAmount;
  if (key == "currency") return kCurrency;
  if (key == "cost_cents" || key == "costCents") return kCost;
  return kUnknown;
}

// Iterates the fields of a payload object; `set` handles one known field and
// returns false to give up. Unknown fields are skipped, as protobuf does with
// ignore_unknown_fields. A JSON null anywhere known gives up (protobuf maps
// it to the default; not worth a second implementation).
template <typename SetField>
bool ForEachField(value v, std::string_view status_key, SetField set) {
  simdjson::ondemand::object obj;
  if (v.get_object().get(obj) != simdjson::SUCCESS) return false;
  uint32_t seen = 0;
  for (auto field : obj) {
    std::string_view key;
    // (An empty key is an error to protobuf's parser, unknown or not.)
    if (field.unescaped_key().get(key) != simdjson::SUCCESS || key.empty()) return false;
    Field f = FieldOf(key);
    if (f == kType && key != status_key) f = kUnknown;  // "type" on orders is unknown
    value fv;
    if (field.value().get(fv) != simdjson::SUCCESS) return false;
    if (f == kUnknown) {
      if (!Walk(fv)) return false;
      continue;
    }
    const uint32_t bit = 1u << f;
    if (seen & bit) return false;
    seen |= bit;
    json_type t;
    if (fv.type().get(t) != simdjson::SUCCESS || t == json_type::null) return false;
    if (!set(f, fv)) return false;
  }
  return true;
}

[[gnu::always_inline]] inline bool SetClick(Field f, value fv, v1::ClickEvent* c) {
  int64_t n = 0;
  switch (f) {
    case kEventId:
      return ReadString(fv, c->mutable_event_id());
    case kUserId:
      return ReadString(fv, c->mutable_user_id());
    case kCampaignId:
      return ReadString(fv, c->mutable_campaign_id());
    case kChannel:
      return ReadString(fv, c->mutable_channel());
    case kSku:
      return ReadString(fv, c->mutable_sku_id());
    case kSession:
      return ReadString(fv, c->mutable_session_id());
    case kTime:
      if (!ReadInt64(fv, &n)) return false;
      c->set_event_time_ms(n);
      return true;
    case kType: {
      v1::EventType e{};
      if (!ReadEnum(
              fv, [](const std::string& s, v1::EventType* o) { return v1::EventType_Parse(s, o); },
              &e))
        return false;
      c->set_type(e);
      return true;
    }
    default:
      return Walk(fv);  // a field of another payload kind: unknown here, skipped
  }
}

[[gnu::always_inline]] inline bool SetOrder(Field f, value fv, v1::OrderEvent* o) {
  int64_t n = 0;
  switch (f) {
    case kEventId:
      return ReadString(fv, o->mutable_event_id());
    case kOrderId:
      return ReadString(fv, o->mutable_order_id());
    case kUserId:
      return ReadString(fv, o->mutable_user_id());
    case kCampaignId:
      return ReadString(fv, o->mutable_campaign_id());
    case kChannel:
      return ReadString(fv, o->mutable_channel());
    case kCurrency:
      return ReadString(fv, o->mutable_currency());
    case kAmount:
      if (!ReadInt64(fv, &n)) return false;
      o->set_amount_cents(n);
      return true;
    case kTime:
      if (!ReadInt64(fv, &n)) return false;
      o->set_event_time_ms(n);
      return true;
    case kType: {
      v1::OrderStatus s{};
      if (!ReadEnum(
              fv,
              [](const std::string& x, v1::OrderStatus* out) {
                return v1::OrderStatus_Parse(x, out);
              },
              &s))
        return false;
      o->set_status(s);
      return true;
    }
    default:
      return Walk(fv);
  }
}

[[gnu::always_inline]] inline bool SetSpend(Field f, value fv, v1::SpendEvent* s) {
  int64_t n = 0;
  switch (f) {
    case kEventId:
      return ReadString(fv, s->mutable_event_id());
    case kCampaignId:
      return ReadString(fv, s->mutable_campaign_id());
    case kChannel:
      return ReadString(fv, s->mutable_channel());
    case kCost:
      if (!ReadInt64(fv, &n)) return false;
      s->set_cost_cents(n);
      return true;
    case kTime:
      if (!ReadInt64(fv, &n)) return false;
      s->set_event_time_ms(n);
      return true;
    default:
      return Walk(fv);
  }
}

// Whether `f` is a field of the message `type` carries (it then makes an
// object a bare value of that type rather than an envelope).
bool IsFieldOf(Field f, ValueType type) {
  switch (type) {
    case ValueType::kClick:
      return f == kEventId || f == kUserId || f == kCampaignId || f == kChannel || f == kType ||
             f == kTime || f == kSku || f == kSession;
    case ValueType::kOrder:
      return f == kEventId || f == kOrderId || f == kUserId || f == kCampaignId || f == kChannel ||
             f == kType || f == kAmount || f == kCurrency || f == kTime;
    case ValueType::kSpend:
      return f == kEventId || f == kCampaignId || f == kChannel || f == kCost || f == kTime;
    case ValueType::kEvent:
      break;
  }
  return false;
}

std::string_view StatusKey(ValueType type) {
  return type == ValueType::kClick ? "type" : type == ValueType::kOrder ? "status" : "";
}

// The field id of `key` in a payload of `type` (kUnknown if it has none).
Field FieldIn(std::string_view key, ValueType type) {
  Field f = FieldOf(key);
  if (f == kType && key != StatusKey(type)) return kUnknown;  // "type" on orders is unknown
  return IsFieldOf(f, type) ? f : kUnknown;
}

bool SetFieldOf(ValueType type, Field f, value fv, v1::Event* event) {
  switch (type) {
    case ValueType::kClick:
      return SetClick(f, fv, event->mutable_click());
    case ValueType::kOrder:
      return SetOrder(f, fv, event->mutable_order());
    case ValueType::kSpend:
      return SetSpend(f, fv, event->mutable_spend());
    case ValueType::kEvent:
      break;
  }
  return false;
}

bool Click(value v, v1::ClickEvent* c) {
  return ForEachField(v, "type", [c](Field f, value fv) { return SetClick(f, fv, c); });
}

bool Order(value v, v1::OrderEvent* o) {
  return ForEachField(v, "status", [o](Field f, value fv) { return SetOrder(f, fv, o); });
}

bool Spend(value v, v1::SpendEvent* s) {
  return ForEachField(v, "", [s](Field f, value fv) { return SetSpend(f, fv, s); });
}

}  // namespace

struct JsonFastPath::Impl {
  simdjson::ondemand::parser parser;
  std::string padded;
};

JsonFastPath::JsonFastPath() : impl_(std::make_unique<Impl>()) {}
JsonFastPath::~JsonFastPath() = default;

bool JsonFastPath::Decode(std::string_view json, ValueType type, v1::Event* event) {
  std::string& padded_ = impl_->padded;
  simdjson::ondemand::parser& parser_ = impl_->parser;
  const size_t capacity = json.size() + simdjson::SIMDJSON_PADDING;
  if (padded_.size() < capacity) padded_.resize(capacity);
  std::memcpy(padded_.data(), json.data(), json.size());
  std::memset(padded_.data() + json.size(), 0, simdjson::SIMDJSON_PADDING);
  simdjson::ondemand::document doc;
  if (parser_.iterate(padded_.data(), json.size(), padded_.size()).get(doc) != simdjson::SUCCESS) {
    return false;
  }
  simdjson::ondemand::object top;
  if (doc.get_object().get(top) != simdjson::SUCCESS) return false;
  // One pass over the top level: envelope keys fill their payload, fields of
  // a typed topic's own message fill the bare value. An object with both is
  // left to the slow path, which applies the rule in full.
  int payloads = 0;
  uint32_t bare_seen = 0;
  for (auto field : top) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS || key.empty()) return false;
    value v;
    if (field.value().get(v) != simdjson::SUCCESS) return false;
    bool ok = true;
    if (key == "click") {
      ok = ++payloads == 1 && bare_seen == 0 && Click(v, event->mutable_click());
    } else if (key == "order") {
      ok = ++payloads == 1 && bare_seen == 0 && Order(v, event->mutable_order());
    } else if (key == "spend") {
      ok = ++payloads == 1 && bare_seen == 0 && Spend(v, event->mutable_spend());
    } else if (const Field f = FieldIn(key, type); f != kUnknown) {
      const uint32_t bit = 1u << f;
      if (payloads != 0 || (bare_seen & bit) != 0) return false;
      bare_seen |= bit;
      json_type t;
      if (v.type().get(t) != simdjson::SUCCESS || t == json_type::null) return false;
      ok = SetFieldOf(type, f, v, event);
    } else {
      ok = Walk(v);  // unknown: skipped, but it must be valid JSON
    }
    if (!ok) return false;
  }
  // A typed topic's value with neither shape is an (empty) bare value: its
  // validation then says what is missing.
  if (payloads == 0 && bare_seen == 0 && type != ValueType::kEvent) {
    if (type == ValueType::kClick) event->mutable_click();
    if (type == ValueType::kOrder) event->mutable_order();
    if (type == ValueType::kSpend) event->mutable_spend();
  }
  // Anything after the object (a second value, stray text) is protobuf's call.
  return doc.current_location().error() != simdjson::SUCCESS;
}

std::optional<std::vector<std::string>> JsonFastPath::TopLevelKeys(std::string_view json) {
  std::string& padded_ = impl_->padded;
  const size_t capacity = json.size() + simdjson::SIMDJSON_PADDING;
  if (padded_.size() < capacity) padded_.resize(capacity);
  std::memcpy(padded_.data(), json.data(), json.size());
  std::memset(padded_.data() + json.size(), 0, simdjson::SIMDJSON_PADDING);
  simdjson::ondemand::document doc;
  if (impl_->parser.iterate(padded_.data(), json.size(), padded_.size()).get(doc) !=
      simdjson::SUCCESS) {
    return std::nullopt;
  }
  simdjson::ondemand::object top;
  if (doc.get_object().get(top) != simdjson::SUCCESS) return std::nullopt;
  std::vector<std::string> keys;
  for (auto field : top) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return std::nullopt;
    keys.emplace_back(key);
  }
  return keys;
}

bool IsEnvelopeKey(std::string_view key) {
  return key == "click" || key == "order" || key == "spend";
}

bool IsFieldName(std::string_view key, ValueType type) { return FieldIn(key, type) != kUnknown; }

}  // namespace promowatch
