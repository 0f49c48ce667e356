#pragma once
// The query API on the /metrics server (off by default):
//   GET /v1/users/{user_id}     profile and tags (personal data)
//   GET /v1/campaigns/{id}      the latest final windows of a campaign
//   GET /v1/tags/{tag}/count    users carrying a tag ("new", ..., or "tier:gold")
// Every request needs "Authorization: Bearer <api.token>" (401 without);
// a malformed id is 400, an unknown user or campaign 404. Profiles are read
// from RocksDB as of the last checkpoint (a consistent point-in-time read on
// the HTTP thread), never from the pipeline's memory: a query never blocks
// or races the pipeline.

#include <string>

#include "pipeline/serve/http_server.h"
#include "pipeline/serve/profiles_probe.h"
#include "pipeline/serve/results_probe.h"
#include "pipeline/state/rocksdb_state.h"

namespace promowatch {

class QueryApi {
 public:
  // `backend` and the probes (latest windows, tag counts) must outlive the API.
  QueryApi(ApiOptions options, RocksStateBackend* backend, const ResultsProbe* results,
           const ProfilesProbe* profiles)
      : options_(std::move(options)), backend_(backend), results_(results), profiles_(profiles) {}
  HttpServer::Reply Handle(const std::string& path, const std::string& authorization) const;

 private:
  ApiOptions options_;
  RocksStateBackend* backend_;
  const ResultsProbe* results_;
  const ProfilesProbe* profiles_;
};

}  // namespace promowatch
