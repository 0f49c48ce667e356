// The input contract at its edges (pipeline/framing.h): typed topics, bare
// values and envelopes, Confluent Schema Registry frames, bounds.

#include <gtest/gtest.h>

#include "pipeline/decode/decode.h"
#include "pipeline/decode/framing.h"

namespace promowatch {
namespace {

v1::ClickEvent GoodClick() {
  v1::ClickEvent c;
  c.set_event_id("e1");
  c.set_user_id("u1");
  c.set_campaign_id("c1");
  c.set_channel("douyin");
  c.set_type(v1::EVENT_TYPE_CLICK);
  c.set_event_time_ms(1762790400720);
  return c;
}

// magic 0x00 + big-endian schema id + `rest`.
std::string Confluent(uint32_t schema_id, const std::string& rest) {
  std::string s(1, '\0');
  for (int shift = 24; shift >= 0; shift -= 8)
    s.push_back(static_cast<char>((schema_id >> shift) & 0xff));
  return s + rest;
}

class InputContractTest : public ::testing::Test {
 protected:
  v1::RejectReason Decode(const std::string& bytes, ValueType type,
                          ValueFraming framing = ValueFraming::kAuto) {
    detail_.clear();
    return d_.Decode(bytes, InputFormat{type, framing, std::nullopt, "topic"},
                     type == ValueType::kEvent ? "topic events" : "topic clickstream", &rec_,
                     &detail_);
  }
  EventDecoder d_;
  EventRecord rec_;
  std::string detail_;
};

TEST(Framing, DefaultTypesAndNames) {
  EXPECT_EQ(DefaultValueType("clickstream"), ValueType::kClick);
  EXPECT_EQ(DefaultValueType("orders"), ValueType::kOrder);
  EXPECT_EQ(DefaultValueType("spend"), ValueType::kSpend);
  EXPECT_EQ(DefaultValueType("app-events"), ValueType::kEvent);
  for (auto t : {ValueType::kClick, ValueType::kOrder, ValueType::kSpend, ValueType::kEvent}) {
    EXPECT_EQ(ParseValueType(ValueTypeName(t)), t);
  }
  EXPECT_FALSE(ParseValueType("clicks"));
  EXPECT_EQ(ParseValueFraming("confluent"), ValueFraming::kConfluent);
  EXPECT_FALSE(ParseValueFraming("avro"));
}

TEST_F(InputContractTest, BareJsonOfTheTopicsType) {
  ASSERT_EQ(
      Decode(
          R"({"event_id":"e1","user_id":"u1","campaign_id":"c1","channel":"douyin","type":"EVENT_TYPE_CLICK","event_time_ms":1762790400720})",
          ValueType::kClick),
      v1::REJECT_REASON_UNSPECIFIED)
      << detail_;
  EXPECT_EQ(rec_.kind, EventKind::kClick);
  EXPECT_EQ(rec_.event_time_ms, 1762790400720);
  ASSERT_EQ(
      Decode(
          R"({"eventId":"e2","orderId":"o","userId":"u","campaignId":"c","channel":"jd","status":"ORDER_STATUS_PAID","amountCents":"100","eventTimeMs":5})",
          ValueType::kOrder),
      v1::REJECT_REASON_UNSPECIFIED)
      << detail_;
  EXPECT_EQ(rec_.kind, EventKind::kOrder);
  EXPECT_EQ(rec_.amount_cents, 100);
  ASSERT_EQ(
      Decode(
          R"({"event_id":"s","campaign_id":"c","channel":"x","cost_cents":99,"event_time_ms":7})",
          ValueType::kSpend),
      v1::REJECT_REASON_UNSPECIFIED)
      << detail_;
  EXPECT_EQ(rec_.kind, EventKind::kSpend);
}

TEST_F(InputContractTest, EnvelopesOnTypedTopicsAreToldApartPerRecord) {
  ASSERT_EQ(
      Decode(
          R"({"click":{"event_id":"e1","user_id":"u1","campaign_id":"c1","channel":"douyin","type":2,"event_time_ms":5}})",
          ValueType::kClick),
      v1::REJECT_REASON_UNSPECIFIED)
      << detail_;
  // An envelope says what it carries: an order on the click topic counts as
  // the order it is.
  ASSERT_EQ(
      Decode(
          R"({"order":{"event_id":"e","order_id":"o","user_id":"u","campaign_id":"c","channel":"jd","status":2,"amount_cents":1,"event_time_ms":5}})",
          ValueType::kClick),
      v1::REJECT_REASON_UNSPECIFIED)
      << detail_;
  EXPECT_EQ(rec_.kind, EventKind::kOrder);
  // A bare click with an unknown key called "order": fields of ClickEvent
  // make it bare, the key is ignored.
  ASSERT_EQ(
      Decode(
          R"({"order":{"x":1},"event_id":"e1","user_id":"u1","campaign_id":"c1","channel":"douyin","type":2,"event_time_ms":5})",
          ValueType::kClick),
      v1::REJECT_REASON_UNSPECIFIED)
      << detail_;
  EXPECT_EQ(rec_.kind, EventKind::kClick);
}

TEST_F(InputContractTest, MisfitsSayWhatTheTopicExpectsAndWhatCame) {
  // An order sent to the click topic, bare: not a ClickEvent.
  EXPECT_EQ(
      Decode(R"({"order_id":"o","user_id":"u","status":"ORDER_STATUS_PAID"})", ValueType::kClick),
      v1::REJECT_REASON_MISSING_EVENT_ID);
  EXPECT_NE(
      detail_.find("topic clickstream expects ClickEvent (or an Event envelope); got an object "
                   "with fields order_id, user_id, status"),
      std::string::npos)
      << detail_;
  EXPECT_EQ(Decode(R"({})", ValueType::kClick), v1::REJECT_REASON_MISSING_EVENT_ID);
  EXPECT_NE(detail_.find("got an empty object"), std::string::npos) << detail_;
  EXPECT_EQ(Decode(R"({"event_id":)", ValueType::kClick), v1::REJECT_REASON_DECODE_ERROR);
  EXPECT_NE(detail_.find("got text that is not a JSON object"), std::string::npos) << detail_;
  // '[' is not JSON to the sniffer: binary that does not parse.
  EXPECT_EQ(Decode("[1]", ValueType::kClick), v1::REJECT_REASON_DECODE_ERROR);
  EXPECT_NE(detail_.find("3 bytes of binary protobuf"), std::string::npos) << detail_;
  // An empty value (a tombstone).
  EXPECT_EQ(Decode("", ValueType::kClick), v1::REJECT_REASON_EMPTY_PAYLOAD);
  EXPECT_NE(detail_.find("empty value"), std::string::npos) << detail_;
}

TEST_F(InputContractTest, BareBinaryAndTheOldBinaryEnvelope) {
  ASSERT_EQ(Decode(GoodClick().SerializeAsString(), ValueType::kClick),
            v1::REJECT_REASON_UNSPECIFIED)
      << detail_;
  EXPECT_EQ(rec_.user_id, "u1");
  // An Event envelope in binary on a typed topic (what producers sent before
  // typed topics) is still read as one.
  v1::Event e;
  *e.mutable_click() = GoodClick();
  ASSERT_EQ(Decode(e.SerializeAsString(), ValueType::kClick), v1::REJECT_REASON_UNSPECIFIED)
      << detail_;
  EXPECT_EQ(rec_.event_id, "e1");
  // A binary Event on an envelope topic.
  ASSERT_EQ(Decode(e.SerializeAsString(), ValueType::kEvent), v1::REJECT_REASON_UNSPECIFIED);
  // A bare ClickEvent on an envelope topic is not an Event.
  EXPECT_NE(Decode(GoodClick().SerializeAsString(), ValueType::kEvent),
            v1::REJECT_REASON_UNSPECIFIED);
  // A bare binary click lacking its user: the detail names the type.
  v1::ClickEvent c = GoodClick();
  c.clear_user_id();
  EXPECT_EQ(Decode(c.SerializeAsString(), ValueType::kClick), v1::REJECT_REASON_MISSING_USER_ID);
  EXPECT_NE(detail_.find("expects ClickEvent"), std::string::npos) << detail_;
  EXPECT_NE(detail_.find("bytes of binary protobuf"), std::string::npos) << detail_;
}

TEST_F(InputContractTest, ConfluentFramesAtTheirEdges) {
  const std::string click = GoodClick().SerializeAsString();
  // Protobuf serializer: indexes [0] written as the single byte 0.
  ASSERT_EQ(Decode(Confluent(7, std::string(1, '\0') + click), ValueType::kClick),
            v1::REJECT_REASON_UNSPECIFIED)
      << detail_;
  // Indexes [1, 2]: count 2 (zigzag 4), then 1 and 2 (zigzag 2, 4).
  ASSERT_EQ(Decode(Confluent(7, std::string("\x04\x02\x04", 3) + click), ValueType::kClick),
            v1::REJECT_REASON_UNSPECIFIED)
      << detail_;
  // JSON Schema serializer: the document right after the header.
  ASSERT_EQ(
      Decode(
          Confluent(
              9,
              R"({"event_id":"e1","user_id":"u1","campaign_id":"c1","channel":"douyin","type":2,"event_time_ms":5})"),
          ValueType::kClick),
      v1::REJECT_REASON_UNSPECIFIED)
      << detail_;
  // Only the header; a header cut short; indexes announced but missing.
  EXPECT_EQ(Decode(Confluent(42, ""), ValueType::kClick), v1::REJECT_REASON_BAD_FRAMING);
  EXPECT_NE(detail_.find("schema id 42"), std::string::npos) << detail_;
  EXPECT_EQ(Decode(std::string("\0\0\1", 3), ValueType::kClick), v1::REJECT_REASON_BAD_FRAMING);
  EXPECT_NE(detail_.find("Confluent frame of 3 bytes"), std::string::npos) << detail_;
  EXPECT_EQ(Decode(Confluent(42, "\x06\x02"), ValueType::kClick), v1::REJECT_REASON_BAD_FRAMING);
  EXPECT_NE(detail_.find("3 message indexes announced"), std::string::npos) << detail_;
  // A negative count is no count.
  EXPECT_EQ(Decode(Confluent(42, "\x03"), ValueType::kClick), v1::REJECT_REASON_BAD_FRAMING);
  // A frame whose message is not a ClickEvent names the framing and the id.
  EXPECT_EQ(Decode(Confluent(43, std::string(1, '\0') + "\x0a\xff\xff"), ValueType::kClick),
            v1::REJECT_REASON_DECODE_ERROR);
  EXPECT_NE(detail_.find("Confluent frame, schema id 43"), std::string::npos) << detail_;
  // plain: a leading 0x00 is not a frame (and not protobuf either).
  EXPECT_EQ(
      Decode(Confluent(7, std::string(1, '\0') + click), ValueType::kClick, ValueFraming::kPlain),
      v1::REJECT_REASON_DECODE_ERROR);
  // confluent: an unframed value is refused with what to do.
  EXPECT_EQ(Decode(click, ValueType::kClick, ValueFraming::kConfluent),
            v1::REJECT_REASON_BAD_FRAMING);
  EXPECT_NE(detail_.find("magic byte"), std::string::npos) << detail_;
}

TEST_F(InputContractTest, BoundsOfTimesAndAmounts) {
  v1::ClickEvent c = GoodClick();
  c.set_event_time_ms(INT64_MAX - 5);
  EXPECT_EQ(Decode(c.SerializeAsString(), ValueType::kClick),
            v1::REJECT_REASON_EVENT_TIME_OUT_OF_RANGE);
  c.set_event_time_ms(kMaxEventTimeMs);
  EXPECT_EQ(Decode(c.SerializeAsString(), ValueType::kClick),
            v1::REJECT_REASON_EVENT_TIME_OUT_OF_RANGE);
  c.set_event_time_ms(kMaxEventTimeMs - 1);  // 2099-12-31T23:59:59.999Z: in range
  EXPECT_EQ(Decode(c.SerializeAsString(), ValueType::kClick), v1::REJECT_REASON_UNSPECIFIED);
  EXPECT_EQ(
      Decode(
          R"({"event_id":"e","order_id":"o","user_id":"u","campaign_id":"c","channel":"jd","status":2,"amount_cents":"9223372036854775807","event_time_ms":5})",
          ValueType::kOrder),
      v1::REJECT_REASON_AMOUNT_OUT_OF_RANGE);
  EXPECT_EQ(
      Decode(
          R"({"event_id":"e","order_id":"o","user_id":"u","campaign_id":"c","channel":"jd","status":2,"amount_cents":1000000000000,"event_time_ms":5})",
          ValueType::kOrder),
      v1::REJECT_REASON_UNSPECIFIED);
  EXPECT_EQ(
      Decode(
          R"({"event_id":"s","campaign_id":"c","channel":"x","cost_cents":1000000000001,"event_time_ms":7})",
          ValueType::kSpend),
      v1::REJECT_REASON_AMOUNT_OUT_OF_RANGE);
}

TEST_F(InputContractTest, AByteOrderMarkBeforeJson) {
  EXPECT_EQ(SniffRecord("\xEF\xBB\xBF{\"click\":{}}"), WireFormat::kJson);
  ASSERT_EQ(Decode("\xEF\xBB\xBF{\"event_id\":\"e1\",\"user_id\":\"u1\",\"campaign_id\":\"c1\","
                   "\"channel\":\"x\",\"type\":2,\"event_time_ms\":5}",
                   ValueType::kClick),
            v1::REJECT_REASON_UNSPECIFIED)
      << detail_;
}

}  // namespace
}  // namespace promowatch
