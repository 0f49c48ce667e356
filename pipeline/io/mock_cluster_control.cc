// The embedded cluster's faults (librdkafka's mock API), one command line
// at a time: what tests drive from outside through `mock-kafka --control`.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <charconv>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "pipeline/io/kafka.h"

namespace promowatch {
namespace {

// The Kafka protocol's API keys the faults are useful for.
const std::map<std::string, int16_t>& ApiKeys() {
  static const std::map<std::string, int16_t> keys = {
      {"Produce", 0},      {"Fetch", 1},       {"ListOffsets", 2},      {"Metadata", 3},
      {"OffsetCommit", 8}, {"OffsetFetch", 9}, {"FindCoordinator", 10}, {"JoinGroup", 11},
      {"Heartbeat", 12},   {"LeaveGroup", 13}, {"SyncGroup", 14},       {"InitProducerId", 22},
  };
  return keys;
}

bool ParseInt(const std::string& s, int* out) {
  return !s.empty() && std::from_chars(s.data(), s.data() + s.size(), *out).ec == std::errc();
}

// A Kafka error code by number or by librdkafka's name for it.
bool ParseError(const std::string& s, rd_kafka_resp_err_t* out) {
  int n = 0;
  if (ParseInt(s, &n)) {
    *out = static_cast<rd_kafka_resp_err_t>(n);
    return true;
  }
  for (int code = 0; code < 128; ++code) {
    if (s == rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(code))) {
      *out = static_cast<rd_kafka_resp_err_t>(code);
      return true;
    }
  }
  return false;
}

}  // namespace

absl::Status MockKafkaCluster::Apply(std::string_view command) {
  std::istringstream in{std::string(command)};
  std::vector<std::string> w;
  for (std::string t; in >> t;) w.push_back(t);
  auto usage = [&] {
    return absl::InvalidArgumentError(
        "'" + std::string(command) +
        "': use down BROKER | up BROKER | rtt BROKER MS | errors API COUNT CODE | "
        "leader TOPIC PARTITION BROKER | coordinator group|transaction KEY BROKER");
  };
  auto result = [&](rd_kafka_resp_err_t e) {
    return e == RD_KAFKA_RESP_ERR_NO_ERROR
               ? absl::OkStatus()
               : absl::InvalidArgumentError(std::string(command) + ": " + rd_kafka_err2str(e));
  };
  int a = 0, b = 0;
  if (w.size() == 2 && (w[0] == "down" || w[0] == "up") && ParseInt(w[1], &a)) {
    return result(w[0] == "down" ? rd_kafka_mock_broker_set_down(cluster_, a)
                                 : rd_kafka_mock_broker_set_up(cluster_, a));
  }
  if (w.size() == 3 && w[0] == "rtt" && ParseInt(w[1], &a) && ParseInt(w[2], &b)) {
    return result(rd_kafka_mock_broker_set_rtt(cluster_, a, b));
  }
  if (w.size() == 4 && w[0] == "errors" && ParseInt(w[2], &a) && a > 0) {
    auto api = ApiKeys().find(w[1]);
    rd_kafka_resp_err_t code{};
    if (api == ApiKeys().end() || !ParseError(w[3], &code)) return usage();
    const std::vector<rd_kafka_resp_err_t> errors(static_cast<size_t>(a), code);
    rd_kafka_mock_push_request_errors_array(cluster_, api->second, errors.size(), errors.data());
    return absl::OkStatus();
  }
  if (w.size() == 4 && w[0] == "leader" && ParseInt(w[2], &a) && ParseInt(w[3], &b)) {
    return result(rd_kafka_mock_partition_set_leader(cluster_, w[1].c_str(), a, b));
  }
  // (A group's coordinator is placed by a hash of its name; a test that
  // takes a broker down chooses whether the coordinator goes with it.)
  if (w.size() == 4 && w[0] == "coordinator" && (w[1] == "group" || w[1] == "transaction") &&
      ParseInt(w[3], &a)) {
    return result(rd_kafka_mock_coordinator_set(cluster_, w[1].c_str(), w[2].c_str(), a));
  }
  return usage();
}

}  // namespace promowatch
