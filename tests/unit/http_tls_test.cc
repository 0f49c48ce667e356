// The metrics port over TLS (metrics.tls): it serves with the configured
// certificate, refuses bad files at start with the file named, and a
// client that stalls or trickles its handshake holds neither the probes
// nor its connection past the request deadline.

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/serve/http_server.h"
#include "unit/http_test_util.h"

namespace promowatch {
namespace {

using SteadyClock = std::chrono::steady_clock;

using testing::kHealthBoundMs;
using testing::MsSince;

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* c) const { X509_free(c); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

// A P-256 key and a self-signed certificate for 127.0.0.1, valid an hour.
Cert SelfSigned(EVP_PKEY* key) {
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  EXPECT_GT(X509_sign(cert.get(), key, EVP_sha256()), 0);
  return cert;
}

class HttpTls : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("promowatch-tls-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    key_.reset(EVP_EC_gen("P-256"));
    ASSERT_NE(key_, nullptr);
    cert_ = SelfSigned(key_.get());
    WritePem(cert_file(), [&](FILE* f) { return PEM_write_X509(f, cert_.get()); });
    WritePem(key_file(), [&](FILE* f) {
      return PEM_write_PrivateKey(f, key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
    client_ = SSL_CTX_new(TLS_client_method());
  }
  void TearDown() override {
    SSL_CTX_free(client_);
    std::filesystem::remove_all(dir_);
  }

  template <typename Write>
  void WritePem(const std::string& path, const Write& write) {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(write(f), 1);
    std::fclose(f);
  }
  std::string cert_file() const { return (dir_ / "cert.pem").string(); }
  std::string key_file() const { return (dir_ / "key.pem").string(); }

  std::unique_ptr<HttpServer> Serve(HttpServer::Limits limits = {}) {
    auto s = HttpServer::Start("127.0.0.1:0", limits, {cert_file(), key_file()});
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok()) return nullptr;
    (*s)->Route("/healthz", [](const HttpServer::Request&) {
      return HttpServer::Reply{200, "ok\n", "text/plain", ""};
    });
    return std::move(*s);
  }

  static int Connect(int port) { return testing::ConnectLoopback(port); }

  // GET `path` over TLS on a new connection; the reply, and whether the
  // server presented our certificate.
  std::string TlsGet(int port, const std::string& path, bool* our_cert = nullptr) {
    const int fd = Connect(port);
    SSL* ssl = SSL_new(client_);
    SSL_set_fd(ssl, fd);
    std::string reply;
    if (SSL_connect(ssl) == 1) {
      if (our_cert != nullptr) {
        X509* peer = SSL_get1_peer_certificate(ssl);
        *our_cert = peer != nullptr && X509_cmp(peer, cert_.get()) == 0;
        X509_free(peer);
      }
      const std::string request =
          "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
      SSL_write(ssl, request.data(), static_cast<int>(request.size()));
      char buf[4096];
      for (int n; (n = SSL_read(ssl, buf, sizeof(buf))) > 0;) reply.append(buf, n);
    }
    SSL_free(ssl);
    ::close(fd);
    return reply;
  }

  // Whether the server closed `fd` within `limit` (what it sent is dropped).
  static bool ClosedWithin(int fd, std::chrono::milliseconds limit) {
    const auto until = SteadyClock::now() + limit;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now()).count();
      pollfd p{fd, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
      char buf[4096];
      if (::recv(fd, buf, sizeof(buf), 0) <= 0) return true;
    }
  }

  std::filesystem::path dir_;
  Key key_;
  Cert cert_;
  SSL_CTX* client_ = nullptr;
};

TEST_F(HttpTls, ServesOverTlsWithTheConfiguredCertificate) {
  auto server = Serve();
  ASSERT_NE(server, nullptr);
  bool our_cert = false;
  const std::string reply = TlsGet(server->port(), "/healthz", &our_cert);
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
  EXPECT_NE(reply.find("\r\n\r\nok\n"), std::string::npos) << reply;
  EXPECT_TRUE(our_cert);
  EXPECT_EQ(TlsGet(server->port(), "/nothing").rfind("HTTP/1.1 404", 0), 0u);
  // Plain HTTP on the TLS port: no answer, the connection closed.
  const int fd = Connect(server->port());
  const std::string plain = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, plain.data(), plain.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(plain.size()));
  EXPECT_TRUE(ClosedWithin(fd, std::chrono::seconds(3)));
  ::close(fd);
}

TEST_F(HttpTls, StalledHandshakesDoNotHoldTheHealthProbe) {
  auto server = Serve();
  ASSERT_NE(server, nullptr);
  // 32 clients that connect and never finish (or start) a handshake.
  std::vector<int> stalled;
  for (int i = 0; i < 32; ++i) {
    stalled.push_back(Connect(server->port()));
    if (i % 2 == 0) ::send(stalled.back(), "\x16\x03\x01", 3, MSG_NOSIGNAL);
  }
  int64_t worst_ms = 0;
  for (int probe = 0; probe < 10; ++probe) {
    const auto start = SteadyClock::now();
    const std::string reply = TlsGet(server->port(), "/healthz");
    ASSERT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << "probe " << probe << ": " << reply;
    worst_ms = std::max<int64_t>(worst_ms, MsSince(start));
  }
  EXPECT_LT(worst_ms, kHealthBoundMs) << "the slowest /healthz of 10 took " << worst_ms << " ms";
  for (int fd : stalled) ::close(fd);
}

TEST_F(HttpTls, AHandshakeTrickledByteByByteIsCutAtTheDeadline) {
  HttpServer::Limits limits;
  limits.request_timeout = std::chrono::milliseconds(300);
  auto server = Serve(limits);
  ASSERT_NE(server, nullptr);
  const int fd = Connect(server->port());
  const auto start = SteadyClock::now();
  bool closed = false;
  // A ClientHello's record header, a byte every 50 ms.
  const char hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
  for (size_t i = 0; i < 40 && !closed; ++i) {
    if (::send(fd, &hello[i % (sizeof(hello) - 1)], 1, MSG_NOSIGNAL) != 1) break;
    closed = ClosedWithin(fd, std::chrono::milliseconds(50));
  }
  const auto held_ms = MsSince(start);
  EXPECT_TRUE(closed) << "the handshake was still open after 2 s of trickling";
  EXPECT_LT(held_ms, 1500) << "deadline 300 ms, held " << held_ms << " ms";
  ::close(fd);
}

TEST_F(HttpTls, BadFilesFailAtStartNamingTheFile) {
  auto missing = HttpServer::Start("127.0.0.1:0", {}, {(dir_ / "none.pem").string(), key_file()});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("metrics.tls.cert_file"), std::string::npos)
      << missing.status();
  // A key of another certificate.
  Key other(EVP_EC_gen("P-256"));
  const std::string other_key = (dir_ / "other.pem").string();
  WritePem(other_key, [&](FILE* f) {
    return PEM_write_PrivateKey(f, other.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  auto mismatch = HttpServer::Start("127.0.0.1:0", {}, {cert_file(), other_key});
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("is not the key of"), std::string::npos)
      << mismatch.status();
  // An encrypted key is refused, not asked for on the terminal.
  const std::string encrypted = (dir_ / "encrypted.pem").string();
  WritePem(encrypted, [&](FILE* f) {
    return PEM_write_PrivateKey(f, key_.get(), EVP_aes_256_cbc(),
                                reinterpret_cast<const unsigned char*>("secret"), 6, nullptr,
                                nullptr);
  });
  auto locked = HttpServer::Start("127.0.0.1:0", {}, {cert_file(), encrypted});
  ASSERT_FALSE(locked.ok());
  EXPECT_NE(locked.status().message().find("unencrypted key"), std::string::npos)
      << locked.status();
}

}  // namespace
}  // namespace promowatch
