#pragma once
// A task's view of the state of a process that runs several tasks: its
// tables are "task-<n>/<table>", so tasks share one RocksDB (a column
// family per task and table) without seeing each other's keys, and a task
// can be dropped or handed over whole.

#include <string>
#include <string_view>

#include "operators/state.h"

namespace promowatch {

inline std::string TaskTable(int task, std::string_view table) {
  return "task-" + std::to_string(task) + "/" + std::string(table);
}

// "task-<n>/" + table, built in a buffer kept across calls (a snapshot
// writes every dirty key through it).
class TaskTableName {
 public:
  explicit TaskTableName(int task) : prefix_(TaskTable(task, "")) {}
  std::string_view operator()(std::string_view table) const {
    name_.assign(prefix_);
    name_.append(table);
    return name_;
  }

 private:
  std::string prefix_;
  mutable std::string name_;
};

class TaskStateReader final : public StateReader {
 public:
  TaskStateReader(const StateReader* in, int task) : in_(in), name_(task) {}
  absl::Status Scan(std::string_view table, const Visitor& visit) const override {
    return in_->Scan(name_(table), visit);
  }
  absl::Status Get(std::string_view table, std::string_view key,
                   std::string* value) const override {
    return in_->Get(name_(table), key, value);
  }
  absl::Status ScanFrom(std::string_view table, std::string_view begin,
                        const RangeVisitor& visit) const override {
    return in_->ScanFrom(name_(table), begin, visit);
  }

 private:
  const StateReader* in_;
  TaskTableName name_;
};

class TaskStateWriter final : public StateWriter {
 public:
  TaskStateWriter(StateWriter* out, int task) : out_(out), name_(task) {}
  void Put(std::string_view table, std::string_view key, std::string_view value) override {
    out_->Put(name_(table), key, value);
  }
  void Delete(std::string_view table, std::string_view key) override {
    out_->Delete(name_(table), key);
  }
  void DeleteRange(std::string_view table, std::string_view begin, std::string_view end) override {
    out_->DeleteRange(name_(table), begin, end);
  }

 private:
  StateWriter* out_;
  TaskTableName name_;
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

 private:
  StateWriter* first_;
  StateWriter* second_;
};

}  // namespace promowatch
