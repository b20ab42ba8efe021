// Request routing and reply bodies of the service builder, without any I/O, matching the Rust
// noesis-ship so clients of either library read the same replies.
//
// A service subscribes to `<prefix>.>`. A request's command is its subject after `<prefix>.`;
// the service runs the handler registered for that command, else its default handler, else
// replies with unknown_command_response(). Mutation events go to event_subject().
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace noesis::ship::detail {

// Returns `subject` without the leading `<prefix>.`; the rest may contain dots
// (`kanban.cmd.pr.merge` with prefix `kanban.cmd` gives `pr.merge`). A subject that does not
// start with `<prefix>.` is returned whole.
std::string command_from_subject(std::string_view prefix, std::string_view subject);

// Returns the compact error body `{"error":<message>,"code":<code>}`, keys in that order.
// Invalid UTF-8 in `message` is replaced by U+FFFD.
std::string error_response(std::string_view message, int code);

// Returns the reply to a command with neither a handler nor a default handler:
// `{"error":"UNKNOWN_COMMAND: <command>","code":404}`.
std::string unknown_command_response(std::string_view command);

// Encodes `value` as compact JSON, or returns `{}` when it cannot be encoded (a string that
// is not valid UTF-8), so every request gets a JSON reply body.
std::string serialize_response(const nlohmann::json& value);

// Returns the subject of a mutation event: `<event_prefix>.<event_type>`, or `event_type`
// alone when `event_prefix` is empty.
std::string event_subject(std::string_view event_prefix, std::string_view event_type);

}  // namespace noesis::ship::detail
