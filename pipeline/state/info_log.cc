#include "pipeline/state/info_log.h"

#include <sys/stat.h>
#include <sys/time.h>

#include <cerrno>
#include <ctime>
#include <string>

namespace promowatch {

std::shared_ptr<StateInfoLog> StateInfoLog::Open(const std::string& dir) {
  // (One level only: a missing parent is RocksDB's to report.)
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return nullptr;
  const std::string path = dir + "/LOG";
  std::rename(path.c_str(), (path + ".old").c_str());  // (none yet: fine)
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) return nullptr;
  return std::shared_ptr<StateInfoLog>(new StateInfoLog(file));
}

StateInfoLog::~StateInfoLog() {
  if (file_ != nullptr) std::fclose(file_);
}

void StateInfoLog::Logv(const char* format, va_list ap) {
  timeval now{};
  ::gettimeofday(&now, nullptr);
  std::tm local{};
  ::localtime_r(&now.tv_sec, &local);
  std::lock_guard lock(mu_);
  if (failed_) return;
  // RocksDB's own line format: "2026/12/07-19:02:42.541936 <message>".
  std::fprintf(file_, "%04d/%02d/%02d-%02d:%02d:%02d.%06ld ", local.tm_year + 1900,
               local.tm_mon + 1, local.tm_mday, local.tm_hour, local.tm_min, local.tm_sec,
               static_cast<long>(now.tv_usec));
  // (Event log lines run past a kilobyte: sized to the line.)
  char stack[2048];
  std::string heap;
  va_list again;
  va_copy(again, ap);
  const int n = std::vsnprintf(stack, sizeof(stack), format, ap);
  const char* line = stack;
  if (n >= static_cast<int>(sizeof(stack))) {
    heap.resize(static_cast<size_t>(n) + 1);
    std::vsnprintf(heap.data(), heap.size(), format, again);
    line = heap.data();
  }
  va_end(again);
  size_t size = n < 0 ? 0 : static_cast<size_t>(n);
  while (size > 0 && line[size - 1] == '\n') --size;  // (one line each, as RocksDB's)
  std::fwrite(line, 1, size, file_);
  std::fputc('\n', file_);
  if (std::ferror(file_) != 0) failed_ = true;
}

void StateInfoLog::Flush() {
  std::lock_guard lock(mu_);
  if (!failed_ && std::fflush(file_) != 0) failed_ = true;
}

}  // namespace promowatch
