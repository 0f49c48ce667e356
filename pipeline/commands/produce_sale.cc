#include "pipeline/commands/produce_sale.h"

#include <google/protobuf/util/json_util.h>

#include <string>

#include "promowatch/v1/events.pb.h"

namespace promowatch {

// Produces a generated sale to Kafka as producers following the contract
// do: each payload bare (or, with `envelope`, as an Event) to the input topic
// of its type, keyed by user id; garbage to the click topic. `pace` is
// called before each record and may sleep; returns false to stop.
int64_t ProduceSale(SaleGenerator& gen, KafkaSink& sink, const KafkaOptions& topics,
                    WireFormat format, bool envelope, const std::function<bool(int64_t n)>& pace) {
  // The topic of each type: the first input of that type, else the first
  // envelope topic (which takes anything), else the first input.
  auto topic_of = [&](ValueType type) -> const std::string& {
    for (const auto& t : topics.input_topics) {
      if (topics.InputFormatOf(t).type == type) return t;
    }
    for (const auto& t : topics.input_topics) {
      if (topics.InputFormatOf(t).type == ValueType::kEvent) return t;
    }
    return topics.input_topics[0];
  };
  const std::string& click_topic = topic_of(ValueType::kClick);
  const std::string& order_topic = topic_of(ValueType::kOrder);
  const std::string& spend_topic = topic_of(ValueType::kSpend);
  std::string record, value;
  v1::Event event;
  int64_t n = 0;
  google::protobuf::util::JsonPrintOptions json;
  json.preserve_proto_field_names = true;
  while (pace(n) && gen.Next(&record)) {
    const std::string* topic = &click_topic;
    std::string_view key;
    const google::protobuf::Message* message = nullptr;
    if (event.ParseFromString(record) && event.payload_case() != v1::Event::PAYLOAD_NOT_SET) {
      if (event.has_click()) key = event.click().user_id(), message = &event.click();
      if (event.has_order())
        topic = &order_topic, key = event.order().user_id(), message = &event.order();
      // Spend has no user: keyed by its event id (the task that counts it).
      if (event.has_spend())
        topic = &spend_topic, key = event.spend().event_id(), message = &event.spend();
      const ValueType topic_type = topics.InputFormatOf(*topic).type;
      if (envelope || topic_type == ValueType::kEvent) message = &event;
    }
    if (message == nullptr) {
      value = record;  // a malformed record, as generated
    } else if (format == WireFormat::kJson) {
      value.clear();
      (void)google::protobuf::util::MessageToJsonString(*message, &value, json);
    } else {
      message->SerializeToString(&value);
    }
    sink.Produce(*topic, key, value);
    if ((++n & 0xff) == 0) sink.Poll();
  }
  return n;
}

}  // namespace promowatch
