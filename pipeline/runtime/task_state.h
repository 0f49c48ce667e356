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

class TaskStateReader final : public StateReader {
 public:
  TaskStateReader(const StateReader* in, int task) : in_(in), task_(task) {}
  absl::Status Scan(std::string_view table, const Visitor& visit) const override {
    return in_->Scan(TaskTable(task_, table), visit);
  }
  absl::Status Get(std::string_view table, std::string_view key,
                   std::string* value) const override {
    return in_->Get(TaskTable(task_, table), key, value);
  }
  absl::Status ScanFrom(std::string_view table, std::string_view begin,
                        const RangeVisitor& visit) const override {
    return in_->ScanFrom(TaskTable(task_, table), begin, visit);
  }

 private:
  const StateReader* in_;
  int task_;
};

class TaskStateWriter final : public StateWriter {
 public:
  TaskStateWriter(StateWriter* out, int task) : out_(out), task_(task) {}
  void Put(std::string_view table, std::string_view key, std::string_view value) override {
    out_->Put(TaskTable(task_, table), key, value);
  }
  void Delete(std::string_view table, std::string_view key) override {
    out_->Delete(TaskTable(task_, table), key);
  }
  void DeleteRange(std::string_view table, std::string_view begin, std::string_view end) override {
    out_->DeleteRange(TaskTable(task_, table), begin, end);
  }

 private:
  StateWriter* out_;
  int task_;
};

}  // namespace promowatch
