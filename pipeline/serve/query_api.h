#pragma once
// The query API on the /metrics server (off by default):
//   GET /v1/users/{user_id}     profile and tags (personal data)
//   GET /v1/campaigns/{id}      the latest final windows of a campaign
//   GET /v1/campaigns/{id}/segments   the same by user segment (segments.enabled)
//   GET /v1/tags/{tag}/count    users carrying a tag ("new", ..., or "tier:gold")
// Every request needs "Authorization: Bearer <api.token>" (401 without);
// a malformed id is 400, an unknown user or campaign 404. With several
// instances a user or campaign is answered by the instance running its task;
// another one redirects there (307, Location: http://HOST:PORT/v1/...), or
// answers 503 while the task is moving (a rebalance: retry). Profiles are read
// from RocksDB as of the last checkpoint (a consistent point-in-time read on
// the HTTP thread), never from the pipeline's memory: a query never blocks
// or races the pipeline.

#include <functional>
#include <optional>
#include <string>

#include "pipeline/serve/http_server.h"
#include "pipeline/serve/profiles_probe.h"
#include "pipeline/serve/results_probe.h"
#include "pipeline/state/rocksdb_state.h"

namespace promowatch {

// Whether an Authorization header carries `token` (api.token): "Bearer
// <token>", or HTTP Basic with the token as the password and any user name
// (what a browser sends once it asked for it: the status page). Compared in
// equal time; an empty token matches nothing.
bool CarriesApiToken(const std::string& authorization, const std::string& token);

// The API's error reply: {"error": message}.
HttpServer::Reply JsonError(int status, const std::string& message);

class QueryApi {
 public:
  // Where a user's profile is stored: its key in the profiles table (with
  // tasks, behind the key prefix of the user's task).
  using ProfileKey = std::function<std::string(const std::string& user_id)>;
  // Where the task of a user (or of a campaign's results) runs; called on
  // HTTP threads. `address` empty and not `here`: moving.
  struct Placement {
    bool here = true;
    std::string address;  // HOST:PORT of the instance running it
  };
  using Locate = std::function<Placement(bool user, const std::string& id)>;
  // `backend` and the probes (latest windows, tag counts) must outlive the API;
  // `profiles` is null when profiles are off (the user routes say so).
  QueryApi(ApiOptions options, RocksStateBackend* backend, const ResultsProbe* results,
           const ProfilesProbe* profiles, ProfileKey profile_key, Locate locate = nullptr)
      : options_(std::move(options)),
        backend_(backend),
        results_(results),
        profiles_(profiles),
        profile_key_(std::move(profile_key)),
        locate_(std::move(locate)) {}
  HttpServer::Reply Handle(const std::string& path, const std::string& authorization) const;

 private:
  ApiOptions options_;
  RocksStateBackend* backend_;
  const ResultsProbe* results_;
  const ProfilesProbe* profiles_;
  ProfileKey profile_key_;
  Locate locate_;
  // A redirect (or 503) when the id's task runs elsewhere; nullopt: here.
  std::optional<HttpServer::Reply> Elsewhere(bool user, const std::string& id,
                                             const std::string& path) const;
  // GET /v1/campaigns/{id}/kpis: the plan's targets of the campaign.
  HttpServer::Reply CampaignKpisJson(const std::string& id) const;
};

}  // namespace promowatch
