#include "pipeline/serve/http_server.h"

#include <httplib.h>

#include <charconv>

namespace promowatch {

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos ||
      std::from_chars(address.data() + colon + 1, address.data() + address.size(), port).ec !=
          std::errc() ||
      port <= 0 || port > 65535) {
    return absl::InvalidArgumentError("metrics address '" + address +
                                      "' is not HOST:PORT (like 0.0.0.0:9464)");
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::unique_ptr<HttpServer> s(new HttpServer());
  s->http_ = std::make_unique<httplib::Server>();
  HttpServer* self = s.get();
  s->http_->Get(R"(/.*)", [self](const httplib::Request& req, httplib::Response& res) {
    const Reply reply = self->Serve(Request{req.path, req.get_header_value("Authorization")});
    res.status = reply.status;
    if (reply.status == 401) res.set_header("WWW-Authenticate", "Bearer realm=\"promowatch\"");
    if (!reply.location.empty()) res.set_header("Location", reply.location);
    res.set_content(reply.body, reply.content_type);
  });
  if (!s->http_->bind_to_port(host, port)) {
    return absl::UnavailableError("cannot serve /metrics on " + address +
                                  " (is the port in use? set --metrics-address)");
  }
  s->thread_ = std::thread([server = s->http_.get()] { server->listen_after_bind(); });
  return s;
}

HttpServer::~HttpServer() {
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
}

void HttpServer::Route(const std::string& prefix, Handler handler) {
  std::lock_guard lock(mu_);
  routes_[prefix] = std::move(handler);
}

HttpServer::Reply HttpServer::Serve(const Request& request) const {
  Handler handler;
  {
    std::lock_guard lock(mu_);
    // Keys in descending order: the first prefix of the path is the longest.
    for (const auto& [prefix, h] : routes_) {
      if (request.path.compare(0, prefix.size(), prefix) == 0) {
        handler = h;
        break;
      }
    }
  }
  if (!handler) return Reply{404, "not found: " + request.path + "\n", "text/plain; charset=utf-8", ""};
  return handler(request);
}

}  // namespace promowatch
