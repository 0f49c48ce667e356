#include "pipeline/state/rocksdb_state.h"

#include <fcntl.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "operators/window_operator.h"
#include "pipeline/state/info_log.h"

namespace promowatch {
namespace {

absl::Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsIOError()) return absl::UnavailableError(msg);
  return absl::InternalError(msg);
}

rocksdb::Slice ToSlice(std::string_view v) { return rocksdb::Slice(v.data(), v.size()); }

// The insert hint's domain (ColumnFamilyOptions::
// memtable_insert_with_hint_prefix_extractor) on the point-lookup tables:
// every key longer than kLongestHintFreeKey, all under one hint (a prefix
// of no bytes). A checkpoint's writes reach each table in key order
// (Batch::Build) between keys already in the memtable, so an insert with
// the hint climbs the skiplist only as far as it must from the previous
// one; without it, RocksDB searches from the top for every key (about a
// third of a segments replay's instructions per event, BENCHMARKS.md 5).
// Range deletes stay out of the domain: RocksDB 7.8 inserts one with the
// hint of its prefix into the range-delete skiplist, which the point
// inserts' hint does not bracket, and aborts on its own assertion.
class OneInsertHint final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "promowatch.OneInsertHint"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), 0);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return key.size() > RocksStateBackend::kLongestHintFreeKey;
  }
};

}  // namespace

namespace {

// What to do about a state directory that does not open, by what RocksDB said.
std::string OpenHint(const rocksdb::Status& s) {
  const std::string m = s.ToString();
  auto says = [&](const char* what) { return m.find(what) != std::string::npos; };
  if (says("lock") && (says("Resource temporarily unavailable") || says("lock hold")))
    return " (another promowatch holds this --state-dir: each instance needs its own)";
  if (says("Permission denied") || says("Read-only file system"))
    return " (promowatch cannot write there: fix the directory's owner or mode, or choose "
           "another --state-dir)";
  if (says("No such file or directory"))
    return " (a parent directory is missing: create it, or choose another --state-dir)";
  if (s.IsNoSpace() || says("No space left"))
    return " (the disk is full: free space and start again; the last checkpoint is intact)";
  if (s.IsCorruption())
    return " (the state is damaged: move the directory aside; `run` rebuilds each task from "
           "its changelog topic, `replay` starts over)";
  return "";
}

}  // namespace

absl::Status RocksStateBackend::CheckUsable(const std::string& dir) {
  auto fail = [&](const std::string& what, int err) {
    return absl::FailedPreconditionError("cannot open state in " + dir + ": " + what + ": " +
                                         std::strerror(err) +
                                         OpenHint(rocksdb::Status::IOError(std::strerror(err))));
  };
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return fail("mkdir", errno);
  const std::string probe = dir + "/.promowatch-write-check";
  const int fd = ::open(probe.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd < 0) return fail("creating a file", errno);
  ::close(fd);
  ::unlink(probe.c_str());
  // RocksDB locks LOCK with fcntl: ask whether another process holds it.
  const int lock = ::open((dir + "/LOCK").c_str(), O_RDWR);
  if (lock >= 0) {
    struct flock f {};
    f.l_type = F_WRLCK;
    f.l_whence = SEEK_SET;
    const bool held = ::fcntl(lock, F_GETLK, &f) == 0 && f.l_type != F_UNLCK;
    ::close(lock);
    if (held) {
      return absl::FailedPreconditionError("cannot open state in " + dir + ": process " +
                                           std::to_string(f.l_pid) + " holds its LOCK" +
                                           OpenHint(rocksdb::Status::IOError("lock hold")));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RocksStateBackend>> RocksStateBackend::Open(
    const std::string& dir, const std::vector<std::string>& tables,
    const RocksStateOptions& options) {
  rocksdb::BlockBasedTableOptions table_options;
  table_options.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table_options.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));
  cf_options.write_buffer_size = options.write_buffer_bytes;
  cf_options.level_compaction_dynamic_level_bytes = true;
  // A Bloom filter over the memtable's whole keys: a point read of a key
  // that is not there (a user seen for the first time) skips the skiplist
  // search of every memtable.
  cf_options.memtable_prefix_bloom_size_ratio = 0.1;
  cf_options.memtable_whole_key_filtering = true;
  cf_options.compression = rocksdb::kLZ4Compression;  // Debian's RocksDB is built with LZ4

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.max_total_wal_size = options.max_wal_bytes;
  db_options.info_log = StateInfoLog::Open(dir);  // (null: RocksDB's own)

  // Every table that exists on disk must be opened, plus the ones asked for.
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, dir, &names);
  if (!s.ok()) names.clear();  // a new directory
  if (std::find(names.begin(), names.end(), rocksdb::kDefaultColumnFamilyName) == names.end()) {
    names.push_back(rocksdb::kDefaultColumnFamilyName);
  }
  for (const auto& t : tables) {
    if (std::find(names.begin(), names.end(), t) == names.end()) names.push_back(t);
  }
  // Point-lookup tables (profiles: a batch's users read with MultiGet, many
  // seen for the first time): the Bloom filter answers "absent" without a
  // data block; index and filter blocks stay with the table readers (not in
  // the block cache, so never evicted by data blocks: a lookup reads at most
  // one data block); and a hash index in each data block finds the key
  // without a binary search of the block's restart points.
  rocksdb::BlockBasedTableOptions lookup_table_options = table_options;
  lookup_table_options.cache_index_and_filter_blocks = false;
  lookup_table_options.data_block_index_type =
      rocksdb::BlockBasedTableOptions::kDataBlockBinaryAndHash;
  rocksdb::ColumnFamilyOptions lookup_cf_options = cf_options;
  lookup_cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(lookup_table_options));
  lookup_cf_options.memtable_insert_with_hint_prefix_extractor = std::make_shared<OneInsertHint>();
  rocksdb::ColumnFamilyOptions incompressible_cf_options = cf_options;
  incompressible_cf_options.compression = rocksdb::kNoCompression;
  // Tables of 64-bit user hashes (the windows' distinct users,
  // operators/user_set.h): random bytes, which LZ4 cannot shrink but still
  // scans at every flush and compaction. Stored uncompressed.
  const std::vector<std::string> incompressible_tables = {
      std::string(WindowOperator::kPaneUsersTable),
      std::string(WindowOperator::kPaneBuyersTable),
      std::string(WindowOperator::kDayUsersTable),
      std::string(WindowOperator::kDayBuyersTable),
      std::string(WindowOperator::kPeriodUsersTable),
      std::string(WindowOperator::kPeriodBuyersTable)};
  const auto listed = [](const std::vector<std::string>& among, const std::string& name) {
    return std::find(among.begin(), among.end(), name) != among.end();
  };
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& n : names) {
    descriptors.emplace_back(n, listed(options.point_lookup_tables, n) ? lookup_cf_options
                                : listed(incompressible_tables, n)     ? incompressible_cf_options
                                                                       : cf_options);
  }

  std::unique_ptr<RocksStateBackend> backend(new RocksStateBackend());
  backend->dir_ = dir;
  rocksdb::DB* db = nullptr;
  s = rocksdb::DB::Open(db_options, dir, descriptors, &backend->handles_, &db);
  if (!s.ok()) {
    return absl::Status(FromRocks(s, "opening state in " + dir).code(),
                        "cannot open state in " + dir + ": " + s.ToString() + OpenHint(s));
  }
  backend->db_.reset(db);
  for (size_t i = 0; i < names.size(); ++i) {
    backend->tables_[names[i]] = backend->handles_[i];
    if (listed(options.point_lookup_tables, names[i]))
      backend->hinted_.push_back(backend->handles_[i]);
  }
  return backend;
}

absl::Status RocksStateBackend::VerifyChecksums() const {
  return FromRocks(db_->VerifyChecksum(), "verifying the checksums of the state in " + dir_);
}

absl::StatusOr<std::string> RocksStateBackend::MoveAside(const std::string& dir) {
  std::string base = dir;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &utc);
  std::string to = base + ".corrupt-" + stamp;
  for (int n = 1; ::access(to.c_str(), F_OK) == 0; ++n)
    to = base + ".corrupt-" + stamp + "-" + std::to_string(n);
  if (std::rename(base.c_str(), to.c_str()) != 0) {
    return absl::UnavailableError("cannot move " + base + " aside to " + to + ": " +
                                  std::strerror(errno) +
                                  " (move it yourself, or give --state-dir a writable parent)");
  }
  return to;
}

RocksStateBackend::~RocksStateBackend() {
  if (db_) {
    // Not after a failed write or a background error: the flush would
    // write the memtables' log buffer through a writer that failed, which
    // RocksDB built with assertions (Debian's) aborts on. The state stays
    // at its last durable checkpoint either way.
    uint64_t background_errors = 0;
    if (flush_on_close_ && !write_failed_.load() &&
        db_->GetIntProperty(rocksdb::DB::Properties::kBackgroundErrors, &background_errors) &&
        background_errors == 0) {
      rocksdb::FlushOptions flush;
      flush.wait = true;
      (void)db_->Flush(flush, handles_);  // (best effort)
    }
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_->Close();
  }
}

rocksdb::ColumnFamilyHandle* RocksStateBackend::Table(std::string_view name) const {
  auto it = tables_.find(absl::string_view(name.data(), name.size()));
  return it == tables_.end() ? nullptr : it->second;
}

RocksStateBackend::Batch::Batch(RocksStateBackend* backend) : backend_(backend) {}
RocksStateBackend::Batch::~Batch() = default;

RocksStateBackend::Batch::Table* RocksStateBackend::Batch::Find(std::string_view name) {
  rocksdb::ColumnFamilyHandle* h = backend_->Table(name);
  if (h == nullptr) {
    if (status_.ok()) {
      status_ = absl::InvalidArgumentError("unknown state table '" + std::string(name) + "'");
    }
    return nullptr;
  }
  for (Table& t : tables_) {
    if (t.handle == h) return &t;
  }
  tables_.push_back(Table{h, {}, {}, 0});
  return &tables_.back();
}

void RocksStateBackend::Batch::Stage(std::string_view table, Kind kind, std::string_view key,
                                     std::string_view value) {
  Table* t = Find(table);
  if (t == nullptr) return;
  if (kind == Kind::kDeleteRange) ++t->segments;
  unsigned char prefix[8] = {};
  // (An empty key may have no data at all: Clear's range start.)
  if (!key.empty()) std::memcpy(prefix, key.data(), std::min<size_t>(8, key.size()));
  uint64_t key_prefix = 0;
  for (unsigned char c : prefix) key_prefix = (key_prefix << 8) | c;
  Write w{key_prefix,
          t->segments,
          static_cast<uint32_t>(t->writes.size()),
          t->bytes.size(),
          t->bytes.size() + key.size(),
          static_cast<uint32_t>(key.size()),
          static_cast<uint32_t>(value.size()),
          kind};
  t->bytes.append(key);
  t->bytes.append(value);
  t->writes.push_back(w);
  bytes_ += key.size() + value.size();
  ++count_;
}

void RocksStateBackend::Batch::Put(std::string_view table, std::string_view key,
                                   std::string_view value) {
  Stage(table, Kind::kPut, key, value);
}

void RocksStateBackend::Batch::Delete(std::string_view table, std::string_view key) {
  Stage(table, Kind::kDelete, key, {});
}

void RocksStateBackend::Batch::DeleteRange(std::string_view table, std::string_view begin,
                                           std::string_view end) {
  if (begin.size() > kLongestHintFreeKey) {
    rocksdb::ColumnFamilyHandle* h = backend_->Table(table);
    const auto& hinted = backend_->hinted_;
    if (h != nullptr && std::find(hinted.begin(), hinted.end(), h) != hinted.end()) {
      if (status_.ok()) {
        status_ =
            absl::InternalError("a range delete inside the insert hint's domain of table '" +
                                std::string(table) + "' (RocksStateOptions::point_lookup_tables)");
      }
      return;
    }
  }
  Stage(table, Kind::kDeleteRange, begin, end);
}

void RocksStateBackend::Batch::Build(rocksdb::WriteBatch* out) {
  for (Table& t : tables_) {
    const char* base = t.bytes.data();
    // A DeleteRange opens its segment; within a segment, keys ascend and
    // writes to one key keep their order.
    std::sort(t.writes.begin(), t.writes.end(), [base](const Write& a, const Write& b) {
      if (a.segment != b.segment) return a.segment < b.segment;
      const bool a_range = a.kind == Kind::kDeleteRange, b_range = b.kind == Kind::kDeleteRange;
      if (a_range != b_range) return a_range;
      if (a.key_prefix != b.key_prefix) return a.key_prefix < b.key_prefix;
      const int c = std::string_view(base + a.key_at, a.key_size)
                        .compare(std::string_view(base + b.key_at, b.key_size));
      if (c != 0) return c < 0;
      return a.seq < b.seq;
    });
    for (const Write& w : t.writes) {
      const rocksdb::Slice key(base + w.key_at, w.key_size);
      const rocksdb::Slice value(base + w.value_at, w.value_size);
      switch (w.kind) {
        case Kind::kPut:
          out->Put(t.handle, key, value);
          break;
        case Kind::kDelete:
          out->Delete(t.handle, key);
          break;
        case Kind::kDeleteRange:
          out->DeleteRange(t.handle, key, value);
          break;
      }
    }
  }
}

void RocksStateBackend::Batch::RunDeferred() {
  // (A deferred write may defer again: run until none is left.)
  while (!deferred_.empty()) {
    std::vector<DeferredWrite> now;
    now.swap(deferred_);
    for (DeferredWrite& write : now) write(*this);
  }
}

void RocksStateBackend::Batch::Clear() {
  for (Table& t : tables_) {  // keeps the memory for the next use
    t.bytes.clear();
    t.writes.clear();
    t.segments = 0;
  }
  bytes_ = 0;
  count_ = 0;
  deferred_.clear();
}

absl::Status RocksStateBackend::Commit(Batch& batch) {
  batch.RunDeferred();
  if (!batch.status_.ok()) return batch.status_;
  // Record headers: a tag, a column family id and two lengths each.
  rocksdb::WriteBatch write(batch.bytes_ + 16 * batch.count_ + 64);
  batch.Build(&write);
  rocksdb::WriteOptions wo;
  wo.sync = false;
  absl::Status s = FromRocks(db_->Write(wo, &write), "checkpoint write");
  if (!s.ok()) write_failed_.store(true);
  batch.Clear();
  return s;
}

absl::Status RocksStateBackend::Scan(std::string_view table, const Visitor& visit) const {
  rocksdb::ColumnFamilyHandle* h = Table(table);
  if (h == nullptr) return absl::InvalidArgumentError("unknown state table " + std::string(table));
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;  // restore reads everything once
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, h));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    absl::Status s = visit(std::string_view(it->key().data(), it->key().size()),
                           std::string_view(it->value().data(), it->value().size()));
    if (!s.ok()) return s;
  }
  return FromRocks(it->status(), "scanning " + std::string(table));
}

absl::Status RocksStateBackend::Get(std::string_view table, std::string_view key,
                                    std::string* value) const {
  rocksdb::ColumnFamilyHandle* h = Table(table);
  if (h == nullptr) return absl::InvalidArgumentError("unknown state table " + std::string(table));
  return FromRocks(db_->Get(rocksdb::ReadOptions(), h, ToSlice(key), value),
                   "reading " + std::string(table));
}

void RocksStateBackend::MultiGet(std::string_view table, std::span<const std::string_view> keys,
                                 std::vector<std::string>* values,
                                 std::vector<absl::Status>* statuses) const {
  values->resize(keys.size());
  statuses->resize(keys.size());
  rocksdb::ColumnFamilyHandle* h = Table(table);
  if (h == nullptr) {
    for (auto& s : *statuses)
      s = absl::InvalidArgumentError("unknown state table " + std::string(table));
    return;
  }
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> found(keys.size());
  std::vector<rocksdb::Status> got(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), h, keys.size(), slices.data(), found.data(), got.data());
  for (size_t i = 0; i < keys.size(); ++i) {
    (*statuses)[i] = got[i].IsNotFound() ? absl::NotFoundError("")
                                         : FromRocks(got[i], "reading " + std::string(table));
    if (got[i].ok()) (*values)[i].assign(found[i].data(), found[i].size());
  }
}

absl::Status RocksStateBackend::ScanFrom(std::string_view table, std::string_view begin,
                                         const RangeVisitor& visit) const {
  rocksdb::ColumnFamilyHandle* h = Table(table);
  if (h == nullptr) return absl::InvalidArgumentError("unknown state table " + std::string(table));
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), h));
  for (it->Seek(ToSlice(begin)); it->Valid(); it->Next()) {
    if (!visit(std::string_view(it->key().data(), it->key().size()),
               std::string_view(it->value().data(), it->value().size()))) {
      break;
    }
  }
  return FromRocks(it->status(), "scanning " + std::string(table));
}

uint64_t RocksStateBackend::ApproximateSizeBytes() const {
  uint64_t total = 0;
  for (auto* h : handles_) {
    uint64_t v = 0;
    if (db_->GetIntProperty(h, rocksdb::DB::Properties::kLiveSstFilesSize, &v)) total += v;
    if (db_->GetIntProperty(h, rocksdb::DB::Properties::kCurSizeAllMemTables, &v)) total += v;
  }
  return total;
}

RocksStateBackend::Memory RocksStateBackend::MemoryUsage() const {
  Memory m;
  uint64_t v = 0;
  if (!handles_.empty() &&
      db_->GetIntProperty(handles_.front(), rocksdb::DB::Properties::kBlockCacheUsage, &v)) {
    m.block_cache = v;
  }
  for (auto* h : handles_) {
    if (db_->GetIntProperty(h, rocksdb::DB::Properties::kCurSizeAllMemTables, &v)) m.memtables += v;
    if (db_->GetIntProperty(h, rocksdb::DB::Properties::kEstimateTableReadersMem, &v))
      m.table_readers += v;
  }
  return m;
}

}  // namespace promowatch
