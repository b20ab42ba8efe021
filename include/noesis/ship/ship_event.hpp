// ShipEvent: the envelope of the durable JetStream event bus.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include <noesis/ship/json.hpp>
#include <noesis/ship/timestamp.hpp>

namespace noesis::ship {

// The envelope version this library writes and the Rust noesis-ship writes.
inline constexpr const char* ship_event_version = "1.0";

// A durable event. JSON, in this key order:
//   {"event_type": "item.created", "timestamp": "2026-03-20T04:37:32.123456789+00:00",
//    "source": "builder", "payload": ..., "correlation_id": "9f86d081", "version": "1.0"}
// Decoding requires every key except version, which reads as "1.0" when missing.
// T is any type with nlohmann to_json/from_json.
template <class T = nlohmann::json>
struct ShipEvent {
  std::string event_type;      // without the subject prefix: `item.created`, not `ship.events.item.created`
  std::string timestamp;       // creation time, RFC 3339
  std::string source;          // the emitter's id, may be empty
  T payload{};
  std::string correlation_id;  // the caller's id, or 8 lowercase hex digits
  std::string version = ship_event_version;

  friend bool operator==(const ShipEvent&, const ShipEvent&) = default;
};

// Returns 8 random lowercase hex digits, the form the Rust library takes from the first 8
// characters of a UUID v4 (32 random bits). Safe to call from any thread.
std::string generate_correlation_id();

// Builds an envelope stamped with the current time, carrying `correlation_id` when given and
// a fresh generate_correlation_id() otherwise.
template <class T>
ShipEvent<T> make_ship_event(std::string event_type, std::string source, T payload,
                             std::optional<std::string> correlation_id = std::nullopt) {
  ShipEvent<T> event;
  event.event_type = std::move(event_type);
  event.timestamp = now_rfc3339();
  event.source = std::move(source);
  event.payload = std::move(payload);
  event.correlation_id = correlation_id ? std::move(*correlation_id) : generate_correlation_id();
  return event;
}

template <detail::json_document J, class T>
void to_json(J& j, const ShipEvent<T>& event) {
  j = J::object();
  j["event_type"] = event.event_type;
  j["timestamp"] = event.timestamp;
  j["source"] = event.source;
  j["payload"] = detail::to_document<J>(event.payload);
  j["correlation_id"] = event.correlation_id;
  j["version"] = event.version;
}

template <detail::json_document J, class T>
void from_json(const J& j, ShipEvent<T>& event) {
  event.event_type = detail::read_string(j, "event_type");
  event.timestamp = detail::read_string(j, "timestamp");
  event.source = detail::read_string(j, "source");
  event.payload = detail::from_document<T>(j.at("payload"));
  event.correlation_id = detail::read_string(j, "correlation_id");
  event.version = j.contains("version") ? detail::read_string(j, "version") : ship_event_version;
}

}  // namespace noesis::ship
