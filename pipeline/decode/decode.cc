#include "pipeline/decode/decode.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdio>
#include <mutex>

#include "operators/keys.h"
#include "pipeline/decode/json_fast_path.h"

namespace promowatch {

std::string_view RejectReasonName(v1::RejectReason reason) {
  switch (reason) {
    case v1::REJECT_REASON_UNSPECIFIED:
      return "none";
    case v1::REJECT_REASON_DECODE_ERROR:
      return "decode_error";
    case v1::REJECT_REASON_EMPTY_PAYLOAD:
      return "empty_payload";
    case v1::REJECT_REASON_MISSING_EVENT_ID:
      return "missing_event_id";
    case v1::REJECT_REASON_MISSING_USER_ID:
      return "missing_user_id";
    case v1::REJECT_REASON_MISSING_CAMPAIGN_ID:
      return "missing_campaign_id";
    case v1::REJECT_REASON_MISSING_CHANNEL:
      return "missing_channel";
    case v1::REJECT_REASON_BAD_EVENT_TIME:
      return "bad_event_time";
    case v1::REJECT_REASON_UNSPECIFIED_TYPE:
      return "unspecified_type";
    case v1::REJECT_REASON_UNKNOWN_TYPE:
      return "unknown_type";
    case v1::REJECT_REASON_MISSING_ORDER_ID:
      return "missing_order_id";
    case v1::REJECT_REASON_NEGATIVE_AMOUNT:
      return "negative_amount";
    case v1::REJECT_REASON_RESERVED_KEY:
      return "reserved_key";
    case v1::REJECT_REASON_TRUNCATED:
      return "truncated";
    case v1::REJECT_REASON_BAD_FRAMING:
      return "bad_framing";
    case v1::REJECT_REASON_FUTURE_EVENT_TIME:
      return "future_event_time";
    case v1::REJECT_REASON_EVENT_TIME_OUT_OF_RANGE:
      return "event_time_out_of_range";
    case v1::REJECT_REASON_AMOUNT_OUT_OF_RANGE:
      return "amount_out_of_range";
    case v1::REJECT_REASON_RECORD_TOO_LARGE:
      return "record_too_large";
    case v1::REJECT_REASON_ID_TOO_LONG:
      return "id_too_long";
    default:
      return "unknown";
  }
}

std::string RejectAdvice(v1::RejectReason reason) {
  switch (reason) {
    case v1::REJECT_REASON_DECODE_ERROR:
      return "the bytes are not a promowatch.v1.Event: send binary protobuf or proto3 JSON "
             "such as {\"click\":{\"event_id\":...}}";
    case v1::REJECT_REASON_EMPTY_PAYLOAD:
      return "set exactly one of click, order or spend in the Event; a bare ClickEvent, OrderEvent "
             "or SpendEvent needs an input of that type (kafka.topics.inputs, replay --input-type)";
    case v1::REJECT_REASON_MISSING_EVENT_ID:
      return "set event_id: a unique id per event, reused on retries (it drives dedup)";
    case v1::REJECT_REASON_MISSING_USER_ID:
      return "set user_id on every click and order event";
    case v1::REJECT_REASON_MISSING_CAMPAIGN_ID:
      return "set campaign_id";
    case v1::REJECT_REASON_MISSING_CHANNEL:
      return "set channel (for example \"douyin\")";
    case v1::REJECT_REASON_BAD_EVENT_TIME:
      return "set event_time_ms to the UTC epoch milliseconds when the event happened (> 0)";
    case v1::REJECT_REASON_UNSPECIFIED_TYPE:
      return "set type (EVENT_TYPE_*) on clicks or status (ORDER_STATUS_*) on orders";
    case v1::REJECT_REASON_UNKNOWN_TYPE:
      return "type/status is a number this version does not know: upgrade promowatch or fix "
             "the producer";
    case v1::REJECT_REASON_MISSING_ORDER_ID:
      return "set order_id on every order event";
    case v1::REJECT_REASON_NEGATIVE_AMOUNT:
      return "amount_cents must be >= 0 (a refund is status REFUNDED with a positive amount)";
    case v1::REJECT_REASON_RESERVED_KEY:
      return "\"*\" is the rollup key and cannot be a campaign_id or channel";
    case v1::REJECT_REASON_TRUNCATED:
      return "the input ends inside a record: the file was cut short or is not "
             "length-delimited protobuf";
    case v1::REJECT_REASON_BAD_FRAMING:
      return "send a complete Schema Registry frame (0x00, 4-byte schema id, message indexes, "
             "message), or plain values";
    case v1::REJECT_REASON_FUTURE_EVENT_TIME:
      return "event_time_ms is further ahead than watermark.max_future_skew: fix the device or "
             "producer clock (re-send the record with its true time)";
    case v1::REJECT_REASON_EVENT_TIME_OUT_OF_RANGE:
      return "event_time_ms must be before 4102444800000 (2100-01-01T00:00:00Z): send UTC epoch "
             "milliseconds, not microseconds or nanoseconds";
    case v1::REJECT_REASON_AMOUNT_OUT_OF_RANGE:
      return "amount_cents / cost_cents must be at most 1000000000000 (10 billion yuan): send "
             "cents, and one event per order";
    case v1::REJECT_REASON_RECORD_TOO_LARGE:
      return "a record over 64 MiB was skipped: JSON lines need a newline after each event; "
             "binary files need a correct length before each record";
    case v1::REJECT_REASON_ID_TOO_LONG:
      return "event_id, user_id and order_id are at most 256 bytes, campaign_id and channel at "
             "most 128: send ids, not payloads (README, \"Limits\")";
    default:
      return "";
  }
}

namespace {

v1::RejectReason CheckKey(std::string_view campaign, std::string_view channel) {
  if (campaign.empty()) return v1::REJECT_REASON_MISSING_CAMPAIGN_ID;
  if (channel.empty()) return v1::REJECT_REASON_MISSING_CHANNEL;
  if (IsRollup(campaign) || IsRollup(channel)) return v1::REJECT_REASON_RESERVED_KEY;
  return v1::REJECT_REASON_UNSPECIFIED;
}

// The ids' lengths (decode.h: kMaxIdBytes, kMaxCampaignIdBytes).
v1::RejectReason CheckIdLengths(std::string_view event_id, std::string_view user_id,
                                std::string_view order_id, std::string_view campaign,
                                std::string_view channel) {
  if (event_id.size() > kMaxIdBytes || user_id.size() > kMaxIdBytes ||
      order_id.size() > kMaxIdBytes || campaign.size() > kMaxCampaignIdBytes ||
      channel.size() > kMaxCampaignIdBytes)
    return v1::REJECT_REASON_ID_TOO_LONG;
  return v1::REJECT_REASON_UNSPECIFIED;
}

v1::RejectReason CheckTime(int64_t t) {
  if (t <= 0) return v1::REJECT_REASON_BAD_EVENT_TIME;
  if (t >= kMaxEventTimeMs) return v1::REJECT_REASON_EVENT_TIME_OUT_OF_RANGE;
  return v1::REJECT_REASON_UNSPECIFIED;
}

}  // namespace

v1::RejectReason Validate(const v1::Event& event, bool orders_may_lack_campaign) {
  switch (event.payload_case()) {
    case v1::Event::kClick: {
      const v1::ClickEvent& c = event.click();
      if (c.event_id().empty()) return v1::REJECT_REASON_MISSING_EVENT_ID;
      if (c.user_id().empty()) return v1::REJECT_REASON_MISSING_USER_ID;
      if (auto r = CheckKey(c.campaign_id(), c.channel()); r != v1::REJECT_REASON_UNSPECIFIED) {
        return r;
      }
      if (auto r = CheckTime(c.event_time_ms()); r != v1::REJECT_REASON_UNSPECIFIED) return r;
      if (c.type() == v1::EVENT_TYPE_UNSPECIFIED) return v1::REJECT_REASON_UNSPECIFIED_TYPE;
      if (!v1::EventType_IsValid(c.type())) return v1::REJECT_REASON_UNKNOWN_TYPE;
      return CheckIdLengths(c.event_id(), c.user_id(), {}, c.campaign_id(), c.channel());
    }
    case v1::Event::kOrder: {
      const v1::OrderEvent& o = event.order();
      if (o.event_id().empty()) return v1::REJECT_REASON_MISSING_EVENT_ID;
      if (o.user_id().empty()) return v1::REJECT_REASON_MISSING_USER_ID;
      if (auto r = CheckKey(o.campaign_id(), o.channel()); r != v1::REJECT_REASON_UNSPECIFIED) {
        const bool unattributed =
            r == v1::REJECT_REASON_MISSING_CAMPAIGN_ID || r == v1::REJECT_REASON_MISSING_CHANNEL;
        if (!(orders_may_lack_campaign && unattributed && !IsRollup(o.campaign_id()) &&
              !IsRollup(o.channel())))
          return r;
      }
      if (auto r = CheckTime(o.event_time_ms()); r != v1::REJECT_REASON_UNSPECIFIED) return r;
      if (o.status() == v1::ORDER_STATUS_UNSPECIFIED) return v1::REJECT_REASON_UNSPECIFIED_TYPE;
      if (!v1::OrderStatus_IsValid(o.status())) return v1::REJECT_REASON_UNKNOWN_TYPE;
      if (o.order_id().empty()) return v1::REJECT_REASON_MISSING_ORDER_ID;
      if (o.amount_cents() < 0) return v1::REJECT_REASON_NEGATIVE_AMOUNT;
      if (o.amount_cents() > kMaxAmountCents) return v1::REJECT_REASON_AMOUNT_OUT_OF_RANGE;
      return CheckIdLengths(o.event_id(), o.user_id(), o.order_id(), o.campaign_id(), o.channel());
    }
    case v1::Event::kSpend: {
      const v1::SpendEvent& s = event.spend();
      if (s.event_id().empty()) return v1::REJECT_REASON_MISSING_EVENT_ID;
      if (auto r = CheckKey(s.campaign_id(), s.channel()); r != v1::REJECT_REASON_UNSPECIFIED) {
        return r;
      }
      if (auto r = CheckTime(s.event_time_ms()); r != v1::REJECT_REASON_UNSPECIFIED) return r;
      if (s.cost_cents() < 0) return v1::REJECT_REASON_NEGATIVE_AMOUNT;
      if (s.cost_cents() > kMaxAmountCents) return v1::REJECT_REASON_AMOUNT_OUT_OF_RANGE;
      return CheckIdLengths(s.event_id(), {}, {}, s.campaign_id(), s.channel());
    }
    default:
      return v1::REJECT_REASON_EMPTY_PAYLOAD;
  }
}

namespace {

// protobuf logs every binary parse error (invalid UTF-8 in a string field)
// on stderr: one line per bad record, and - for binary envelopes tried as a
// typed topic's message first - per good one. The record's reject reason
// and detail already say it; other protobuf messages still go to stderr.
void QuietParseErrors(google::protobuf::LogLevel level, const char* filename, int line,
                      const std::string& message) {
  if (message.find("when parsing a protocol buffer") != std::string::npos) return;
  std::fprintf(stderr, "[libprotobuf %d %s:%d] %s\n", static_cast<int>(level), filename, line,
               message.c_str());
}

}  // namespace

EventDecoder::EventDecoder() : json_fast_(std::make_unique<JsonFastPath>()) {
  static std::once_flag once;
  std::call_once(once, [] { google::protobuf::SetLogHandler(&QuietParseErrors); });
}
EventDecoder::~EventDecoder() = default;

v1::Event* EventDecoder::NewEvent() {
  if (++on_arena_ > kArenaRecords) {
    arena_.Reset();
    on_arena_ = 1;
  }
  return google::protobuf::Arena::CreateMessage<v1::Event>(&arena_);
}

namespace {

// The message a value of `type` fills: the envelope itself, or its payload.
google::protobuf::Message* MessageOf(v1::Event* event, ValueType type) {
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

}  // namespace

bool EventDecoder::Parse(std::string_view payload, WireFormat wire, ValueType type,
                         v1::Event** event, std::string* detail) {
  if (wire == WireFormat::kBinary) {
    google::protobuf::Message* target = MessageOf(*event, type);
    if (target->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) return true;
    if (detail != nullptr) detail->assign("protobuf parse failed");
    return false;
  }
  if (payload.substr(0, kUtf8Bom.size()) == kUtf8Bom) payload.remove_prefix(kUtf8Bom.size());
  if (json_fast_->Decode(payload, type, *event)) return true;
  *event = NewEvent();  // the fast path may have filled part of it
  // The shape rule in full (json_fast_path.h): envelope keys and no field of
  // the topic's own message make an envelope.
  google::protobuf::Message* target = *event;
  if (type != ValueType::kEvent) {
    bool envelope = false, bare = false;
    if (auto keys = json_fast_->TopLevelKeys(payload)) {
      for (const auto& k : *keys) {
        envelope |= IsEnvelopeKey(k);
        bare |= IsFieldName(k, type);
      }
    }
    if (bare || !envelope) {
      target = MessageOf(*event, type);
    }
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(payload.data(), payload.size()), target, options);
  if (status.ok()) return true;
  if (detail != nullptr) {
    // protobuf's message quotes the input on a second line: keep one line
    // (it goes to logs and Kafka headers).
    detail->assign(status.message().data(), status.message().size());
    std::replace(detail->begin(), detail->end(), '\n', ' ');
  }
  return false;
}

void EventDecoder::DescribeReject(v1::RejectReason reason, std::string_view payload,
                                  WireFormat wire, const InputFormat& format,
                                  std::string_view label, std::optional<uint32_t> schema_id,
                                  std::string* detail) {
  // What went wrong (protobuf's parse error), else what to do about it.
  std::string what = reason == v1::REJECT_REASON_DECODE_ERROR ? *detail : RejectAdvice(reason);
  std::string frame;
  if (schema_id) frame = fmt::format(" (Confluent frame, schema id {})", *schema_id);
  if (format.type == ValueType::kEvent) {
    *detail = schema_id ? fmt::format("{}{}: {}", label, frame, what) : std::move(what);
    return;
  }
  // What came, as far as it can be told: a producer sending orders to the
  // click topic sees its own field names here.
  std::string got;
  if (wire == WireFormat::kJson) {
    if (payload.substr(0, kUtf8Bom.size()) == kUtf8Bom) payload.remove_prefix(kUtf8Bom.size());
    auto keys = json_fast_->TopLevelKeys(payload);
    if (!keys) {
      got = "text that is not a JSON object";
    } else if (keys->empty()) {
      got = "an empty object";
    } else {
      constexpr size_t kShown = 8;
      std::string names;
      for (size_t i = 0; i < keys->size() && i < kShown; ++i) {
        names += fmt::format("{}{}", i ? ", " : "", (*keys)[i].substr(0, 40));
      }
      if (keys->size() > kShown) names += fmt::format(", ... ({} in all)", keys->size());
      got = fmt::format("an object with fields {}", names);
    }
  } else {
    got = fmt::format("{} bytes of binary protobuf", payload.size());
  }
  *detail = fmt::format("{}{} expects {} (or an Event envelope{}); got {}: {}", label, frame,
                        MessageName(format.type),
                        wire == WireFormat::kJson ? "" : " on a topic of type event", got, what);
}

v1::RejectReason EventDecoder::Decode(std::string_view bytes, const InputFormat& format,
                                      std::string_view label, EventRecord* out,
                                      std::string* detail) {
  const Unframed unframed = Unframe(bytes, format.framing);
  if (!unframed.error.empty()) {
    if (detail != nullptr) *detail = fmt::format("{}: {}", label, unframed.error);
    return v1::REJECT_REASON_BAD_FRAMING;
  }
  const std::string_view payload = unframed.payload;
  // Inside a frame the serializer decides; a file's format is given per file.
  const WireFormat wire = unframed.schema_id || !format.wire ? SniffRecord(payload) : *format.wire;
  if (bytes.empty()) {
    if (detail != nullptr) {
      *detail = fmt::format("{} got an empty value (0 bytes, a tombstone?): send one {} per record",
                            label, MessageName(format.type));
    }
    return v1::REJECT_REASON_EMPTY_PAYLOAD;
  }
  v1::Event* event = NewEvent();
  v1::RejectReason reason = v1::REJECT_REASON_UNSPECIFIED;
  if (!Parse(payload, wire, format.type, &event, detail)) {
    reason = v1::REJECT_REASON_DECODE_ERROR;
  } else {
    reason = Validate(*event, orders_may_lack_campaign_);
  }
  if (reason != v1::REJECT_REASON_UNSPECIFIED && wire == WireFormat::kBinary &&
      format.type != ValueType::kEvent) {
    // Binary on a typed topic is the topic's message. A value that is not a
    // valid one but is a valid Event envelope - what producers sent before
    // typed topics - is taken as that envelope: a bare message can never
    // pass for a valid envelope (its fields would have to nest a whole valid
    // event), and upgrading promowatch must not reject existing producers.
    v1::Event* envelope = NewEvent();
    if (envelope->ParseFromArray(payload.data(), static_cast<int>(payload.size())) &&
        Validate(*envelope, orders_may_lack_campaign_) == v1::REJECT_REASON_UNSPECIFIED) {
      event = envelope;
      reason = v1::REJECT_REASON_UNSPECIFIED;
    }
  }
  if (reason != v1::REJECT_REASON_UNSPECIFIED) {
    if (detail != nullptr) {
      DescribeReject(reason, payload, wire, format, label, unframed.schema_id, detail);
    }
    return reason;
  }
  const v1::Event& event_ = *event;
  switch (event_.payload_case()) {
    case v1::Event::kClick: {
      const v1::ClickEvent& c = event_.click();
      out->kind = EventKind::kClick;
      out->code = c.type();
      out->event_time_ms = c.event_time_ms();
      out->amount_cents = 0;
      out->event_id.assign(c.event_id());
      out->user_id.assign(c.user_id());
      out->campaign_id.assign(c.campaign_id());
      out->channel.assign(c.channel());
      out->order_id.clear();
      break;
    }
    case v1::Event::kOrder: {
      const v1::OrderEvent& o = event_.order();
      out->kind = EventKind::kOrder;
      out->code = o.status();
      out->event_time_ms = o.event_time_ms();
      out->amount_cents = o.amount_cents();
      out->event_id.assign(o.event_id());
      out->user_id.assign(o.user_id());
      out->campaign_id.assign(o.campaign_id());
      out->channel.assign(o.channel());
      out->order_id.assign(o.order_id());
      break;
    }
    default: {  // kSpend; Validate rejected everything else
      const v1::SpendEvent& s = event_.spend();
      out->kind = EventKind::kSpend;
      out->code = 0;
      out->event_time_ms = s.event_time_ms();
      out->amount_cents = s.cost_cents();
      out->event_id.assign(s.event_id());
      out->user_id.clear();
      out->campaign_id.assign(s.campaign_id());
      out->channel.assign(s.channel());
      out->order_id.clear();
      break;
    }
  }
  out->event_id_hash = HashId(out->event_id);
  out->user_hash = out->user_id.empty() ? 0 : HashId(out->user_id);
  // Records are reused across batches: annotations of the last use go.
  out->first_paid_order = false;
  out->attributed = false;
  out->reactivated = false;
  out->new_user = false;
  out->cohort_reached = false;
  out->cohort_credits.clear();
  return v1::REJECT_REASON_UNSPECIFIED;
}

}  // namespace promowatch
