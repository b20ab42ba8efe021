// JSON encoding and decoding shared by every wire type.
//
// Wire types convert to and from both nlohmann::json and nlohmann::ordered_json. Encoding goes
// through ordered_json, so object keys come out in declaration order, the order in which the
// Rust noesis-ship's serde output writes them. Decoding accepts keys in any order and ignores
// unknown keys, as serde does by default.
#pragma once

#include <concepts>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include <noesis/ship/error.hpp>

namespace noesis::ship {

namespace detail {

// The two document types the wire types convert to and from.
template <class J>
concept json_document = std::same_as<J, nlohmann::json> || std::same_as<J, nlohmann::ordered_json>;

// Converts `value` to the document type J. A type whose to_json only accepts nlohmann::json
// (for example one declared with NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE) goes through
// nlohmann::json first, so its object keys come out sorted.
template <json_document J, class T>
J to_document(const T& value) {
  if constexpr (std::is_constructible_v<J, const T&>) {
    return J(value);
  } else {
    return J(nlohmann::json(value));
  }
}

// Converts the document `doc` to T, through nlohmann::json when T has a from_json only for that.
template <class T, json_document J>
T from_document(const J& doc) {
  if constexpr (requires { doc.template get<T>(); }) {
    return doc.template get<T>();
  } else {
    return nlohmann::json(doc).template get<T>();
  }
}

// Throws nlohmann's type_error, the exception its own conversions throw for a value of the
// wrong type, so decode_json reports every malformed field the same way.
template <json_document J>
[[noreturn]] void throw_type_error(const J& value, const std::string& message) {
  throw J::type_error::create(302, message, &value);
}

// Reads the string member `key`. A missing member throws out_of_range, a non-string type_error.
template <json_document J>
std::string read_string(const J& object, const char* key) {
  return object.at(key).template get<std::string>();
}

// Reads an unsigned integer member, rejecting negative, fractional and out-of-range numbers,
// which nlohmann's own get<> would silently convert.
template <std::unsigned_integral U, json_document J>
U read_unsigned(const J& object, const char* key) {
  const J& value = object.at(key);
  if (!value.is_number_unsigned()) {
    throw_type_error(value, std::string(key) + " must be a non-negative integer, got " +
                                value.dump());
  }
  const auto number = value.template get<std::uint64_t>();
  if (number > std::numeric_limits<U>::max()) {
    throw_type_error(value, std::string(key) + " is out of range: " + value.dump());
  }
  return static_cast<U>(number);
}

// Reads a member that may be a string, null or missing. Null and missing both give nullopt.
template <json_document J>
std::optional<std::string> read_optional_string(const J& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  return it->template get<std::string>();
}

// Writes an optional string as its value or as null.
template <json_document J>
J optional_to_document(const std::optional<std::string>& value) {
  if (!value) return J(nullptr);
  return J(*value);
}

}  // namespace detail

// Encodes `value` as compact JSON with its keys in declaration order.
// Throws noesis::ship::error(errc::serialization) when the value cannot be encoded, for example
// a string that is not valid UTF-8.
template <class T>
std::string encode_json(const T& value) {
  try {
    return detail::to_document<nlohmann::ordered_json>(value).dump();
  } catch (const nlohmann::json::exception& e) {
    throw error(errc::serialization, std::string("JSON encoding failed: ") + e.what());
  }
}

// Parses `bytes` as JSON and converts the document to T.
// Throws noesis::ship::error(errc::serialization) when the bytes are not JSON or do not have
// the shape of T; its message starts with `context` (name the subject or key the bytes came
// from) followed by nlohmann's description of the failure.
template <class T>
T decode_json(std::string_view bytes, std::string_view context) {
  try {
    const auto document = nlohmann::ordered_json::parse(bytes.begin(), bytes.end());
    return detail::from_document<T>(document);
  } catch (const nlohmann::json::exception& e) {
    throw error(errc::serialization, std::string(context) + ": " + e.what());
  }
}

}  // namespace noesis::ship
