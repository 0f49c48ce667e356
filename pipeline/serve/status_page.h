#pragma once
// The status page on the metrics port: GET / is one self-contained page
// (status_page.html, built into the binary: no CDN, no external fonts, works
// offline) that reads GET /v1/status (StatusBoard's JSON, docs/status.md)
// every 2 seconds. Read-only; it shows partitions, campaigns, alerts and
// rejection reasons, never user ids or payloads.
//
// Who may see them: with api.enabled, whoever carries api.token, like the
// rest of the API - "Authorization: Bearer" for tools, HTTP Basic (any user
// name, the token as the password) for a browser, which asks for it on the
// page's first 401 and sends it with the page's own requests; the token is
// never in the page, a URL or browser storage. Without the API, only while
// the port listens on a loopback address (127.0.0.0/8, ::1, localhost):
// elsewhere they answer 404 and say how to turn them on.

#include <optional>
#include <string>

#include "pipeline/config/config.h"
#include "pipeline/runtime/clock.h"
#include "pipeline/serve/http_server.h"
#include "pipeline/serve/status_board.h"

namespace promowatch {

// Whether HOST:PORT only listens on this machine.
bool IsLoopbackAddress(const std::string& address);

// Routes / and /v1/status on `http`. `board` must outlive the routes (or be
// null: the page says the pipeline is not running).
void ServeStatusPage(HttpServer& http, const StatusBoard* board, const ApiOptions& api,
                     const std::string& metrics_address, Clock clock);

}  // namespace promowatch
