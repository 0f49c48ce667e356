#pragma once
// Counts of alert delivery, reported by notifiers (from their own threads)
// and implemented by LiveMetrics; kept apart so that neither depends on the
// other's libraries.

#include <string>

namespace promowatch {

// Where delivery outcomes are counted (LiveMetrics in `run`).
class NotifierProbe {
 public:
  virtual ~NotifierProbe() = default;
  virtual void AlertsSent(const std::string& url, int n) = 0;
  virtual void AlertsFailed(const std::string& url, int n) = 0;
  virtual void AlertsDropped(const std::string& url, int n) = 0;
  virtual void QueueLength(const std::string& url, int n) = 0;
};

}  // namespace promowatch
