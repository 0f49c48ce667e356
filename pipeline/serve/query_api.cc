#include "pipeline/serve/query_api.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "operators/encoding.h"
#include "operators/keys.h"
#include "operators/user_profiles.h"
#include "pipeline/io/file_io.h"
#include "promowatch/v1/state.pb.h"

namespace promowatch {
namespace {

using Reply = HttpServer::Reply;

// Ids are printable ASCII without '/', at most 128 characters.
bool ValidId(const std::string& id) {
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
           c == ':' || c == '*';
  });
}

// Equal-time comparison: the token is a secret.
bool SameSecret(const std::string& a, const std::string& b) {
  unsigned diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned>(a[i] ^ b[i % std::max<size_t>(b.size(), 1)]);
  return diff == 0;
}

}  // namespace

HttpServer::Reply JsonError(int status, const std::string& message) {
  return {status, nlohmann::json({{"error", message}}).dump(), "application/json"};
}

bool CarriesApiToken(const std::string& authorization, const std::string& token) {
  if (token.empty()) return false;
  const std::string bearer = "Bearer ", basic = "Basic ";
  if (authorization.rfind(bearer, 0) == 0) {
    return SameSecret(authorization.substr(bearer.size()), token);
  }
  std::string user_and_password;
  if (authorization.rfind(basic, 0) != 0 ||
      !absl::Base64Unescape(authorization.substr(basic.size()), &user_and_password)) {
    return false;
  }
  const size_t colon = user_and_password.find(':');
  return colon != std::string::npos && SameSecret(user_and_password.substr(colon + 1), token);
}

std::optional<Reply> QueryApi::Elsewhere(bool user, const std::string& id,
                                         const std::string& path) const {
  if (!locate_) return std::nullopt;
  const Placement p = locate_(user, id);
  if (p.here) return std::nullopt;
  if (p.address.empty()) {
    return JsonError(503,
                     std::string("the task of this ") + (user ? "user" : "campaign") +
                         " is moving to another instance (a rebalance): retry in a few seconds");
  }
  Reply r = JsonError(307, "served by the instance running this " +
                               std::string(user ? "user" : "campaign") + "'s task: " + p.address);
  r.location = options_.redirect_scheme + "://" + p.address + path;
  return r;
}

Reply QueryApi::Handle(const std::string& path, const std::string& authorization) const {
  if (!CarriesApiToken(authorization, options_.token)) {
    return JsonError(
        401, "send Authorization: Bearer <api.token> (reads of user data are personal data)");
  }
  auto rest = [&](const std::string& head) { return path.substr(head.size()); };
  const bool about_users = path.rfind("/v1/users/", 0) == 0 || path.rfind("/v1/tags/", 0) == 0;
  if (about_users && profiles_ == nullptr) {
    return JsonError(404,
                     "user profiles are off on this instance: set profiles.enabled: true to "
                     "keep them (the campaigns route works without)");
  }
  if (path.rfind("/v1/users/", 0) == 0) {
    const std::string id = rest("/v1/users/");
    if (!ValidId(id) || IsRollup(id))
      return JsonError(400, "a user id is 1-128 characters of [A-Za-z0-9_.:-]");
    if (auto r = Elsewhere(true, id, path)) return *r;
    std::string bytes;
    const absl::Status s = backend_->Get(UserProfileOperator::kTable, profile_key_(id), &bytes);
    if (absl::IsNotFound(s))
      return JsonError(404, "no profile for this user (as of the last checkpoint)");
    if (!s.ok()) return JsonError(503, std::string(s.message()));
    v1::UserProfile p;
    if (!p.ParseFromString(bytes)) return JsonError(500, "undecodable profile");
    std::string profile;
    google::protobuf::util::JsonPrintOptions o;
    o.preserve_proto_field_names = true;
    o.always_print_primitive_fields = true;
    (void)google::protobuf::util::MessageToJsonString(p, &profile, o);
    nlohmann::json tags = {{kRfmTag, p.tag_rfm()}, {kTierTag, p.tag_tier()}};
    for (const FlagTag& tag : kFlagTags) tags[std::string(tag.name)] = (p.*tag.get)();
    const std::string_view segment =
        NameOf(kSegmentNames, SegmentOf(p, options_.segment_precedence));
    nlohmann::json j = {{"user_id", id},
                        {"tags", tags},
                        {"segment", segment},
                        {"profile", nlohmann::json::parse(profile)}};
    return {200, j.dump(), "application/json", ""};
  }
  if (path.rfind("/v1/campaigns/", 0) == 0) {
    std::string id = rest("/v1/campaigns/");
    constexpr std::string_view kKpisPath = "/kpis";
    if (id.size() > kKpisPath.size() && id.ends_with(kKpisPath)) {
      id.resize(id.size() - kKpisPath.size());
      if (!ValidId(id))
        return JsonError(400, "a campaign id is 1-128 characters of [A-Za-z0-9_.:-]");
      if (auto r = Elsewhere(false, id, path)) return *r;
      return CampaignKpisJson(id);
    }
    constexpr std::string_view kSegments = "/segments";
    const bool segments = id.size() > kSegments.size() && id.ends_with(kSegments);
    if (segments) id.resize(id.size() - kSegments.size());
    if (!ValidId(id))
      return JsonError(400, "a campaign id is 1-128 characters of [A-Za-z0-9_.:-] (or * for all)");
    if (auto r = Elsewhere(false, id, path)) return *r;
    const auto windows = results_->LatestWindows(id, segments);
    if (windows.empty()) {
      return JsonError(404, segments ? "no recent segment windows for this campaign (segments "
                                       "need segments.enabled: true)"
                                     : "no recent windows for this campaign");
    }
    std::string body = "{\"campaign_id\":" + nlohmann::json(id).dump() + ",\"windows\":[";
    for (size_t i = 0; i < windows.size(); ++i) {
      if (i > 0) body.push_back(',');
      AppendWindowResultJson(windows[i], &body);
    }
    body += "]}";
    return {200, body, "application/json", ""};
  }
  if (path.rfind("/v1/tags/", 0) == 0 && path.size() > 15 &&
      path.compare(path.size() - 6, 6, "/count") == 0) {
    const std::string tag = path.substr(9, path.size() - 9 - 6);
    static const std::vector<std::string> kTags = [] {
      std::vector<std::string> names;
      for (const FlagTag& t : kFlagTags) names.emplace_back(t.name);
      for (std::string_view tier : kTiers) names.push_back(TierCountName(tier));
      return names;
    }();
    if (std::find(kTags.begin(), kTags.end(), tag) == kTags.end()) {
      return JsonError(400, fmt::format("tag is one of {}", fmt::join(kTags, ", ")));
    }
    const auto counts = profiles_->UserTagCounts();
    auto it = counts.find(tag);
    return {200,
            nlohmann::json({{"tag", tag}, {"users", it == counts.end() ? 0 : it->second}}).dump(),
            "application/json", ""};
  }
  return JsonError(404,
                   "unknown path: GET /v1/users/{id}, /v1/campaigns/{id}, "
                   "/v1/campaigns/{id}/segments, /v1/campaigns/{id}/kpis or "
                   "/v1/tags/{tag}/count");
}

HttpServer::Reply QueryApi::CampaignKpisJson(const std::string& id) const {
  const ResultsProbe::CampaignKpiView view = results_->Kpis(id);
  if (view.campaign == nullptr) {
    return JsonError(404, view.plan == nullptr
                              ? "no plan: set plan.file in the config (README, The plan)"
                              : "this campaign is not in the plan (" + view.plan->file + ")");
  }
  const CampaignPlan& c = *view.campaign;
  nlohmann::json kpis = nlohmann::json::array();
  for (const KpiValue& k : view.kpis) {
    nlohmann::json j = {{"kpi", k.target->kpi->name},
                        {"channel", k.target->channel.empty() ? "*" : k.target->channel},
                        {"target", k.target->value},
                        {"status", k.status}};
    j["actual"] = k.actual ? nlohmann::json(*k.actual) : nlohmann::json();
    j["projected"] = k.projected ? nlohmann::json(*k.projected) : nlohmann::json();
    if (k.as_of_ms > 0) {
      j["as_of_ms"] = k.as_of_ms;
      j["time_left_ms"] = std::max<int64_t>(0, c.end_ms - k.as_of_ms);
    }
    kpis.push_back(std::move(j));
  }
  const nlohmann::json body = {{"campaign_id", id},
                               {"period_start_ms", c.start_ms},
                               {"period_end_ms", c.end_ms},
                               {"kpis", kpis}};
  return {200, body.dump(), "application/json", ""};
}

}  // namespace promowatch
