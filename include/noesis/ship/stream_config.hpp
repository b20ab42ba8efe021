// JetStream stream configuration and its JSON form on the `$JS.API.STREAM.*` API.
//
// The defaults of the first fields match the Rust noesis-ship StreamConfig: 24 h, 100,000
// messages, file storage. The other defaults match nats-server's own, so a config built here and
// sent unchanged creates the same stream as the Rust client does.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace noesis::ship {

// Storage of a stream's messages. JSON "file" / "memory".
enum class StorageType { file, memory };

// Behaviour at a limit: the server drops the oldest messages, or rejects new ones.
// JSON "old" / "new".
enum class DiscardPolicy { old_messages, new_messages };

// Retention rule: the server removes messages on limits only, once every interested consumer
// acked them, or once any consumer acked them. JSON "limits" / "interest" / "workqueue".
enum class RetentionPolicy { limits, interest, work_queue };

// A JetStream stream configuration. Limits of -1 mean "unlimited", as on the wire.
struct StreamConfig {
  std::string name;
  std::vector<std::string> subjects;
  std::chrono::seconds max_age{86400};  // 0 means no age limit, sent in nanoseconds
  int64_t max_msgs = 100000;            // messages in the whole stream, -1 unlimited
  StorageType storage = StorageType::file;

  int64_t max_bytes = -1;             // bytes in the whole stream, -1 unlimited
  int64_t max_msgs_per_subject = -1;  // messages kept per subject, -1 unlimited
  int32_t max_msg_size = -1;          // bytes of one message, -1 unlimited (server max_payload)
  int64_t max_consumers = -1;         // consumers on the stream, -1 unlimited
  int replicas = 1;                   // 1..5, sent as "num_replicas"
  DiscardPolicy discard = DiscardPolicy::old_messages;
  RetentionPolicy retention = RetentionPolicy::limits;
  // Window in which a repeated Nats-Msg-Id is dropped. 0 lets the server choose (2 min, or
  // max_age when that is shorter).
  std::chrono::nanoseconds duplicate_window{0};
  bool allow_rollup_hdrs = false;  // accept the Nats-Rollup header
  bool deny_delete = false;        // reject deleting single messages
  bool deny_purge = false;         // reject purging the stream
  bool allow_direct = false;       // answer $JS.API.DIRECT.GET from every replica
  std::string description;

  StreamConfig() = default;
  StreamConfig(std::string stream_name, std::vector<std::string> stream_subjects)
      : name(std::move(stream_name)), subjects(std::move(stream_subjects)) {}

  StreamConfig& with_max_age(std::chrono::seconds age) & {
    max_age = age;
    return *this;
  }
  StreamConfig&& with_max_age(std::chrono::seconds age) && {
    max_age = age;
    return std::move(*this);
  }
  StreamConfig& with_max_msgs(int64_t count) & {
    max_msgs = count;
    return *this;
  }
  StreamConfig&& with_max_msgs(int64_t count) && {
    max_msgs = count;
    return std::move(*this);
  }
  StreamConfig& with_memory_storage() & {
    storage = StorageType::memory;
    return *this;
  }
  StreamConfig&& with_memory_storage() && {
    storage = StorageType::memory;
    return std::move(*this);
  }

  friend bool operator==(const StreamConfig&, const StreamConfig&) = default;
};

// JSON names of the enumerations, as the JetStream API spells them.
std::string_view to_string(StorageType storage) noexcept;
std::string_view to_string(DiscardPolicy discard) noexcept;
std::string_view to_string(RetentionPolicy retention) noexcept;

// Throws noesis::ship::error with errc::invalid_name for a name validate_stream_name() rejects
// (empty, or containing '.', '*', '>', '/', a backslash or whitespace), errc::invalid_subject for
// an invalid subject, and errc::invalid_argument for no subjects, a negative max_age or
// duplicate_window, a limit below -1, or replicas outside 1..5.
void validate(const StreamConfig& config);

// Builds the body of $JS.API.STREAM.CREATE.<name> and $JS.API.STREAM.UPDATE.<name>. Every field
// is sent (durations in nanoseconds), except duplicate_window 0 and an empty description, which
// leave the server's default in place.
// NOTE: a stream update replaces the whole config, so fields this struct does not model (sources,
// mirror, placement, sealed, no_ack) return to their defaults when the stream is updated.
nlohmann::json to_api_json(const StreamConfig& config);

// Reads the "config" object of a stream info reply. Missing fields keep the struct's defaults,
// except max_age, whose missing value means 0 (no limit) as on the wire. Throws
// noesis::ship::error(errc::serialization) on a wrongly typed field or an unknown enum string.
StreamConfig stream_config_from_api_json(const nlohmann::json& config);

// Lists the JSON names of the fields (for example "max_age", "subjects") whose value in `wanted`
// differs from `existing`. An empty list means the stream needs no update. Fields the server fills
// in are compared only when `wanted` sets them: duplicate_window 0 and an empty description mean
// "any value".
// Subjects are compared as sets, and a limit of 0 equals -1 as the server stores it.
// The server rejects an update that changes storage, max_consumers, or retention to or from
// workqueue (err_code 10052), so a caller seeing those fields needs a new stream instead.
std::vector<std::string> stream_config_differences(const StreamConfig& existing,
                                                   const StreamConfig& wanted);

}  // namespace noesis::ship
