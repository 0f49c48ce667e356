#pragma once
// Enums with names: one table per enum, {name, value} in the order help
// texts list them, from which parsing (config, flags), printing and the
// "one of: a, b" of an error message all come.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace promowatch {

template <typename E>
struct Named {
  std::string_view name;
  E value;
};

template <typename E, size_t N>
constexpr std::optional<E> FromName(const Named<E> (&table)[N], std::string_view name) {
  for (const Named<E>& n : table) {
    if (n.name == name) return n.value;
  }
  return std::nullopt;
}

template <typename E, size_t N>
constexpr std::string_view NameOf(const Named<E> (&table)[N], E value) {
  for (const Named<E>& n : table) {
    if (n.value == value) return n.name;
  }
  return "?";
}

// The names, for a flag's allowed values (CLI::IsMember).
template <typename E, size_t N>
std::vector<std::string> Names(const Named<E> (&table)[N]) {
  std::vector<std::string> names;
  for (const Named<E>& n : table) names.emplace_back(n.name);
  return names;
}

// "a, b, c", for error messages.
template <typename E, size_t N>
std::string NameList(const Named<E> (&table)[N]) {
  std::string list;
  for (const Named<E>& n : table) {
    if (!list.empty()) list += ", ";
    list += n.name;
  }
  return list;
}

}  // namespace promowatch
