#include <noesis/ship/detail/micro.hpp>

#include <noesis/ship/error.hpp>

#include <cstdio>

namespace noesis::ship::detail {
namespace {

// Responses keep the field order of nats.go's structs, so a captured reply reads the same as
// one from a Go service. Parsers do not depend on the order.
using OrderedJson = nlohmann::ordered_json;

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

bool is_identifier_char(char c) noexcept {
  return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-';
}

bool is_numeric(std::string_view token) noexcept {
  if (token.empty()) return false;
  for (char c : token) {
    if (!is_digit(c)) return false;
  }
  return true;
}

// A major, minor or patch number, or a numeric pre-release identifier: digits without a
// leading zero, except "0" itself.
bool is_version_number(std::string_view token) noexcept {
  return is_numeric(token) && (token.size() == 1 || token.front() != '0');
}

// Splits `text` at dots and checks each part with `valid`. An empty part fails, so a leading,
// trailing or doubled dot fails too.
template <typename Predicate>
bool all_dot_separated(std::string_view text, Predicate valid) {
  while (true) {
    const auto dot = text.find('.');
    if (!valid(text.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    text.remove_prefix(dot + 1);
  }
}

bool is_identifier(std::string_view token) noexcept {
  if (token.empty()) return false;
  for (char c : token) {
    if (!is_identifier_char(c)) return false;
  }
  return true;
}

// Pre-release identifiers are alphanumeric with hyphens. A purely numeric one must not have a
// leading zero, because it is compared as a number.
bool is_pre_release_identifier(std::string_view token) noexcept {
  if (!is_identifier(token)) return false;
  return !is_numeric(token) || is_version_number(token);
}

// Build metadata identifiers may have leading zeros.
bool is_build_identifier(std::string_view token) noexcept { return is_identifier(token); }

bool is_core_version(std::string_view core) {
  int numbers = 0;
  const bool valid = all_dot_separated(core, [&numbers](std::string_view token) {
    ++numbers;
    return is_version_number(token);
  });
  return valid && numbers == 3;
}

OrderedJson metadata_json(const std::map<std::string, std::string>& metadata) {
  // An empty map must still be `{}`: ADR-32 types metadata as a record of strings, never null.
  auto object = OrderedJson::object();
  for (const auto& [key, value] : metadata) object[key] = value;
  return object;
}

OrderedJson identity_json(const MicroIdentity& identity, std::string_view type) {
  OrderedJson body = OrderedJson::object();
  body["name"] = identity.name;
  body["id"] = identity.id;
  body["version"] = identity.version;
  body["metadata"] = metadata_json(identity.metadata);
  body["type"] = type;
  return body;
}

OrderedJson endpoint_info_json(const MicroEndpointInfo& endpoint) {
  OrderedJson entry = OrderedJson::object();
  entry["name"] = endpoint.name;
  entry["subject"] = endpoint.subject;
  entry["queue_group"] = endpoint.queue_group;
  entry["metadata"] = metadata_json(endpoint.metadata);
  return entry;
}

OrderedJson endpoint_stats_json(const MicroEndpointStats& entry) {
  const EndpointStats& stats = entry.stats;
  OrderedJson json = OrderedJson::object();
  json["name"] = entry.endpoint.name;
  json["subject"] = entry.endpoint.subject;
  json["queue_group"] = entry.endpoint.queue_group;
  json["num_requests"] = stats.num_requests();
  json["num_errors"] = stats.num_errors();
  json["last_error"] = stats.last_error();
  json["processing_time"] = stats.processing_time().count();
  json["average_processing_time"] = stats.average_processing_time().count();
  if (entry.data) {
    // Re-parsing converts the handler's key-sorted json into the ordered type. The replace
    // handler keeps invalid UTF-8 from throwing here, as in dump() below.
    json["data"] = OrderedJson::parse(
        entry.data->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  return json;
}

// Invalid UTF-8 in a name, description, metadata value or error message would make dump()
// throw, so the bad bytes are replaced with U+FFFD and the service still replies.
std::string dump(const OrderedJson& body) {
  return body.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

std::string quoted(std::string_view value) {
  std::string text;
  text.reserve(value.size() + 2);
  text += '\'';
  text += value;
  text += '\'';
  return text;
}

}  // namespace

std::string_view to_string(MicroVerb verb) noexcept {
  switch (verb) {
    case MicroVerb::ping: return "PING";
    case MicroVerb::info: return "INFO";
    case MicroVerb::stats: return "STATS";
  }
  return "";
}

void EndpointStats::record(std::chrono::nanoseconds processing_time,
                           std::optional<std::string> error) {
  ++num_requests_;
  processing_time_ += processing_time;
  if (error) {
    ++num_errors_;
    last_error_ = std::move(*error);
  }
}

void EndpointStats::reset() noexcept {
  num_requests_ = 0;
  num_errors_ = 0;
  last_error_.clear();
  processing_time_ = std::chrono::nanoseconds{0};
}

std::chrono::nanoseconds EndpointStats::average_processing_time() const noexcept {
  if (num_requests_ == 0) return std::chrono::nanoseconds{0};
  const auto requests = static_cast<std::chrono::nanoseconds::rep>(num_requests_);
  return processing_time_ / requests;
}

std::array<std::string, 3> micro_control_subjects(MicroVerb verb, std::string_view name,
                                                  std::string_view id,
                                                  std::string_view api_prefix) {
  validate_micro_name(name, "service name");
  validate_micro_name(id, "service id");

  std::string all{api_prefix};
  all += '.';
  all += to_string(verb);

  std::string kind = all + '.';
  kind += name;

  std::string instance = kind + '.';
  instance += id;

  return {std::move(all), std::move(kind), std::move(instance)};
}

std::string micro_ping_response(const MicroIdentity& identity) {
  return dump(identity_json(identity, micro_ping_response_type));
}

std::string micro_info_response(const MicroIdentity& identity, std::string_view description,
                                const std::vector<MicroEndpointInfo>& endpoints) {
  OrderedJson body = identity_json(identity, micro_info_response_type);
  body["description"] = description;
  body["endpoints"] = OrderedJson::array();
  for (const auto& endpoint : endpoints) body["endpoints"].push_back(endpoint_info_json(endpoint));
  return dump(body);
}

std::string micro_stats_response(const MicroIdentity& identity,
                                 std::chrono::system_clock::time_point started,
                                 const std::vector<MicroEndpointStats>& endpoints) {
  OrderedJson body = identity_json(identity, micro_stats_response_type);
  body["started"] = micro_timestamp(started);
  body["endpoints"] = OrderedJson::array();
  for (const auto& entry : endpoints) body["endpoints"].push_back(endpoint_stats_json(entry));
  return dump(body);
}

std::string micro_timestamp(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;

  const auto since_epoch = duration_cast<nanoseconds>(time.time_since_epoch());
  const auto day = floor<days>(sys_time<nanoseconds>{since_epoch});
  const year_month_day date{day};
  const hh_mm_ss clock{sys_time<nanoseconds>{since_epoch} - day};

  // A chrono::year has at most 6 characters, so 64 bytes fit the whole timestamp.
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02d.%09lldZ",
                static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()), static_cast<int>(clock.hours().count()),
                static_cast<int>(clock.minutes().count()),
                static_cast<int>(clock.seconds().count()),
                static_cast<long long>(clock.subseconds().count()));
  return text;
}

bool is_valid_micro_name(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (char c : name) {
    const bool allowed = is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         c == '-' || c == '_';
    if (!allowed) return false;
  }
  return true;
}

bool is_semver(std::string_view version) noexcept {
  // Build metadata starts at the first '+', and the pre-release at the first '-' before it.
  // A '-' after that one belongs to a pre-release identifier.
  std::string_view build;
  const auto plus = version.find('+');
  if (plus != std::string_view::npos) {
    build = version.substr(plus + 1);
    version = version.substr(0, plus);
    if (!all_dot_separated(build, is_build_identifier)) return false;
  }

  const auto dash = version.find('-');
  if (dash != std::string_view::npos) {
    if (!all_dot_separated(version.substr(dash + 1), is_pre_release_identifier)) return false;
    version = version.substr(0, dash);
  }

  return is_core_version(version);
}

void validate_micro_name(std::string_view name, std::string_view label) {
  if (is_valid_micro_name(name)) return;
  std::string context{label};
  context += ' ';
  context += quoted(name);
  context += " is invalid; allowed: one or more of the letters A-Z a-z, digits 0-9, '-' and '_'";
  throw error(errc::invalid_name, context);
}

void validate_micro_version(std::string_view version) {
  if (is_semver(version)) return;
  std::string context = "service version " + quoted(version);
  context += " is not a Semantic Versioning 2.0.0 version; allowed: MAJOR.MINOR.PATCH";
  context += " without leading zeros, optionally followed by -pre.release and +build";
  context += " (for example 1.0.0, 0.3.1-rc.1, 2.1.0+build.7)";
  throw error(errc::invalid_argument, context);
}

}  // namespace noesis::ship::detail
