#include "pipeline/live/forwarder_marks.h"

namespace promowatch {

void ForwarderMarks::Publish(const std::function<bool(int task)>& live,
                             const WatermarkTracker& watermarks,
                             std::chrono::steady_clock::time_point now, bool force) {
  if (tasks_ < 2) return;  // nobody to forward to
  if (!force && now - last_ < interval_) return;
  last_ = now;
  for (int source = 0; source < tasks_; ++source) {
    if (!live(source)) continue;
    const auto i = static_cast<size_t>(source);
    const int64_t mark = watermarks.ForwarderMark(source);
    if (mark == sent_[i] && now - sent_at_[i] < std::chrono::seconds(1)) continue;
    for (int to = 0; to < tasks_; ++to) {
      if (to == source) continue;
      sink_->SendMark(to, source, mark);
      ++sent_records_;
    }
    sent_[i] = mark;
    sent_at_[i] = now;
  }
}

}  // namespace promowatch
