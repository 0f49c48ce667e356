// promowatch replay: the operators over files, with state in RocksDB.
//
// Resumable: every checkpoint stores, with the operator state, which input
// and byte offset comes next and how long the output files were. Run again
// with the same --state-dir after a crash and replay truncates its outputs to
// that length and continues from that offset, so the outputs equal those of
// an uninterrupted run.

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "operators/alert_engine.h"
#include "operators/encoding.h"
#include "operators/user_profiles.h"
#include "pipeline/commands/commands.h"
#include "pipeline/commands/progress.h"
#include "pipeline/commands/replay_pauses.h"
#include "pipeline/io/file_io.h"
#include "pipeline/runtime/checkpoint_schedule.h"
#include "pipeline/runtime/clock.h"
#include "pipeline/runtime/engine.h"
#include "pipeline/runtime/fault_injection.h"
#include "pipeline/runtime/topology.h"

namespace promowatch {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f != nullptr) std::fclose(f);
  }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// Opens for appending after truncating to `keep_bytes` (0: a new file).
File OpenOutput(const std::string& path, int64_t keep_bytes) {
  if (keep_bytes > 0) {
    if (::truncate(path.c_str(), keep_bytes) != 0) return nullptr;
    return File(std::fopen(path.c_str(), "ab"));
  }
  return File(std::fopen(path.c_str(), "wb"));
}

int64_t Tell(std::FILE* f) {
  std::fflush(f);
  return static_cast<int64_t>(std::ftell(f));
}

std::string Fingerprint(const std::vector<std::string>& inputs) {
  std::string fp;
  for (const auto& in : inputs) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(in, ec);
    fp += fmt::format("{}:{};", in, ec ? 0 : size);
  }
  return fp;
}

// The state directory: the given one (kept, resumable) or a temporary one
// removed at the end.
class StateDir {
 public:
  static std::optional<StateDir> Open(const std::string& given) {
    if (!given.empty()) return StateDir(given, false);
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "promowatch-replay-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return std::nullopt;
    return StateDir(tmpl, true);
  }
  StateDir(StateDir&& o) noexcept : path_(std::move(o.path_)), temporary_(o.temporary_) {
    o.temporary_ = false;
  }
  ~StateDir() {
    if (!temporary_) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  // Made for this run (no --state-dir): removed at its end.
  bool temporary() const { return temporary_; }

 private:
  StateDir(std::string path, bool temporary) : path_(std::move(path)), temporary_(temporary) {}
  std::string path_;
  bool temporary_;
};

// Replay's output files. They are opened after restore, which says how much
// of each to keep; until then the sinks handed to the operators write
// nowhere. Their lengths go into every checkpoint.
class ReplayOutputs {
 public:
  explicit ReplayOutputs(const ReplayArgs& args)
      : args_(args),
        dead_letter_path_(args.dead_letter.empty() ? args.output + ".dead-letter.jsonl"
                                                   : args.dead_letter) {}

  WindowResultSink* results() { return &results_; }
  RecordSink* dead_letters() { return &dead_letters_; }
  RecordSink* late() { return args_.late_output.empty() ? &dead_letters_ : &late_; }
  const std::string& dead_letter_path() const { return dead_letter_path_; }

  void WriteAlert(const AlertEvent& a) {
    ++alert_transitions_;
    if (alerts_file_) std::fprintf(alerts_file_.get(), "%s\n", AlertToJson(a).c_str());
  }
  void WriteTagChange(const TagChange& c) {
    ++tag_changes_;
    if (tags_file_) std::fprintf(tags_file_.get(), "%s\n", TagChangeToJson(c).c_str());
  }
  int64_t alert_transitions() const { return alert_transitions_; }
  int64_t tag_changes() const { return tag_changes_; }

  // Opens every output, truncated to the length `position` recorded.
  bool Open(const SourcePosition& position) {
    out_file_ = OpenOutput(args_.output, OffsetOf(position, "output_bytes"));
    dead_file_ = OpenOutput(dead_letter_path_, OffsetOf(position, "dead_letter_bytes"));
    if (!args_.late_output.empty())
      late_file_ = OpenOutput(args_.late_output, OffsetOf(position, "late_bytes"));
    if (!args_.alerts_output.empty()) {
      alerts_file_ = OpenOutput(args_.alerts_output, OffsetOf(position, "alerts_bytes"));
      if (!alerts_file_) return Unwritable("alerts", args_.alerts_output);
    }
    if (!args_.tags_output.empty()) {
      tags_file_ = OpenOutput(args_.tags_output, OffsetOf(position, "tags_bytes"));
      if (!tags_file_) return Unwritable("tag changes", args_.tags_output);
    }
    if (!out_file_ || !dead_file_ || (!args_.late_output.empty() && !late_file_)) {
      spdlog::error(
          "msg=\"cannot write outputs\" output={} dead_letter={} hint=\"check that the "
          "directories exist and are writable\"",
          args_.output, dead_letter_path_);
      return false;
    }
    results_.writer = std::make_unique<JsonLinesResultWriter>(out_file_.get());
    dead_letters_.sink = std::make_unique<JsonLinesRecordSink>(dead_file_.get());
    if (late_file_) late_.sink = std::make_unique<JsonLinesRecordSink>(late_file_.get());
    return true;
  }

  // Flushes every output and records its length in `p`.
  void Record(SourcePosition* p) {
    results_.writer->Flush();
    p->offsets["output_bytes"] = Tell(out_file_.get());
    p->offsets["dead_letter_bytes"] = Tell(dead_file_.get());
    if (late_file_) p->offsets["late_bytes"] = Tell(late_file_.get());
    if (alerts_file_) p->offsets["alerts_bytes"] = Tell(alerts_file_.get());
    if (tags_file_) p->offsets["tags_bytes"] = Tell(tags_file_.get());
  }

  static int64_t OffsetOf(const SourcePosition& p, const char* key) {
    auto it = p.offsets.find(key);
    return it == p.offsets.end() ? int64_t{0} : it->second;
  }

 private:
  struct DeferredResults final : WindowResultSink {
    std::unique_ptr<JsonLinesResultWriter> writer;
    void Emit(const v1::WindowResult& r) override { writer->Emit(r); }
  };
  struct DeferredRecords final : RecordSink {
    std::unique_ptr<JsonLinesRecordSink> sink;
    void Keep(const RawRecord& r, std::string_view s, std::string_view reason,
              std::string_view detail) override {
      sink->Keep(r, s, reason, detail);
    }
  };

  static bool Unwritable(const char* what, const std::string& path) {
    spdlog::error(
        "msg=\"cannot write {}\" output={} hint=\"check that the directory exists and is "
        "writable\"",
        what, path);
    return false;
  }

  const ReplayArgs& args_;
  const std::string dead_letter_path_;
  File out_file_, dead_file_, late_file_, alerts_file_, tags_file_;
  DeferredResults results_;
  DeferredRecords dead_letters_, late_;
  int64_t alert_transitions_ = 0;
  int64_t tag_changes_ = 0;
};

// The config as the command line amends it; false (logged) when it is bad.
bool ReplayConfig(const ReplayArgs& args, PipelineConfig* config) {
  if (!LoadConfigForCommand(args.config, config)) return false;
  if (args.max_out_of_orderness_ms) {
    config->operators.max_out_of_orderness_ms = *args.max_out_of_orderness_ms;
  }
  if (!args.state_dir.empty()) config->state_dir = args.state_dir;
  // No wall clock in a replay: far-future records are judged against the
  // input's own event times (Engine::GuardFutureTime).
  config->future_skew_reference = PipelineConfig::SkewReference::kInput;
  if (!args.input_types.empty() && args.input_types.size() != args.inputs.size() &&
      args.input_types.size() != 1) {
    spdlog::error(
        "msg=\"bad --input-type\" inputs={} input_types={} hint=\"give one --input-type "
        "for all inputs, or one per --input in the same order\"",
        args.inputs.size(), args.input_types.size());
    return false;
  }
  if (!args.rules.empty()) {
    if (auto st = LoadAlertRules(args.rules, config); !st.ok()) {
      spdlog::error("msg=\"bad rules file\" error=\"{}\"", std::string(st.message()));
      return false;
    }
  }
  // User profiles and tags: profiles.enabled, or asked for by --tags-output.
  if (!args.tags_output.empty()) config->profiles_enabled = true;
  config->operators.count_new_customers = config->profiles_enabled;
  if (args.input_partitioner) config->kafka.input_partitioner = *args.input_partitioner;
  return true;
}

// What the checkpoints' positions are checked against: the inputs (names,
// sizes), their types and the task split.
std::string InputsFingerprint(const ReplayArgs& args, const PipelineConfig& config) {
  std::string fingerprint = Fingerprint(args.inputs);
  for (ValueType t : args.input_types) fingerprint += fmt::format("type:{};", ValueTypeName(t));
  if (args.tasks > 1) {
    fingerprint += fmt::format("tasks:{};", args.tasks);
    if (config.kafka.input_partitioner != InputPartitioner::kMurmur2)
      fingerprint +=
          fmt::format("partitioner:{};", InputPartitionerName(config.kafka.input_partitioner));
  }
  return fingerprint;
}

// Checkpoints: the engine's state with where the input stands and how long
// the outputs are; the pauses they cost, for the summary.
class ReplayCheckpoints {
 public:
  ReplayCheckpoints(Engine& engine, ReplayOutputs& outputs, const PipelineConfig& config,
                    std::string fingerprint, int64_t skipped_bytes, KillPoint& kill_point)
      : engine_(engine),
        outputs_(outputs),
        fingerprint_(std::move(fingerprint)),
        kill_point_(kill_point),
        schedule_(config, MonotonicNow()),
        skipped_bytes_(skipped_bytes) {}

  CheckpointSchedule& schedule() { return schedule_; }
  void Skipped(int64_t bytes) { skipped_bytes_ += bytes; }
  int64_t skipped_bytes() const { return skipped_bytes_; }

  // `wait`: durable before returning (the last one); else committed in the
  // background while the next batches are processed.
  bool Take(size_t input_index, int64_t input_offset, bool wait) {
    SourcePosition p;
    p.fingerprint = fingerprint_;
    p.offsets["skipped_bytes"] = skipped_bytes_;
    p.offsets["input_index"] = static_cast<int64_t>(input_index);
    p.offsets["input_offset"] = input_offset;
    outputs_.Record(&p);
    // Outputs reach the OS before the state that says they exist.
    kill_point_.BeforeCheckpointCommit();
    const auto started = MonotonicNow();
    if (auto s = engine_.Checkpoint(p, /*wait=*/false); !s.ok()) {
      spdlog::error("msg=\"checkpoint failed\" error=\"{}\"", std::string(s.message()));
      return false;
    }
    // Processing stops while a checkpoint is taken (the snapshot; and the
    // commit of the previous one if it is still running). The wait for the
    // last commit, after the input, is not a pause.
    pauses_.Checkpoint(MillisSince(started), engine_.last_commit_wait_ms());
    if (wait) {
      if (auto s = engine_.WaitForCommit(); !s.ok()) {
        spdlog::error("msg=\"checkpoint failed\" error=\"{}\"", std::string(s.message()));
        return false;
      }
    }
    schedule_.Taken(MonotonicNow());
    return true;
  }

  // How long the engine took for a batch of input (a checkpoint's pause
  // apart): its latency, in the summary's quantiles.
  void BatchTook(double ms) { pauses_.Batch(ms); }
  // "checkpoint_p50_ms=... snapshot_p99_ms=... batch_p99_ms=..."
  std::string PauseSummary() const { return pauses_.Summary(); }

 private:
  Engine& engine_;
  ReplayOutputs& outputs_;
  const std::string fingerprint_;
  KillPoint& kill_point_;
  CheckpointSchedule schedule_;
  int64_t skipped_bytes_;
  ReplayPauses pauses_;
};

int64_t FileSize(const std::string& path) {
  std::error_code ec;
  return static_cast<int64_t>(std::filesystem::file_size(path, ec));
}

// Reads the inputs from where the checkpoint left off into the engine,
// checkpointing as the schedule says. False (logged) on an error.
bool ReadInputs(const ReplayArgs& args, const PipelineConfig& config, size_t first_input,
                int64_t first_offset, Engine& engine, ReplayCheckpoints& checkpoints,
                KillPoint& kill_point) {
  int64_t total_bytes = 0;
  for (const auto& in : args.inputs) total_bytes += FileSize(in);
  ProgressBar progress("replay", total_bytes);
  const int64_t read_at_start = engine.counters().read;
  int64_t bytes_before = 0;
  for (size_t i = 0; i < first_input && i < args.inputs.size(); ++i) {
    bytes_before += FileSize(args.inputs[i]);
  }
  std::vector<RawRecord> batch;
  for (size_t i = first_input; i < args.inputs.size(); ++i) {
    auto reader =
        FileRecordReader::Open(args.inputs[i], args.format, i == first_input ? first_offset : 0);
    if (!reader.ok()) {
      spdlog::error("msg=\"cannot read input\" error=\"{}\"",
                    std::string(reader.status().message()));
      return false;
    }
    FileRecordReader& r = **reader;
    InputFormat input_format;
    input_format.type = args.input_types.empty()
                            ? ValueType::kEvent
                            : args.input_types[args.input_types.size() == 1 ? 0 : i];
    input_format.wire = r.format();
    input_format.noun = "input";
    spdlog::info("msg=\"reading input\" file={} format={} type={} bytes={}", args.inputs[i],
                 NameOf(kWireFormatNames, r.format()), ValueTypeName(input_format.type),
                 r.file_size());
    std::optional<ReadProblem> problem;
    while (r.Next(static_cast<size_t>(config.batch_size), &batch, &problem)) {
      if (problem) {
        // What could not be read is kept (as far as it is kept) with its reason.
        RawRecord tail = batch.back();
        batch.pop_back();
        engine.Process(batch, args.inputs[i], input_format);
        engine.RejectUnframed(tail, args.inputs[i], problem->reason, problem->detail);
        checkpoints.Skipped(problem->skipped_bytes);
        spdlog::warn(
            "msg=\"input skipped\" file={} offset={} reason={} skipped_bytes={} "
            "detail=\"{}\"",
            args.inputs[i], tail.offset, RejectReasonName(problem->reason), problem->skipped_bytes,
            problem->detail);
      } else {
        const auto started = MonotonicNow();
        engine.Process(batch, args.inputs[i], input_format);
        checkpoints.BatchTook(MillisSince(started));
      }
      checkpoints.schedule().Counted(static_cast<int64_t>(batch.size()));
      kill_point.AfterRecords(engine.counters().read - read_at_start);
      progress.Update(bytes_before + r.position(), engine.counters().read - read_at_start);
      if (checkpoints.schedule().Due(engine, MonotonicNow())) {
        if (!checkpoints.Take(i, r.position(), /*wait=*/false)) return false;
      }
    }
    bytes_before += r.file_size();
  }
  progress.Finish(engine.counters().read - read_at_start);
  return true;
}

// " users=... users_new=..." for the summary (empty without profiles).
std::string ProfileSummary(const UserProfileOperator* profiles, int64_t tag_changes) {
  if (profiles == nullptr) return "";
  std::string summary = fmt::format(
      " users={} users_in_memory={} profile_memory_bytes={} tag_changes={} "
      "attributed_order_events={} unattributed_order_events={}",
      profiles->users(), profiles->users_in_memory(), profiles->memory_bytes(), tag_changes,
      profiles->attributed(), profiles->unattributed());
  for (const auto& [tag, n] : profiles->tag_counts())
    summary += fmt::format(" users_{}={}", tag, n);
  // "tier:gold" -> users_tier_gold
  std::replace(summary.begin(), summary.end(), ':', '_');
  return summary;
}

}  // namespace

int RunReplay(const ReplayArgs& args) {
  KillPoint kill_point = KillPoint::FromEnv();
  PipelineConfig config;
  if (!ReplayConfig(args, &config)) return 2;
  auto state_dir = StateDir::Open(config.state_dir);
  if (!state_dir) {
    spdlog::error("msg=\"cannot create a temporary state directory\" hint=\"set --state-dir\"");
    return 1;
  }
  ReplayOutputs outputs(args);
  // The alert rules judge the final windows on their way out (the same
  // engine as live); transitions go to --alerts-output, the log and
  // args.on_alert; tag changes (profiles on) to --tags-output.
  TopologySinks sinks;
  sinks.results = outputs.results();
  sinks.dead_letters = outputs.dead_letters();
  sinks.late = outputs.late();
  sinks.on_alert = [&](const AlertEvent& a) {
    outputs.WriteAlert(a);
    // (Encoded again only when the debug log is on: backtests fire thousands.)
    if (a.state == kAlertFiring && spdlog::should_log(spdlog::level::debug)) {
      spdlog::debug("msg=\"alert firing\" alert={}", AlertToJson(a));
    }
    if (args.on_alert) args.on_alert(a);
  };
  sinks.on_tag_change = [&](const TagChange& c) { outputs.WriteTagChange(c); };
  EngineOptions engine_options = EngineOptions::From(config);
  engine_options.tasks = args.tasks;
  Topology topology(config, engine_options, std::move(sinks));
  Engine& engine = topology.engine();
  auto backend = RocksStateBackend::Open(state_dir->path(), engine.StateTables(), config.state);
  if (!backend.ok()) {
    spdlog::error("msg=\"cannot open state\" error=\"{}\"",
                  std::string(backend.status().message()));
    return 1;
  }
  // State kept for a later run is closed as `run` closes it: memtables
  // flushed to table files, so that run replays no log when it opens.
  if (!state_dir->temporary()) (*backend)->FlushOnClose();
  // A commit in flight finishes before the state closes, whatever the exit.
  struct CommitBeforeClose {
    Engine& engine;
    ~CommitBeforeClose() { (void)engine.WaitForCommit(); }
  } commit_before_close{engine};
  SourcePosition position;
  if (auto s = engine.Restore(backend->get(), &position); !s.ok()) {
    spdlog::error(
        "msg=\"cannot restore state\" dir={} error=\"{}\" hint=\"remove the directory "
        "to start over\"",
        state_dir->path(), std::string(s.message()));
    return 1;
  }
  const std::string fingerprint = InputsFingerprint(args, config);
  if (position.restored && position.fingerprint != fingerprint) {
    spdlog::error(
        "msg=\"state belongs to other inputs\" dir={} hint=\"use a new --state-dir "
        "(or remove this one) to replay these inputs\"",
        state_dir->path());
    return 2;
  }
  const auto first_input = static_cast<size_t>(ReplayOutputs::OffsetOf(position, "input_index"));
  const int64_t first_offset = ReplayOutputs::OffsetOf(position, "input_offset");
  if (position.restored) {
    spdlog::info("msg=\"resuming from checkpoint\" dir={} input={} offset={}", state_dir->path(),
                 first_input, first_offset);
  }
  if (!outputs.Open(position)) return 1;

  const auto start = MonotonicNow();
  const int64_t read_at_start = engine.counters().read;
  ReplayCheckpoints checkpoints(engine, outputs, config, fingerprint,
                                ReplayOutputs::OffsetOf(position, "skipped_bytes"), kill_point);
  if (!ReadInputs(args, config, first_input, first_offset, engine, checkpoints, kill_point)) {
    return 1;
  }
  topology.Finish();
  if (!checkpoints.Take(args.inputs.size(), 0, /*wait=*/true)) return 1;

  const auto& c = engine.counters();
  const double secs = std::chrono::duration<double>(MonotonicNow() - start).count();
  std::string by_reason;
  for (int r = 1; r < kRejectReasonCount; ++r) {
    if (c.rejected[r] != 0) {
      by_reason += fmt::format(" rejected_{}={}",
                               RejectReasonName(static_cast<v1::RejectReason>(r)), c.rejected[r]);
    }
  }
  const auto ws = engine.window_stats();
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  spdlog::info(
      "msg=\"replay finished\" read={} accepted={} rejected={}{} duplicates={} late={} "
      "windows={} corrections={} elapsed_s={:.3f} events_per_s={:.0f} peak_rss_mb={:.1f} "
      "state_bytes={} checkpoints={} {} alert_transitions={} skipped_bytes={} output={} "
      "dead_letter={}{}",
      c.read, c.accepted, c.rejected_total(), by_reason, c.duplicates, c.late, ws.windows_emitted,
      ws.corrections_emitted, secs, static_cast<double>(c.read - read_at_start) / secs,
      static_cast<double>(usage.ru_maxrss) / 1024.0, (*backend)->ApproximateSizeBytes(),
      c.checkpoints, checkpoints.PauseSummary(), outputs.alert_transitions(),
      checkpoints.skipped_bytes(), args.output, outputs.dead_letter_path(),
      ProfileSummary(topology.profiles(), outputs.tag_changes()));
  if (checkpoints.skipped_bytes() > 0) {
    spdlog::error(
        "msg=\"input was skipped unread\" skipped_bytes={} hint=\"see the dead-letter "
        "file (record_too_large, truncated) for where; the records counted are in the "
        "output\"",
        checkpoints.skipped_bytes());
    return 3;
  }
  return 0;
}

Subcommand AddReplayCommand(CLI::App& app) {
  struct Flags {
    ReplayArgs args;
    InputFlags input;
    std::string max_out_of_orderness;
    std::string input_partitioner;
  };
  auto f = std::make_shared<Flags>();
  ReplayArgs& a = f->args;
  auto* cmd = app.add_subcommand(
      "replay", "Run the operators over event files and write every final window as JSON lines");
  cmd->add_option("--input,-i", a.inputs,
                  "Event file: JSON lines or length-delimited binary "
                  "promowatch.v1.Event (repeatable; read in order as one stream)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--output,-o", a.output, "Window results, one JSON object per line")->required();
  cmd->add_option("--dead-letter", a.dead_letter,
                  "Rejected records with reason and original bytes (JSON lines). "
                  "Default: OUTPUT.dead-letter.jsonl");
  cmd->add_option("--late-output", a.late_output,
                  "Records too late to count (JSON lines). Default: the dead-letter file");
  cmd->add_option("--config,-c", a.config, "YAML config (see deploy/promowatch.yaml)");
  cmd->add_option("--state-dir", a.state_dir,
                  "RocksDB state directory; kept, and resumed from if it holds a checkpoint of "
                  "the same inputs. Default: a temporary directory");
  f->input.Add(cmd,
               "What the input's lines or records are: event (Event envelopes), or bare click, "
               "order or spend messages. Once for every input, or once per --input in order. "
               "Default: event");
  cmd->add_option("--max-out-of-orderness", f->max_out_of_orderness,
                  "Watermark delay behind the newest event, like 5s (overrides the config)");
  cmd->add_option(
         "--rules", a.rules,
         "Alert rules file (top-level 'rules:', as alerts.rules); replaces the config's rules")
      ->check(CLI::ExistingFile);
  cmd->add_option("--alerts-output", a.alerts_output,
                  "Alert transitions (pending, firing, resolved), one JSON object per line");
  cmd->add_option("--tasks", a.tasks,
                  "Split the windows into this many tasks by user (as Kafka partitions a topic "
                  "keyed by user id) and merge them, as the scale-out does; the results are the "
                  "same as with one task")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--input-partitioner", f->input_partitioner,
                  "With --tasks: the partitioner that decides a user's task, as "
                  "kafka.input_partitioner (murmur2 or consistent); the results are the same "
                  "either way. Default: the config's (murmur2)")
      ->check(CLI::IsMember(Names(kInputPartitionerNames)));
  cmd->add_option("--tags-output", a.tags_output,
                  "User tag changes (new, active, dormant, high_value, rfm, tier), one JSON object "
                  "per line {user_id, tag, from, to, reason, event_time_ms}; turns profiles on");
  return {cmd, [f] {
            ReplayArgs args = f->args;
            args.format = f->input.Format();
            args.input_types = f->input.Types();
            if (!f->input_partitioner.empty())
              args.input_partitioner = ParseInputPartitioner(f->input_partitioner);
            if (!f->max_out_of_orderness.empty()) {
              auto d = ParseDuration(f->max_out_of_orderness);
              if (!d.ok()) {
                spdlog::error("msg=\"bad --max-out-of-orderness\" error=\"{}\"",
                              std::string(d.status().message()));
                return 2;
              }
              args.max_out_of_orderness_ms = *d;
            }
            return RunReplay(args);
          }};
}

}  // namespace promowatch
