#pragma once
// A task's view of the state of a process that runs several tasks: the
// tables are shared, and every key of task n starts with BE32(n), so tasks
// share one RocksDB (and its column families: one per table, not per task
// and table, which cost seconds to open with dozens of tasks) without
// seeing each other's keys, and a task can be dropped or rebuilt whole (a
// range of each table).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "operators/state.h"

namespace promowatch {

// The key prefix of task `task`'s keys.
inline std::string TaskKeyPrefix(int task) {
  const auto t = static_cast<uint32_t>(task);
  return std::string{static_cast<char>(t >> 24), static_cast<char>(t >> 16),
                     static_cast<char>(t >> 8), static_cast<char>(t)};
}

class TaskStateReader final : public StateReader {
 public:
  TaskStateReader(const StateReader* in, int task) : in_(in), prefix_(TaskKeyPrefix(task)) {}
  absl::Status Scan(std::string_view table, const Visitor& visit) const override {
    absl::Status status;
    absl::Status scanned =
        in_->ScanFrom(table, prefix_, [&](std::string_view k, std::string_view v) {
          if (k.substr(0, prefix_.size()) != prefix_) return false;
          status = visit(k.substr(prefix_.size()), v);
          return status.ok();
        });
    return status.ok() ? scanned : status;
  }
  absl::Status Get(std::string_view table, std::string_view key,
                   std::string* value) const override {
    return in_->Get(table, Key(key), value);
  }
  absl::Status ScanFrom(std::string_view table, std::string_view begin,
                        const RangeVisitor& visit) const override {
    return in_->ScanFrom(table, Key(begin), [&](std::string_view k, std::string_view v) {
      if (k.substr(0, prefix_.size()) != prefix_) return false;
      return visit(k.substr(prefix_.size()), v);
    });
  }
  void MultiGet(std::string_view table, std::span<const std::string_view> keys,
                std::vector<std::string>* values,
                std::vector<absl::Status>* statuses) const override {
    keys_.resize(keys.size());
    views_.resize(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      keys_[i].assign(prefix_);
      keys_[i].append(keys[i]);
      views_[i] = keys_[i];
    }
    in_->MultiGet(table, views_, values, statuses);
  }

 private:
  std::string_view Key(std::string_view key) const {
    key_.assign(prefix_);
    key_.append(key);
    return key_;
  }
  const StateReader* in_;
  std::string prefix_;
  mutable std::string key_;  // reused across calls
  mutable std::vector<std::string> keys_;
  mutable std::vector<std::string_view> views_;
};

class TaskStateWriter final : public StateWriter {
 public:
  TaskStateWriter(StateWriter* out, int task)
      : out_(out), task_(task), prefix_(TaskKeyPrefix(task)) {}
  void Put(std::string_view table, std::string_view key, std::string_view value) override {
    out_->Put(table, Key(key), value);
  }
  void Delete(std::string_view table, std::string_view key) override {
    out_->Delete(table, Key(key));
  }
  void DeleteRange(std::string_view table, std::string_view begin, std::string_view end) override {
    const std::string from = prefix_ + std::string(begin);
    out_->DeleteRange(table, from, Key(end));
  }
  void Defer(DeferredWrite write) override {
    out_->Defer([task = task_, write = std::move(write)](StateWriter& out) {
      TaskStateWriter there(&out, task);
      write(there);
    });
  }

 private:
  std::string_view Key(std::string_view key) {
    key_.assign(prefix_);
    key_.append(key);
    return key_;
  }
  StateWriter* out_;
  int task_;
  std::string prefix_;
  std::string key_;  // reused across calls
};

// Writes to two writers (a task's local batch and its changelog batch);
// `second` may be null.
class TeeStateWriter final : public StateWriter {
 public:
  TeeStateWriter(StateWriter* first, StateWriter* second) : first_(first), second_(second) {}
  void Put(std::string_view table, std::string_view key, std::string_view value) override {
    first_->Put(table, key, value);
    if (second_ != nullptr) second_->Put(table, key, value);
  }
  void Delete(std::string_view table, std::string_view key) override {
    first_->Delete(table, key);
    if (second_ != nullptr) second_->Delete(table, key);
  }
  void DeleteRange(std::string_view table, std::string_view begin, std::string_view end) override {
    first_->DeleteRange(table, begin, end);
    if (second_ != nullptr) second_->DeleteRange(table, begin, end);
  }
  // Deferred once, on the first writer's side, writing to both there (the
  // second must outlive the deferred write: the changelog batch is
  // finished on the committing thread, after it).
  void Defer(DeferredWrite write) override {
    first_->Defer([second = second_, write = std::move(write)](StateWriter& out) {
      TeeStateWriter there(&out, second);
      write(there);
    });
  }

 private:
  StateWriter* first_;
  StateWriter* second_;
};

}  // namespace promowatch
