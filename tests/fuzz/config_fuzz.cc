// libFuzzer: config and alert-rules files. Any text either loads or fails
// with an error that names the file and line - never a crash, a hang or an
// exception out of yaml-cpp.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pipeline/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto check = [&](const absl::Status& s, const char* which) {
    const std::string message(s.message());
    if (!s.ok() && message.rfind("fuzz.yaml:", 0) != 0) {
      std::fprintf(stderr, "%s error without file and line: %s\n", which, message.c_str());
      std::abort();
    }
  };
  check(promowatch::ParseConfig(text, "fuzz.yaml").status(), "config");
  promowatch::PipelineConfig rules;
  check(promowatch::ParseAlertRulesFile(text, "fuzz.yaml", &rules), "rules");
  return 0;
}
