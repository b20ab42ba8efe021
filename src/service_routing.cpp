#include <noesis/ship/detail/service_routing.hpp>

namespace noesis::ship::detail {

std::string command_from_subject(std::string_view prefix, std::string_view subject) {
  const bool prefixed = subject.size() > prefix.size() && subject.starts_with(prefix) &&
                        subject[prefix.size()] == '.';
  if (!prefixed) return std::string{subject};
  return std::string{subject.substr(prefix.size() + 1)};
}

std::string error_response(std::string_view message, int code) {
  // ordered_json keeps "error" before "code"; the plain json type would sort the keys.
  nlohmann::ordered_json body = nlohmann::ordered_json::object();
  body["error"] = message;
  body["code"] = code;
  return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string unknown_command_response(std::string_view command) {
  std::string message = "UNKNOWN_COMMAND: ";
  message += command;
  return error_response(message, 404);
}

std::string serialize_response(const nlohmann::json& value) {
  try {
    return value.dump();
  } catch (const nlohmann::json::type_error&) {
    // dump() raises type_error 316 for a string that is not valid UTF-8, the only encoding
    // failure a json value can have.
    return "{}";
  }
}

std::string event_subject(std::string_view event_prefix, std::string_view event_type) {
  if (event_prefix.empty()) return std::string{event_type};
  std::string subject{event_prefix};
  subject += '.';
  subject += event_type;
  return subject;
}

}  // namespace noesis::ship::detail
