// The status page's data (StatusBoard: rates, lag and catch-up from samples,
// the rings of checkpoints and dead letters, the campaigns table) and who
// may see it (status_page.h: the token with the API on, loopback without).

#include "pipeline/serve/status_page.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/escaping.h"
#include "pipeline/serve/status_board.h"
#include "unit/http_test_util.h"

namespace promowatch {
namespace {

using nlohmann::json;

StatusSample::Partition Part(const std::string& topic, int32_t p, int64_t next, int64_t end) {
  StatusSample::Partition out;
  out.topic = topic;
  out.partition = p;
  out.next_offset = next;
  out.end_offset = end;
  return out;
}

StatusSample At(int64_t wall_ms, std::vector<StatusSample::Partition> parts) {
  StatusSample s;
  s.wall_ms = wall_ms;
  s.partitions = std::move(parts);
  return s;
}

TEST(StatusBoard, LagRatesAndCatchUpComeFromTheSamples) {
  StatusBoard board({"0.1.0", "g", "127.0.0.1:1", "", nullptr}, 0);
  // Partition 0: reads 300/s while 100/s arrive, 1,000 behind at the end.
  // Partition 1: 50 waiting, nothing read for 10 s: stalled.
  for (int i = 0; i <= 10; ++i) {
    board.Sample(At(1'000 * i, {Part("clickstream", 0, 3'000 + 300 * i, 6'000 + 100 * i),
                                Part("clickstream", 1, 700, 750)}));
  }
  const json j = json::parse(board.Json(10'000));
  const json& p0 = j["input"]["partitions"][0];
  EXPECT_EQ(p0["lag_records"], 1'000);
  EXPECT_DOUBLE_EQ(p0["records_per_s"].get<double>(), 300);
  EXPECT_DOUBLE_EQ(p0["arriving_per_s"].get<double>(), 100);
  EXPECT_DOUBLE_EQ(p0["lag_seconds"].get<double>(), 10);      // 1,000 at 100/s
  EXPECT_DOUBLE_EQ(p0["catch_up_seconds"].get<double>(), 5);  // 1,000 at 300 - 100/s
  EXPECT_FALSE(p0["stalled"].get<bool>());
  const json& p1 = j["input"]["partitions"][1];
  EXPECT_EQ(p1["lag_records"], 50);
  EXPECT_TRUE(p1["stalled"].get<bool>());
  EXPECT_TRUE(p1["lag_seconds"].is_null());  // nothing arrives: no time to divide by
  EXPECT_TRUE(p1["catch_up_seconds"].is_null());
  EXPECT_DOUBLE_EQ(j["input"]["records_per_s"].get<double>(), 300);
  // One lag point per 10 s: at 0 and at 10 s, by topic.
  ASSERT_EQ(j["input"]["lag_history"].size(), 2u);
  EXPECT_EQ(j["input"]["lag_history"][0]["total"], 3'000 + 50);
  EXPECT_EQ(j["input"]["lag_history"][1]["by_topic"]["clickstream"], 1'000 + 50);
}

TEST(StatusBoard, LagHistoryKeepsFifteenMinutes) {
  StatusBoard board({"0.1.0", "g", "a", "", nullptr}, 0);
  for (int64_t t = 0; t <= 30 * 60'000; t += 1'000) {
    board.Sample(At(t, {Part("orders", 0, t / 1'000, t / 1'000 + 5)}));
  }
  const json h = json::parse(board.Json(30 * 60'000))["input"]["lag_history"];
  ASSERT_EQ(h.size(), 91u);  // 15 minutes at 10 s, both ends
  EXPECT_EQ(h.front()["wall_ms"], 15 * 60'000);
  EXPECT_EQ(h.back()["total"], 5);
}

TEST(StatusBoard, CheckpointsKeepTheLastTwentyWithTheirCommits) {
  StatusBoard board({"0.1.0", "g", "a", "", nullptr}, 0);
  for (int i = 1; i <= 25; ++i) {
    board.CheckpointTaken(i, 1'000 * i, 10.0 + i, 1'000 * i, 50'000);
    if (i < 25) board.CheckpointCommitted(i, 2.5, true);
  }
  board.CheckpointFailed(26'000, "disk full");
  const json c = json::parse(board.Json(30'000))["checkpoints"]["recent"];
  ASSERT_EQ(c.size(), 20u);
  EXPECT_EQ(c[0]["outcome"], "failed: disk full");  // newest first
  EXPECT_EQ(c[1]["sequence"], 25);
  EXPECT_EQ(c[1]["outcome"], "committing");
  EXPECT_TRUE(c[1]["commit_ms"].is_null());
  EXPECT_EQ(c[2]["sequence"], 24);
  EXPECT_EQ(c[2]["outcome"], "ok");
  EXPECT_DOUBLE_EQ(c[2]["commit_ms"].get<double>(), 2.5);
  EXPECT_DOUBLE_EQ(c[2]["pause_ms"].get<double>(), 34);
  EXPECT_EQ(c[19]["sequence"], 7);
}

v1::WindowResult Window(const std::string& campaign, const std::string& channel,
                        const std::string& size, int64_t start, int64_t gmv) {
  v1::WindowResult r;
  r.set_campaign_id(campaign);
  r.set_channel(channel);
  r.set_window(size);
  r.set_window_start_ms(start);
  r.set_gmv_cents(gmv);
  r.set_impressions(1'000);
  r.set_clicks(30);
  r.set_ctr(0.03);
  return r;
}

TEST(StatusBoard, CampaignsAreRankedByTheDaysGmvWithTheirLatestMinute) {
  StatusBoard board({"0.1.0", "g", "a", "", nullptr}, 0);
  const int64_t day = 86'400'000, minute = 60'000;
  board.ResultPublished(Window("c1", "*", "cumulative", day, 5'000));
  board.ResultPublished(Window("c2", "*", "cumulative", day, 9'000));
  board.ResultPublished(Window("c2", "douyin", "cumulative", day, 99'999));  // a channel: not here
  board.ResultPublished(Window("*", "*", "cumulative", day, 14'000));        // all: not a campaign
  for (int m = 0; m < 40; ++m) board.ResultPublished(Window("c1", "*", "1m", day + m * minute, m));
  // The next day starts from its own total; an older row changes nothing.
  board.ResultPublished(Window("c1", "*", "cumulative", 2 * day, 12'000));
  board.ResultPublished(Window("c1", "*", "cumulative", day, 7'000));
  const json c = json::parse(board.Json(0))["campaigns"];
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0]["campaign"], "c1");
  EXPECT_EQ(c[0]["gmv_cents"], 12'000);
  EXPECT_EQ(c[0]["minute_start_ms"], day + 39 * minute);
  EXPECT_DOUBLE_EQ(c[0]["ctr"].get<double>(), 0.03);
  EXPECT_TRUE(c[0]["cvr"].is_null());  // absent in the window: unknown, not 0
  ASSERT_EQ(c[0]["gmv_cents_by_minute"].size(), StatusBoard::kSparkMinutes);
  EXPECT_EQ(c[0]["gmv_cents_by_minute"].back(), 39);
  EXPECT_EQ(c[1]["campaign"], "c2");
  EXPECT_EQ(c[1]["gmv_cents"], 9'000);
}

// The plan section: each target with its KPI from the latest period row
// (rows of unplanned campaigns are not kept).
TEST(StatusBoard, PlanShowsEachTargetAgainstItsLatestPeriodRow) {
  StatusBoard board({"0.1.0", "g", "a", "", nullptr}, 0);
  auto plan = std::make_shared<Plan>();
  CampaignPlan& c = plan->campaigns.emplace_back();
  c.campaign = "c1";
  c.start_ms = 0;
  c.end_ms = 10 * 60'000;
  c.targets.push_back({FindKpi("gmv"), "", 1'000, 1});
  board.SetPlan(plan);
  v1::WindowResult r = Window("c1", "*", "period", 0, 30'000);  // 300 yuan
  r.set_window_end_ms(2 * 60'000);
  board.ResultPublished(r);
  r.set_window_end_ms(60'000);  // an older row changes nothing
  board.ResultPublished(r);
  board.ResultPublished(Window("c9", "*", "period", 0, 1));
  const json p = json::parse(board.Json(0))["plan"];
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0]["campaign"], "c1");
  ASSERT_EQ(p[0]["kpis"].size(), 1u);
  EXPECT_EQ(p[0]["kpis"][0]["actual"], 300);
  EXPECT_EQ(p[0]["kpis"][0]["projected"], 1'500);  // 300 in 2 of 10 minutes
  EXPECT_EQ(p[0]["kpis"][0]["status"], "met");
}

TEST(StatusBoard, DeadLettersKeepReasonSourceAndOffsetOnly) {
  StatusBoard board({"0.1.0", "g", "a", "", nullptr}, 0);
  for (int i = 0; i < 12; ++i) board.DeadLetter(i, "decode_error", "clickstream", 2, 100 + i);
  const json r = json::parse(board.Json(0))["rejections"];
  EXPECT_EQ(r["dead_letters_total"], 12);
  ASSERT_EQ(r["recent_dead_letters"].size(), StatusBoard::kDeadLetters);
  EXPECT_EQ(r["recent_dead_letters"][0], json({{"wall_ms", 11},
                                               {"reason", "decode_error"},
                                               {"topic", "clickstream"},
                                               {"partition", 2},
                                               {"offset", 111}}));
}

TEST(StatusBoard, AlertsCarryTheAlertsOutputsFieldsAndSurviveBadUtf8) {
  StatusBoard board({"0.1.0", "g", "a", "", nullptr}, 0);
  StatusSample s = At(1'000, {});
  AlertEvent a;
  a.rule = "low_ctr";
  a.state = kAlertFiring;
  a.campaign_id = "c\xff";  // not UTF-8
  a.channel = "douyin";
  a.active_since_ms = 42;
  a.annotations["summary"] = "CTR low";
  s.alerts.push_back(a);
  board.Sample(s);
  json j;
  ASSERT_NO_THROW(j = json::parse(board.Json(2'000)));
  const json& alert = j["alerts"][0];
  EXPECT_EQ(alert["rule"], "low_ctr");
  EXPECT_EQ(alert["state"], "firing");
  EXPECT_EQ(alert["campaign_id"], "c\xEF\xBF\xBD") << "replaced, not thrown";
  EXPECT_EQ(alert["active_since_ms"], 42);
  EXPECT_EQ(alert["summary"], "CTR low");
}

// --- Who may see the page (status_page.h).

struct Served {
  StatusBoard board{{"0.1.0", "g", "a", "", nullptr}, 0};
  std::unique_ptr<HttpServer> http;  // (stops before the board goes)
  Served(const ApiOptions& api, const std::string& advertised) {
    auto s = HttpServer::Start("127.0.0.1:0");
    EXPECT_TRUE(s.ok()) << s.status();
    http = std::move(*s);
    ServeStatusPage(*http, &board, api, advertised, [] { return int64_t{1'000}; });
  }
  // One GET on a connection of its own (HTTP/1.0: the server closes it).
  struct Response {
    int status = 0;
    std::string head, body;
    std::string header(const std::string& name) const {
      const size_t at = head.find("\r\n" + name + ": ");
      if (at == std::string::npos) return "";
      const size_t from = at + name.size() + 4;
      return head.substr(from, head.find("\r\n", from) - from);
    }
  };
  Response Get(const std::string& path, const std::string& authorization = "") const {
    const int fd = testing::ConnectLoopback(http->port());
    std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n";
    if (!authorization.empty()) request += "Authorization: " + authorization + "\r\n";
    request += "\r\n";
    EXPECT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    std::string raw;
    char buf[8192];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;)
      raw.append(buf, static_cast<size_t>(n));
    ::close(fd);
    Response r;
    const size_t split = raw.find("\r\n\r\n");
    r.head = raw.substr(0, split);
    r.body = split == std::string::npos ? "" : raw.substr(split + 4);
    if (raw.size() > 12) r.status = std::stoi(raw.substr(9, 3));
    return r;
  }
};

TEST(StatusPage, OnLoopbackWithoutTheApiEveryoneOnTheMachineMayLook) {
  Served s({}, "127.0.0.1:9464");
  auto page = s.Get("/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<title>promowatch status</title>"), std::string::npos);
  EXPECT_NE(page.header("Content-Security-Policy").find("default-src 'none'"), std::string::npos);
  auto status = s.Get("/v1/status");
  EXPECT_EQ(status.status, 200);
  EXPECT_EQ(json::parse(status.body)["version"], "0.1.0");
  auto other = s.Get("/favicon.ico");
  EXPECT_EQ(other.status, 404);
}

TEST(StatusPage, OnOtherAddressesWithoutTheApiNobodyMay) {
  for (const std::string address : {"0.0.0.0:9464", "10.1.2.3:9464", "[::]:9464"}) {
    Served s({}, address);
    for (const std::string path : {"/", "/v1/status"}) {
      auto r = s.Get(path);
      EXPECT_EQ(r.status, 404) << address << path;
      EXPECT_NE(r.body.find("api.enabled and api.token"), std::string::npos) << r.body;
    }
  }
}

TEST(StatusPage, WithTheApiTheTokenIsNeededAsBearerOrAsABrowsersPassword) {
  ApiOptions api;
  api.enabled = true;
  api.token = "s3cret-token";
  Served s(api, "127.0.0.1:9464");  // (loopback too: the token is still needed)
  auto page = s.Get("/");
  EXPECT_EQ(page.status, 401);
  EXPECT_EQ(page.header("WWW-Authenticate"), "Basic realm=\"promowatch\"");
  EXPECT_EQ(page.body.find("s3cret"), std::string::npos);
  auto status = s.Get("/v1/status");
  EXPECT_EQ(status.status, 401);
  EXPECT_EQ(status.header("WWW-Authenticate"), "Bearer realm=\"promowatch\"");

  const std::string basic = "Basic " + absl::Base64Escape("anyone:s3cret-token");
  const std::string wrong = "Basic " + absl::Base64Escape("anyone:s3cret-tokeX");
  EXPECT_EQ(s.Get("/", basic).status, 200);
  EXPECT_EQ(s.Get("/v1/status", basic).status, 200);
  EXPECT_EQ(s.Get("/v1/status", "Bearer s3cret-token").status, 200);
  EXPECT_EQ(s.Get("/", wrong).status, 401);
  EXPECT_EQ(s.Get("/v1/status", "Bearer s3cret-tokeX").status, 401);
  EXPECT_EQ(s.Get("/v1/status", "Basic !!notbase64").status, 401);
  EXPECT_EQ(s.Get("/v1/status", "Basic " + absl::Base64Escape("no-colon")).status, 401);
}

TEST(StatusPage, LoopbackAddresses) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1:9464"));
  EXPECT_TRUE(IsLoopbackAddress("127.3.2.1:1"));
  EXPECT_TRUE(IsLoopbackAddress("localhost:9464"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]:9464"));
  EXPECT_FALSE(IsLoopbackAddress("0.0.0.0:9464"));
  EXPECT_FALSE(IsLoopbackAddress("[::]:9464"));
  EXPECT_FALSE(IsLoopbackAddress("128.0.0.1:9464"));
  EXPECT_FALSE(IsLoopbackAddress("pod-0.promowatch:9464"));
}

}  // namespace
}  // namespace promowatch
