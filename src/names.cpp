#include <noesis/ship/names.hpp>

#include <noesis/ship/error.hpp>

#include <array>
#include <cstdio>
#include <new>
#include <string>
#include <utility>

namespace noesis::ship {
namespace {

// A description of what is wrong with a value, such as "contains '.' at byte 3".
// Empty when the value is valid.
using Problem = std::string;

// Values longer than this are shortened in error messages.
constexpr std::size_t max_quoted_length = 200;

std::string hex_byte(unsigned char c) {
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "\\x%02X", static_cast<unsigned>(c));
  return buffer;
}

bool is_printable_ascii(unsigned char c) {
  return c >= 0x20 && c < 0x7f;
}

// Quotes a value for an error message, escaping bytes outside printable ASCII so the message
// stays one readable line even for binary input.
std::string quote(std::string_view value) {
  std::string out = "'";
  const std::size_t shown = value.size() > max_quoted_length ? max_quoted_length : value.size();
  for (std::size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (is_printable_ascii(c) && c != '\\') {
      out += static_cast<char>(c);
    } else if (c == '\\') {
      out += "\\\\";
    } else {
      out += hex_byte(c);
    }
  }
  if (shown < value.size()) out += "...";
  out += "'";
  return out;
}

std::string describe_byte(unsigned char c) {
  switch (c) {
    case ' ':
      return "a space";
    case '\t':
      return "a tab";
    case '\n':
      return "a line feed";
    case '\r':
      return "a carriage return";
    default:
      break;
  }
  if (is_printable_ascii(c)) return std::string("'") + static_cast<char>(c) + "'";
  return "byte " + hex_byte(c);
}

bool is_ascii_alnum(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// Whitespace and ASCII control characters, which end a token in the NATS protocol or break it.
constexpr bool is_space_or_control(unsigned char c) {
  return c <= 0x20 || c == 0x7f;
}

// The ADR-6 `restricted-term`: letters, digits, `_` and `-`.
bool is_restricted_term_char(unsigned char c) {
  return is_ascii_alnum(c) || c == '_' || c == '-';
}

bool is_kv_key_char(unsigned char c) {
  return is_ascii_alnum(c) || c == '-' || c == '/' || c == '_' || c == '=' || c == '.';
}

// Bytes that NATS prohibits in stream and consumer names (docs.nats.io, "Naming Streams,
// Consumers, and Accounts"): whitespace, `.`, `*`, `>` and path separators. This library also
// rejects control characters, because they cannot be read in logs or typed in tools.
bool is_forbidden_in_stream_name(unsigned char c) {
  return is_space_or_control(c) || c == '.' || c == '*' || c == '>' || c == '/' || c == '\\';
}

Problem check_length(std::string_view value, std::size_t max_length) {
  if (value.empty()) return "is empty";
  if (value.size() > max_length) {
    return "is " + std::to_string(value.size()) + " bytes long, more than the maximum of " +
           std::to_string(max_length);
  }
  return {};
}

// Returns a problem naming the first byte for which `is_invalid` holds.
template <typename Predicate>
Problem find_invalid_byte(std::string_view value, Predicate is_invalid) {
  for (std::size_t i = 0; i < value.size(); ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (is_invalid(c)) return "contains " + describe_byte(c) + " at byte " + std::to_string(i);
  }
  return {};
}

// Splits `value` at `.` and applies `check_token(token, is_last)` to each token, after rejecting
// empty tokens, which come from a leading, trailing or doubled `.`.
template <typename TokenCheck>
Problem check_tokens(std::string_view value, TokenCheck check_token) {
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = value.find('.', start);
    const bool is_last = dot == std::string_view::npos;
    const std::size_t end = is_last ? value.size() : dot;

    if (end == start) {
      if (start == 0) return "starts with '.'";
      if (is_last) return "ends with '.'";
      return "contains an empty token ('..') at byte " + std::to_string(start - 1);
    }
    Problem problem = check_token(value.substr(start, end - start), is_last);
    if (!problem.empty()) return problem;

    if (is_last) return {};
    start = dot + 1;
  }
}

// Bytes that is_valid_subject() looks at: `.`, which ends a token, and the bytes that
// is_space_or_control() rejects. One table lookup per byte keeps the check of every publish cheap.
constexpr std::array<bool, 256> subject_byte_needs_check = [] {
  std::array<bool, 256> table{};
  for (std::size_t c = 0; c < table.size(); ++c) {
    table[c] = c == '.' || is_space_or_control(static_cast<unsigned char>(c));
  }
  return table;
}();

// A token of a subject that contains no `.`, whitespace or control byte: non-empty, a `*` or `>`
// token only when subscribing, and `>` only as the last token.
bool is_valid_subject_token(std::string_view token, bool is_last, SubjectUse use) noexcept {
  if (token.empty()) return false;
  if (token.size() != 1 || (token[0] != '*' && token[0] != '>')) return true;
  if (use == SubjectUse::publish) return false;
  return token[0] == '*' || is_last;
}

Problem subject_problem(std::string_view subject, SubjectUse use) {
  Problem problem = check_length(subject, max_subject_length);
  if (problem.empty()) problem = find_invalid_byte(subject, is_space_or_control);
  if (!problem.empty()) return problem;

  return check_tokens(subject, [use](std::string_view token, bool is_last) -> Problem {
    const bool is_wildcard = token == "*" || token == ">";
    if (is_wildcard && use == SubjectUse::publish) {
      return "contains the wildcard token '" + std::string(token) +
             "', but a publish subject must be literal";
    }
    if (token == ">" && !is_last) return "contains '>' before the last token";
    return {};
  });
}

Problem stream_name_problem(std::string_view name) {
  Problem problem = check_length(name, max_stream_name_length);
  if (problem.empty()) problem = find_invalid_byte(name, is_forbidden_in_stream_name);
  return problem;
}

Problem restricted_term_problem(std::string_view name, std::size_t max_length) {
  Problem problem = check_length(name, max_length);
  if (problem.empty()) {
    problem = find_invalid_byte(name, [](unsigned char c) { return !is_restricted_term_char(c); });
  }
  return problem;
}

constexpr std::string_view reserved_key_prefix = "_kv";

Problem kv_key_problem(std::string_view key, KeyUse use) {
  Problem problem = check_length(key, max_subject_length);
  if (problem.empty()) {
    problem = find_invalid_byte(key, [](unsigned char c) { return !is_kv_key_char(c); });
  }
  if (problem.empty()) {
    problem = check_tokens(key, [](std::string_view, bool) { return Problem{}; });
  }
  if (problem.empty() && use == KeyUse::write && key.starts_with(reserved_key_prefix)) {
    problem = "starts with '_kv', which is reserved for internal use";
  }
  return problem;
}

Problem kv_key_filter_problem(std::string_view filter) {
  Problem problem = check_length(filter, max_subject_length);
  if (!problem.empty()) return problem;

  return check_tokens(filter, [](std::string_view token, bool is_last) -> Problem {
    if (token == "*") return {};
    if (token == ">") return is_last ? Problem{} : Problem("contains '>' before the last token");
    return find_invalid_byte(token, [](unsigned char c) { return !is_kv_key_char(c); });
  });
}

// Returns the length of the UTF-8 sequence starting at `text[i]`, or 0 when it is malformed:
// a stray continuation byte, a truncated sequence, an overlong form, a UTF-16 surrogate or a
// code point above U+10FFFF.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;

  std::size_t length = 0;
  unsigned char min_second = 0x80;
  unsigned char max_second = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) min_second = 0xA0;  // below is an overlong form
    if (lead == 0xED) max_second = 0x9F;  // above are surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) min_second = 0x90;  // below is an overlong form
    if (lead == 0xF4) max_second = 0x8F;  // above is beyond U+10FFFF
  } else {
    return 0;
  }

  if (i + length > text.size()) return 0;
  if (byte(i + 1) < min_second || byte(i + 1) > max_second) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return length;
}

Problem object_name_problem(std::string_view name) {
  if (name.empty()) return "is empty";
  for (std::size_t i = 0; i < name.size();) {
    const std::size_t length = utf8_sequence_length(name, i);
    if (length == 0) return "is not valid UTF-8 at byte " + std::to_string(i);
    i += length;
  }
  return {};
}

Problem worker_name_problem(std::string_view name) {
  Problem problem = find_invalid_byte(name, [](unsigned char c) { return c < 0x20 || c == 0x7f; });
  if (problem.empty()) problem = object_name_problem(name);
  return problem;
}

std::string restricted_term_rule(std::size_t max_length) {
  return "letters, digits, '_' and '-', 1 to " + std::to_string(max_length) + " bytes";
}

std::string subject_rule(SubjectUse use) {
  std::string rule = "dot-separated non-empty tokens without whitespace or control characters, ";
  rule += use == SubjectUse::publish ? "no '*' or '>' wildcard token"
                                     : "'*' as a whole token, '>' only as the last token";
  return rule + ", at most " + std::to_string(max_subject_length) + " bytes";
}

std::string stream_name_rule() {
  return "any characters except whitespace, control characters, '.', '*', '>', '/' and '\\', "
         "1 to " +
         std::to_string(max_stream_name_length) + " bytes";
}

std::string kv_key_rule() {
  return "letters, digits and '-', '/', '_', '=', '.', no leading or trailing '.', no empty token, "
         "at most " +
         std::to_string(max_subject_length) + " bytes";
}

std::string kv_key_filter_rule() {
  return "a KV key whose tokens may also be '*', with '>' allowed as the last token";
}

// Throws the error for an invalid value: "invalid <what>: '<value>' <problem>; allowed: <rule>".
// `rule_text()` returns the rule. It runs only for an invalid value, because building the text
// allocates and validators run on hot paths such as every publish.
template <typename RuleText>
void throw_if_problem(const Problem& problem, errc code, std::string_view what,
                      std::string_view value, RuleText rule_text) {
  if (problem.empty()) return;
  std::string message = "invalid ";
  message += what;
  message += ": ";
  message += quote(value);
  message += ' ';
  message += problem;
  message += "; allowed: ";
  message += rule_text();
  throw error(make_error_code(code), message);
}

// Runs a check for an is_valid_*() function. Building a problem text allocates, so an
// allocation failure counts as invalid instead of escaping a noexcept function.
template <typename Check>
bool has_no_problem(Check check) noexcept {
  try {
    return check().empty();
  } catch (const std::bad_alloc&) {
    return false;
  }
}

}  // namespace

void validate_subject(std::string_view subject, SubjectUse use) {
  if (is_valid_subject(subject, use)) return;
  throw_if_problem(subject_problem(subject, use), errc::invalid_subject, "subject", subject,
                   [use] { return subject_rule(use); });
}

// The same rules as subject_problem() in one pass and without allocating, because every publish
// and request checks its subject. subject_problem() describes what is wrong once this fails, and
// tests/unit/names.cpp checks that the two agree.
bool is_valid_subject(std::string_view subject, SubjectUse use) noexcept {
  const std::size_t size = subject.size();
  if (size == 0 || size > max_subject_length) return false;
  std::size_t token_start = 0;
  for (std::size_t i = 0; i < size; ++i) {
    const auto c = static_cast<unsigned char>(subject[i]);
    if (!subject_byte_needs_check[c]) continue;
    if (c != '.') return false;  // whitespace or a control character
    if (!is_valid_subject_token(subject.substr(token_start, i - token_start), false, use)) return false;
    token_start = i + 1;
  }
  return is_valid_subject_token(subject.substr(token_start), true, use);
}

void validate_stream_name(std::string_view name) {
  throw_if_problem(stream_name_problem(name), errc::invalid_name, "stream name", name,
                   [] { return stream_name_rule(); });
}

bool is_valid_stream_name(std::string_view name) noexcept {
  return has_no_problem([&] { return stream_name_problem(name); });
}

void validate_consumer_name(std::string_view name) {
  throw_if_problem(stream_name_problem(name), errc::invalid_name, "consumer name", name,
                   [] { return stream_name_rule(); });
}

bool is_valid_consumer_name(std::string_view name) noexcept {
  return is_valid_stream_name(name);
}

void validate_bucket_name(std::string_view bucket) {
  throw_if_problem(restricted_term_problem(bucket, max_bucket_name_length), errc::invalid_name,
                   "bucket name", bucket, [] { return restricted_term_rule(max_bucket_name_length); });
}

bool is_valid_bucket_name(std::string_view bucket) noexcept {
  return has_no_problem([&] { return restricted_term_problem(bucket, max_bucket_name_length); });
}

void validate_kv_key(std::string_view key, KeyUse use) {
  throw_if_problem(kv_key_problem(key, use), errc::invalid_key, "KV key", key, [use] {
    std::string rule = kv_key_rule();
    if (use == KeyUse::write) rule += ", not starting with '_kv'";
    return rule;
  });
}

bool is_valid_kv_key(std::string_view key, KeyUse use) noexcept {
  return has_no_problem([&] { return kv_key_problem(key, use); });
}

void validate_kv_key_filter(std::string_view filter) {
  throw_if_problem(kv_key_filter_problem(filter), errc::invalid_key, "KV key filter", filter,
                   [] { return kv_key_filter_rule(); });
}

bool is_valid_kv_key_filter(std::string_view filter) noexcept {
  return has_no_problem([&] { return kv_key_filter_problem(filter); });
}

void validate_service_name(std::string_view name) {
  throw_if_problem(restricted_term_problem(name, max_subject_length), errc::invalid_name,
                   "service name", name, [] { return restricted_term_rule(max_subject_length); });
}

bool is_valid_service_name(std::string_view name) noexcept {
  return has_no_problem([&] { return restricted_term_problem(name, max_subject_length); });
}

void validate_object_name(std::string_view name) {
  throw_if_problem(object_name_problem(name), errc::invalid_name, "object name", name,
                   [] { return std::string("any non-empty UTF-8 string"); });
}

bool is_valid_object_name(std::string_view name) noexcept {
  return has_no_problem([&] { return object_name_problem(name); });
}

void validate_agent_name(std::string_view name) {
  throw_if_problem(restricted_term_problem(name, max_agent_name_length), errc::invalid_name,
                   "agent name", name, [] { return restricted_term_rule(max_agent_name_length); });
}

bool is_valid_agent_name(std::string_view name) noexcept {
  return has_no_problem([&] { return restricted_term_problem(name, max_agent_name_length); });
}

void validate_channel_name(std::string_view name) {
  throw_if_problem(restricted_term_problem(name, max_channel_name_length), errc::invalid_name,
                   "channel name", name, [] { return restricted_term_rule(max_channel_name_length); });
}

bool is_valid_channel_name(std::string_view name) noexcept {
  return has_no_problem([&] { return restricted_term_problem(name, max_channel_name_length); });
}

void validate_worker_name(std::string_view name) {
  throw_if_problem(worker_name_problem(name), errc::invalid_name, "worker name", name,
                   [] { return std::string("one or more bytes of UTF-8 text without ASCII control characters"); });
}

bool is_valid_worker_name(std::string_view name) noexcept {
  return has_no_problem([&] { return worker_name_problem(name); });
}

}  // namespace noesis::ship
