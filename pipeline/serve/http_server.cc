#include "pipeline/serve/http_server.h"

#include <fcntl.h>
#include <httplib.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <set>

namespace promowatch {
namespace {

using SteadyClock = std::chrono::steady_clock;

// A connection's socket with a deadline per request: cpp-httplib's own
// stream restarts its read timeout with every byte, so a client sending a
// byte a second held a worker forever. Here the whole request (read, handle,
// write) has `request_timeout`, and a request is at most `max_request_bytes`
// of line and headers. Over TLS the socket is non-blocking and every
// OpenSSL call that wants to read or write waits for the socket within the
// same deadline (a handshake sent a byte at a time times out alike).
class DeadlineStream : public httplib::Stream {
 public:
  DeadlineStream(int fd, size_t max_request_bytes)
      : fd_(fd), max_request_bytes_(max_request_bytes) {}
  ~DeadlineStream() override {
    if (ssl_ == nullptr) return;
    SSL_shutdown(ssl_);  // (one try: the close_notify, if the socket takes it)
    SSL_free(ssl_);
  }

  // TLS on this connection: the handshake, by `deadline`.
  bool AcceptTls(SSL_CTX* ctx, SteadyClock::time_point deadline) {
    const int flags = ::fcntl(fd_, F_GETFL, 0);
    if (flags < 0 || ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK) < 0) return false;
    ssl_ = SSL_new(ctx);
    if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) return false;
    deadline_ = deadline;
    return TlsCall([this] { return SSL_accept(ssl_); }) == 1;
  }

  // The next request starts: its clock and its byte budget.
  void StartRequest(SteadyClock::time_point deadline) {
    deadline_ = deadline;
    request_bytes_ = 0;
  }

  // Waits until a byte is there to read, up to `until`.
  bool WaitReadable(SteadyClock::time_point until) const {
    return buffered() > 0 || (ssl_ != nullptr && SSL_pending(ssl_) > 0) || Poll(POLLIN, until);
  }

  bool is_readable() const override { return WaitReadable(deadline_); }
  bool is_writable() const override { return Poll(POLLOUT, deadline_); }

  ssize_t read(char* ptr, size_t size) override {
    if (buffered() == 0) {
      if (request_bytes_ >= max_request_bytes_) return -1;
      ssize_t n;
      if (ssl_ != nullptr) {
        n = TlsCall([this] { return SSL_read(ssl_, buffer_, sizeof(buffer_)); });
      } else {
        if (!is_readable()) return -1;
        n = ::recv(fd_, buffer_, sizeof(buffer_), 0);
      }
      if (n <= 0) return n;
      begin_ = 0;
      end_ = static_cast<size_t>(n);
      request_bytes_ += static_cast<size_t>(n);
    }
    const size_t n = std::min(size, buffered());
    std::memcpy(ptr, buffer_ + begin_, n);
    begin_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (ssl_ != nullptr) {
      const int n = static_cast<int>(std::min<size_t>(size, 1 << 30));
      return TlsCall([&] { return SSL_write(ssl_, ptr, n); });
    }
    if (!is_writable()) return -1;
    return ::send(fd_, ptr, size, MSG_NOSIGNAL);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { Name(false, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { Name(true, ip, port); }
  socket_t socket() const override { return fd_; }

 private:
  size_t buffered() const { return end_ - begin_; }

  // An OpenSSL call on the non-blocking socket, repeated as the socket
  // becomes ready, until the deadline: its result (> 0 done, 0 the peer
  // closed, -1 failed or out of time).
  template <typename Call>
  int TlsCall(const Call& call) {
    for (;;) {
      ERR_clear_error();
      const int r = call();
      if (r > 0) return r;
      switch (SSL_get_error(ssl_, r)) {
        case SSL_ERROR_ZERO_RETURN:
          return 0;
        case SSL_ERROR_WANT_READ:
          if (!Poll(POLLIN, deadline_)) return -1;
          break;
        case SSL_ERROR_WANT_WRITE:
          if (!Poll(POLLOUT, deadline_)) return -1;
          break;
        default:
          return -1;
      }
    }
  }

  bool Poll(short events, SteadyClock::time_point until) const {
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, events, 0};
      const int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
      if (r > 0) return (p.revents & (events | POLLHUP | POLLERR)) != 0;
      if (r < 0 && errno != EINTR) return false;
    }
  }

  void Name(bool local, std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    auto* sa = reinterpret_cast<sockaddr*>(&addr);
    if ((local ? ::getsockname(fd_, sa, &len) : ::getpeername(fd_, sa, &len)) != 0) return;
    char host[NI_MAXHOST];
    if (::getnameinfo(sa, len, host, sizeof(host), nullptr, 0, NI_NUMERICHOST) == 0) ip = host;
    port = addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(sa)->sin6_port)
                                      : ntohs(reinterpret_cast<sockaddr_in*>(sa)->sin_port);
  }

  int fd_;
  size_t max_request_bytes_;
  char buffer_[4096];
  size_t begin_ = 0;
  size_t end_ = 0;
  size_t request_bytes_ = 0;
  SteadyClock::time_point deadline_{};
  SSL* ssl_ = nullptr;
};

// The port's TLS context: TLS 1.2 or newer, the certificate chain and key
// of `tls`, checked against each other. Errors name the file and the fix.
absl::StatusOr<SSL_CTX*> NewTlsContext(const HttpTls& tls) {
  const auto openssl_error = [] {
    const unsigned long e = ERR_get_error();
    char text[256] = "unknown error";
    if (e != 0) ERR_error_string_n(e, text, sizeof(text));
    return std::string(text);
  };
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return absl::InternalError("TLS: " + openssl_error());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  std::string error;
  if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) != 1) {
    error = "metrics.tls.cert_file " + tls.cert_file + ": cannot load a PEM certificate chain (" +
            openssl_error() + "): give the server certificate first, then its intermediates";
  } else {
    // (Read here, not by SSL_CTX_use_PrivateKey_file: an unreadable key and
    // a key of another certificate deserve different hints. An encrypted
    // key would have OpenSSL ask for its password on the terminal: the
    // callback refuses instead.)
    BIO* file = BIO_new_file(tls.key_file.c_str(), "r");
    EVP_PKEY* key = file == nullptr
                        ? nullptr
                        : PEM_read_bio_PrivateKey(
                              file, nullptr, [](char*, int, int, void*) { return 0; }, nullptr);
    if (key == nullptr) {
      error = "metrics.tls.key_file " + tls.key_file + ": cannot load a PEM private key (" +
              openssl_error() + "): an unencrypted key is needed (e.g. a mounted Secret)";
    } else if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
      error = "metrics.tls.key_file " + tls.key_file + " is not the key of metrics.tls.cert_file " +
              tls.cert_file + " (" + openssl_error() + ")";
    }
    EVP_PKEY_free(key);
    BIO_free(file);
  }
  if (!error.empty()) {
    SSL_CTX_free(ctx);
    return absl::InvalidArgumentError(error);
  }
  return ctx;
}

// A thread per connection, up to kMaxConnections at once (then they queue):
// a slow client holds only its own thread, so /healthz is answered while a
// few hold theirs. (httplib's fixed pool of 8 was held by 8 slow clients.)
// When every thread is taken, a new connection makes room: `make_room`
// ends the longest-idle connection (one waiting for a request), whose
// thread then takes the new one - so 2,000 idle connections cannot keep a
// liveness probe waiting behind them. A freed thread takes the newest
// queued connection (LIFO, as servers under overload do): taking the
// oldest left a probe behind every connection accepted before it, each
// held for its idle timeout, when the accepting thread ran ahead of the
// connections' threads (one CPU).
class ConnectionThreads : public httplib::TaskQueue {
 public:
  ConnectionThreads(size_t max, std::function<void()> make_room)
      : max_(max), make_room_(std::move(make_room)) {}

  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard lock(mu_);
      if (running_ < max_) {
        ++running_;
        std::thread([this, fn = std::move(fn)]() mutable { Work(std::move(fn)); }).detach();
        return;
      }
      queued_.push_back(std::move(fn));
    }
    if (make_room_) make_room_();  // (outside the lock: it takes the server's)
  }

  void shutdown() override {
    std::unique_lock lock(mu_);
    idle_.wait(lock, [&] { return running_ == 0; });
  }

 private:
  void Work(std::function<void()> fn) {
    for (;;) {
      fn();
      std::lock_guard lock(mu_);
      if (queued_.empty()) {
        --running_;
        idle_.notify_all();
        return;
      }
      fn = std::move(queued_.back());
      queued_.pop_back();
    }
  }

  const size_t max_;
  const std::function<void()> make_room_;
  std::mutex mu_;
  std::condition_variable idle_;
  size_t running_ = 0;
  std::deque<std::function<void()>> queued_;
};

}  // namespace

// cpp-httplib's server with its connection loop replaced (the virtual it
// provides for TLS): DeadlineStream per connection, open sockets known so
// that stopping does not wait for a slow client.
// Set by a handler on the connection's own thread: the connection ends
// after this reply (httplib closes only when the client asks).
thread_local bool close_after_reply = false;

class HttpServer::GuardedServer : public httplib::Server {
 public:
  // `tls`: null for plain HTTP; owned from here on.
  GuardedServer(Limits limits, SSL_CTX* tls) : limits_(limits), tls_(tls) {
    new_task_queue = [this, max = limits.max_connections] {
      return new ConnectionThreads(max, [this] { EndLongestIdle(); });
    };
    set_payload_max_length(limits.max_request_bytes);
  }
  ~GuardedServer() override {
    if (tls_ != nullptr) SSL_CTX_free(tls_);
  }

  // cpp-httplib listens with a backlog of 5: a burst of connections had
  // the kernel drop SYNs, and a probe's connect waited a second to retry.
  void WidenBacklog() { ::listen(svr_sock_, SOMAXCONN); }

  // Ends the connection that has waited longest for a request (none: no-op).
  void EndLongestIdle() {
    std::lock_guard lock(mu_);
    auto oldest = idle_.end();
    for (auto it = idle_.begin(); it != idle_.end(); ++it) {
      if (oldest == idle_.end() || it->second < oldest->second) oldest = it;
    }
    if (oldest == idle_.end()) return;
    ::shutdown(oldest->first, SHUT_RDWR);  // (its thread's wait returns; it closes)
    idle_.erase(oldest);
  }

  // Closes the listening socket (the accept loop then ends) and unblocks
  // every connection (their threads then end); a connection accepted but
  // not registered yet sees stopping_ and closes at once. (httplib's stop()
  // does nothing before its thread has started listening, which then
  // listened forever: a server stopped right after it started.)
  void Shutdown() {
    const socket_t listening = svr_sock_.exchange(INVALID_SOCKET);
    if (listening != INVALID_SOCKET) {
      ::shutdown(listening, SHUT_RDWR);
      ::close(listening);
    }
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
  }

 private:
  bool process_and_close_socket(socket_t sock) override {
    bool stopping = false;
    {
      std::lock_guard lock(mu_);
      stopping = stopping_;
      if (!stopping) open_.insert(sock);
    }
    bool ok = false;
    {
      DeadlineStream stream(sock, limits_.max_request_bytes);
      const bool open =
          !stopping &&
          (tls_ == nullptr || stream.AcceptTls(tls_, SteadyClock::now() + limits_.request_timeout));
      for (size_t left = open ? limits_.keep_alive_requests : 0; left > 0 && !stopping_; --left) {
        {
          std::lock_guard lock(mu_);
          idle_[sock] = SteadyClock::now();
        }
        const bool readable = stream.WaitReadable(SteadyClock::now() + limits_.keep_alive_idle);
        bool evicted = false;
        {
          std::lock_guard lock(mu_);
          evicted = idle_.erase(sock) == 0;  // (EndLongestIdle took it)
        }
        if (!readable || evicted) break;
        stream.StartRequest(SteadyClock::now() + limits_.request_timeout);
        bool closed = false;
        close_after_reply = false;
        ok = process_request(stream, /*close_connection=*/left == 1, closed, nullptr);
        if (!ok || closed || close_after_reply) break;
      }
    }  // (the stream's TLS session ends before its socket closes)
    {
      std::lock_guard lock(mu_);  // (closed here, after it left the set: no fd reuse race)
      open_.erase(sock);
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return ok;
  }

  const Limits limits_;
  SSL_CTX* const tls_;
  std::mutex mu_;
  std::atomic<bool> stopping_ = false;
  std::set<int> open_;
  std::map<int, SteadyClock::time_point> idle_;  // waiting for a request, since
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& address,
                                                              Limits limits, const HttpTls& tls) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos ||
      std::from_chars(address.data() + colon + 1, address.data() + address.size(), port).ec !=
          std::errc() ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError("metrics address '" + address +
                                      "' is not HOST:PORT (like 0.0.0.0:9464)");
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  SSL_CTX* context = nullptr;
  if (tls.enabled()) {
    auto made = NewTlsContext(tls);
    if (!made.ok()) return made.status();
    context = *made;
  }
  std::unique_ptr<HttpServer> s(new HttpServer());
  s->http_ = std::make_unique<GuardedServer>(limits, context);
  HttpServer* self = s.get();
  // Both framings at once is how requests are smuggled past a proxy that
  // reads the other one (RFC 9112 6.3: such a message must not be trusted):
  // refused, and the connection closed.
  s->http_->set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (req.has_header("Content-Length") && req.has_header("Transfer-Encoding")) {
      res.status = 400;
      res.set_header("Connection", "close");
      close_after_reply = true;
      res.set_content("a request may not carry both Content-Length and Transfer-Encoding\n",
                      "text/plain; charset=utf-8");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  s->http_->Get(R"(/.*)", [self](const httplib::Request& req, httplib::Response& res) {
    const Reply reply = self->Serve(Request{req.path, req.get_header_value("Authorization")});
    res.status = reply.status;
    if (reply.status == 401)
      res.set_header("WWW-Authenticate", reply.challenge + " realm=\"promowatch\"");
    for (const auto& [name, value] : reply.headers) res.set_header(name, value);
    if (!reply.location.empty()) res.set_header("Location", reply.location);
    res.set_content(reply.body, reply.content_type);
  });
  // (Port 0: any free port, for tests.)
  if (port == 0) {
    s->port_ = s->http_->bind_to_any_port(host);
  } else if (s->http_->bind_to_port(host, port)) {
    s->port_ = port;
  }
  if (s->port_ <= 0) {
    return absl::UnavailableError("cannot serve /metrics on " + address +
                                  " (is the port in use? set --metrics-address)");
  }
  s->http_->WidenBacklog();
  s->thread_ = std::thread([server = s->http_.get()] { server->listen_after_bind(); });
  return s;
}

HttpServer::~HttpServer() {
  if (http_) http_->Shutdown();
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
  if (!handler)
    return Reply{404, "not found: " + request.path + "\n", "text/plain; charset=utf-8", ""};
  return handler(request);
}

}  // namespace promowatch
