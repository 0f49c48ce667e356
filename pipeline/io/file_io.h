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
#include "pipeline/decode/decode.h"
#include "pipeline/runtime/engine.h"

namespace promowatch {

// Input the reader could not frame: the last record handed out with it is
// what is kept of it (its first bytes), to be dead-lettered with `reason`.
struct ReadProblem {
  v1::RejectReason reason;
  int64_t skipped_bytes = 0;  // bytes not read as records at all
  std::string detail;
};

// Reads records from one file in batches. JSON lines: one record per line
// (blank lines skipped; a UTF-8 byte-order mark at the start is allowed).
// Binary: each record is a varint length followed by a serialized message
// (protobuf's delimited format).
//
// Bad framing never silently ends the read: a JSON line over 64 MiB is
// handed out as its first 64 KiB with a record_too_large problem and the
// reader goes on after its newline; a binary length over 64 MiB (a corrupt
// prefix) leaves no way to find the next record, so the rest of the file is
// skipped and reported the same way; a length that runs past the end of
// the file yields the tail whole as `truncated`.
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
  // Returns false at the end of the file. With `problem` set, the last
  // record in `out` is input that could not be framed (see above).
  bool Next(size_t max, std::vector<RawRecord>* out, std::optional<ReadProblem>* problem);

  // A record over this size cannot be read (it would have to be held whole).
  static constexpr size_t kMaxRecord = size_t{64} << 20;
  // What is kept of such a record for the dead letters.
  static constexpr size_t kKeptPrefix = size_t{64} << 10;

 private:
  FileRecordReader() = default;
  bool Fill();  // reads more; false at EOF
  // Drops input up to and including the next newline (or to EOF); returns
  // the bytes dropped.
  int64_t SkipLine();

  std::FILE* file_ = nullptr;
  WireFormat format_ = WireFormat::kJson;
  int64_t file_size_ = 0;
  std::vector<char> buf_;
  size_t begin_ = 0, end_ = 0;  // unread bytes in buf_
  int64_t consumed_ = 0;        // file offset of buf_[begin_]
  std::string kept_;            // the kept start of a record that could not be read
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
