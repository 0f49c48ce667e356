#pragma once
// The metrics port's HTTP server (cpp-httplib), on its own: the parts that
// serve something register their routes here - /metrics, /healthz and
// /readyz (metrics.h), /v1/ (query_api.h). Routes may be added while it
// serves (the query API comes up after state is restored); a path no route
// claims answers 404.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace promowatch {

// What one client may take (a port anyone who reaches it can use: the
// kubelet's liveness probe must get through while others are slow).
struct HttpLimits {
  std::chrono::milliseconds request_timeout{5000};  // read, handle and write one request
  std::chrono::milliseconds keep_alive_idle{5000};  // between requests
  size_t keep_alive_requests = 100;                 // per connection
  size_t max_request_bytes = 64 * 1024;             // request line, headers, body
  size_t max_connections = 256;                     // served at once; more wait their turn
};

// TLS for the port (metrics.tls): a PEM certificate chain and its
// unencrypted PEM key (a mounted Secret). Empty: plain HTTP.
struct HttpTls {
  std::string cert_file;
  std::string key_file;
  bool enabled() const { return !cert_file.empty(); }
};

class HttpServer {
 public:
  using Limits = HttpLimits;

  struct Request {
    std::string path;
    std::string authorization;  // the Authorization header, if any
  };
  struct Reply {
    Reply(int status_code = 200, std::string reply_body = {},
          std::string type = "text/plain; charset=utf-8", std::string redirect_to = {})
        : status(status_code),
          body(std::move(reply_body)),
          content_type(std::move(type)),
          location(std::move(redirect_to)) {}
    int status;
    std::string body;
    std::string content_type;
    std::string location;  // a redirect's target
    // A 401's WWW-Authenticate: Bearer for the API; Basic makes a browser
    // ask for the token (the status page).
    std::string challenge = "Bearer";
    std::vector<std::pair<std::string, std::string>> headers;  // more response headers
  };
  using Handler = std::function<Reply(const Request&)>;

  // Binds HOST:PORT (port 0: any free one, see port()) and serves GET
  // requests, a thread per connection; over TLS 1.2+ when `tls` is set (the
  // handshake is part of the first request's deadline).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& address,
                                                           Limits limits = {},
                                                           const HttpTls& tls = {});
  ~HttpServer();

  int port() const { return port_; }

  // GET requests whose path starts with `prefix` (the longest prefix wins)
  // go to `handler`, on the server's threads.
  void Route(const std::string& prefix, Handler handler);

 private:
  HttpServer() = default;
  Reply Serve(const Request& request) const;

  class GuardedServer;
  std::unique_ptr<GuardedServer> http_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::map<std::string, Handler, std::greater<>> routes_;  // longest prefix first among equals
};

}  // namespace promowatch
