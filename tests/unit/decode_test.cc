#include "pipeline/decode/decode.h"

#include <gtest/gtest.h>

namespace promowatch {
namespace {

class DecodeTest : public ::testing::Test {
 protected:
  v1::RejectReason Json(const std::string& s) { return d_.Decode(s, WireFormat::kJson, &rec_); }
  EventDecoder d_;
  EventRecord rec_;
};

TEST_F(DecodeTest, JsonAcceptsSnakeCamelEnumNamesNumbersAndInt64Strings) {
  ASSERT_EQ(
      Json(R"({"click":{"event_id":"e1","user_id":"u1","campaign_id":"c1","channel":"douyin",)"
           R"("type":"EVENT_TYPE_CLICK","event_time_ms":1762790400000}})"),
      v1::REJECT_REASON_UNSPECIFIED);
  EXPECT_EQ(rec_.kind, EventKind::kClick);
  EXPECT_EQ(rec_.code, kClick);
  EXPECT_EQ(rec_.event_time_ms, 1762790400000);
  EXPECT_EQ(rec_.channel, "douyin");
  EXPECT_EQ(rec_.event_id_hash, HashId("e1"));

  ASSERT_EQ(
      Json(R"({"order":{"eventId":"e2","orderId":"o1","userId":"u1","campaignId":"c1",)"
           R"("channel":"tmall","status":2,"amountCents":"8990","eventTimeMs":"1762790400001",)"
           R"("futureField":true}})"),
      v1::REJECT_REASON_UNSPECIFIED);
  EXPECT_EQ(rec_.kind, EventKind::kOrder);
  EXPECT_EQ(rec_.code, kPaid);
  EXPECT_EQ(rec_.amount_cents, 8990);
  EXPECT_EQ(rec_.order_id, "o1");
}

TEST_F(DecodeTest, EachRuleHasItsReason) {
  const std::string ok_click =
      R"("user_id":"u","campaign_id":"c","channel":"x","type":1,"event_time_ms":5)";
  EXPECT_EQ(Json("not json"), v1::REJECT_REASON_DECODE_ERROR);
  EXPECT_EQ(Json(R"({"click":{"event_id":"e",)"), v1::REJECT_REASON_DECODE_ERROR);
  EXPECT_EQ(Json("{}"), v1::REJECT_REASON_EMPTY_PAYLOAD);
  EXPECT_EQ(Json(R"({"click":{)" + ok_click + "}}"), v1::REJECT_REASON_MISSING_EVENT_ID);
  EXPECT_EQ(
      Json(
          R"({"click":{"event_id":"e","campaign_id":"c","channel":"x","type":1,"event_time_ms":5}})"),
      v1::REJECT_REASON_MISSING_USER_ID);
  EXPECT_EQ(
      Json(R"({"click":{"event_id":"e","user_id":"u","channel":"x","type":1,"event_time_ms":5}})"),
      v1::REJECT_REASON_MISSING_CAMPAIGN_ID);
  EXPECT_EQ(
      Json(
          R"({"click":{"event_id":"e","user_id":"u","campaign_id":"c","type":1,"event_time_ms":5}})"),
      v1::REJECT_REASON_MISSING_CHANNEL);
  EXPECT_EQ(
      Json(R"({"click":{"event_id":"e","user_id":"u","campaign_id":"c","channel":"x","type":1}})"),
      v1::REJECT_REASON_BAD_EVENT_TIME);
  EXPECT_EQ(
      Json(
          R"({"click":{"event_id":"e","user_id":"u","campaign_id":"c","channel":"x","type":1,"event_time_ms":-3}})"),
      v1::REJECT_REASON_BAD_EVENT_TIME);
  EXPECT_EQ(
      Json(
          R"({"click":{"event_id":"e","user_id":"u","campaign_id":"c","channel":"x","event_time_ms":5}})"),
      v1::REJECT_REASON_UNSPECIFIED_TYPE);
  EXPECT_EQ(
      Json(
          R"({"click":{"event_id":"e","user_id":"u","campaign_id":"c","channel":"x","type":9,"event_time_ms":5}})"),
      v1::REJECT_REASON_UNKNOWN_TYPE);
  EXPECT_EQ(
      Json(
          R"({"click":{"event_id":"e","user_id":"u","campaign_id":"*","channel":"x","type":1,"event_time_ms":5}})"),
      v1::REJECT_REASON_RESERVED_KEY);
  EXPECT_EQ(
      Json(
          R"({"order":{"event_id":"e","user_id":"u","campaign_id":"c","channel":"x","status":2,"amount_cents":5,"event_time_ms":5}})"),
      v1::REJECT_REASON_MISSING_ORDER_ID);
  EXPECT_EQ(
      Json(
          R"({"order":{"event_id":"e","order_id":"o","user_id":"u","campaign_id":"c","channel":"x","status":2,"amount_cents":-5,"event_time_ms":5}})"),
      v1::REJECT_REASON_NEGATIVE_AMOUNT);
  EXPECT_EQ(
      Json(
          R"({"order":{"event_id":"e","order_id":"o","user_id":"u","campaign_id":"c","channel":"x","amount_cents":5,"event_time_ms":5}})"),
      v1::REJECT_REASON_UNSPECIFIED_TYPE);
  EXPECT_EQ(
      Json(
          R"({"spend":{"event_id":"e","campaign_id":"c","channel":"x","cost_cents":5,"event_time_ms":5}})"),
      v1::REJECT_REASON_UNSPECIFIED)
      << "spend events carry no user";
}

// Ids are bounded (decode.h): at the limit counted, one byte over rejected.
TEST_F(DecodeTest, IdsOverTheirLimitAreTooLong) {
  auto click = [&](const std::string& event, const std::string& user, const std::string& campaign,
                   const std::string& channel) {
    return Json(R"({"click":{"event_id":")" + event + R"(","user_id":")" + user +
                R"(","campaign_id":")" + campaign + R"(","channel":")" + channel +
                R"(","type":1,"event_time_ms":5}})");
  };
  const std::string id(kMaxIdBytes, 'i'), key(kMaxCampaignIdBytes, 'k');
  EXPECT_EQ(click(id, id, key, key), v1::REJECT_REASON_UNSPECIFIED);
  EXPECT_EQ(click(id + "x", "u", "c", "x"), v1::REJECT_REASON_ID_TOO_LONG);
  EXPECT_EQ(click("e", id + "x", "c", "x"), v1::REJECT_REASON_ID_TOO_LONG);
  EXPECT_EQ(click("e", "u", key + "x", "x"), v1::REJECT_REASON_ID_TOO_LONG);
  EXPECT_EQ(click("e", "u", "c", key + "x"), v1::REJECT_REASON_ID_TOO_LONG);
  EXPECT_EQ(
      Json(
          R"({"order":{"event_id":"e","order_id":")" + id +
          R"(x","user_id":"u","campaign_id":"c","channel":"x","status":2,"amount_cents":5,"event_time_ms":5}})"),
      v1::REJECT_REASON_ID_TOO_LONG);
  EXPECT_EQ(Json(R"({"spend":{"event_id":")" + id +
                 R"(x","campaign_id":"c","channel":"x","cost_cents":5,"event_time_ms":5}})"),
            v1::REJECT_REASON_ID_TOO_LONG);
  EXPECT_EQ(RejectReasonName(v1::REJECT_REASON_ID_TOO_LONG), "id_too_long");
  EXPECT_NE(RejectAdvice(v1::REJECT_REASON_ID_TOO_LONG).find("256"), std::string::npos);
}

TEST_F(DecodeTest, BinaryRoundTripAndGarbage) {
  v1::Event e;
  auto* o = e.mutable_order();
  o->set_event_id("e1");
  o->set_order_id("o1");
  o->set_user_id("u1");
  o->set_campaign_id("c1");
  o->set_channel("jd");
  o->set_status(v1::ORDER_STATUS_REFUNDED);
  o->set_amount_cents(100);
  o->set_event_time_ms(42);
  const std::string bytes = e.SerializeAsString();
  ASSERT_EQ(d_.Decode(bytes, WireFormat::kBinary, &rec_), v1::REJECT_REASON_UNSPECIFIED);
  EXPECT_EQ(rec_.code, kRefunded);
  EXPECT_EQ(rec_.user_hash, HashId("u1"));
  std::string detail;
  EXPECT_EQ(
      d_.Decode(std::string("\x0a\xff\xff\xff\xff\x0f", 6), WireFormat::kBinary, &rec_, &detail),
      v1::REJECT_REASON_DECODE_ERROR);
  EXPECT_FALSE(detail.empty());
  EXPECT_EQ(d_.Decode("", WireFormat::kBinary, &rec_), v1::REJECT_REASON_EMPTY_PAYLOAD);
}

TEST(Decode, SniffAndNames) {
  EXPECT_EQ(SniffRecord("{\"click\":{}}"), WireFormat::kJson);
  EXPECT_EQ(SniffRecord(std::string("\x0a\x02", 2)), WireFormat::kBinary);
  for (int r = 1; r < kRejectReasonCount; ++r) {
    auto reason = static_cast<v1::RejectReason>(r);
    EXPECT_NE(RejectReasonName(reason), "unknown") << r;
    EXPECT_FALSE(RejectAdvice(reason).empty()) << RejectReasonName(reason);
  }
}

}  // namespace
}  // namespace promowatch
