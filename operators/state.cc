#include "operators/state.h"

#include <bit>
#include <cstring>

namespace promowatch {

void StateReader::MultiGet(std::string_view table, std::span<const std::string_view> keys,
                           std::vector<std::string>* values,
                           std::vector<absl::Status>* statuses) const {
  values->resize(keys.size());
  statuses->resize(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) (*statuses)[i] = Get(table, keys[i], &(*values)[i]);
}

void MemoryState::Put(std::string_view table, std::string_view key, std::string_view value) {
  tables_[std::string(table)][std::string(key)] = std::string(value);
}

void MemoryState::Delete(std::string_view table, std::string_view key) {
  auto t = tables_.find(table);
  if (t != tables_.end()) t->second.erase(std::string(key));
}

void MemoryState::DeleteRange(std::string_view table, std::string_view begin,
                              std::string_view end) {
  auto t = tables_.find(table);
  if (t == tables_.end()) return;
  auto& m = t->second;
  m.erase(m.lower_bound(std::string(begin)), m.lower_bound(std::string(end)));
}

absl::Status MemoryState::Scan(std::string_view table, const Visitor& visit) const {
  auto t = tables_.find(table);
  if (t == tables_.end()) return absl::OkStatus();
  for (const auto& [k, v] : t->second) {
    absl::Status s = visit(k, v);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status MemoryState::Get(std::string_view table, std::string_view key,
                              std::string* value) const {
  auto t = tables_.find(table);
  if (t != tables_.end()) {
    auto it = t->second.find(std::string(key));
    if (it != t->second.end()) {
      *value = it->second;
      return absl::OkStatus();
    }
  }
  return absl::NotFoundError(std::string(key));
}

absl::Status MemoryState::ScanFrom(std::string_view table, std::string_view begin,
                                   const RangeVisitor& visit) const {
  auto t = tables_.find(table);
  if (t == tables_.end()) return absl::OkStatus();
  for (auto it = t->second.lower_bound(std::string(begin)); it != t->second.end(); ++it) {
    if (!visit(it->first, it->second)) break;
  }
  return absl::OkStatus();
}

size_t MemoryState::size(std::string_view table) const {
  auto t = tables_.find(table);
  return t == tables_.end() ? 0 : t->second.size();
}

void AppendBigEndian64(std::string* out, int64_t v) {
  // Flip the sign bit so that negative values order before positive ones.
  uint64_t u = static_cast<uint64_t>(v) ^ (uint64_t{1} << 63);
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((u >> (8 * i)) & 0xff));
}

void AppendBigEndian32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

int64_t ReadBigEndian64(std::string_view in) {
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<unsigned char>(in[i]);
  return static_cast<int64_t>(u ^ (uint64_t{1} << 63));
}

uint32_t ReadBigEndian32(std::string_view in) {
  uint32_t u = 0;
  for (int i = 0; i < 4; ++i) u = (u << 8) | static_cast<unsigned char>(in[i]);
  return u;
}

void AppendHashes(std::string* out, const uint64_t* hashes, size_t n) {
  if constexpr (std::endian::native == std::endian::little) {
    // (An append, not a resize and a copy: no zero fill first.)
    out->append(reinterpret_cast<const char*>(hashes), 8 * n);
    return;
  }
  const size_t base = out->size();
  out->resize(base + 8 * n);
  char* p = out->data() + base;
  for (size_t i = 0; i < n; ++i) {
    uint64_t h = hashes[i];
    for (int b = 0; b < 8; ++b) *p++ = static_cast<char>((h >> (8 * b)) & 0xff);
  }
}

}  // namespace promowatch
