// What every command does with --config (commands.h).

#include <spdlog/spdlog.h>

#include "pipeline/commands/commands.h"
#include "pipeline/config/config.h"

namespace promowatch {

bool LoadConfigForCommand(const std::string& path, PipelineConfig* config) {
  if (path.empty()) return true;
  auto loaded = LoadConfig(path);
  if (!loaded.ok()) {
    spdlog::error("msg=\"bad config\" error=\"{}\"", std::string(loaded.status().message()));
    return false;
  }
  *config = *loaded;
  return true;
}

}  // namespace promowatch
