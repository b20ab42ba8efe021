// Value types of the KV store (NATS ADR-8): bucket configuration, entries, watch options and
// bucket status. They carry no I/O; KvStore in kv.hpp uses them.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <noesis/ship/json.hpp>
#include <noesis/ship/stream_config.hpp>

namespace noesis::ship {

// What a KV entry records: a value, a delete marker (tombstone, history kept) or a purge
// marker (earlier history removed). On the wire a PUT has no KV-Operation header, the markers
// have `KV-Operation: DEL` or `KV-Operation: PURGE`.
enum class KvOperation { put, del, purge };

// Returns "PUT", "DEL" or "PURGE", as the other NATS clients name the operations.
constexpr std::string_view to_string(KvOperation operation) noexcept {
  switch (operation) {
    case KvOperation::put: return "PUT";
    case KvOperation::del: return "DEL";
    case KvOperation::purge: return "PURGE";
  }
  return "PUT";
}

// Configuration of a KV bucket. The first three fields and their defaults are the Rust
// noesis-ship's KvBucketConfig; the others map to the backing stream's limits.
struct KvBucketConfig {
  std::string bucket;                         // [A-Za-z0-9_-]+, the stream is KV_<bucket>
  int history = 5;                            // values kept per key, 1..64
  std::optional<std::chrono::seconds> ttl;    // age after which a value expires; none = never
  std::int32_t max_value_size = -1;           // bytes of one value, -1 = server max_payload
  std::int64_t max_bytes = -1;                // bytes of the whole bucket, -1 = unlimited
  StorageType storage = StorageType::file;
  int replicas = 1;                           // 1..5
  std::string description;

  KvBucketConfig() = default;
  explicit KvBucketConfig(std::string bucket_name) : bucket(std::move(bucket_name)) {}

  KvBucketConfig& with_ttl(std::chrono::seconds age) & {
    ttl = age;
    return *this;
  }
  KvBucketConfig&& with_ttl(std::chrono::seconds age) && {
    ttl = age;
    return std::move(*this);
  }
  KvBucketConfig& with_history(int values_per_key) & {
    history = values_per_key;
    return *this;
  }
  KvBucketConfig&& with_history(int values_per_key) && {
    history = values_per_key;
    return std::move(*this);
  }

  friend bool operator==(const KvBucketConfig&, const KvBucketConfig&) = default;
};

// One stored revision of a key.
struct KvEntry {
  std::string bucket;
  std::string key;
  std::string value;  // raw bytes; empty for markers and for meta-only watches
  std::uint64_t revision = 0;  // the stream sequence of the message, unique in the bucket
  std::chrono::system_clock::time_point created;  // time the server stored this revision
  // Entries that matched the watch or listing after this one when it was delivered; 0 on
  // entries read with get().
  std::uint64_t delta = 0;
  KvOperation operation = KvOperation::put;

  // Decodes the value as JSON into T. Throws noesis::ship::error(errc::serialization) naming
  // the key when the value is not JSON of that shape.
  template <class T>
  T json() const {
    return decode_json<T>(value, "value of key '" + key + "' in bucket '" + bucket + "'");
  }

  friend bool operator==(const KvEntry&, const KvEntry&) = default;
};

// What a watch delivers. The default sends the newest entry of every matching key, delete and
// purge markers included, then the end-of-initial-values marker, then every later change.
struct KvWatchOptions {
  bool include_history = false;  // send every stored revision, not only the newest per key
  bool updates_only = false;     // send only changes made after the watch starts
  bool ignore_deletes = false;   // leave out delete and purge markers
  bool meta_only = false;        // leave values empty (headers-only consumer)
};

// The state of a bucket, from its stream's info.
struct KvStatus {
  std::string bucket;
  std::uint64_t values = 0;  // stored messages, markers and old revisions included
  int history = 0;
  std::optional<std::chrono::seconds> ttl;
  std::uint64_t bytes = 0;
  StorageType storage = StorageType::file;
  int replicas = 1;
  std::int32_t max_value_size = -1;
  std::int64_t max_bytes = -1;
  std::string description;
};

}  // namespace noesis::ship
