// libFuzzer: the query API's routes on any path and Authorization header
// (what reaches them once cpp-httplib has parsed a request; Bearer, or Basic
// as the status page's browser sends it, base64-decoded). Every answer is
// one of the documented statuses with a JSON body; nothing crashes.

#include <prometheus/registry.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "operators/user_profiles.h"
#include "pipeline/serve/query_api.h"
#include "pipeline/state/rocksdb_state.h"

using namespace promowatch;

namespace {

struct Fixture {
  Fixture() {
    const std::string dir =
        (std::filesystem::temp_directory_path() / ("query-api-fuzz-" + std::to_string(::getpid())))
            .string();
    backend = std::move(*RocksStateBackend::Open(dir, {std::string(UserProfileOperator::kTable)}));
    ApiOptions options;
    options.enabled = true;
    options.token = "fuzz-token-0123456789";
    api = std::make_unique<QueryApi>(
        options, backend.get(), &results, &profiles, [](const std::string& u) { return u; },
        [](bool user, const std::string& id) {
          // Some ids live elsewhere, some are moving: every branch is reached.
          QueryApi::Placement p;
          p.here = id.size() % 3 == 0;
          if (!user && id.size() % 3 == 1) p.address = "10.0.0.2:9464";
          return p;
        });
  }
  prometheus::Registry registry;
  ResultsProbe results{registry, MetricsOptions{}};
  ProfilesProbe profiles{registry};
  std::unique_ptr<RocksStateBackend> backend;
  std::unique_ptr<QueryApi> api;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture f;
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nl = input.find('\n');
  const std::string path = input.substr(0, nl);
  // A valid token half the time, so the routes behind it are reached.
  const std::string auth =
      nl == std::string::npos ? "Bearer fuzz-token-0123456789" : input.substr(nl + 1);
  const HttpServer::Reply r = f.api->Handle(path, auth);
  const bool documented = r.status == 200 || r.status == 307 || r.status == 400 ||
                          r.status == 401 || r.status == 404 || r.status == 503;
  if (!documented || !nlohmann::json::accept(r.body)) {
    std::fprintf(stderr, "status %d body %s\n", r.status, r.body.c_str());
    std::abort();
  }
  return 0;
}
