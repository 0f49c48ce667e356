#pragma once
// Kill points for crash tests, in the spirit of RocksDB's: with
//   PROMOWATCH_FAULT_KILL=records:N     the process SIGKILLs itself after the
//                                       batch that reads its N-th record,
//   PROMOWATCH_FAULT_KILL=checkpoint:N  just before its N-th checkpoint commits.
// Counts are per process. Unset (production), every check is a compare.

#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace promowatch {

class KillPoint {
 public:
  static KillPoint FromEnv() {
    KillPoint k;
    const char* v = std::getenv("PROMOWATCH_FAULT_KILL");
    if (v == nullptr) return k;
    const std::string s(v);
    auto value = [&](size_t prefix) { return std::strtoll(s.c_str() + prefix, nullptr, 10); };
    if (s.rfind("records:", 0) == 0) k.records_ = value(8);
    if (s.rfind("checkpoint:", 0) == 0) k.checkpoint_ = value(11);
    return k;
  }
  void AfterRecords(int64_t records_read) const {
    if (records_ >= 0 && records_read >= records_) Die();
  }
  void BeforeCheckpointCommit() {
    if (checkpoint_ >= 0 && ++checkpoints_ == checkpoint_) Die();
  }

 private:
  static void Die() { ::kill(::getpid(), SIGKILL); }
  int64_t records_ = -1;
  int64_t checkpoint_ = -1;
  int64_t checkpoints_ = 0;
};

}  // namespace promowatch
