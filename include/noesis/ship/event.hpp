// Event: the message PubSub publishes on core NATS, without persistence.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include <noesis/ship/event_type.hpp>
#include <noesis/ship/json.hpp>
#include <noesis/ship/timestamp.hpp>

namespace noesis::ship {

// A PubSub event. JSON, in this key order:
//   {"event_type": "heartbeat", "source": "being-1", "payload": ...,
//    "timestamp": "2026-03-20T04:37:32.123456789+00:00", "correlation_id": null}
// correlation_id is written as null when absent, never omitted; a missing key decodes as absent.
// T is any type with nlohmann to_json/from_json.
template <class T = nlohmann::json>
struct Event {
  std::string event_type;  // the event type's token, not a full subject
  std::string source;      // the publisher's id
  T payload{};
  std::string timestamp;   // creation time, RFC 3339
  std::optional<std::string> correlation_id;

  friend bool operator==(const Event&, const Event&) = default;
};

// Builds an event of type `event_type` (the token, written as given) stamped with the current
// time and no correlation id, as the Rust library builds every event.
template <class T>
Event<T> make_event(std::string event_type, std::string source, T payload) {
  return Event<T>{std::move(event_type), std::move(source), std::move(payload), now_rfc3339(),
                  std::nullopt};
}

template <class T>
Event<T> make_event(const EventType& event_type, std::string source, T payload) {
  return make_event(event_type.token(), std::move(source), std::move(payload));
}

template <detail::json_document J, class T>
void to_json(J& j, const Event<T>& event) {
  j = J::object();
  j["event_type"] = event.event_type;
  j["source"] = event.source;
  j["payload"] = detail::to_document<J>(event.payload);
  j["timestamp"] = event.timestamp;
  j["correlation_id"] = detail::optional_to_document<J>(event.correlation_id);
}

template <detail::json_document J, class T>
void from_json(const J& j, Event<T>& event) {
  event.event_type = detail::read_string(j, "event_type");
  event.source = detail::read_string(j, "source");
  event.payload = detail::from_document<T>(j.at("payload"));
  event.timestamp = detail::read_string(j, "timestamp");
  event.correlation_id = detail::read_optional_string(j, "correlation_id");
}

}  // namespace noesis::ship
