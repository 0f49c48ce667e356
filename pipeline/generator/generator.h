#pragma once
// A seeded synthetic sale: sessions walk the funnel impression -> click ->
// add to cart -> order -> pay (some cancels, some refunds minutes later),
// campaigns are skewed (Zipf), traffic peaks sharply at midnight UTC+8, and
// arrival is imperfect: out of order within a few seconds, a few events very
// late, some retried (duplicate event_id), a few malformed. Deterministic for
// a seed, so tests and benchmarks can regenerate the same file.

#include <cstdint>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "pipeline/decode/decode.h"

namespace promowatch {

struct GeneratorOptions {
  uint64_t seed = 11;
  int64_t records = 1'000'000;           // records written, malformed and duplicates included
  int64_t start_ms = 1'794'326'280'000;  // 2026-11-10T15:58:00Z = 23:58 in UTC+8
  double events_per_second = 5'000;      // before the midnight peak
  double peak_factor = 6.0;              // at midnight UTC+8, decaying over ~5 minutes
  int campaigns = 20;
  // Share of sessions per campaign: Zipf with this exponent (0: uniform),
  // or, with hot_campaign_share > 0, campaign c0 gets that share and the
  // others split the rest evenly (skew benchmarks).
  double campaign_zipf = 1.2;
  double hot_campaign_share = 0;
  int users = 200'000;
  double duplicate_rate = 0.01;   // share of records re-sent with the same event_id
  double malformed_rate = 0.001;  // share of records that are not valid events
  double disorder_ms = 3'000;     // delay of out-of-order arrivals (within the watermark)
  double disorder_rate = 0.3;     // share of events that arrive out of order
  double late_rate = 0.001;       // share that arrive 1-3 minutes late
  bool spend = true;              // one spend event per campaign/channel per minute
  // An injected anomaly: the CTR of this channel is multiplied by
  // anomaly_ctr_factor for event times in [anomaly_start_ms, anomaly_end_ms).
  std::string anomaly_channel;
  int64_t anomaly_start_ms = 0;
  int64_t anomaly_end_ms = 0;
  double anomaly_ctr_factor = 0.1;
  // More anomalies of known times (backtests): `kind` ctr multiplies the
  // CTR of `channel`, orders the share of carts that become orders (GMV
  // falls), both by `factor`, for event times in [start_ms, end_ms).
  struct Anomaly {
    std::string kind = "ctr";  // ctr | orders
    std::string channel;
    int64_t start_ms = 0;
    int64_t end_ms = 0;
    double factor = 0.1;
  };
  std::vector<Anomaly> anomalies;
  // Prepended to event and order ids, so that several generators can feed
  // the same topics without their ids colliding (deduplication).
  std::string id_prefix;
};

// Produces records (serialized, in arrival order) one at a time.
class SaleGenerator {
 public:
  SaleGenerator(const GeneratorOptions& options, WireFormat format);
  ~SaleGenerator();
  // Next record's bytes; false when `records` have been produced.
  bool Next(std::string* out);
  // Event time of the newest event generated so far.
  int64_t clock_ms() const { return now_ms_; }

 private:
  struct Pending {
    int64_t at_ms;
    uint64_t seq;
    std::string bytes;
    bool operator>(const Pending& o) const {
      return at_ms != o.at_ms ? at_ms > o.at_ms : seq > o.seq;
    }
  };
  struct Scheduled;  // a future funnel step, by event time
  void StartSession();
  void EmitSpend(int64_t minute_start_ms);
  void Produce(const v1::Event& e, int64_t event_time_ms);
  std::string Serialize(const v1::Event& e) const;
  std::string Malformed();
  double Rate(int64_t t_ms) const;
  int PickCampaign();

  GeneratorOptions options_;
  WireFormat format_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> unit_{0.0, 1.0};
  std::vector<double> campaign_cdf_;
  std::vector<std::string> channels_;
  int64_t now_ms_;
  double next_session_ms_;
  int64_t next_spend_minute_ms_;
  uint64_t seq_ = 0;
  uint64_t event_seq_ = 0;
  int64_t produced_ = 0;
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> arrivals_;
  std::unique_ptr<std::priority_queue<std::pair<int64_t, uint64_t>,
                                      std::vector<std::pair<int64_t, uint64_t>>, std::greater<>>>
      steps_order_;
  std::vector<v1::Event> steps_;  // indexed by the second of steps_order_ entries
  std::vector<size_t> free_steps_;
};

}  // namespace promowatch
