// Shared pieces of the libFuzzer targets: the input as a string_view, splitting one input into
// two strings, and a crash on a broken invariant.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <utility>

namespace noesis::ship::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits at the first NUL byte: two independent strings from one input.
inline std::pair<std::string_view, std::string_view> split(std::string_view text) {
  const auto nul = text.find('\0');
  if (nul == std::string_view::npos) return {text, {}};
  return {text.substr(0, nul), text.substr(nul + 1)};
}

// Aborts, so libFuzzer records the input as a crash, when an invariant does not hold.
inline void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace noesis::ship::fuzz
