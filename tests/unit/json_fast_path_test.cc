// Differential test: whenever the simdjson fast path says it decoded a
// record, protobuf's own JSON parser must accept the same bytes and produce
// the same message. On everything else the fast path must step aside.

#include "pipeline/decode/json_fast_path.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <random>

#include "json_differential.h"
#include "pipeline/generator/generator.h"

namespace promowatch {
namespace {

void ExpectAgreement(const std::string& line, ValueType type = ValueType::kEvent) {
  const JsonOutcome o = CompareWithProtobuf(line, type);
  if (!o.fast) return;  // protobuf decides: nothing to compare
  EXPECT_TRUE(o.proto_ok) << "fast path accepted what protobuf rejects: " << line;
  EXPECT_TRUE(o.same) << "fast path decoded differently from protobuf: " << line;
}

// The payload of a generated envelope line, as a producer of a typed topic
// sends it; the type it has.
std::pair<std::string, ValueType> Bare(const std::string& envelope) {
  const auto j = nlohmann::json::parse(envelope, nullptr, false);
  if (!j.is_object() || j.size() != 1) return {envelope, ValueType::kClick};
  const auto it = j.begin();
  const std::string& k = it.key();
  const ValueType t = k == "order"   ? ValueType::kOrder
                      : k == "spend" ? ValueType::kSpend
                                     : ValueType::kClick;
  return {it.value().dump(), t};
}

TEST(JsonFastPath, HandlesTheCommonShapesLikeProtobuf) {
  const std::vector<std::string> fast_ok = {
      R"({"click":{"eventId":"e1","userId":"u1","campaignId":"c1","channel":"douyin","type":"EVENT_TYPE_CLICK","eventTimeMs":"1794326400000","skuId":"s","sessionId":"x"}})",
      R"({"click":{"event_id":"e1","user_id":"u1","campaign_id":"c1","channel":"douyin","type":2,"event_time_ms":1794326400000}})",
      R"({"order":{"event_id":"e","order_id":"o","user_id":"u","campaign_id":"c","channel":"jd","status":"ORDER_STATUS_PAID","amount_cents":"-12","currency":"CNY","event_time_ms":5}})",
      R"({"spend":{"eventId":"s","campaignId":"c","channel":"x","costCents":"99","eventTimeMs":7}})",
      R"({"click":{"eventId":"e\u00e9\"q","type":9,"extra":{"deep":[1,{"x":null}]},"eventTimeMs":1}, "meta": [1,2]})",
      R"({"order":{"type":"whatever","eventId":"e","status":3}})",
      R"(  {"click" : { "eventId" : "e" } }  )",
      R"({})",
  };
  for (const auto& line : fast_ok) {
    const JsonOutcome o = CompareWithProtobuf(line);
    EXPECT_TRUE(o.fast) << "expected the fast path to handle: " << line;
    EXPECT_TRUE(o.proto_ok) << line;
    EXPECT_TRUE(o.same) << line;
  }
}

TEST(JsonFastPath, StepsAsideOnEverythingElse) {
  const std::vector<std::string> hand_over = {
      R"({"click":{"eventId":"e1","event_id":"e2"}})",         // the same field twice
      R"({"click":{"eventId":null}})",                         // null
      R"({"click":{"eventTimeMs":1.5}})",                      // a float
      R"({"click":{"eventTimeMs":"1e3"}})",                    // not plain digits
      R"({"click":{"eventTimeMs":"99999999999999999999"}})",   // out of range
      R"({"click":{"type":"EVENT_TYPE_NOPE"}})",               // unknown enum name
      R"({"click":{"type":"ORDER_STATUS_PAID"}})",             // another enum's name
      R"({"click":{"eventId":"e"},"order":{"eventId":"o"}})",  // two payloads
      R"({"click":{"eventId":"e"}} trailing)",
      R"({"click":{"eventId":"e"})",
      R"({"click":5})",
      R"([1,2])",
      R"(not json)",
      "",
      // Found by json_differential_fuzz: protobuf rejects an empty key.
      R"({"click":{"eventId":"e1","":"x","userId":"u"}})",
      R"({"":1,"click":{"eventId":"e1"}})",
  };
  for (const auto& line : hand_over) {
    EXPECT_FALSE(CompareWithProtobuf(line).fast)
        << "the fast path should leave this to protobuf: " << line;
  }
}

TEST(JsonFastPath, TypedTopicsTakeBareValuesAndEnvelopesLikeProtobuf) {
  struct Case {
    std::string line;
    ValueType type;
    bool fast;
  };
  const std::vector<Case> cases = {
      // Bare values of each type, both spellings.
      {R"({"event_id":"e1","user_id":"u1","campaign_id":"c1","channel":"douyin","type":"EVENT_TYPE_CLICK","event_time_ms":1762790400720})",
       ValueType::kClick, true},
      {R"({"eventId":"e","orderId":"o","userId":"u","campaignId":"c","channel":"jd","status":2,"amountCents":"100","eventTimeMs":5})",
       ValueType::kOrder, true},
      {R"({"event_id":"s","campaign_id":"c","channel":"x","cost_cents":99,"event_time_ms":7})",
       ValueType::kSpend, true},
      // An envelope on a typed topic, also of another type.
      {R"({"click":{"eventId":"e"}})", ValueType::kClick, true},
      {R"({"order":{"eventId":"e","status":2}})", ValueType::kClick, true},
      // A bare value with an unknown key named like an envelope key (not an object).
      {R"({"event_id":"e","order":"o-1"})", ValueType::kClick, false},
      // A bare value with an envelope-like key that is an object: fields win.
      {R"({"event_id":"e","click":{"eventId":"x"}})", ValueType::kClick, false},
      // "type" is not an OrderEvent field: unknown, skipped.
      {R"({"event_id":"e","type":"x","status":"ORDER_STATUS_PAID"})", ValueType::kOrder, true},
      // Neither shape: an empty bare value (validation names what is missing).
      {R"({"foo":1})", ValueType::kSpend, true},
      {R"({})", ValueType::kClick, true},
      // A bare value's field given twice.
      {R"({"event_id":"e","eventId":"f"})", ValueType::kClick, false},
  };
  for (const auto& c : cases) {
    const JsonOutcome o = CompareWithProtobuf(c.line, c.type);
    EXPECT_EQ(o.fast, c.fast) << c.line;
    if (o.fast) {
      EXPECT_TRUE(o.proto_ok) << c.line;
      EXPECT_TRUE(o.same) << c.line;
    }
  }
}

TEST(JsonFastPath, AgreesWithProtobufOnGeneratedAndMutatedRecords) {
  GeneratorOptions g;
  g.records = 5'000;
  g.malformed_rate = 0.05;
  SaleGenerator gen(g, WireFormat::kJson);
  std::vector<std::string> lines;
  std::string rec;
  int fast = 0;
  while (gen.Next(&rec)) {
    lines.push_back(rec);
    const JsonOutcome o = CompareWithProtobuf(rec);
    if (o.fast) {
      ++fast;
      ASSERT_TRUE(o.proto_ok && o.same) << rec;
    }
  }
  EXPECT_GT(fast, 4'700) << "the fast path should take nearly every generated record";
  // The same records bare, on topics of their type.
  int bare_fast = 0;
  for (const auto& line : lines) {
    const auto [bare, type] = Bare(line);
    const JsonOutcome o = CompareWithProtobuf(bare, type);
    if (o.fast) {
      ++bare_fast;
      ASSERT_TRUE(o.proto_ok && o.same) << bare;
    }
  }
  EXPECT_GT(bare_fast, 4'700) << "the fast path should take nearly every bare record";

  // Random byte-level mutations: insert, delete or replace one or two bytes.
  // PROMOWATCH_FUZZ_ITERATIONS / PROMOWATCH_FUZZ_SEED run it longer by hand.
  const char* iters_env = std::getenv("PROMOWATCH_FUZZ_ITERATIONS");
  const char* seed_env = std::getenv("PROMOWATCH_FUZZ_SEED");
  const long iterations = iters_env ? std::atol(iters_env) : 20'000;
  std::mt19937_64 rng(seed_env ? std::strtoull(seed_env, nullptr, 10) : 42);
  const std::string alphabet = "{}[]\",:0123456789-.eE nulltrue\\u";
  for (long i = 0; i < iterations; ++i) {
    std::string m = lines[rng() % lines.size()];
    const int edits = 1 + static_cast<int>(rng() % 2);
    for (int k = 0; k < edits && !m.empty(); ++k) {
      const size_t pos = rng() % m.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          m.insert(pos, 1, c);
          break;
        case 1:
          m.erase(pos, 1);
          break;
        default:
          m[pos] = c;
          break;
      }
    }
    ExpectAgreement(m);
    // ... and as a bare value of a typed topic (mutations of envelopes and
    // of bare values alike).
    const auto [bare, type] = Bare(lines[rng() % lines.size()]);
    std::string mb = bare;
    const size_t pos = mb.empty() ? 0 : rng() % mb.size();
    if (!mb.empty()) mb[pos] = alphabet[rng() % alphabet.size()];
    ExpectAgreement(mb, type);
    ExpectAgreement(m, type);
    if (HasFailure()) break;
  }
}

}  // namespace
}  // namespace promowatch
