#pragma once
// Helpers shared by the unit tests: events built in one line, a temp dir
// removed at the end, a sink that collects results.

#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "operators/event_record.h"
#include "operators/state.h"
#include "operators/window_operator.h"
#include "pipeline/decode/decode.h"

namespace promowatch::testing {

inline EventRecord Click(std::string id, std::string user, std::string campaign,
                         std::string channel, int32_t type, int64_t t_ms) {
  EventRecord e;
  e.kind = EventKind::kClick;
  e.code = type;
  e.event_time_ms = t_ms;
  e.event_id = std::move(id);
  e.user_id = std::move(user);
  e.campaign_id = std::move(campaign);
  e.channel = std::move(channel);
  e.event_id_hash = HashId(e.event_id);
  e.user_hash = HashId(e.user_id);
  return e;
}

inline EventRecord Order(std::string id, std::string user, std::string campaign,
                         std::string channel, int32_t status, int64_t amount, int64_t t_ms) {
  EventRecord e =
      Click(std::move(id), std::move(user), std::move(campaign), std::move(channel), 0, t_ms);
  e.kind = EventKind::kOrder;
  e.code = status;
  e.amount_cents = amount;
  e.order_id = "o-" + e.event_id;
  return e;
}

// The one result recorder of the unit tests: every window emitted, in order.
class CollectingSink final : public WindowResultSink {
 public:
  void Emit(const v1::WindowResult& r) override { results.push_back(r); }
  // Each result's bytes, for comparing whole runs byte for byte.
  std::vector<std::string> Serialized() const {
    std::vector<std::string> rows;
    for (const auto& r : results) rows.push_back(r.SerializeAsString());
    return rows;
  }
  std::vector<v1::WindowResult> Find(std::string_view window, std::string_view campaign,
                                     std::string_view channel) const {
    std::vector<v1::WindowResult> out;
    for (const auto& r : results) {
      if (r.window() == window && r.campaign_id() == campaign && r.channel() == channel) {
        out.push_back(r);
      }
    }
    return out;
  }
  std::vector<v1::WindowResult> results;
};

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("promowatch-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// 2026-11-11T00:00:00+08:00, a minute boundary.
inline constexpr int64_t kMidnight = 1'794'326'400'000;

// Every key and value of one table of a MemoryState.
inline std::map<std::string, std::string> TableContents(const MemoryState& s,
                                                        const std::string& table) {
  std::map<std::string, std::string> m;
  auto status = s.Scan(table, [&](std::string_view k, std::string_view v) {
    m.emplace(k, v);
    return absl::OkStatus();
  });
  if (!status.ok()) m.emplace("<scan failed>", std::string(status.message()));
  return m;
}

}  // namespace promowatch::testing
