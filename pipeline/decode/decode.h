#pragma once
// Decode + validate: raw bytes of one record -> EventRecord, or a reason to
// reject it. What a value may be is the input contract of framing.h (typed
// topics, envelopes, Schema Registry frames); JSON follows the
// proto3 JSON mapping as protobuf's own parser reads it (snake_case or
// lowerCamelCase names, enum names or numbers, int64 as number or string;
// unknown fields are ignored so that producers can add fields first).
//
// One decoder per thread. Messages are parsed on an arena that is reset every
// kArenaRecords records: a reused Event would still free and reallocate its
// oneof sub-message on every parse.

#include <google/protobuf/arena.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "operators/event_record.h"
#include "pipeline/decode/framing.h"
#include "promowatch/v1/events.pb.h"
#include "promowatch/v1/results.pb.h"

namespace promowatch {

class JsonFastPath;

// Bounds of the contract (README "Event contract"): event times before
// 2100-01-01T00:00:00Z, amounts and costs up to 10^12 cents (10 billion
// yuan) per event, so that window ends and sums stay far from overflow.
inline constexpr int64_t kMaxEventTimeMs = 4'102'444'800'000;
inline constexpr int64_t kMaxAmountCents = 1'000'000'000'000;
// The longest ids (bytes) an event may carry: an id names a user, an event
// or an order, a campaign or a channel; it is not a payload. Ids are
// keys of state, Kafka records (forwards, partials, results) and
// Prometheus label values: unbounded, one event could make any of them
// too large for Kafka or /metrics. Longer: rejected as id_too_long.
inline constexpr size_t kMaxIdBytes = 256;          // event_id, user_id, order_id
inline constexpr size_t kMaxCampaignIdBytes = 128;  // campaign_id, channel

// Short snake_case name of a reason ("missing_user_id"), for counters,
// metric labels and dead-letter records.
std::string_view RejectReasonName(v1::RejectReason reason);
// Every reason, for dense per-reason counters.
inline constexpr int kRejectReasonCount = v1::RejectReason_ARRAYSIZE;

// The validation rules of the event contract, on a decoded Event.
// Returns REJECT_REASON_UNSPECIFIED when the event is valid.
// `orders_may_lack_campaign`: an order with an empty campaign_id or channel
// is valid (the user-profile operator attributes it to the user's last click).
v1::RejectReason Validate(const v1::Event& event, bool orders_may_lack_campaign = false);

class EventDecoder {
 public:
  EventDecoder();
  ~EventDecoder();
  // Decodes and validates one value of an input read as `format`. On
  // success fills *out (reusing its strings) and returns
  // REJECT_REASON_UNSPECIFIED; otherwise returns the reason and, when
  // `detail` is given, a message saying what is wrong and what to do.
  // `label` names the input in that message ("topic clickstream").
  v1::RejectReason Decode(std::string_view bytes, const InputFormat& format, std::string_view label,
                          EventRecord* out, std::string* detail = nullptr);
  // An Event envelope, plain, in `wire`.
  v1::RejectReason Decode(std::string_view bytes, WireFormat wire, EventRecord* out,
                          std::string* detail = nullptr) {
    return Decode(bytes, InputFormat{ValueType::kEvent, ValueFraming::kPlain, wire}, "input", out,
                  detail);
  }
  // Orders without campaign or channel pass (profiles on: attribution).
  void set_orders_may_lack_campaign(bool v) { orders_may_lack_campaign_ = v; }

 private:
  static constexpr int kArenaRecords = 1024;
  bool orders_may_lack_campaign_ = false;
  v1::Event* NewEvent();
  // Parses `payload` into *event (a bare value into its payload); false
  // with *detail on a decode error. May replace *event.
  bool Parse(std::string_view payload, WireFormat wire, ValueType type, v1::Event** event,
             std::string* detail);
  // The rejection message of a typed input: what it expects, what came.
  void DescribeReject(v1::RejectReason reason, std::string_view payload, WireFormat wire,
                      const InputFormat& format, std::string_view label,
                      std::optional<uint32_t> schema_id, std::string* detail);

  google::protobuf::Arena arena_;
  int on_arena_ = 0;
  std::unique_ptr<JsonFastPath> json_fast_;
};

// What a user should do about a rejection, for logs and dead-letter records.
std::string RejectAdvice(v1::RejectReason reason);

}  // namespace promowatch
