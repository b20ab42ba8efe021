#include <noesis/ship/detail/credential_files.hpp>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

#include <noesis/ship/detail/nkeys.hpp>

namespace noesis::ship::detail {
namespace {

std::optional<std::string> read_file(const std::string& path) {
  // An ifstream opens a directory on Linux and only the read fails, so rule it out first.
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) return std::nullopt;
  std::ifstream file(path, std::ios::binary);
  if (!file) return std::nullopt;
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return std::nullopt;
  return text.str();
}

bool is_base64url_part(std::string_view part) {
  if (part.empty()) return false;
  for (const char c : part) {
    const bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                         c == '_';
    if (!allowed) return false;
  }
  return true;
}

// Whether `word` has the form of a JWT: "<header>.<claims>.<signature>" in base64url, the header
// a JSON object (its encoding starts with "eyJ", the encoding of `{"`).
bool looks_like_jwt(std::string_view word) {
  if (!word.starts_with("eyJ")) return false;
  const auto first_dot = word.find('.');
  const auto second_dot = word.find('.', first_dot + 1);
  if (first_dot == std::string_view::npos || second_dot == std::string_view::npos) return false;
  if (word.find('.', second_dot + 1) != std::string_view::npos) return false;
  return is_base64url_part(word.substr(0, first_dot)) &&
         is_base64url_part(word.substr(first_dot + 1, second_dot - first_dot - 1)) &&
         is_base64url_part(word.substr(second_dot + 1));
}

bool contains_jwt(std::string_view text) {
  constexpr std::string_view whitespace = " \t\r\n";
  std::size_t start = text.find_first_not_of(whitespace);
  while (start != std::string_view::npos) {
    const std::size_t end = text.find_first_of(whitespace, start);
    const std::size_t length = end == std::string_view::npos ? std::string_view::npos : end - start;
    if (looks_like_jwt(text.substr(start, length))) return true;
    if (end == std::string_view::npos) break;
    start = text.find_first_not_of(whitespace, end);
  }
  return false;
}

bool has_valid_user_seed(const std::string& text) {
  std::error_code ec;
  const std::string public_key = user_public_key_from_seed(find_user_seed(text), ec);
  return !ec && !public_key.empty();
}

}  // namespace

std::string user_public_key_from_seed_file(const std::string& path, std::string& problem) {
  problem.clear();
  const auto text = read_file(path);
  if (!text) {
    problem = "NKey seed file '" + path + "' cannot be read";
    return {};
  }
  std::error_code ec;
  std::string public_key = user_public_key_from_seed(find_user_seed(*text), ec);
  if (ec) {
    problem = "NKey seed file '" + path + "' contains no valid user seed (a word starting with SU)";
    return {};
  }
  return public_key;
}

std::string credentials_file_problem(const std::string& path) {
  const auto text = read_file(path);
  if (!text) return "credentials file '" + path + "' cannot be read";
  if (!contains_jwt(*text)) {
    return "credentials file '" + path + "' contains no user JWT (a line of three base64url parts separated by dots)";
  }
  if (!has_valid_user_seed(*text)) {
    return "credentials file '" + path + "' contains no valid user seed (a word starting with SU)";
  }
  return {};
}

std::string credential_files_problem(const NatsConfig& config) {
  if (!config.credentials_file.empty()) {
    std::string problem = credentials_file_problem(config.credentials_file);
    if (!problem.empty()) return problem;
  }
  if (!config.nkey_seed_file.empty()) {
    std::string problem;
    user_public_key_from_seed_file(config.nkey_seed_file, problem);
    return problem;
  }
  return {};
}

}  // namespace noesis::ship::detail
