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

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include <CLI/CLI.hpp>

#include "operators/alert_engine.h"
#include "operators/encoding.h"
#include "operators/user_profiles.h"
#include "pipeline/commands/commands.h"
#include "pipeline/commands/progress.h"
#include "pipeline/io/file_io.h"
#include "pipeline/runtime/checkpoint_schedule.h"
#include "pipeline/runtime/engine.h"
#include "pipeline/runtime/fault_injection.h"

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

}  // namespace

int RunReplay(const ReplayArgs& args) {
  KillPoint kill_point = KillPoint::FromEnv();
  PipelineConfig config;
  if (!LoadConfigForCommand(args.config, &config)) return 2;
  if (args.max_out_of_orderness_ms) {
    config.operators.max_out_of_orderness_ms = *args.max_out_of_orderness_ms;
  }
  if (!args.state_dir.empty()) config.state_dir = args.state_dir;
  // No wall clock in a replay: far-future records are judged against the
  // input's own event times (Engine::GuardFutureTime).
  config.future_skew_reference = PipelineConfig::SkewReference::kInput;
  if (!args.input_types.empty() && args.input_types.size() != args.inputs.size() &&
      args.input_types.size() != 1) {
    spdlog::error(
        "msg=\"bad --input-type\" inputs={} input_types={} hint=\"give one --input-type "
        "for all inputs, or one per --input in the same order\"",
        args.inputs.size(), args.input_types.size());
    return 2;
  }
  if (!args.rules.empty()) {
    if (auto st = LoadAlertRules(args.rules, &config); !st.ok()) {
      spdlog::error("msg=\"bad rules file\" error=\"{}\"", std::string(st.message()));
      return 2;
    }
  }

  // State: the given directory (kept, resumable) or a temporary one.
  bool temporary_state = false;
  std::string state_dir = config.state_dir;
  if (state_dir.empty()) {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "promowatch-replay-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      spdlog::error("msg=\"cannot create a temporary state directory\" hint=\"set --state-dir\"");
      return 1;
    }
    state_dir = tmpl;
    temporary_state = true;
  }
  struct Cleanup {
    std::string dir;
    bool enabled;
    ~Cleanup() {
      if (enabled) {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
      }
    }
  } cleanup{state_dir, temporary_state};

  const std::string dead_letter_path =
      args.dead_letter.empty() ? args.output + ".dead-letter.jsonl" : args.dead_letter;
  const std::string late_path = args.late_output;

  // Outputs are opened after restore, which says how much of them to keep.
  File out_file, dead_file, late_file;
  JsonLinesResultWriter* results_ptr = nullptr;
  struct DeferredResults final : WindowResultSink {
    std::unique_ptr<JsonLinesResultWriter> writer;
    void Emit(const v1::WindowResult& r) override { writer->Emit(r); }
  } results;
  struct DeferredRecords final : RecordSink {
    std::unique_ptr<JsonLinesRecordSink> sink;
    void Keep(const RawRecord& r, std::string_view s, std::string_view reason,
              std::string_view detail) override {
      sink->Keep(r, s, reason, detail);
    }
  } dead_letters, late;

  // Alert rules judge the final windows on their way out (the same engine
  // as live); transitions go to --alerts-output, the log and args.on_alert.
  if (!args.tags_output.empty()) config.profiles_enabled = true;
  config.operators.count_new_customers = config.profiles_enabled;
  File alerts_file;
  int64_t alert_transitions = 0;
  AlertEngine alerts(config.alert_rules, &results, [&](const AlertEvent& a) {
    ++alert_transitions;
    const std::string json = AlertToJson(a);
    if (alerts_file) std::fprintf(alerts_file.get(), "%s\n", json.c_str());
    if (a.state == kAlertFiring) spdlog::debug("msg=\"alert firing\" alert={}", json);
    if (args.on_alert) args.on_alert(a);
  });
  if (args.tasks > 1 && config.profiles_enabled) {
    spdlog::error(
        "msg=\"--tasks with user profiles is not supported yet\" hint=\"drop --tasks (or "
        "--tags-output and profiles.enabled): results are the same with one task\"");
    return 2;
  }
  if (args.input_partitioner) config.kafka.input_partitioner = *args.input_partitioner;
  EngineOptions engine_options = EngineOptions::From(config);
  engine_options.tasks = args.tasks;
  Engine engine(engine_options, &alerts, &dead_letters, late_path.empty() ? &dead_letters : &late);
  engine.Attach(&alerts);
  // User profiles and tags (profiles.enabled, or asked for by --tags-output).
  File tags_file;
  int64_t tag_changes = 0;
  std::unique_ptr<UserProfileOperator> profiles;
  if (config.profiles_enabled) {
    profiles = std::make_unique<UserProfileOperator>(
        config.tag_rules,
        [&](const TagChange& c) {
          ++tag_changes;
          if (tags_file) {
            const std::string json = TagChangeToJson(c);
            std::fprintf(tags_file.get(), "%s\n", json.c_str());
          }
        },
        static_cast<size_t>(config.profiles_max_users_in_memory),
        static_cast<size_t>(config.profiles_checkpoint_every_changed));
    engine.SetEnricher(profiles.get());
  }
  auto backend = RocksStateBackend::Open(state_dir, engine.StateTables(), config.state);
  if (!backend.ok()) {
    spdlog::error("msg=\"cannot open state\" error=\"{}\"",
                  std::string(backend.status().message()));
    return 1;
  }
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
        state_dir, std::string(s.message()));
    return 1;
  }
  std::string fingerprint = Fingerprint(args.inputs);
  for (ValueType t : args.input_types) fingerprint += fmt::format("type:{};", ValueTypeName(t));
  if (args.tasks > 1) {
    fingerprint += fmt::format("tasks:{};", args.tasks);
    if (config.kafka.input_partitioner != InputPartitioner::kMurmur2)
      fingerprint +=
          fmt::format("partitioner:{};", InputPartitionerName(config.kafka.input_partitioner));
  }
  size_t first_input = 0;
  int64_t first_offset = 0;
  auto offset_of = [&](const char* key) {
    auto it = position.offsets.find(key);
    return it == position.offsets.end() ? int64_t{0} : it->second;
  };
  if (position.restored) {
    if (position.fingerprint != fingerprint) {
      spdlog::error(
          "msg=\"state belongs to other inputs\" dir={} hint=\"use a new --state-dir "
          "(or remove this one) to replay these inputs\"",
          state_dir);
      return 2;
    }
    first_input = static_cast<size_t>(offset_of("input_index"));
    first_offset = offset_of("input_offset");
    spdlog::info("msg=\"resuming from checkpoint\" dir={} input={} offset={}", state_dir,
                 first_input, first_offset);
  }
  out_file = OpenOutput(args.output, offset_of("output_bytes"));
  dead_file = OpenOutput(dead_letter_path, offset_of("dead_letter_bytes"));
  if (!late_path.empty()) late_file = OpenOutput(late_path, offset_of("late_bytes"));
  if (!args.alerts_output.empty()) {
    alerts_file = OpenOutput(args.alerts_output, offset_of("alerts_bytes"));
    if (!alerts_file) {
      spdlog::error(
          "msg=\"cannot write alerts\" output={} hint=\"check that the directory exists "
          "and is writable\"",
          args.alerts_output);
      return 1;
    }
  }
  if (!args.tags_output.empty()) {
    tags_file = OpenOutput(args.tags_output, offset_of("tags_bytes"));
    if (!tags_file) {
      spdlog::error(
          "msg=\"cannot write tag changes\" output={} hint=\"check that the directory "
          "exists and is writable\"",
          args.tags_output);
      return 1;
    }
  }
  if (!out_file || !dead_file || (!late_path.empty() && !late_file)) {
    spdlog::error(
        "msg=\"cannot write outputs\" output={} dead_letter={} hint=\"check that the "
        "directories exist and are writable\"",
        args.output, dead_letter_path);
    return 1;
  }
  results.writer = std::make_unique<JsonLinesResultWriter>(out_file.get());
  results_ptr = results.writer.get();
  dead_letters.sink = std::make_unique<JsonLinesRecordSink>(dead_file.get());
  if (late_file) late.sink = std::make_unique<JsonLinesRecordSink>(late_file.get());

  int64_t total_bytes = 0;
  for (const auto& in : args.inputs) {
    std::error_code ec;
    total_bytes += static_cast<int64_t>(std::filesystem::file_size(in, ec));
  }
  ProgressBar progress("replay", total_bytes);
  const auto start = std::chrono::steady_clock::now();
  CheckpointSchedule schedule(config, start);
  int64_t bytes_before = 0;
  const int64_t read_at_start = engine.counters().read;

  double checkpoint_max_ms = 0;
  double checkpoint_total_ms = 0;
  std::vector<double> checkpoint_pauses_ms;  // for the median and p99 in the summary
  // `wait`: durable before returning (the last one); else committed in the
  // background while the next batches are processed.
  // Input not read at all (unframeable), over all inputs and resumed runs.
  int64_t skipped_bytes = offset_of("skipped_bytes");
  auto checkpoint = [&](size_t input_index, int64_t input_offset, bool wait) -> bool {
    results_ptr->Flush();
    SourcePosition p;
    p.fingerprint = fingerprint;
    p.offsets["skipped_bytes"] = skipped_bytes;
    p.offsets["input_index"] = static_cast<int64_t>(input_index);
    p.offsets["input_offset"] = input_offset;
    p.offsets["output_bytes"] = Tell(out_file.get());
    p.offsets["dead_letter_bytes"] = Tell(dead_file.get());
    if (late_file) p.offsets["late_bytes"] = Tell(late_file.get());
    if (alerts_file) {
      std::fflush(alerts_file.get());
      p.offsets["alerts_bytes"] = Tell(alerts_file.get());
    }
    if (tags_file) {
      std::fflush(tags_file.get());
      p.offsets["tags_bytes"] = Tell(tags_file.get());
    }
    // Outputs reach the OS before the state that says they exist.
    kill_point.BeforeCheckpointCommit();
    const auto started = std::chrono::steady_clock::now();
    if (auto s = engine.Checkpoint(p, /*wait=*/false); !s.ok()) {
      spdlog::error("msg=\"checkpoint failed\" error=\"{}\"", std::string(s.message()));
      return false;
    }
    // Processing stops while a checkpoint is taken (the snapshot; and the
    // commit of the previous one if it is still running). The wait for the
    // last commit, after the input, is not a pause.
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    checkpoint_max_ms = std::max(checkpoint_max_ms, ms);
    checkpoint_total_ms += ms;
    checkpoint_pauses_ms.push_back(ms);
    if (wait) {
      if (auto s = engine.WaitForCommit(); !s.ok()) {
        spdlog::error("msg=\"checkpoint failed\" error=\"{}\"", std::string(s.message()));
        return false;
      }
    }
    schedule.Taken(std::chrono::steady_clock::now());
    return true;
  };

  std::vector<RawRecord> batch;
  for (size_t i = 0; i < args.inputs.size(); ++i) {
    if (i < first_input) {
      std::error_code ec;
      bytes_before += static_cast<int64_t>(std::filesystem::file_size(args.inputs[i], ec));
      continue;
    }
    auto reader =
        FileRecordReader::Open(args.inputs[i], args.format, i == first_input ? first_offset : 0);
    if (!reader.ok()) {
      spdlog::error("msg=\"cannot read input\" error=\"{}\"",
                    std::string(reader.status().message()));
      return 1;
    }
    FileRecordReader& r = **reader;
    InputFormat input_format;
    input_format.type = args.input_types.empty()
                            ? ValueType::kEvent
                            : args.input_types[args.input_types.size() == 1 ? 0 : i];
    input_format.wire = r.format();
    input_format.noun = "input";
    spdlog::info("msg=\"reading input\" file={} format={} type={} bytes={}", args.inputs[i],
                 r.format() == WireFormat::kJson ? "json" : "binary",
                 ValueTypeName(input_format.type), r.file_size());
    std::optional<ReadProblem> problem;
    while (r.Next(static_cast<size_t>(config.batch_size), &batch, &problem)) {
      if (problem) {
        // What could not be read is kept (as far as it is kept) with its reason.
        RawRecord tail = batch.back();
        batch.pop_back();
        engine.Process(batch, args.inputs[i], input_format);
        engine.RejectUnframed(tail, args.inputs[i], problem->reason, problem->detail);
        skipped_bytes += problem->skipped_bytes;
        spdlog::warn(
            "msg=\"input skipped\" file={} offset={} reason={} skipped_bytes={} "
            "detail=\"{}\"",
            args.inputs[i], tail.offset, RejectReasonName(problem->reason), problem->skipped_bytes,
            problem->detail);
      } else {
        engine.Process(batch, args.inputs[i], input_format);
      }
      schedule.Counted(static_cast<int64_t>(batch.size()));
      kill_point.AfterRecords(engine.counters().read - read_at_start);
      progress.Update(bytes_before + r.position(), engine.counters().read - read_at_start);
      if (schedule.Due(engine, std::chrono::steady_clock::now())) {
        if (!checkpoint(i, r.position(), /*wait=*/false)) return 1;
      }
    }
    bytes_before += r.file_size();
  }
  // The end of input closes every open window; those ending after the
  // newest event are cut short (the data stops, it did not drop) and are
  // not judged by alert rules.
  int64_t newest = std::numeric_limits<int64_t>::min();
  for (const auto& [name, t] : engine.watermarks().Snapshot()) newest = std::max(newest, t);
  alerts.SetDataIncomplete("end of input: the window ends after the newest event", newest);
  engine.Finish();
  if (!checkpoint(args.inputs.size(), 0, /*wait=*/true)) return 1;
  progress.Finish(engine.counters().read - read_at_start);

  const auto& c = engine.counters();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
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
  std::string profile_summary;
  if (profiles) {
    profile_summary = fmt::format(
        " users={} users_in_memory={} tag_changes={} attributed_order_events={} "
        "unattributed_order_events={}",
        profiles->users(), profiles->users_in_memory(), tag_changes, profiles->attributed(),
        profiles->unattributed());
    for (const auto& [tag, n] : profiles->tag_counts())
      profile_summary += fmt::format(" users_{}={}", tag, n);
    // "tier:gold" -> users_tier_gold
    std::replace(profile_summary.begin(), profile_summary.end(), ':', '_');
  }
  // Nearest-rank quantiles of the pauses.
  std::sort(checkpoint_pauses_ms.begin(), checkpoint_pauses_ms.end());
  const auto pause_quantile = [&](double q) {
    if (checkpoint_pauses_ms.empty()) return 0.0;
    const size_t rank =
        static_cast<size_t>(std::ceil(q * static_cast<double>(checkpoint_pauses_ms.size())));
    return checkpoint_pauses_ms[std::clamp<size_t>(rank, 1, checkpoint_pauses_ms.size()) - 1];
  };
  spdlog::info(
      "msg=\"replay finished\" read={} accepted={} rejected={}{} duplicates={} late={} "
      "windows={} corrections={} elapsed_s={:.3f} events_per_s={:.0f} peak_rss_mb={:.1f} "
      "state_bytes={} checkpoints={} checkpoint_p50_ms={:.0f} checkpoint_p99_ms={:.0f} "
      "checkpoint_max_ms={:.0f} "
      "checkpoint_total_ms={:.0f} alert_transitions={} skipped_bytes={} output={} dead_letter={}{}",
      c.read, c.accepted, c.rejected_total(), by_reason, c.duplicates, c.late, ws.windows_emitted,
      ws.corrections_emitted, secs, static_cast<double>(c.read - read_at_start) / secs,
      static_cast<double>(usage.ru_maxrss) / 1024.0, (*backend)->ApproximateSizeBytes(),
      c.checkpoints, pause_quantile(0.5), pause_quantile(0.99), checkpoint_max_ms,
      checkpoint_total_ms, alert_transitions, skipped_bytes, args.output, dead_letter_path,
      profile_summary);
  if (skipped_bytes > 0) {
    spdlog::error(
        "msg=\"input was skipped unread\" skipped_bytes={} hint=\"see the dead-letter "
        "file (record_too_large, truncated) for where; the records counted are in the "
        "output\"",
        skipped_bytes);
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
