// Sans-I/O pieces of the KV store (NATS ADR-8): names and subjects of a bucket, the backing
// stream's configuration, decoding of stored and delivered messages into entries, and the
// state machine that places the end-of-initial-values marker of a watch.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <noesis/ship/detail/jetstream_api.hpp>
#include <noesis/ship/kv_entry.hpp>
#include <noesis/ship/stream_config.hpp>

namespace noesis::ship::detail {

// Values kept per key: ADR-8 bounds history to 1..64.
inline constexpr int kv_max_history = 64;

// The duplicate window of a bucket without TTL, and the upper bound with one.
inline constexpr std::chrono::minutes kv_default_duplicate_window{2};

// "KV_<bucket>".
std::string kv_stream_name(std::string_view bucket);

// "$KV.<bucket>.": prefix of every key subject.
std::string kv_subject_prefix(std::string_view bucket);

// "$KV.<bucket>.<key>"; `key` may be a filter with `*` and `>`.
std::string kv_key_subject(std::string_view bucket, std::string_view key);

// Returns the key of a subject "$KV.<bucket>.<key>", or nullopt for a subject outside the bucket.
std::optional<std::string> kv_key_from_subject(std::string_view bucket, std::string_view subject);

// Nats-Msg-Id of a write that expects `revision` as the key's newest: "<key>@<revision>". Every
// write from one revision of one key carries the same id, so within the bucket's duplicate
// window the stream stores only the first of them. '@' cannot occur in a key.
std::string kv_revision_msg_id(std::string_view key, std::uint64_t revision);

// Reads the KV-Operation header value: absent (or an unknown value) is a PUT.
KvOperation parse_kv_operation(std::optional<std::string_view> header_value) noexcept;

// Validates `config` and builds the stream of the bucket: subjects `$KV.<bucket>.>`,
// max_msgs_per_subject = history, max_age = TTL, discard new, rollup headers allowed, deletes
// denied, direct get allowed, duplicate window min(TTL, 2 min) when a TTL is set.
// Throws noesis::ship::error with errc::invalid_name for a bad bucket name, and
// errc::invalid_argument for history outside 1..64, a TTL that is not positive, replicas
// outside 1..5, or a size limit below -1.
StreamConfig kv_stream_config(const KvBucketConfig& config);

// Reads a bucket configuration back from its stream's configuration.
KvBucketConfig kv_bucket_config(std::string_view bucket, const StreamConfig& stream);

// Builds the status of a bucket from its stream info.
KvStatus kv_status(std::string_view bucket, const StreamInfo& info);

// Decodes a stored message read by sequence or last subject. Throws
// noesis::ship::error(errc::invalid_key) when its subject is not in the bucket.
KvEntry kv_entry_from_stored(std::string_view bucket, StoredMessage message);

// The parts of a message delivered by a consumer that make an entry.
struct KvDelivered {
  std::string_view subject;
  std::string_view data;
  std::optional<std::string_view> operation_header;  // the KV-Operation header, if present
  std::uint64_t stream_sequence = 0;
  std::int64_t timestamp_ns = 0;  // nanoseconds since the Unix epoch
  std::uint64_t num_pending = 0;
};

// Decodes a delivered message. Throws noesis::ship::error(errc::invalid_key) when its subject is
// not in the bucket.
KvEntry kv_entry_from_delivered(std::string_view bucket, const KvDelivered& message);

// Places the end-of-initial-values marker of a watch, keys() or history(). ADR-8: the initial
// values end at the first message delivered with num_pending 0, or at once when the consumer
// matched nothing at creation or the watch sends updates only. The marker is produced once,
// also when the consumer is recreated after a restart and pending drops to 0 again.
class KvWatchState {
 public:
  // `initial_pending` is the consumer's pending count at creation.
  KvWatchState(std::uint64_t initial_pending, const KvWatchOptions& options) noexcept;

  // What to emit for one delivered entry, in this order.
  struct Step {
    bool emit_entry = false;      // false for a marker left out by ignore_deletes
    bool end_of_initial = false;  // the entry (or its omission) ends the initial values
  };

  // True when the marker is due before any message: nothing matched, or updates only.
  // Consumes the marker, so a second call returns false.
  bool take_marker_at_start() noexcept;

  Step on_entry(KvOperation operation, std::uint64_t num_pending) noexcept;

  bool initial_done() const noexcept { return marker_sent_; }

 private:
  bool marker_at_start_ = false;
  bool marker_sent_ = false;
  bool ignore_deletes_ = false;
};

}  // namespace noesis::ship::detail
