// ChannelMessage: one message of a persistent JetStream channel conversation.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include <noesis/ship/json.hpp>
#include <noesis/ship/timestamp.hpp>

namespace noesis::ship {

// A channel message. JSON, in this key order:
//   {"sender": "agent-1", "content": "hello", "timestamp": 1773981452.123456,
//    "channel": "dev", "message_id": "dev-1773981452123456789", "metadata": {...}}
// Unlike the other wire types, timestamp is a number. metadata is left out when absent, and a
// missing or null metadata both decode as absent.
struct ChannelMessage {
  std::string sender;      // the sending agent's name
  std::string content;
  double timestamp = 0.0;  // seconds since the Unix epoch, with the fraction
  std::string channel;     // the channel name, `dev` for subject `ship.channel.dev`
  std::string message_id;  // `<channel>-<nanoseconds since the Unix epoch>`
  std::optional<nlohmann::json> metadata;

  // The JetStream stream sequence the message was stored at; filled in when the message is
  // received, 0 for a message built locally. Not part of the JSON.
  std::uint64_t sequence = 0;

  friend bool operator==(const ChannelMessage&, const ChannelMessage&) = default;
};

// Builds a message stamped with the current time; timestamp and message_id share one clock
// reading.
inline ChannelMessage make_channel_message(std::string channel, std::string sender,
                                           std::string content,
                                           std::optional<nlohmann::json> metadata = std::nullopt) {
  const auto now = std::chrono::system_clock::now();

  ChannelMessage message;
  message.sender = std::move(sender);
  message.content = std::move(content);
  message.timestamp = unix_seconds_f64(now);
  message.message_id = channel + "-" + std::to_string(unix_nanos(now));
  message.channel = std::move(channel);
  message.metadata = std::move(metadata);
  return message;
}

template <detail::json_document J>
void to_json(J& j, const ChannelMessage& message) {
  j = J::object();
  j["sender"] = message.sender;
  j["content"] = message.content;
  j["timestamp"] = message.timestamp;
  j["channel"] = message.channel;
  j["message_id"] = message.message_id;
  if (message.metadata && !message.metadata->is_null()) {
    j["metadata"] = J(*message.metadata);
  }
}

template <detail::json_document J>
void from_json(const J& j, ChannelMessage& message) {
  message.sender = detail::read_string(j, "sender");
  message.content = detail::read_string(j, "content");

  const J& timestamp = j.at("timestamp");
  if (!timestamp.is_number()) {
    detail::throw_type_error(timestamp, "timestamp must be a number of seconds, got " +
                                            timestamp.dump());
  }
  message.timestamp = timestamp.template get<double>();

  message.channel = detail::read_string(j, "channel");
  message.message_id = detail::read_string(j, "message_id");

  const auto metadata = j.find("metadata");
  if (metadata == j.end() || metadata->is_null()) {
    message.metadata.reset();
  } else {
    message.metadata = nlohmann::json(*metadata);
  }
}

}  // namespace noesis::ship
