#include "pipeline/io/kafka_events.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "pipeline/runtime/clock.h"

namespace promowatch {
namespace {

// A value fit for a quoted logfmt field.
std::string Quotable(std::string s) {
  std::replace(s.begin(), s.end(), '"', '\'');
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

spdlog::level::level_enum LevelOf(RdKafka::Event::Severity s) {
  switch (s) {
    case RdKafka::Event::EVENT_SEVERITY_EMERG:
    case RdKafka::Event::EVENT_SEVERITY_ALERT:
    case RdKafka::Event::EVENT_SEVERITY_CRITICAL:
    case RdKafka::Event::EVENT_SEVERITY_ERROR:
      return spdlog::level::err;
    case RdKafka::Event::EVENT_SEVERITY_WARNING:
      return spdlog::level::warn;
    case RdKafka::Event::EVENT_SEVERITY_NOTICE:
    case RdKafka::Event::EVENT_SEVERITY_INFO:
      return spdlog::level::info;
    default:
      return spdlog::level::debug;
  }
}

}  // namespace

std::vector<UnreachablePartition> Reachability::Update(const std::string& statistics_json,
                                                       int64_t now_ms) {
  try {
    return Read(statistics_json, now_ms);
  } catch (const nlohmann::json::exception&) {
    return {};  // (a field of another type than documented: nothing known)
  }
}

std::vector<UnreachablePartition> Reachability::Read(const std::string& json, int64_t now_ms) {
  std::vector<UnreachablePartition> out;
  const auto stats = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!stats.is_object()) return out;
  std::map<int32_t, std::string> state;  // by broker id
  if (auto b = stats.find("brokers"); b != stats.end() && b->is_object()) {
    for (const auto& [name, broker] : b->items()) {
      if (!broker.is_object()) continue;
      const int32_t id = broker.value("nodeid", -1);
      if (id < 0) continue;  // a bootstrap connection, not a broker of the cluster
      state[id] = broker.value("state", std::string());
      if (state[id] == "UP" || state[id] == "UPDATE" || state[id] == "INIT" ||
          last_up_ms_.count(id) == 0) {
        last_up_ms_[id] = now_ms;
      }
    }
  }
  std::map<std::pair<std::string, int32_t>, int64_t> unknown;
  auto t = stats.find("topics");
  if (t != stats.end() && t->is_object()) {
    for (const auto& [topic, info] : t->items()) {
      if (!info.is_object()) continue;
      auto parts = info.find("partitions");
      if (parts == info.end() || !parts->is_object()) continue;
      for (const auto& [key, p] : parts->items()) {
        if (!p.is_object()) continue;
        // Only partitions this client fetches (librdkafka lists every one it
        // knows, and -1 for messages not yet placed).
        const std::string fetch_state = p.value("fetch_state", std::string("none"));
        const int32_t partition = p.value("partition", -1);
        if (partition < 0 || fetch_state == "none" || fetch_state == "stopped") continue;
        const int32_t leader = p.value("leader", -1);
        auto s = state.find(leader);
        if (s == state.end()) {
          auto before = unknown_since_ms_.find({topic, partition});
          unknown[{topic, partition}] = before != unknown_since_ms_.end() ? before->second : now_ms;
          if (before != unknown_since_ms_.end()) {
            out.push_back({{topic, partition}, leader, "unknown", now_ms - before->second});
          }
        } else if (s->second != "UP" && s->second != "UPDATE" && s->second != "INIT") {
          out.push_back({{topic, partition}, leader, s->second, now_ms - last_up_ms_[leader]});
        }
      }
    }
  }
  unknown_since_ms_ = std::move(unknown);
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
    return std::tie(x.topic, x.partition) < std::tie(y.topic, y.partition);
  });
  return out;
}

void KafkaEvents::event_cb(RdKafka::Event& event) {
  switch (event.type()) {
    case RdKafka::Event::EVENT_STATS: {
      const int64_t now_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(MonotonicNow().time_since_epoch())
              .count();  // (a monotonic ms count: only differences matter)
      auto unreachable = reachability_.Update(event.str(), now_ms);
      std::lock_guard lock(mu_);
      unreachable_ = std::move(unreachable);
      break;
    }
    case RdKafka::Event::EVENT_ERROR:
      ++errors_;
      // (A broker connection's errors are in librdkafka's own log lines.)
      if (event.err() == RdKafka::ERR__TRANSPORT || event.err() == RdKafka::ERR__RESOLVE) break;
      spdlog::log(event.fatal() ? spdlog::level::err : spdlog::level::warn,
                  "msg=\"kafka client error\" client={} error=\"{}\" detail=\"{}\"", client_,
                  RdKafka::err2str(event.err()), Quotable(event.str()));
      break;
    case RdKafka::Event::EVENT_LOG:
      spdlog::log(LevelOf(event.severity()),
                  "msg=\"librdkafka\" client={} facility={} detail=\"{}\"", client_, event.fac(),
                  Quotable(event.str()));
      break;
    default:
      break;
  }
}

std::vector<UnreachablePartition> KafkaEvents::unreachable() const {
  std::lock_guard lock(mu_);
  return unreachable_;
}

}  // namespace promowatch
