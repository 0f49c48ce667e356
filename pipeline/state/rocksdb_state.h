#pragma once
// The state backend on RocksDB: one column family per state table, writes
// staged in a WriteBatch and committed atomically at a checkpoint (operator
// state, watermarks and source offsets together), reads at restore and, for state larger than
// memory (user profiles), point reads of keys evicted from the operators' caches.
//
// Durability: the WAL is on and not fsynced per commit; a killed process
// (kill -9) loses nothing that was committed, a power loss may lose the last
// checkpoints, which replay from the offsets stored with the older state.
//
// Tuning (see docs in README "State"): block cache `block_cache_bytes`, bloom
// filters (10 bits/key) on every table and on memtables (whole keys), level compaction with dynamic
// level sizes, LZ4 when available, the live write-ahead log bounded by
// `max_wal_bytes` (what an open replays).

#include <atomic>
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
  // The write-ahead log kept for memtables not flushed yet: beyond it, the
  // tables holding its oldest file are flushed. A table written rarely (the
  // input position, totals) otherwise keeps every log file since its last
  // flush alive, and an open replays them all. Default: 256 MiB.
  size_t max_wal_bytes = size_t{256} << 20;
  // Tables read by point lookups of keys that are often absent (the
  // profile step's users, operators/user_profiles.h): tuned for that in
  // Open. Their range deletes may begin at keys of at most
  // RocksStateBackend::kLongestHintFreeKey bytes only (Clear: the table's
  // or a task's start); a batch with another one fails.
  std::vector<std::string> point_lookup_tables = {"profiles"};
};

class RocksStateBackend final : public StateReader {
 public:
  // The point-lookup tables' memtables insert a checkpoint's keys from
  // where the previous insert ended (RocksDB's insert hint) when they are
  // longer than this: a task's key prefix (runtime/task_state.h), the
  // longest start of a range delete on those tables (Open says why).
  static constexpr size_t kLongestHintFreeKey = 4;

  // Whether `dir` could be opened, without opening it: it exists or can be
  // created, promowatch can write there, and no other process holds it. For
  // start-up, to say so before anything slow (like connecting to Kafka).
  static absl::Status CheckUsable(const std::string& dir);

  // Opens (creating if needed) the state in `dir` with the given tables.
  static absl::StatusOr<std::unique_ptr<RocksStateBackend>> Open(
      const std::string& dir, const std::vector<std::string>& tables,
      const RocksStateOptions& options = {});
  ~RocksStateBackend() override;

  // Reads every table file and checks its block checksums (start-up: a
  // file damaged on disk is found before a task reads it). DataLoss when
  // one fails, naming it.
  absl::Status VerifyChecksums() const;
  // Renames `dir` to "<dir>.corrupt-<UTC time>" (kept for inspection);
  // returns the new name.
  static absl::StatusOr<std::string> MoveAside(const std::string& dir);
  // Memtables go to table files when the state closes (`run`, and replay
  // with a state dir of its own: the restart replays no log, and `run`'s
  // start-up checksum check covers all the state; not replay's temporary
  // state, deleted right after).
  void FlushOnClose() { flush_on_close_ = true; }

  // A batch of writes: nothing is visible until Commit.
  //
  // Writes are staged as given and put in key order per table by Commit, on
  // the thread that commits: RocksDB's memtable inserts ascending keys from a
  // cached position (keys in hash order made the commit 35% of replay time),
  // and sorting there keeps the sort out of the snapshot, which pauses the
  // pipeline (BENCHMARKS.md section 5). Writes to one key keep their order,
  // and a DeleteRange stays between the writes of its table made before and
  // after it, so the committed state is the one the calls describe.
  class Batch final : public StateWriter {
   public:
    explicit Batch(RocksStateBackend* backend);
    ~Batch() override;
    void Put(std::string_view table, std::string_view key, std::string_view value) override;
    void Delete(std::string_view table, std::string_view key) override;
    void DeleteRange(std::string_view table, std::string_view begin, std::string_view end) override;
    // Kept for RunDeferred (Commit runs what is left).
    void Defer(DeferredWrite write) override { deferred_.push_back(std::move(write)); }
    // Runs the deferred writes into this batch (the committing thread).
    void RunDeferred();
    // Bytes of keys and values staged.
    size_t byte_size() const { return bytes_; }
    // Writes staged.
    size_t count() const { return count_; }

   private:
    friend class RocksStateBackend;
    enum class Kind : uint8_t { kPut, kDelete, kDeleteRange };
    struct Write {
      uint64_t key_prefix;  // first 8 key bytes, big-endian: most comparisons end here
      uint32_t segment;     // DeleteRanges of the table before this write
      uint32_t seq;         // order of the call, among equal keys
      size_t key_at;
      size_t value_at;  // DeleteRange: its end key
      uint32_t key_size;
      uint32_t value_size;
      Kind kind;
    };
    struct Table {
      rocksdb::ColumnFamilyHandle* handle;
      std::string bytes;  // keys and values, back to back
      std::vector<Write> writes;
      uint32_t segments = 0;
    };
    Table* Find(std::string_view name);
    void Stage(std::string_view table, Kind kind, std::string_view key, std::string_view value);
    // Sorts every table's writes and fills a WriteBatch with them.
    void Build(rocksdb::WriteBatch* out);
    // Empties the batch, keeping its memory.
    void Clear();

    RocksStateBackend* backend_;
    std::vector<Table> tables_;  // in order of first use; a handful
    size_t bytes_ = 0;
    size_t count_ = 0;
    std::vector<DeferredWrite> deferred_;
    absl::Status status_;  // first error (an unknown table)
  };

  std::unique_ptr<Batch> NewBatch() { return std::make_unique<Batch>(this); }
  absl::Status Commit(Batch& batch);

  absl::Status Scan(std::string_view table, const Visitor& visit) const override;
  absl::Status Get(std::string_view table, std::string_view key, std::string* value) const override;
  void MultiGet(std::string_view table, std::span<const std::string_view> keys,
                std::vector<std::string>* values,
                std::vector<absl::Status>* statuses) const override;
  absl::Status ScanFrom(std::string_view table, std::string_view begin,
                        const RangeVisitor& visit) const override;

  // Live SST + memtable bytes, for metrics and benchmarks.
  uint64_t ApproximateSizeBytes() const;
  // RocksDB's own memory (its properties): the block cache in use (shared
  // by the tables), memtables, and index and filter blocks of open files.
  struct Memory {
    uint64_t block_cache = 0;
    uint64_t memtables = 0;
    uint64_t table_readers = 0;
  };
  Memory MemoryUsage() const;
  const std::string& dir() const { return dir_; }

 private:
  RocksStateBackend() = default;
  rocksdb::ColumnFamilyHandle* Table(std::string_view name) const;

  bool flush_on_close_ = false;
  // A commit failed (a full disk, say): RocksDB's log writer may be in
  // error, and the flush on close would switch memtables through it.
  std::atomic<bool> write_failed_{false};
  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  absl::flat_hash_map<std::string, rocksdb::ColumnFamilyHandle*> tables_;
  std::vector<rocksdb::ColumnFamilyHandle*> hinted_;  // the point-lookup tables
};

}  // namespace promowatch
