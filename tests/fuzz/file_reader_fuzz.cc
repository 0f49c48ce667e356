// libFuzzer: replay's file readers (JSON lines, length-prefixed binary,
// detected or given) on any bytes. Every byte is either handed out in a
// record or reported skipped; the reader always ends.

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/io/file_io.h"

using namespace promowatch;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::optional<WireFormat> format;
  if (data[0] % 3 == 1) format = WireFormat::kJson;
  if (data[0] % 3 == 2) format = WireFormat::kBinary;
  const int fd = ::memfd_create("replay-input", 0);
  if (fd < 0) std::abort();
  if (size > 1 && ::write(fd, data + 1, size - 1) != static_cast<ssize_t>(size - 1)) std::abort();
  auto reader = FileRecordReader::Open("/proc/self/fd/" + std::to_string(fd), format);
  if (reader.ok()) {
    std::vector<RawRecord> records;
    std::optional<ReadProblem> problem;
    int64_t last = -1;
    for (int turns = 0; (*reader)->Next(64, &records, &problem); ++turns) {
      for (const RawRecord& r : records) {
        if (r.bytes.size() > FileRecordReader::kMaxRecord) std::abort();
      }
      // Each call moves on (or the reader is stuck).
      if ((*reader)->position() <= last && records.empty()) std::abort();
      last = (*reader)->position();
      if ((*reader)->position() > (*reader)->file_size()) std::abort();
    }
  }
  ::close(fd);
  return 0;
}
