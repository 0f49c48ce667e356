#include "pipeline/serve/task_probe.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>

namespace promowatch {

TaskProbe::TaskProbe(prometheus::Registry& r) {
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  using prometheus::BuildHistogram;
  owned_ = &BuildGauge()
                .Name("promowatch_tasks_owned")
                .Help("Tasks (partition p of every input topic) running in this instance")
                .Register(r)
                .Add({});
  auto& starts = BuildCounter()
                     .Name("promowatch_task_restores_total")
                     .Help(
                         "Tasks started here, by where their state came from: local (the local "
                         "copy was at the changelog's last commit) or changelog (rebuilt)")
                     .Register(r);
  started_local_ = &starts.Add({{"source", "local"}});
  started_changelog_ = &starts.Add({{"source", "changelog"}});
  restore_records_ = &BuildCounter()
                          .Name("promowatch_task_restore_records_total")
                          .Help("Changelog records read to rebuild tasks")
                          .Register(r)
                          .Add({});
  restore_seconds_ = &BuildHistogram()
                          .Name("promowatch_task_restore_seconds")
                          .Help("Time to rebuild one task from its changelog")
                          .Register(r)
                          .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.05, 0.1, 0.5, 1,
                                                                           5, 10, 30, 60, 300});
  restore_remaining_ = &BuildGauge()
                            .Name("promowatch_task_restore_remaining_records")
                            .Help("Changelog records still to read by the restore under way")
                            .Register(r)
                            .Add({});
  changelog_records_ = &BuildCounter()
                            .Name("promowatch_changelog_records_total")
                            .Help("Records checkpoints appended to the changelog topic")
                            .Register(r)
                            .Add({});
  task_records_ = &BuildGauge()
                       .Name("promowatch_task_records")
                       .Help(
                           "Records of each task run here by outcome (read, accepted, "
                           "duplicate, late, rejected), from the task's state: they move "
                           "with the task, so a sum over a group's instances counts every "
                           "record once")
                       .Register(r);
  changelog_bytes_ = &BuildCounter()
                          .Name("promowatch_changelog_bytes_total")
                          .Help("Key and value bytes checkpoints appended to the changelog topic")
                          .Register(r)
                          .Add({});
  global_owned_ = &BuildGauge()
                       .Name("promowatch_global_tasks_owned")
                       .Help(
                           "Global tasks (partition g of the partials topic: the merge, results, "
                           "alerts and campaign series of its campaigns) running here")
                       .Register(r)
                       .Add({});
  global_watermark_ = &BuildGauge()
                           .Name("promowatch_global_watermark_timestamp_seconds")
                           .Help(
                               "Lowest watermark of the global tasks here (every source task "
                               "passed it): windows ending before it are published")
                           .Register(r)
                           .Add({});
  global_incomplete_ = &BuildGauge()
                            .Name("promowatch_global_tasks_incomplete")
                            .Help(
                                "Global tasks here whose alert rules are not judged: a source "
                                "task's instance says its inputs are incomplete, or a source "
                                "task was not heard for 30 s")
                            .Register(r)
                            .Add({});
  partials_sent_ = &BuildCounter()
                        .Name("promowatch_partials_sent_total")
                        .Help(
                            "Partial windows and watermarks the tasks here sent to the "
                            "partials topic")
                        .Register(r)
                        .Add({});
  partials_rejected_ = &BuildCounter()
                            .Name("promowatch_partials_rejected_total")
                            .Help(
                                "Partials dropped by the global tasks here: undecodable, or "
                                "sent with another task count")
                            .Register(r)
                            .Add({});
  revoked_ = &BuildCounter()
                  .Name("promowatch_partitions_revoked_total")
                  .Help("Partitions this instance gave up in rebalances")
                  .Register(r)
                  .Add({});
}

void TaskProbe::SetGlobalTasks(int owned, int64_t watermark_ms, int incomplete) {
  global_owned_->Set(owned);
  global_incomplete_->Set(incomplete);
  global_watermark_->Set(owned > 0 && watermark_ms > 0 ? static_cast<double>(watermark_ms) / 1000.0
                                                       : 0.0);
}

void TaskProbe::SetPartials(int64_t sent, int64_t rejected) {
  partials_sent_->Increment(static_cast<double>(sent) - partials_sent_->Value());
  partials_rejected_->Increment(static_cast<double>(rejected) - partials_rejected_->Value());
}

void TaskProbe::PartitionsRevoked(int64_t n) { revoked_->Increment(static_cast<double>(n)); }

void TaskProbe::SetTasksOwned(int tasks) { owned_->Set(tasks); }
void TaskProbe::SetTaskRecords(int task, int64_t read, int64_t accepted, int64_t duplicates,
                               int64_t late, int64_t rejected) {
  const std::string t = std::to_string(task);
  task_records_->Add({{"task", t}, {"outcome", "read"}}).Set(static_cast<double>(read));
  task_records_->Add({{"task", t}, {"outcome", "accepted"}}).Set(static_cast<double>(accepted));
  task_records_->Add({{"task", t}, {"outcome", "duplicate"}}).Set(static_cast<double>(duplicates));
  task_records_->Add({{"task", t}, {"outcome", "late"}}).Set(static_cast<double>(late));
  task_records_->Add({{"task", t}, {"outcome", "rejected"}}).Set(static_cast<double>(rejected));
}
void TaskProbe::TaskStartedFromLocal() { started_local_->Increment(); }
void TaskProbe::TaskRestored(int64_t records, double seconds) {
  started_changelog_->Increment();
  restore_records_->Increment(static_cast<double>(records));
  restore_seconds_->Observe(seconds);
}
void TaskProbe::SetRestoreRemaining(int64_t records) {
  restore_remaining_->Set(static_cast<double>(records));
}
void TaskProbe::ChangelogAppended(int64_t records, int64_t bytes) {
  changelog_records_->Increment(static_cast<double>(records));
  changelog_bytes_->Increment(static_cast<double>(bytes));
}

int64_t TaskProbe::restore_remaining() const {
  return static_cast<int64_t>(restore_remaining_->Value());
}
int64_t TaskProbe::changelog_records() const {
  return static_cast<int64_t>(changelog_records_->Value());
}
int64_t TaskProbe::changelog_bytes() const {
  return static_cast<int64_t>(changelog_bytes_->Value());
}

}  // namespace promowatch
