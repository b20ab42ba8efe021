// The type of a PubSub event, which is also the subject it is published on.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include <noesis/ship/detail/subject_fragment.hpp>
#include <noesis/ship/json.hpp>

namespace noesis::ship {

// An event type: one of the four built-in types or a custom subject fragment such as
// `deploy.started`. Its token is both the `event_type` field of an Event and the subject that
// PubSub publishes it on, with no prefix.
//
// Values compare by token, so `EventType::custom("heartbeat") == EventType::heartbeat()`: the
// Rust library would call them different enum variants, but on the wire they are the same.
class EventType {
 public:
  static EventType heartbeat() { return EventType("heartbeat"); }
  static EventType started() { return EventType("started"); }
  static EventType stopped() { return EventType("stopped"); }
  static EventType error() { return EventType("error"); }

  // A custom type. Throws error(errc::invalid_subject) unless `token` is one or more
  // non-empty dot-separated tokens without whitespace, `*` or `>`.
  static EventType custom(std::string token) {
    detail::validate_subject_fragment("event type", token);
    return EventType(std::move(token));
  }

  // Maps a token read from the wire back to an event type: the four built-in names give the
  // built-in types, anything else a custom type. Throws like custom().
  static EventType from_token(std::string token) { return custom(std::move(token)); }

  // The subject token, e.g. `heartbeat` or `deploy.started`.
  const std::string& token() const noexcept { return token_; }

  // True unless this is heartbeat, started, stopped or error.
  bool is_custom() const noexcept {
    return token_ != "heartbeat" && token_ != "started" && token_ != "stopped" && token_ != "error";
  }

  // The subject `<entity_id>.<token>` on which PubSub publishes an entity's event, e.g.
  // `being-1.heartbeat`. Throws error(errc::invalid_subject) when `entity_id` is not a valid
  // subject fragment.
  std::string with_entity(std::string_view entity_id) const {
    detail::validate_subject_fragment("entity id", entity_id);
    std::string subject(entity_id);
    subject += '.';
    subject += token_;
    return subject;
  }

  friend bool operator==(const EventType&, const EventType&) = default;

 private:
  explicit EventType(std::string token) : token_(std::move(token)) {}

  std::string token_;
};

}  // namespace noesis::ship

// An EventType is written as its token string. A serializer specialization instead of
// to_json/from_json functions, because EventType has no default value to decode into.
template <>
struct nlohmann::adl_serializer<noesis::ship::EventType> {
  template <noesis::ship::detail::json_document J>
  static void to_json(J& j, const noesis::ship::EventType& type) {
    j = type.token();
  }

  template <noesis::ship::detail::json_document J>
  static noesis::ship::EventType from_json(const J& j) {
    auto token = j.template get<std::string>();
    const std::string problem = noesis::ship::detail::subject_fragment_problem(token);
    if (!problem.empty()) {
      noesis::ship::detail::throw_type_error(j, "event type '" + token + "' " + problem);
    }
    return noesis::ship::EventType::from_token(std::move(token));
  }
};
