// Validation of the parts of a NATS subject that event types and entity ids contribute.
// NOTE: a stand-in until the shared subject validation in names.hpp exists; once it does,
// EventType should call that instead, so both apply the same rules.
#pragma once

#include <string>
#include <string_view>

#include <noesis/ship/error.hpp>

namespace noesis::ship::detail {

// Returns why `fragment` cannot be part of a subject, or an empty string when it can.
// A fragment is one or more dot-separated tokens. Tokens must be non-empty and contain no
// whitespace, no control characters and no wildcard characters `*` or `>`, because a published
// subject must be literal.
inline std::string subject_fragment_problem(std::string_view fragment) {
  if (fragment.empty()) return "is empty";
  if (fragment.front() == '.' || fragment.back() == '.' ||
      fragment.find("..") != std::string_view::npos) {
    return "has an empty token";
  }
  for (const char c : fragment) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) return "contains whitespace or a control character";
    if (c == '*' || c == '>') return "contains a wildcard character";
  }
  return {};
}

// Throws error(errc::invalid_subject) naming `what` and the value when `fragment` is not valid.
inline void validate_subject_fragment(std::string_view what, std::string_view fragment) {
  const std::string problem = subject_fragment_problem(fragment);
  if (problem.empty()) return;
  throw error(errc::invalid_subject,
              std::string(what) + ": '" + std::string(fragment) + "' " + problem +
                  "; allowed: non-empty dot-separated tokens without whitespace, '*' or '>'");
}

}  // namespace noesis::ship::detail
