#include "pipeline/serve/status_page.h"

#include "pipeline/serve/query_api.h"

namespace promowatch {

extern const char kStatusPageHtml[];  // status_page.html (generated: status_page_html.cc.in)

namespace {

using Reply = HttpServer::Reply;

// The page loads nothing from elsewhere; the policy makes sure of it.
constexpr const char* kPagePolicy =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

}  // namespace

bool IsLoopbackAddress(const std::string& address) {
  std::string host = address.substr(0, address.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

void ServeStatusPage(HttpServer& http, const StatusBoard* board, const ApiOptions& api,
                     const std::string& metrics_address, Clock clock) {
  const bool with_token = api.enabled;
  const bool open = !with_token && IsLoopbackAddress(metrics_address);
  // Who may look (status_page.h); nullopt: go ahead.
  auto refused = [with_token, open, token = api.token](const HttpServer::Request& r,
                                                       bool page) -> std::optional<Reply> {
    if (with_token) {
      if (CarriesApiToken(r.authorization, token)) return std::nullopt;
      Reply reply = JsonError(401,
                              "send api.token: Authorization: Bearer <token>, or in a browser the "
                              "token as the password (any user name)");
      if (page) reply.challenge = "Basic";
      return reply;
    }
    if (open) return std::nullopt;
    return JsonError(404,
                     "the status page is served on a loopback metrics.address, or with "
                     "api.enabled and api.token (then it needs the token)");
  };
  http.Route("/", [refused](const HttpServer::Request& r) {
    if (r.path != "/" && r.path != "/index.html") {
      return JsonError(404,
                       "no such page: try / (status), /metrics, /healthz, /readyz, /v1/status");
    }
    if (auto no = refused(r, true)) return *no;
    Reply page(200, kStatusPageHtml, "text/html; charset=utf-8");
    page.headers = {{"Content-Security-Policy", kPagePolicy},
                    {"Cache-Control", "no-store"},
                    {"X-Content-Type-Options", "nosniff"},
                    {"Referrer-Policy", "no-referrer"}};
    return page;
  });
  http.Route("/v1/status", [refused, board, clock](const HttpServer::Request& r) {
    if (auto no = refused(r, false)) return *no;
    if (r.path != "/v1/status") return JsonError(404, "no such route: GET /v1/status");
    if (board == nullptr) return JsonError(503, "the pipeline is not running");
    Reply reply(200, board->Json(clock()), "application/json");
    reply.headers = {{"Cache-Control", "no-store"}};
    return reply;
  });
}

}  // namespace promowatch
