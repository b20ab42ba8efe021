// BeingStatus: a being's record in the `beings_status` KV registry, under key = being id.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <noesis/ship/json.hpp>

namespace noesis::ship {

// The activity state of a being, written in JSON as the lowercase enumerator name.
enum class BeingState { idle, working, blocked, offline };

// Returns "idle", "working", "blocked" or "offline".
constexpr std::string_view to_string(BeingState state) noexcept {
  switch (state) {
    case BeingState::idle: return "idle";
    case BeingState::working: return "working";
    case BeingState::blocked: return "blocked";
    case BeingState::offline: return "offline";
  }
  return "idle";
}

// Returns the state named `text` (lowercase, exact), or nullopt for any other text.
constexpr std::optional<BeingState> parse_being_state(std::string_view text) noexcept {
  for (const auto state :
       {BeingState::idle, BeingState::working, BeingState::blocked, BeingState::offline}) {
    if (to_string(state) == text) return state;
  }
  return std::nullopt;
}

template <detail::json_document J>
void to_json(J& j, BeingState state) {
  j = std::string(to_string(state));
}

template <detail::json_document J>
void from_json(const J& j, BeingState& state) {
  const auto text = j.template get<std::string>();
  const auto parsed = parse_being_state(text);
  if (!parsed) {
    detail::throw_type_error(
        j, "being state '" + text + "' is invalid; allowed: idle, working, blocked, offline");
  }
  state = *parsed;
}

// A registry record. JSON, in this key order, with nulls written rather than omitted:
//   {"being_id": "being-1", "state": "working", "current_task": "build",
//    "last_heartbeat": "2026-03-20T04:37:32.123456789+00:00", "uptime_seconds": 0,
//    "memory_mb": null, "capabilities": ["rust"], "metadata": null}
// Decoding reads a missing nullable key as null.
struct BeingStatus {
  std::string being_id;
  BeingState state = BeingState::idle;
  std::optional<std::string> current_task;
  std::string last_heartbeat;  // RFC 3339
  std::uint64_t uptime_seconds = 0;
  std::optional<double> memory_mb;
  std::vector<std::string> capabilities;
  nlohmann::json metadata;  // any JSON; null when absent

  friend bool operator==(const BeingStatus&, const BeingStatus&) = default;
};

template <detail::json_document J>
void to_json(J& j, const BeingStatus& status) {
  j = J::object();
  j["being_id"] = status.being_id;
  j["state"] = status.state;
  j["current_task"] = detail::optional_to_document<J>(status.current_task);
  j["last_heartbeat"] = status.last_heartbeat;
  j["uptime_seconds"] = status.uptime_seconds;
  j["memory_mb"] = status.memory_mb ? J(*status.memory_mb) : J(nullptr);
  j["capabilities"] = status.capabilities;
  j["metadata"] = J(status.metadata);
}

template <detail::json_document J>
void from_json(const J& j, BeingStatus& status) {
  status.being_id = detail::read_string(j, "being_id");
  status.state = j.at("state").template get<BeingState>();
  status.current_task = detail::read_optional_string(j, "current_task");
  status.last_heartbeat = detail::read_string(j, "last_heartbeat");
  status.uptime_seconds = detail::read_unsigned<std::uint64_t>(j, "uptime_seconds");

  const auto memory = j.find("memory_mb");
  if (memory == j.end() || memory->is_null()) {
    status.memory_mb.reset();
  } else if (memory->is_number()) {
    status.memory_mb = memory->template get<double>();
  } else {
    detail::throw_type_error(*memory, "memory_mb must be a number or null, got " + memory->dump());
  }

  status.capabilities = j.at("capabilities").template get<std::vector<std::string>>();

  const auto metadata = j.find("metadata");
  status.metadata = metadata == j.end() ? nlohmann::json() : nlohmann::json(*metadata);
}

}  // namespace noesis::ship
