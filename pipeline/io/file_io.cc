#include "pipeline/io/file_io.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "operators/encoding.h"

namespace promowatch {
namespace {
constexpr size_t kReadChunk = size_t{4} << 20;

bool LooksLikeJson(const char* p, size_t n) {
  size_t i = 0;
  // A byte-order mark (some Windows tools write one) is not binary.
  if (n >= kUtf8Bom.size() && std::string_view(p, kUtf8Bom.size()) == kUtf8Bom) i = kUtf8Bom.size();
  while (i < n && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t')) ++i;
  if (i >= n || p[i] != '{') return false;
  // A binary record of length 123 also starts with '{'; JSON continues with
  // whitespace, a quote or '}', a binary Event with a field tag (0x0a/12/1a).
  if (i + 1 >= n) return true;
  const char c = p[i + 1];
  return c == '"' || c == '}' || c == ' ' || c == '\n' || c == '\r' || c == '\t';
}
// Valid UTF-8 without control characters other than tab: safe to show as text.
bool IsText(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 && c != '\t') return false;
      ++i;
      continue;
    }
    const int extra = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
    if (extra < 0 || i + static_cast<size_t>(extra) >= s.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0xc0) != 0x80) return false;
    }
    i += static_cast<size_t>(extra) + 1;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<FileRecordReader>> FileRecordReader::Open(
    const std::string& path, std::optional<WireFormat> format, int64_t start_offset) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return absl::NotFoundError(fmt::format("cannot open input {}: {}", path, std::strerror(errno)));
  }
  std::unique_ptr<FileRecordReader> r(new FileRecordReader());
  r->file_ = f;
  std::fseek(f, 0, SEEK_END);
  r->file_size_ = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  r->buf_.resize(kReadChunk);
  if (format) {
    r->format_ = *format;
  } else {
    char head[64];
    size_t n = std::fread(head, 1, sizeof(head), f);
    r->format_ = LooksLikeJson(head, n) ? WireFormat::kJson : WireFormat::kBinary;
  }
  std::fseek(f, start_offset, SEEK_SET);
  r->consumed_ = start_offset;
  return r;
}

FileRecordReader::~FileRecordReader() {
  if (file_ != nullptr) std::fclose(file_);
}

bool FileRecordReader::Fill() {
  if (eof_) return false;
  if (begin_ > 0) {  // keep the unread tail at the front
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buf_.size()) buf_.resize(std::min(buf_.size() * 2, kMaxRecord + 16));
  const size_t n = std::fread(buf_.data() + end_, 1, buf_.size() - end_, file_);
  if (n == 0) {
    eof_ = true;
    return false;
  }
  end_ += n;
  return true;
}

int64_t FileRecordReader::SkipLine() {
  int64_t skipped = 0;
  for (;;) {
    const char* p = buf_.data() + begin_;
    const size_t avail = end_ - begin_;
    const void* nl = avail ? std::memchr(p, '\n', avail) : nullptr;
    const size_t n = nl ? static_cast<size_t>(static_cast<const char*>(nl) - p) + 1 : avail;
    begin_ += n;
    consumed_ += static_cast<int64_t>(n);
    skipped += static_cast<int64_t>(n);
    if (nl != nullptr) return skipped;
    begin_ = end_ = 0;
    if (!Fill()) return skipped;
  }
}

bool FileRecordReader::Next(size_t max, std::vector<RawRecord>* out,
                            std::optional<ReadProblem>* problem) {
  out->clear();
  problem->reset();
  // Records of the previous batch are views into buf_: only now may it move.
  while (out->size() < max) {
    const char* p = buf_.data() + begin_;
    const size_t avail = end_ - begin_;
    if (format_ == WireFormat::kJson) {
      const void* nl = avail ? std::memchr(p, '\n', avail) : nullptr;
      if (nl == nullptr && avail > kMaxRecord) {
        // A line longer than any record may be: keep its start, go on after it.
        if (!out->empty()) break;
        kept_.assign(p, kKeptPrefix);
        const int64_t offset = consumed_;
        const int64_t skipped = SkipLine();
        out->push_back(RawRecord{std::string_view(kept_), offset, 0});
        *problem = ReadProblem{
            v1::REJECT_REASON_RECORD_TOO_LARGE, skipped,
            fmt::format(
                "a line of {} bytes at offset {} is over the {} MiB limit: its first {} KiB "
                "are kept here, reading went on after its newline",
                skipped, offset, kMaxRecord >> 20, kKeptPrefix >> 10)};
        break;
      }
      if (nl == nullptr) {
        if (!out->empty()) break;  // hand out what we have before moving buf_
        if (Fill()) continue;
        if (avail == 0) return false;
        p = buf_.data() + begin_;  // Fill may have moved the bytes
        nl = p + avail;            // last line without a newline
      }
      size_t len = static_cast<size_t>(static_cast<const char*>(nl) - p);
      const size_t step = len + (len < avail ? 1 : 0);
      size_t trimmed = len;
      if (trimmed > 0 && p[trimmed - 1] == '\r') --trimmed;
      bool blank = true;
      for (size_t i = 0; i < trimmed && blank; ++i) blank = p[i] == ' ' || p[i] == '\t';
      if (!blank) out->push_back(RawRecord{std::string_view(p, trimmed), consumed_, 0});
      begin_ += step;
      consumed_ += static_cast<int64_t>(step);
      continue;
    }
    // Binary: varint length, then the message.
    uint64_t len = 0;
    int shift = 0;
    size_t i = 0;
    bool have_len = false;
    while (i < avail && i < 10) {
      const unsigned char b = static_cast<unsigned char>(p[i++]);
      len |= static_cast<uint64_t>(b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) == 0) {
        have_len = true;
        break;
      }
    }
    if (have_len && len <= kMaxRecord && i + len <= avail) {
      out->push_back(RawRecord{std::string_view(p + i, len), consumed_, 0});
      begin_ += i + len;
      consumed_ += static_cast<int64_t>(i + len);
      continue;
    }
    if (!out->empty()) break;
    if ((!have_len && i < 10) || (have_len && len <= kMaxRecord)) {
      if (Fill()) continue;
    }
    if (avail == 0) return false;
    p = buf_.data() + begin_;  // Fill may have moved the bytes
    if ((have_len && len <= kMaxRecord) || (!have_len && i < 10)) {
      // A cut-off tail: kept whole.
      out->push_back(RawRecord{std::string_view(p, avail), consumed_, 0});
      *problem =
          ReadProblem{v1::REJECT_REASON_TRUNCATED, 0, RejectAdvice(v1::REJECT_REASON_TRUNCATED)};
      begin_ = end_;
      consumed_ += static_cast<int64_t>(avail);
      eof_ = true;
      break;
    }
    // A length no record has (a corrupt prefix, or not length-delimited
    // protobuf at all): nothing after it can be framed. Its start is kept;
    // the rest of the file is reported skipped.
    const int64_t offset = consumed_;
    const int64_t skipped = file_size_ - offset;
    kept_.assign(p, std::min(avail, kKeptPrefix));
    out->push_back(RawRecord{std::string_view(kept_), offset, 0});
    *problem = ReadProblem{
        v1::REJECT_REASON_RECORD_TOO_LARGE, skipped,
        have_len
            ? fmt::format("a length prefix of {} bytes at offset {} is over the {} MiB limit (a "
                          "corrupt prefix?): the next record cannot be found, the rest of "
                          "the file ({} bytes) was skipped",
                          len, offset, kMaxRecord >> 20, skipped)
            : fmt::format("no valid length prefix at offset {}: the rest of the file ({} "
                          "bytes) was skipped",
                          offset, skipped)};
    begin_ = end_;
    consumed_ = file_size_;
    eof_ = true;
    break;
  }
  return !out->empty();
}

void JsonLinesResultWriter::Emit(const v1::WindowResult& r) {
  AppendWindowResultJson(r, &buf_);
  buf_.push_back('\n');
  ++written_;
  if (buf_.size() > (size_t{1} << 20)) Flush();
}

void JsonLinesResultWriter::Flush() {
  if (!buf_.empty()) {
    std::fwrite(buf_.data(), 1, buf_.size(), out_);
    buf_.clear();
  }
  std::fflush(out_);
}

void JsonLinesRecordSink::Keep(const RawRecord& record, std::string_view source,
                               std::string_view reason, std::string_view detail) {
  nlohmann::json j;
  j["reason"] = reason;
  j["detail"] = detail;
  j["source"] = source;
  j["offset"] = record.offset;
  j["record_base64"] =
      absl::Base64Escape(absl::string_view(record.bytes.data(), record.bytes.size()));
  if (IsText(record.bytes)) j["record"] = std::string(record.bytes);  // for people; base64 is exact
  const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::fwrite(line.data(), 1, line.size(), out_);
  ++kept_;
}

}  // namespace promowatch
