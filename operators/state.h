#pragma once
// The keyed-state interface operators write to at checkpoints and read from
// at restore. Operators keep hot state in memory; a checkpoint hands their
// dirty keys to a StateWriter which the runtime commits atomically (one
// RocksDB WriteBatch, together with source offsets). Operators never see the
// backend: pipeline/state/rocksdb_state implements these for RocksDB, and tests may
// use MemoryState below.
//
// Tables are named (a column family each in RocksDB). Keys order bytewise, so
// big-endian integer prefixes keep time order and allow range deletes.

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace promowatch {

class StateWriter {
 public:
  virtual ~StateWriter() = default;
  virtual void Put(std::string_view table, std::string_view key, std::string_view value) = 0;
  virtual void Delete(std::string_view table, std::string_view key) = 0;
  // Deletes every key in [begin, end).
  virtual void DeleteRange(std::string_view table, std::string_view begin,
                           std::string_view end) = 0;
  // Deletes every key of `table`. State keys never begin with a 0xff byte
  // (UTF-8 text cannot hold it; AppendBigEndian64 writes it first only for
  // values past 0x7f00000000000000, and times and panes are bounded by
  // decode far below), so one range up to kEndOfKeys covers them all.
  static constexpr std::string_view kEndOfKeys = "\xff";
  void Clear(std::string_view table) { DeleteRange(table, std::string_view(), kEndOfKeys); }

  // Writes a snapshot leaves for later, so that the pipeline does not wait
  // for them: `write` runs on the thread that commits the checkpoint,
  // before anything of it is committed, and writes through the writer it
  // is given (this one's counterpart there). What it reads must not change
  // until it has run (user_profiles.h: copy on write). A writer that cannot
  // defer runs it at once (this default).
  using DeferredWrite = std::function<void(StateWriter& out)>;
  virtual void Defer(DeferredWrite write) { write(*this); }
};

class StateReader {
 public:
  virtual ~StateReader() = default;
  using Visitor = std::function<absl::Status(std::string_view key, std::string_view value)>;
  // Visits every key of `table` in key order; stops at the first error.
  virtual absl::Status Scan(std::string_view table, const Visitor& visit) const = 0;
  // NotFound when absent.
  virtual absl::Status Get(std::string_view table, std::string_view key,
                           std::string* value) const = 0;
  // Visits the keys of `table` from `begin` on, in key order, until `visit`
  // returns false (state larger than memory: timers due, read in order).
  using RangeVisitor = std::function<bool(std::string_view key, std::string_view value)>;
  virtual absl::Status ScanFrom(std::string_view table, std::string_view begin,
                                const RangeVisitor& visit) const = 0;
  // Reads `keys` at once (RocksDB: one MultiGet, batching the block reads):
  // values[i] and statuses[i] (NotFound when absent) for keys[i].
  virtual void MultiGet(std::string_view table, std::span<const std::string_view> keys,
                        std::vector<std::string>* values,
                        std::vector<absl::Status>* statuses) const;
};

// In-memory state for operator tests: applies writes immediately.
class MemoryState final : public StateWriter, public StateReader {
 public:
  void Put(std::string_view table, std::string_view key, std::string_view value) override;
  void Delete(std::string_view table, std::string_view key) override;
  void DeleteRange(std::string_view table, std::string_view begin, std::string_view end) override;
  absl::Status Scan(std::string_view table, const Visitor& visit) const override;
  absl::Status Get(std::string_view table, std::string_view key, std::string* value) const override;
  absl::Status ScanFrom(std::string_view table, std::string_view begin,
                        const RangeVisitor& visit) const override;
  size_t size(std::string_view table) const;

 private:
  std::map<std::string, std::map<std::string, std::string>, std::less<>> tables_;
};

// Key encoding helpers.
void AppendBigEndian64(std::string* out, int64_t v);  // order-preserving for v >= 0
void AppendBigEndian32(std::string* out, uint32_t v);
int64_t ReadBigEndian64(std::string_view in);
uint32_t ReadBigEndian32(std::string_view in);
// Packs 64-bit hashes (little-endian) for set chunks, and back.
void AppendHashes(std::string* out, const uint64_t* hashes, size_t n);
template <typename F>
void ForEachHash(std::string_view packed, F&& f) {
  for (size_t i = 0; i + 8 <= packed.size(); i += 8) {
    uint64_t h = 0;
    for (int b = 7; b >= 0; --b) h = (h << 8) | static_cast<unsigned char>(packed[i + b]);
    f(h);
  }
}

}  // namespace promowatch
