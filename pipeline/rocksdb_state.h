#pragma once
// The state backend on RocksDB: one column family per state table, writes
// staged in a WriteBatch and committed atomically at a checkpoint (operator
// state, watermarks and source offsets together), reads at restore and, for state larger than memory (user profiles),
// point reads of keys evicted from the operators' caches.
//
// Durability: the WAL is on and not fsynced per commit; a killed process
// (kill -9) loses nothing that was committed, a power loss may lose the last
// checkpoints, which replay from the offsets stored with the older state.
//
// Tuning (see docs in README "State"): block cache `block_cache_bytes`, bloom
// filters (10 bits/key) on every table and on memtables (whole keys), level compaction with dynamic level
// sizes, LZ4 when available.

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "operators/state.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class WriteBatch;
}  // namespace rocksdb

namespace promowatch {

struct RocksStateOptions {
  // Block cache for reads at restore. Default: 64 MiB.
  size_t block_cache_bytes = size_t{64} << 20;
  // Memtable size per column family. Default: 32 MiB.
  size_t write_buffer_bytes = size_t{32} << 20;
};

class RocksStateBackend final : public StateReader {
 public:
  // Opens (creating if needed) the state in `dir` with the given tables.
  static absl::StatusOr<std::unique_ptr<RocksStateBackend>> Open(
      const std::string& dir, const std::vector<std::string>& tables,
      const RocksStateOptions& options = {});
  ~RocksStateBackend() override;

  // A batch of writes: nothing is visible until Commit.
  class Batch final : public StateWriter {
   public:
    explicit Batch(RocksStateBackend* backend);
    ~Batch() override;
    void Put(std::string_view table, std::string_view key, std::string_view value) override;
    void Delete(std::string_view table, std::string_view key) override;
    void DeleteRange(std::string_view table, std::string_view begin, std::string_view end) override;
    size_t byte_size() const;
    size_t count() const;

   private:
    friend class RocksStateBackend;
    rocksdb::ColumnFamilyHandle* Table(std::string_view name);
    RocksStateBackend* backend_;
    std::unique_ptr<rocksdb::WriteBatch> batch_;
    absl::Status status_;  // first error (an unknown table)
  };

  std::unique_ptr<Batch> NewBatch() { return std::make_unique<Batch>(this); }
  absl::Status Commit(Batch& batch);

  absl::Status Scan(std::string_view table, const Visitor& visit) const override;
  absl::Status Get(std::string_view table, std::string_view key,
                   std::string* value) const override;
  absl::Status ScanFrom(std::string_view table, std::string_view begin,
                        const RangeVisitor& visit) const override;

  // Live SST + memtable bytes, for metrics and benchmarks.
  uint64_t ApproximateSizeBytes() const;
  const std::string& dir() const { return dir_; }

 private:
  RocksStateBackend() = default;
  rocksdb::ColumnFamilyHandle* Table(std::string_view name) const;

  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  absl::flat_hash_map<std::string, rocksdb::ColumnFamilyHandle*> tables_;
};

}  // namespace promowatch
