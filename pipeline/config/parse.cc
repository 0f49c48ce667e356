#include "pipeline/config/parse.h"

#include <fstream>
#include <map>

namespace promowatch::config_internal {

// The YAML document, or the line at which it stops being YAML.
namespace {

// YAML says keys are unique; yaml-cpp keeps both and `node[key]` reads the
// first, so a second `threshold:` further down would be silently ignored.
// Aliases (*name) are shared, not copied, by yaml-cpp, but every walk over
// the document visits them again: nine levels of ten aliases each (an
// "alias bomb") are a billion visits. No config comes near this budget.
constexpr int64_t kMaxNodeVisits = 1'000'000;

absl::Status CheckNoDuplicateKeys(const YAML::Node& node, std::string_view file_name,
                                  int64_t* visits, int depth = 0) {
  if (++*visits > kMaxNodeVisits) {
    return absl::InvalidArgumentError(fmt::format(
        "{}:{}: over {} values once aliases (*name) are expanded: a config this large is an "
        "alias bomb, not a config; write the values out or use fewer aliases",
        file_name, node.Mark().line + 1, kMaxNodeVisits));
  }
  if (depth > 64) {
    return absl::InvalidArgumentError(
        fmt::format("{}:{}: nested more than 64 levels deep", file_name, node.Mark().line + 1));
  }
  if (node.IsMap()) {
    std::map<std::string, int> seen;  // key -> line
    for (const auto& kv : node) {
      const int line = kv.first.Mark().line + 1;
      if (!kv.first.IsScalar()) {
        return absl::InvalidArgumentError(fmt::format(
            "{}:{}: a key must be a plain name, not a list or a mapping", file_name, line));
      }
      const std::string key = kv.first.Scalar();
      if (auto [it, fresh] = seen.emplace(key, line); !fresh) {
        return absl::InvalidArgumentError(
            fmt::format("{}:{}: duplicate key '{}' (first at line {}): keep one", file_name, line,
                        key, it->second));
      }
      PW_RETURN_IF_ERROR(CheckNoDuplicateKeys(kv.second, file_name, visits, depth + 1));
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node)
      PW_RETURN_IF_ERROR(CheckNoDuplicateKeys(item, file_name, visits, depth + 1));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<YAML::Node> ParseYaml(std::string_view yaml, std::string_view file_name) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        fmt::format("{}:{}: not valid YAML: {}", file_name, e.mark.line + 1, e.msg));
  }
  int64_t visits = 0;
  PW_RETURN_IF_ERROR(CheckNoDuplicateKeys(root, file_name, &visits));
  return root;
}

// The whole file, or an error naming the flag that gave its path.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path, std::string_view what,
                                          std::string_view flag) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        fmt::format("cannot read {} {}: check the path given to {}", what, path, flag));
  }
  // (Bounded: a path like /dev/zero, or a log file given by mistake.)
  constexpr size_t kMaxBytes = 16 << 20;
  std::string text(kMaxBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxBytes) {
    return absl::InvalidArgumentError(
        fmt::format("{} {} is over 16 MiB: check the path given to {}", what, path, flag));
  }
  return text;
}

}  // namespace promowatch::config_internal
