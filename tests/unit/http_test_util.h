#pragma once
// Helpers of the metrics port's tests (http_server_test, http_tls_test): a
// loopback client's socket, and the bound /healthz must keep while hostile
// clients hold connections.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>

namespace promowatch::testing {

// The bound for /healthz while slow clients hold connections. Under
// ThreadSanitizer a thread starts about ten times slower; there the tests
// check that every probe is answered, with a bound for that build.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PROMOWATCH_UNDER_TSAN 1
#endif
#endif
#ifdef PROMOWATCH_UNDER_TSAN
inline constexpr int64_t kHealthBoundMs = 1000;
#else
inline constexpr int64_t kHealthBoundMs = 100;
#endif

// A connected socket to 127.0.0.1:port.
inline int ConnectLoopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  return fd;
}

// Milliseconds since `start`.
inline int64_t MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

}  // namespace promowatch::testing
