#pragma once
// What config.cc and alert_rules.cc share to read YAML: errors that name the
// file and line, key checks, typed scalars. Internal to pipeline/config/.

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/status/statusor.h"
#include "operators/names.h"
#include "pipeline/config/config.h"

namespace promowatch::config_internal {

class Reader {
 public:
  explicit Reader(std::string_view file) : file_(file) {}
  // The file being read (rules files are found relative to it).
  const std::string& file() const { return file_; }

  absl::Status Error(const YAML::Node& node, std::string_view what) const {
    return absl::InvalidArgumentError(fmt::format("{}:{}: {}", file_, node.Mark().line + 1, what));
  }

  // "file:line" of a node (for warnings).
  std::string Where(const YAML::Node& node) const {
    return fmt::format("{}:{}", file_, node.Mark().line + 1);
  }

  // A size in bytes: a number, or one with a unit (KiB, MiB, GiB).
  absl::Status Bytes(const YAML::Node& node, int64_t min, int64_t* out) const {
    if (!node.IsScalar()) return Error(node, "expected a size like 2GiB or 512MiB");
    const std::string& text = node.Scalar();
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    const std::string unit = text.substr(digits);
    int shift = -1;
    if (unit.empty() || unit == "B") shift = 0;
    if (unit == "KiB") shift = 10;
    if (unit == "MiB") shift = 20;
    if (unit == "GiB") shift = 30;
    if (digits == 0 || digits > 12 || shift < 0) {
      return Error(node,
                   fmt::format("expected a size like 2GiB or 512MiB (units B, KiB, MiB, GiB), "
                               "got '{}'",
                               text));
    }
    const int64_t v = std::stoll(text.substr(0, digits)) << shift;
    if (v < min) return Error(node, fmt::format("must be at least {} bytes", min));
    *out = v;
    return absl::OkStatus();
  }

  // Fails on keys outside `allowed`, naming the ones that are.
  absl::Status CheckKeys(const YAML::Node& map, std::string_view section,
                         const std::set<std::string>& allowed) const {
    if (!map.IsMap()) return Error(map, fmt::format("'{}' must be a mapping", section));
    for (const auto& kv : map) {
      if (!kv.first.IsScalar()) return Error(kv.first, "a key must be a plain name");
      const std::string key = kv.first.Scalar();
      if (!allowed.count(key)) {
        return Error(kv.first, fmt::format("unknown key '{}' in '{}' (known: {})", key, section,
                                           fmt::join(allowed, ", ")));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Duration(const YAML::Node& node, int64_t* out) const {
    if (!node.IsScalar()) return Error(node, "expected a duration like 5s");
    auto d = ParseDuration(node.Scalar());
    if (!d.ok()) return Error(node, std::string(d.status().message()));
    *out = *d;
    return absl::OkStatus();
  }

  template <typename T>
  absl::Status Number(const YAML::Node& node, T min, T* out) const {
    T v{};
    if (!node.IsScalar() || !YAML::convert<T>::decode(node, v)) {
      return Error(node, fmt::format("expected a number, got '{}'", node.Scalar()));
    }
    if constexpr (std::is_floating_point_v<T>) {
      if (!std::isfinite(v)) {
        return Error(node, fmt::format("must be a finite number, got '{}'", node.Scalar()));
      }
    }
    if (v < min) return Error(node, fmt::format("must be at least {}", min));
    *out = v;
    return absl::OkStatus();
  }

  // A secret: its value, or "${NAME}" for the environment variable NAME
  // (a Kubernetes Secret mapped into the pod's environment). Error messages
  // never carry the value.
  absl::Status Secret(const YAML::Node& node, std::string_view key, std::string* out) const {
    if (!node.IsScalar()) return Error(node, fmt::format("{} must be a string", key));
    const std::string& v = node.Scalar();
    if (v.size() > 3 && v.rfind("${", 0) == 0 && v.back() == '}') {
      const std::string name = v.substr(2, v.size() - 3);
      const char* env = std::getenv(name.c_str());
      if (env == nullptr || *env == '\0') {
        return Error(node, fmt::format("{} is ${{{}}}, but the environment variable {} is not set "
                                       "(or empty) in promowatch's environment",
                                       key, name, name));
      }
      *out = env;
      return absl::OkStatus();
    }
    *out = v;
    return absl::OkStatus();
  }

  // One of an enum's names (operators/names.h); `what` and `hint` make the
  // error: "<what> 'x' is not one of: a, b<hint>".
  template <typename E, size_t N>
  absl::Status Enum(const YAML::Node& node, std::string_view what, const Named<E> (&names)[N],
                    E* out, std::string_view hint = "") const {
    const std::string text = node.IsScalar() ? node.Scalar() : "";
    if (auto v = FromName(names, text)) {
      *out = *v;
      return absl::OkStatus();
    }
    return Error(node,
                 fmt::format("{} '{}' is not one of: {}{}", what, text, NameList(names), hint));
  }

  absl::Status Bool(const YAML::Node& node, bool* out) const {
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, *out)) {
      return Error(node, "expected true or false");
    }
    return absl::OkStatus();
  }

 private:
  std::string file_;
};

#define PW_RETURN_IF_ERROR(expr) \
  do {                           \
    absl::Status _s = (expr);    \
    if (!_s.ok()) return _s;     \
  } while (0)

// The sections of a config file, one function each (config.cc lists them
// in the order they are read: alert rules check windows.sizes).
absl::Status ParseKafkaSection(const Reader& r, const YAML::Node& k, PipelineConfig* out);
absl::Status ParseProfilesSection(const Reader& r, const YAML::Node& pr, PipelineConfig* out);
absl::Status ParseSegmentsSection(const Reader& r, const YAML::Node& s, PipelineConfig* out);
absl::Status ParseAlertsSection(const Reader& r, const YAML::Node& a, PipelineConfig* out);

// The YAML document, or the line at which it stops being YAML.
absl::StatusOr<YAML::Node> ParseYaml(std::string_view yaml, std::string_view file_name);
// The whole file, or an error naming the flag that gave its path.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path, std::string_view what,
                                          std::string_view flag);
// alerts.rules (config) or rules (a --rules file): the same contract.
absl::Status ParseAlertRules(const Reader& r, const YAML::Node& rules, PipelineConfig* out);

}  // namespace promowatch::config_internal
