// libFuzzer: one input value as Kafka would hand it over - any value type,
// any framing (Schema Registry frames included), JSON or binary protobuf -
// through the decoder and its validation. It must return a reason (never
// crash, hang or read out of bounds), and an accepted event must hold what
// the contract says.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "operators/event_record.h"
#include "pipeline/decode/decode.h"
#include "pipeline/decode/framing.h"

using namespace promowatch;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // First byte: value type (2 bits), framing (2 bits), wire (2 bits).
  InputFormat format;
  format.type = static_cast<ValueType>(data[0] & 3);
  format.framing = static_cast<ValueFraming>(((data[0] >> 2) & 3) % 3);
  const int wire = (data[0] >> 4) & 3;
  if (wire == 1) format.wire = WireFormat::kBinary;
  if (wire == 2) format.wire = WireFormat::kJson;
  const std::string_view value(reinterpret_cast<const char*>(data) + 1, size - 1);

  // The frame's payload is a suffix of the value.
  const Unframed u = Unframe(value, format.framing);
  if (u.error.empty() && (u.payload.data() < value.data() ||
                          u.payload.data() + u.payload.size() != value.data() + value.size())) {
    std::abort();
  }

  static EventDecoder decoder;
  EventRecord event;
  std::string detail;
  const v1::RejectReason reason = decoder.Decode(value, format, "topic fuzz", &event, &detail);
  if (reason == v1::REJECT_REASON_UNSPECIFIED) {
    // Accepted: the contract's required fields are there.
    if (event.event_id.empty() || event.campaign_id.empty() || event.channel.empty()) std::abort();
    if (event.kind != EventKind::kSpend && event.user_id.empty()) std::abort();
  } else if (detail.empty()) {
    std::abort();  // every rejection says what is wrong
  }
  return 0;
}
