#include "pipeline/config/parse.h"

#include <fstream>
#include <sstream>

namespace promowatch::config_internal {

// The YAML document, or the line at which it stops being YAML.
absl::StatusOr<YAML::Node> ParseYaml(std::string_view yaml, std::string_view file_name) {
  try {
    return YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    return absl::InvalidArgumentError(
        fmt::format("{}:{}: not valid YAML: {}", file_name, e.mark.line + 1, e.msg));
  }
}

// The whole file, or an error naming the flag that gave its path.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path, std::string_view what,
                                          std::string_view flag) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        fmt::format("cannot read {} {}: check the path given to {}", what, path, flag));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace promowatch::config_internal
