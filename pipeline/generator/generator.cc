#include "pipeline/generator/generator.h"

#include <google/protobuf/util/json_util.h>

#include <cmath>

namespace promowatch {
namespace {
constexpr int64_t kMidnightUtc8 = 1'794'326'400'000;  // 2026-11-11T00:00:00+08:00

void SetTime(v1::Event* e, int64_t t) {
  if (e->has_click()) e->mutable_click()->set_event_time_ms(t);
  if (e->has_order()) e->mutable_order()->set_event_time_ms(t);
  if (e->has_spend()) e->mutable_spend()->set_event_time_ms(t);
}
}  // namespace

SaleGenerator::SaleGenerator(const GeneratorOptions& options, WireFormat format)
    : options_(options),
      format_(format),
      rng_(options.seed),
      channels_{"douyin", "xiaohongshu", "kuaishou",     "tmall",
                "jd",     "miniprogram", "wechat_group", "search_ads"},
      now_ms_(options.start_ms),
      next_session_ms_(static_cast<double>(options.start_ms)),
      next_spend_minute_ms_((options.start_ms / 60'000 + 1) * 60'000),
      steps_order_(std::make_unique<std::remove_reference_t<decltype(*steps_order_)>>()) {
  double total = 0;
  for (int i = 0; i < options_.campaigns; ++i) {
    if (options_.hot_campaign_share > 0 && options_.campaigns > 1) {
      total += i == 0 ? options_.hot_campaign_share
                      : (1.0 - options_.hot_campaign_share) / (options_.campaigns - 1);
    } else {
      total += 1.0 / std::pow(i + 1, options_.campaign_zipf);
    }
    campaign_cdf_.push_back(total);
  }
  for (double& c : campaign_cdf_) c /= total;
}

SaleGenerator::~SaleGenerator() = default;

double SaleGenerator::Rate(int64_t t_ms) const {
  double rate = options_.events_per_second;
  if (t_ms >= kMidnightUtc8) {
    const double minutes = static_cast<double>(t_ms - kMidnightUtc8) / 60'000.0;
    rate *= 1.0 + (options_.peak_factor - 1.0) * std::exp(-minutes / 5.0);
  }
  return rate;
}

int SaleGenerator::PickCampaign() {
  const double u = unit_(rng_);
  return static_cast<int>(std::lower_bound(campaign_cdf_.begin(), campaign_cdf_.end(), u) -
                          campaign_cdf_.begin());
}

std::string SaleGenerator::Serialize(const v1::Event& e) const {
  std::string out;
  if (format_ == WireFormat::kJson) {
    (void)google::protobuf::util::MessageToJsonString(e, &out);
  } else {
    e.SerializeToString(&out);
  }
  return out;
}

void SaleGenerator::Produce(const v1::Event& e, int64_t event_time_ms) {
  // Arrival: most on time, some out of order within the watermark bound, a
  // few late by minutes; some retried.
  int64_t arrival = event_time_ms;
  const double u = unit_(rng_);
  if (u < options_.late_rate) {
    arrival += 60'000 + static_cast<int64_t>(unit_(rng_) * 120'000);
  } else if (u < options_.late_rate + options_.disorder_rate) {
    arrival += static_cast<int64_t>(unit_(rng_) * options_.disorder_ms);
  }
  std::string bytes = Serialize(e);
  if (unit_(rng_) < options_.duplicate_rate) {
    arrivals_.push(Pending{arrival + static_cast<int64_t>(unit_(rng_) * 2'000), seq_++, bytes});
  }
  arrivals_.push(Pending{arrival, seq_++, std::move(bytes)});
  if (unit_(rng_) < options_.malformed_rate) arrivals_.push(Pending{arrival, seq_++, Malformed()});
}

std::string SaleGenerator::Malformed() {
  const int kind = static_cast<int>(unit_(rng_) * 4);
  v1::Event e;
  auto* c = e.mutable_click();
  c->set_event_id(options_.id_prefix + "bad-" + std::to_string(event_seq_++));
  c->set_user_id("u1");
  c->set_campaign_id("c0");
  c->set_channel("douyin");
  c->set_type(v1::EVENT_TYPE_CLICK);
  c->set_event_time_ms(now_ms_);
  switch (kind) {
    case 0: {  // bytes that do not decode
      static constexpr char kGarbage[] = "\x0a\xff\xff\xff\xff\x0f garbage";
      return format_ == WireFormat::kJson ? std::string("{\"click\": {\"eventId\": \"x\", oops")
                                          : std::string(kGarbage, sizeof(kGarbage) - 1);
    }
    case 1:
      c->clear_user_id();
      break;
    case 2:
      c->set_event_time_ms(0);
      break;
    default:
      c->set_type(static_cast<v1::EventType>(9));
      break;  // unknown type number
  }
  return Serialize(e);
}

void SaleGenerator::StartSession() {
  const int campaign = PickCampaign();
  // Each campaign favours a few channels.
  const int channel = static_cast<int>(
      (campaign * 3 + static_cast<int>(std::pow(unit_(rng_), 2.0) * channels_.size())) %
      channels_.size());
  const double u = unit_(rng_);
  const int user = static_cast<int>(u * u * options_.users);
  const std::string user_id = "u" + std::to_string(user);
  const std::string campaign_id = "c" + std::to_string(campaign);
  const std::string& ch = channels_[channel];
  const int64_t t = now_ms_;

  auto click = [&](v1::EventType type, int64_t at) {
    v1::Event e;
    auto* c = e.mutable_click();
    c->set_event_id(options_.id_prefix + "e" + std::to_string(event_seq_++));
    c->set_user_id(user_id);
    c->set_campaign_id(campaign_id);
    c->set_channel(ch);
    c->set_type(type);
    c->set_event_time_ms(at);
    c->set_sku_id("sku" + std::to_string(campaign * 10 + channel));
    c->set_session_id("s" + std::to_string(event_seq_));
    return e;
  };
  auto schedule = [&](v1::Event e, int64_t at) {
    SetTime(&e, at);
    size_t slot;
    if (!free_steps_.empty()) {
      slot = free_steps_.back();
      free_steps_.pop_back();
      steps_[slot] = std::move(e);
    } else {
      slot = steps_.size();
      steps_.push_back(std::move(e));
    }
    steps_order_->emplace(at, slot);
  };

  if (unit_(rng_) < 0.3) Produce(click(v1::EVENT_TYPE_PAGE_VIEW, t), t);
  Produce(click(v1::EVENT_TYPE_IMPRESSION, t), t);
  // CTR differs by channel: 3% to 10%.
  double ctr = 0.03 + 0.01 * static_cast<double>(channel);
  if (ch == options_.anomaly_channel && t >= options_.anomaly_start_ms &&
      t < options_.anomaly_end_ms) {
    ctr *= options_.anomaly_ctr_factor;  // a broken landing page, a dead ad
  }
  double order_share = 0.6;
  for (const auto& a : options_.anomalies) {
    if (a.channel != ch || t < a.start_ms || t >= a.end_ms) continue;
    if (a.kind == "ctr")
      ctr *= a.factor;
    else
      order_share *= a.factor;  // a broken checkout: carts no longer become orders
  }
  if (unit_(rng_) >= ctr) return;
  const int64_t t_click = t + 500 + static_cast<int64_t>(unit_(rng_) * 5'000);
  schedule(click(v1::EVENT_TYPE_CLICK, t_click), t_click);
  if (unit_(rng_) >= 0.4) return;
  const int64_t t_cart = t_click + static_cast<int64_t>(unit_(rng_) * 20'000);
  schedule(click(v1::EVENT_TYPE_ADD_TO_CART, t_cart), t_cart);
  if (unit_(rng_) >= order_share) return;
  v1::Event order;
  auto* o = order.mutable_order();
  o->set_order_id(options_.id_prefix + "o" + std::to_string(event_seq_));
  o->set_user_id(user_id);
  o->set_campaign_id(campaign_id);
  o->set_channel(ch);
  o->set_currency("CNY");
  o->set_amount_cents(1'900 + static_cast<int64_t>(unit_(rng_) * 60'000));
  const int64_t t_order = t_cart + static_cast<int64_t>(unit_(rng_) * 30'000);
  o->set_event_id(options_.id_prefix + "e" + std::to_string(event_seq_++));
  o->set_status(v1::ORDER_STATUS_CREATED);
  schedule(order, t_order);
  const int64_t t_pay = t_order + 2'000 + static_cast<int64_t>(unit_(rng_) * 60'000);
  o->set_event_id(options_.id_prefix + "e" + std::to_string(event_seq_++));
  if (unit_(rng_) < 0.12) {
    o->set_status(v1::ORDER_STATUS_CANCELLED);
    schedule(order, t_pay);
    return;
  }
  o->set_status(v1::ORDER_STATUS_PAID);
  schedule(order, t_pay);
  if (unit_(rng_) < 0.05) {
    o->set_event_id(options_.id_prefix + "e" + std::to_string(event_seq_++));
    o->set_status(v1::ORDER_STATUS_REFUNDED);
    schedule(order, t_pay + 60'000 + static_cast<int64_t>(unit_(rng_) * 300'000));
  }
}

void SaleGenerator::EmitSpend(int64_t minute_start_ms) {
  for (int c = 0; c < options_.campaigns; ++c) {
    for (int k = 0; k < 2; ++k) {
      v1::Event e;
      auto* s = e.mutable_spend();
      s->set_event_id(options_.id_prefix + "sp" + std::to_string(event_seq_++));
      s->set_campaign_id("c" + std::to_string(c));
      s->set_channel(channels_[(c * 3 + k) % channels_.size()]);
      s->set_cost_cents(static_cast<int64_t>(10'000 * Rate(minute_start_ms) /
                                             options_.events_per_second / (c + 1)));
      s->set_event_time_ms(minute_start_ms);
      Produce(e, minute_start_ms);
    }
  }
}

bool SaleGenerator::Next(std::string* out) {
  if (produced_ >= options_.records) return false;
  // Advance event time until the earliest arrival is due.
  while (arrivals_.empty() || arrivals_.top().at_ms > now_ms_) {
    const int64_t next_step = steps_order_->empty() ? INT64_MAX : steps_order_->top().first;
    const int64_t next_session = static_cast<int64_t>(next_session_ms_);
    const int64_t next_spend = options_.spend ? next_spend_minute_ms_ : INT64_MAX;
    const int64_t next_arrival = arrivals_.empty() ? INT64_MAX : arrivals_.top().at_ms;
    const int64_t t = std::min({next_step, next_session, next_spend, next_arrival});
    now_ms_ = std::max(now_ms_, t);
    if (t == next_arrival) break;
    if (t == next_step) {
      const size_t slot = steps_order_->top().second;
      steps_order_->pop();
      Produce(steps_[slot], t);
      free_steps_.push_back(slot);
    } else if (t == next_spend) {
      EmitSpend(next_spend_minute_ms_);
      next_spend_minute_ms_ += 60'000;
    } else {
      StartSession();
      // Sessions make ~1.45 events each on average.
      const double session_rate = Rate(now_ms_) / 1.45;
      next_session_ms_ += -std::log(1.0 - unit_(rng_)) * 1000.0 / session_rate;
    }
  }
  *out = std::move(const_cast<Pending&>(arrivals_.top()).bytes);
  arrivals_.pop();
  ++produced_;
  return true;
}

}  // namespace promowatch
