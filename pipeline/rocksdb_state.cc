#include "pipeline/rocksdb_state.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>

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

}  // namespace

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
  db_options.keep_log_file_num = 3;

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
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& n : names) descriptors.emplace_back(n, cf_options);

  std::unique_ptr<RocksStateBackend> backend(new RocksStateBackend());
  backend->dir_ = dir;
  rocksdb::DB* db = nullptr;
  s = rocksdb::DB::Open(db_options, dir, descriptors, &backend->handles_, &db);
  if (!s.ok()) {
    return absl::Status(FromRocks(s, "opening state in " + dir).code(),
                        "cannot open state in " + dir + ": " + s.ToString() +
                            " (is another promowatch using this --state-dir?)");
  }
  backend->db_.reset(db);
  for (size_t i = 0; i < names.size(); ++i) backend->tables_[names[i]] = backend->handles_[i];
  return backend;
}

RocksStateBackend::~RocksStateBackend() {
  if (db_) {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_->Close();
  }
}

rocksdb::ColumnFamilyHandle* RocksStateBackend::Table(std::string_view name) const {
  auto it = tables_.find(absl::string_view(name.data(), name.size()));
  return it == tables_.end() ? nullptr : it->second;
}

RocksStateBackend::Batch::Batch(RocksStateBackend* backend)
    : backend_(backend), batch_(std::make_unique<rocksdb::WriteBatch>()) {}
RocksStateBackend::Batch::~Batch() = default;

rocksdb::ColumnFamilyHandle* RocksStateBackend::Batch::Table(std::string_view name) {
  rocksdb::ColumnFamilyHandle* h = backend_->Table(name);
  if (h == nullptr && status_.ok()) {
    status_ = absl::InvalidArgumentError("unknown state table '" + std::string(name) + "'");
  }
  return h;
}

void RocksStateBackend::Batch::Put(std::string_view table, std::string_view key,
                                   std::string_view value) {
  if (auto* h = Table(table)) batch_->Put(h, ToSlice(key), ToSlice(value));
}

void RocksStateBackend::Batch::Delete(std::string_view table, std::string_view key) {
  if (auto* h = Table(table)) batch_->Delete(h, ToSlice(key));
}

void RocksStateBackend::Batch::DeleteRange(std::string_view table, std::string_view begin,
                                           std::string_view end) {
  if (auto* h = Table(table)) batch_->DeleteRange(h, ToSlice(begin), ToSlice(end));
}

size_t RocksStateBackend::Batch::byte_size() const { return batch_->GetDataSize(); }
size_t RocksStateBackend::Batch::count() const { return batch_->Count(); }

absl::Status RocksStateBackend::Commit(Batch& batch) {
  if (!batch.status_.ok()) return batch.status_;
  rocksdb::WriteOptions wo;
  wo.sync = false;
  absl::Status s = FromRocks(db_->Write(wo, batch.batch_.get()), "checkpoint write");
  batch.batch_->Clear();
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

}  // namespace promowatch
