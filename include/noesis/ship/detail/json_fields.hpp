// Checked reads of integer fields from JetStream API JSON.
//
// nlohmann's value<int64_t>() converts a floating-point or out-of-range number with a plain cast,
// which is undefined behaviour for values outside the target type. These helpers accept only
// integers that fit and throw errc::serialization naming the field otherwise.
#pragma once

#include <concepts>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include <noesis/ship/error.hpp>

namespace noesis::ship::detail {

// Returns `value` as a T. A non-empty `context` starts the error message, for example
// "get object 'x' from bucket 'b'".
template <std::integral T>
T integer_value(const nlohmann::json& value, std::string_view field, std::string_view context = {}) {
  if (value.is_number_unsigned()) {
    const auto number = value.get<std::uint64_t>();
    if (std::in_range<T>(number)) return static_cast<T>(number);
  } else if (value.is_number_integer()) {
    const auto number = value.get<std::int64_t>();
    if (std::in_range<T>(number)) return static_cast<T>(number);
  }
  std::string message = context.empty() ? std::string() : std::string(context) + ": ";
  message += "JSON field '" + std::string(field) + "' is " + value.dump() + "; expected an integer from " +
             std::to_string(std::numeric_limits<T>::min()) + " to " + std::to_string(std::numeric_limits<T>::max());
  throw error(errc::serialization, message);
}

// Returns the integer field `field` of `object`, or `fallback` when it is missing or null.
template <std::integral T>
T integer_field(const nlohmann::json& object, std::string_view field, T fallback, std::string_view context = {}) {
  const auto found = object.find(std::string(field));
  if (found == object.end() || found->is_null()) return fallback;
  return integer_value<T>(*found, field, context);
}

}  // namespace noesis::ship::detail
