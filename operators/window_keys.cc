// The windows' keys (window_operator.h): a (campaign, channel[, segment])
// interned once to a KeyId, and the row of keys an event updates.
#include <algorithm>
#include <iterator>

#include "operators/window_operator.h"

namespace promowatch {

WindowOperator::KeyId WindowOperator::InternKey(std::string_view campaign, std::string_view channel,
                                                Segment segment) {
  scratch_key_.assign(campaign);
  scratch_key_.push_back('\0');
  scratch_key_.append(channel);
  if (segment != Segment::kNone) {
    scratch_key_.push_back('\0');
    scratch_key_.append(NameOf(kSegmentNames, segment));
  }
  auto it = key_ids_.find(scratch_key_);
  if (it != key_ids_.end()) return it->second;
  const KeyId id = static_cast<KeyId>(keys_.size());
  int period = -1;
  if (segment == Segment::kNone && !IsRollup(campaign)) {
    for (size_t i = 0; i < options_.periods.size(); ++i) {
      if (options_.periods[i].campaign == campaign) period = static_cast<int>(i);
    }
  }
  keys_.push_back(Key{std::string(campaign), std::string(channel), segment, period, scratch_key_});
  key_ids_.emplace(scratch_key_, id);
  return id;
}

WindowOperator::KeyRow& WindowOperator::RowOf(std::string_view campaign, std::string_view channel) {
  static_assert(static_cast<size_t>(Segment::kUnknown) + 1 == kSegments);
  scratch_key_.assign(campaign);
  scratch_key_.push_back('\0');
  scratch_key_.append(channel);
  auto it = row_ids_.find(scratch_key_);
  if (it != row_ids_.end()) return key_rows_[it->second];
  row_ids_.emplace(scratch_key_, static_cast<uint32_t>(key_rows_.size()));
  KeyRow row;
  row.all[0] = InternKey(campaign, channel);
  row.all[1] = InternKey(campaign, kRollupKey);
  for (auto& keys : row.by_segment) std::fill(std::begin(keys), std::end(keys), kNoKey);
  key_rows_.push_back(row);
  return key_rows_.back();
}

}  // namespace promowatch
