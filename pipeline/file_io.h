#pragma once
// Files in and out: a reader of JSON-lines or length-delimited binary events,
// and JSON-lines writers for window results and kept (rejected, late) records.

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "operators/window_operator.h"
#include "pipeline/decode.h"
#include "pipeline/engine.h"

namespace promowatch {

// Reads records from one file in batches. JSON lines: one record per line
// (blank lines skipped). Binary: each record is a varint length followed by a
// serialized promowatch.v1.Event (protobuf's delimited format). A length that
// runs past the end of the file yields one last record with `truncated` set.
class FileRecordReader {
 public:
  // `format` unset: detected from the first bytes.
  static absl::StatusOr<std::unique_ptr<FileRecordReader>> Open(const std::string& path,
                                                                std::optional<WireFormat> format,
                                                                int64_t start_offset = 0);
  ~FileRecordReader();

  WireFormat format() const { return format_; }
  int64_t file_size() const { return file_size_; }
  // Offset of the next record to be read.
  int64_t position() const { return consumed_; }

  // Fills `out` with up to `max` records (views valid until the next call).
  // Returns false at the end of the file. `truncated` reports a cut-off tail.
  bool Next(size_t max, std::vector<RawRecord>* out, bool* truncated);

 private:
  FileRecordReader() = default;
  bool Fill();  // reads more; false at EOF

  std::FILE* file_ = nullptr;
  WireFormat format_ = WireFormat::kJson;
  int64_t file_size_ = 0;
  std::vector<char> buf_;
  size_t begin_ = 0, end_ = 0;  // unread bytes in buf_
  int64_t consumed_ = 0;        // file offset of buf_[begin_]
  bool eof_ = false;
};

// Window results as JSON lines, one object per result.
class JsonLinesResultWriter final : public WindowResultSink {
 public:
  explicit JsonLinesResultWriter(std::FILE* out) : out_(out) {}
  ~JsonLinesResultWriter() override { Flush(); }
  void Emit(const v1::WindowResult& r) override;
  void Flush();
  int64_t written() const { return written_; }

 private:
  std::FILE* out_;
  std::string buf_;
  int64_t written_ = 0;
};

// Formats one result as replay's JSON object (no newline).
std::string WindowResultToJson(const v1::WindowResult& r);
void AppendWindowResultJson(const v1::WindowResult& r, std::string* out);

// Kept records as JSON lines: {"reason","detail","source","offset",
// "record_base64", and "record" (the text itself, when it is JSON)}.
class JsonLinesRecordSink final : public RecordSink {
 public:
  explicit JsonLinesRecordSink(std::FILE* out) : out_(out) {}
  void Keep(const RawRecord& record, std::string_view source, std::string_view reason,
            std::string_view detail) override;
  int64_t kept() const { return kept_; }

 private:
  std::FILE* out_;
  int64_t kept_ = 0;
};

}  // namespace promowatch
