#pragma once
// The metrics port's HTTP server (cpp-httplib), on its own: the parts that
// serve something register their routes here - /metrics, /healthz and
// /readyz (metrics.h), /v1/ (query_api.h). Routes may be added while it
// serves (the query API comes up after state is restored); a path no route
// claims answers 404.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace promowatch {

class HttpServer {
 public:
  struct Request {
    std::string path;
    std::string authorization;  // the Authorization header, if any
  };
  struct Reply {
    int status = 200;
    std::string body;
    std::string content_type = "text/plain; charset=utf-8";
    std::string location;  // a redirect's target
  };
  using Handler = std::function<Reply(const Request&)>;

  // Binds HOST:PORT and serves GET requests on a thread of its own.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& address);
  ~HttpServer();

  // GET requests whose path starts with `prefix` (the longest prefix wins)
  // go to `handler`, on the server's threads.
  void Route(const std::string& prefix, Handler handler);

 private:
  HttpServer() = default;
  Reply Serve(const Request& request) const;

  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::map<std::string, Handler, std::greater<>> routes_;  // longest prefix first among equals
};

}  // namespace promowatch
