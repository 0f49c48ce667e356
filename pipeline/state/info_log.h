#pragma once
// RocksDB's info log (the state directory's LOG file: flushes, compactions,
// its event log), written by promowatch instead of RocksDB's own file
// logger. That logger aborts the process (an assertion in Debian's
// RocksDB) on the next line after a write that failed, and on a full disk
// every write fails: `run` died of SIGABRT where it should stop with exit 1
// and a hint. This one stops writing after a failed write instead.
//
// The LOG of the previous open is kept as LOG.old.

#include <rocksdb/env.h>

#include <cstdarg>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

namespace promowatch {

class StateInfoLog final : public rocksdb::Logger {
 public:
  // Null when the directory cannot hold the file (RocksDB then opens its
  // own, and reports the directory's problem as it would).
  static std::shared_ptr<StateInfoLog> Open(const std::string& dir);
  ~StateInfoLog() override;

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override;
  void Flush() override;

 private:
  explicit StateInfoLog(std::FILE* file) : file_(file) {}
  std::mutex mu_;
  std::FILE* file_;      // guarded by mu_
  bool failed_ = false;  // guarded by mu_: a write failed, none follow
};

}  // namespace promowatch
