#include "pipeline/decode.h"

#include <google/protobuf/util/json_util.h>
#include <xxhash.h>

#include <algorithm>

#include "pipeline/json_fast_path.h"

namespace promowatch {

uint64_t HashId(std::string_view id) { return XXH3_64bits(id.data(), id.size()); }

std::string_view RejectReasonName(v1::RejectReason reason) {
  switch (reason) {
    case v1::REJECT_REASON_UNSPECIFIED: return "none";
    case v1::REJECT_REASON_DECODE_ERROR: return "decode_error";
    case v1::REJECT_REASON_EMPTY_PAYLOAD: return "empty_payload";
    case v1::REJECT_REASON_MISSING_EVENT_ID: return "missing_event_id";
    case v1::REJECT_REASON_MISSING_USER_ID: return "missing_user_id";
    case v1::REJECT_REASON_MISSING_CAMPAIGN_ID: return "missing_campaign_id";
    case v1::REJECT_REASON_MISSING_CHANNEL: return "missing_channel";
    case v1::REJECT_REASON_BAD_EVENT_TIME: return "bad_event_time";
    case v1::REJECT_REASON_UNSPECIFIED_TYPE: return "unspecified_type";
    case v1::REJECT_REASON_UNKNOWN_TYPE: return "unknown_type";
    case v1::REJECT_REASON_MISSING_ORDER_ID: return "missing_order_id";
    case v1::REJECT_REASON_NEGATIVE_AMOUNT: return "negative_amount";
    case v1::REJECT_REASON_RESERVED_KEY: return "reserved_key";
    case v1::REJECT_REASON_TRUNCATED: return "truncated";
    default: return "unknown";
  }
}

std::string RejectAdvice(v1::RejectReason reason) {
  switch (reason) {
    case v1::REJECT_REASON_DECODE_ERROR:
      return "the bytes are not a promowatch.v1.Event: send binary protobuf or proto3 JSON "
             "such as {\"click\":{\"event_id\":...}}";
    case v1::REJECT_REASON_EMPTY_PAYLOAD:
      return "set exactly one of click, order or spend in the Event";
    case v1::REJECT_REASON_MISSING_EVENT_ID:
      return "set event_id: a unique id per event, reused on retries (it drives dedup)";
    case v1::REJECT_REASON_MISSING_USER_ID: return "set user_id on every click and order event";
    case v1::REJECT_REASON_MISSING_CAMPAIGN_ID: return "set campaign_id";
    case v1::REJECT_REASON_MISSING_CHANNEL: return "set channel (for example \"douyin\")";
    case v1::REJECT_REASON_BAD_EVENT_TIME:
      return "set event_time_ms to the UTC epoch milliseconds when the event happened (> 0)";
    case v1::REJECT_REASON_UNSPECIFIED_TYPE:
      return "set type (EVENT_TYPE_*) on clicks or status (ORDER_STATUS_*) on orders";
    case v1::REJECT_REASON_UNKNOWN_TYPE:
      return "type/status is a number this version does not know: upgrade promowatch or fix "
             "the producer";
    case v1::REJECT_REASON_MISSING_ORDER_ID: return "set order_id on every order event";
    case v1::REJECT_REASON_NEGATIVE_AMOUNT:
      return "amount_cents must be >= 0 (a refund is status REFUNDED with a positive amount)";
    case v1::REJECT_REASON_RESERVED_KEY:
      return "\"*\" is the rollup key and cannot be a campaign_id or channel";
    case v1::REJECT_REASON_TRUNCATED:
      return "the input ends inside a record: the file was cut short or is not "
             "length-delimited protobuf";
    default: return "";
  }
}

namespace {

v1::RejectReason CheckKey(std::string_view campaign, std::string_view channel) {
  if (campaign.empty()) return v1::REJECT_REASON_MISSING_CAMPAIGN_ID;
  if (channel.empty()) return v1::REJECT_REASON_MISSING_CHANNEL;
  if (campaign == "*" || channel == "*") return v1::REJECT_REASON_RESERVED_KEY;
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
      if (c.event_time_ms() <= 0) return v1::REJECT_REASON_BAD_EVENT_TIME;
      if (c.type() == v1::EVENT_TYPE_UNSPECIFIED) return v1::REJECT_REASON_UNSPECIFIED_TYPE;
      if (!v1::EventType_IsValid(c.type())) return v1::REJECT_REASON_UNKNOWN_TYPE;
      return v1::REJECT_REASON_UNSPECIFIED;
    }
    case v1::Event::kOrder: {
      const v1::OrderEvent& o = event.order();
      if (o.event_id().empty()) return v1::REJECT_REASON_MISSING_EVENT_ID;
      if (o.user_id().empty()) return v1::REJECT_REASON_MISSING_USER_ID;
      if (auto r = CheckKey(o.campaign_id(), o.channel()); r != v1::REJECT_REASON_UNSPECIFIED) {
        const bool unattributed = r == v1::REJECT_REASON_MISSING_CAMPAIGN_ID || r == v1::REJECT_REASON_MISSING_CHANNEL;
        if (!(orders_may_lack_campaign && unattributed && o.campaign_id() != "*" && o.channel() != "*")) return r;
      }
      if (o.event_time_ms() <= 0) return v1::REJECT_REASON_BAD_EVENT_TIME;
      if (o.status() == v1::ORDER_STATUS_UNSPECIFIED) return v1::REJECT_REASON_UNSPECIFIED_TYPE;
      if (!v1::OrderStatus_IsValid(o.status())) return v1::REJECT_REASON_UNKNOWN_TYPE;
      if (o.order_id().empty()) return v1::REJECT_REASON_MISSING_ORDER_ID;
      if (o.amount_cents() < 0) return v1::REJECT_REASON_NEGATIVE_AMOUNT;
      return v1::REJECT_REASON_UNSPECIFIED;
    }
    case v1::Event::kSpend: {
      const v1::SpendEvent& s = event.spend();
      if (s.event_id().empty()) return v1::REJECT_REASON_MISSING_EVENT_ID;
      if (auto r = CheckKey(s.campaign_id(), s.channel()); r != v1::REJECT_REASON_UNSPECIFIED) {
        return r;
      }
      if (s.event_time_ms() <= 0) return v1::REJECT_REASON_BAD_EVENT_TIME;
      if (s.cost_cents() < 0) return v1::REJECT_REASON_NEGATIVE_AMOUNT;
      return v1::REJECT_REASON_UNSPECIFIED;
    }
    default:
      return v1::REJECT_REASON_EMPTY_PAYLOAD;
  }
}

EventDecoder::EventDecoder() : json_fast_(std::make_unique<JsonFastPath>()) {}
EventDecoder::~EventDecoder() = default;

v1::Event* EventDecoder::NewEvent() {
  if (++on_arena_ > kArenaRecords) {
    arena_.Reset();
    on_arena_ = 1;
  }
  return google::protobuf::Arena::CreateMessage<v1::Event>(&arena_);
}

v1::RejectReason EventDecoder::Decode(std::string_view bytes, WireFormat format, EventRecord* out,
                                      std::string* detail) {
  v1::Event* event = NewEvent();
  if (format == WireFormat::kJson && !json_fast_->Decode(bytes, event)) {
    event = NewEvent();  // the fast path may have filled part of it
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    auto status = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(bytes.data(), bytes.size()), event, options);
    if (!status.ok()) {
      if (detail != nullptr) {
        // protobuf's message quotes the input on a second line: keep one line
        // (it goes to logs and Kafka headers).
        detail->assign(status.message().data(), status.message().size());
        std::replace(detail->begin(), detail->end(), '\n', ' ');
      }
      return v1::REJECT_REASON_DECODE_ERROR;
    }
  } else if (format == WireFormat::kBinary &&
             !event->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    if (detail != nullptr) detail->assign("protobuf parse failed");
    return v1::REJECT_REASON_DECODE_ERROR;
  }
  const v1::Event& event_ = *event;
  const v1::RejectReason reason = Validate(event_, orders_may_lack_campaign_);
  if (reason != v1::REJECT_REASON_UNSPECIFIED) {
    if (detail != nullptr) *detail = RejectAdvice(reason);
    return reason;
  }
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
  return v1::REJECT_REASON_UNSPECIFIED;
}

}  // namespace promowatch
