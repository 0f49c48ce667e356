// The operator path on one core: decode + validate + admission (lateness,
// dedup) + 1m/5m windows with rollups + cumulative, state in memory and
// checkpointed to RocksDB every 1M records, as replay and live run it.
//
// Baseline in the same binary: the naive path a first version would take,
// one RocksDB read-modify-write per event and key (no in-memory state).
//
//   build/bench/operator_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>
#include <rocksdb/db.h>
#include <sys/resource.h>

#include <array>
#include <filesystem>
#include <random>

#include "pipeline/generator/generator.h"
#include "pipeline/runtime/engine.h"
#include "promowatch/v1/state.pb.h"

namespace promowatch {
namespace {

const std::vector<std::string>& Records(WireFormat format) {
  static std::vector<std::string> binary, json;
  auto& v = format == WireFormat::kJson ? json : binary;
  if (v.empty()) {
    GeneratorOptions g;
    g.records = 1'000'000;
    g.events_per_second = 20'000;
    SaleGenerator gen(g, format);
    std::string r;
    while (gen.Next(&r)) v.push_back(r);
  }
  return v;
}

// The JSON records as producers following the contract send them: each
// payload bare, with the type of the topic it would go to (garbage stays
// on the click topic as it is).
struct TypedRecords {
  std::vector<std::string> values;
  std::vector<ValueType> types;
};
const TypedRecords& BareJsonRecords() {
  static TypedRecords t;
  if (t.values.empty()) {
    for (const std::string& r : Records(WireFormat::kJson)) {
      ValueType type = ValueType::kClick;
      std::string v = r;
      for (auto [prefix, ty] : {std::pair{"{\"click\":", ValueType::kClick},
                                std::pair{"{\"order\":", ValueType::kOrder},
                                std::pair{"{\"spend\":", ValueType::kSpend}}) {
        const std::string_view p(prefix);
        if (r.size() > p.size() + 1 && r.compare(0, p.size(), p) == 0 && r.back() == '}') {
          v = r.substr(p.size(), r.size() - p.size() - 1);
          type = ty;
        }
      }
      t.values.push_back(std::move(v));
      t.types.push_back(type);
    }
  }
  return t;
}

class NullSink final : public WindowResultSink {
 public:
  void Emit(const v1::WindowResult&) override { ++n; }
  int64_t n = 0;
};

std::string TempDir() {
  std::random_device rd;
  auto p = std::filesystem::temp_directory_path() / ("promowatch-bench-" + std::to_string(rd()));
  std::filesystem::create_directories(p);
  return p.string();
}

// One timed run per iteration: a fresh engine on empty state, `feed` hands
// it the records in batches, then the end of input and a checkpoint.
template <typename Feed>
void RunOperatorPath(benchmark::State& state, size_t records, Feed feed) {
  const std::string dir = TempDir();
  int64_t processed = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::filesystem::remove_all(dir);
    NullSink sink;
    PipelineConfig config;
    Engine engine(EngineOptions::From(config), &sink, nullptr, nullptr);
    auto db = RocksStateBackend::Open(dir, engine.StateTables());
    if (!db.ok() || !engine.Restore(db->get(), nullptr).ok()) state.SkipWithError("state");
    state.ResumeTiming();
    feed(engine, static_cast<size_t>(config.batch_size));
    engine.Finish();
    if (!engine.Checkpoint(SourcePosition{}).ok()) state.SkipWithError("checkpoint");
    processed += static_cast<int64_t>(records);
    benchmark::DoNotOptimize(sink.n);
    const auto& a = engine.admission();
    if (a.remembered_ids() > 0) {
      state.counters["dedup_ids"] = static_cast<double>(a.remembered_ids());
      state.counters["dedup_bytes_per_id"] =
          static_cast<double>(a.memory_bytes()) / static_cast<double>(a.remembered_ids());
    }
  }
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(processed);
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  state.counters["peak_rss_mb"] = static_cast<double>(u.ru_maxrss) / 1024.0;
}

void OperatorPath(benchmark::State& state, WireFormat format) {
  const auto& records = Records(format);
  std::vector<RawRecord> raw;
  raw.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    raw.push_back(RawRecord{records[i], static_cast<int64_t>(i), 0});
  }
  RunOperatorPath(state, raw.size(), [&](Engine& engine, size_t batch) {
    for (size_t i = 0; i < raw.size(); i += batch) {
      engine.Process(std::span(raw).subspan(i, std::min(batch, raw.size() - i)), "bench", format);
    }
  });
}

// Bare typed JSON: each batch of the stream split by topic, as `run` hands
// a poll's records to the engine one topic at a time.
void BM_OperatorPath_JsonBareTyped(benchmark::State& state) {
  const TypedRecords& records = BareJsonRecords();
  std::array<std::vector<RawRecord>, 4> by_type;
  RunOperatorPath(state, records.values.size(), [&](Engine& engine, size_t batch) {
    const size_t n = records.values.size();
    for (size_t i = 0; i < n; i += batch) {
      for (auto& b : by_type) b.clear();
      for (size_t j = i; j < std::min(n, i + batch); ++j) {
        by_type[static_cast<size_t>(records.types[j])].push_back(
            RawRecord{records.values[j], static_cast<int64_t>(j), 0});
      }
      for (ValueType t : {ValueType::kClick, ValueType::kOrder, ValueType::kSpend}) {
        engine.Process(by_type[static_cast<size_t>(t)], ValueTypeName(t),
                       InputFormat{t, ValueFraming::kAuto, WireFormat::kJson, "topic"});
      }
    }
  });
}

void BM_OperatorPath_Binary(benchmark::State& s) { OperatorPath(s, WireFormat::kBinary); }
void BM_OperatorPath_Json(benchmark::State& s) { OperatorPath(s, WireFormat::kJson); }
BENCHMARK(BM_OperatorPath_Binary)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_OperatorPath_Json)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_OperatorPath_JsonBareTyped)->Unit(benchmark::kMillisecond)->UseRealTime();

// Decode + validate only: the floor under the operator path.
void BM_DecodeOnly_Binary(benchmark::State& state) {
  const auto& records = Records(WireFormat::kBinary);
  EventDecoder decoder;
  EventRecord rec;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(decoder.Decode(records[i], WireFormat::kBinary, &rec));
    if (++i == records.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeOnly_Binary);

// Baseline: per-event state access in RocksDB (Get + Put of the 1m pane of
// each of the three keys). This is what "state in RocksDB" costs when it is
// not cached in memory and batched at checkpoints.
void BM_NaivePerEventRocksDB_Binary(benchmark::State& state) {
  const auto& records = Records(WireFormat::kBinary);
  const size_t n = 100'000;  // slow: a tenth of the file
  const std::string dir = TempDir();
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw_db = nullptr;
  if (!rocksdb::DB::Open(options, dir, &raw_db).ok()) state.SkipWithError("open");
  std::unique_ptr<rocksdb::DB> db(raw_db);
  EventDecoder decoder;
  EventRecord rec;
  int64_t processed = 0;
  std::string key, value;
  v1::AggregateState agg;
  for (auto _ : state) {
    for (size_t i = 0; i < n; ++i) {
      if (decoder.Decode(records[i], WireFormat::kBinary, &rec) != v1::REJECT_REASON_UNSPECIFIED) {
        continue;
      }
      const std::string keys[3] = {rec.campaign_id + '\0' + rec.channel,
                                   rec.campaign_id + std::string("\0*", 2), std::string("*\0*", 3)};
      for (const auto& k : keys) {
        key = std::to_string(rec.event_time_ms / 60'000) + '|' + k;
        agg.Clear();
        if (db->Get(rocksdb::ReadOptions(), key, &value).ok()) agg.ParseFromString(value);
        if (rec.kind == EventKind::kClick && rec.code == kImpression) {
          agg.set_impressions(agg.impressions() + 1);
        } else {
          agg.set_clicks(agg.clicks() + 1);
        }
        db->Put(rocksdb::WriteOptions(), key, agg.SerializeAsString());
      }
    }
    processed += static_cast<int64_t>(n);
  }
  db.reset();
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(processed);
}
BENCHMARK(BM_NaivePerEventRocksDB_Binary)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace promowatch

BENCHMARK_MAIN();
