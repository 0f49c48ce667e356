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
#include "pipeline/serve/metrics.h"
#include "pipeline/state/rocksdb_state.h"

namespace promowatch {

class QueryApi {
 public:
  // `backend` and `metrics` must outlive the API.
  QueryApi(ApiOptions options, RocksStateBackend* backend, const LiveMetrics* metrics)
      : options_(std::move(options)), backend_(backend), metrics_(metrics) {}
  HttpServer::Reply Handle(const std::string& path, const std::string& authorization) const;

 private:
  ApiOptions options_;
  RocksStateBackend* backend_;
  const LiveMetrics* metrics_;
};

}  // namespace promowatch
